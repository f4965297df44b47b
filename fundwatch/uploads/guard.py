"""What an upload must be before anything reads it: size, type by content, zip bombs, its path.

Every refusal raises :class:`UploadRefused` with a Chinese reason a clerk can act on.

- **Size**: at most ``MAX_BYTES`` (50 MB); an empty file is refused.
- **Type by content**, never by name alone: an xlsx is a zip holding ``[Content_Types].xml`` and
  ``xl/workbook.xml``; a CSV is text (no NUL byte) that decodes as UTF-8 (BOM or not) or GB18030.
  The name's extension must agree with the content (the daily run picks its reader by extension).
  PDF, images, Word, old .xls, password-protected workbooks and archives get their own reason.
- **Zip bombs**: before any XML is parsed, every member is inflated here, streaming and bounded:
  at most ``MAX_MEMBERS`` members, ``MAX_UNCOMPRESSED`` bytes in all, a ratio of at most
  ``MAX_RATIO`` for members above 10 MB; a member that inflates to more (or less) than its header
  says, or whose CRC differs, is refused — so a header that lies cannot get past the reader either.
- **Paths**: the optional ``path`` is relative to the unit's own folder. Each part is normalised
  (Unicode NFC) and refused when empty, ``.``/``..``, absolute, holding ``/``-lookalikes,
  a backslash, NUL, control or invisible format characters (bidi overrides, zero-width), characters
  Windows cannot store (``<>:"|?*``), a leading ``.`` or ``~$`` (hidden / office lock files, which
  the daily run skips) or a trailing space or dot; a sub-folder may not be named like a unit (a
  6-digit code or a division's name: the warehouse attributes a file to the deepest such folder).
  Symlinks are refused where the file is placed
  (``store``), which opens every folder with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib
from pathlib import PurePosixPath

from fundwatch import scope
from fundwatch.divisions import divisions

MAX_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED = 512 * 1024 * 1024  # the daily run's own limit (ingestion.readers.Limits)
MAX_RATIO = 200
MAX_MEMBERS = 2_000
MAX_PARTS = 6  # folders + file name below the unit folder
MAX_PART_CHARS = 100
_MIB = 1024 * 1024
_CHUNK = 256 * 1024

XLSX, CSV = "xlsx", "csv"
SUFFIXES = {".xlsx": XLSX, ".csv": CSV}


class UploadRefused(ValueError):
    """The upload is refused as a whole; ``str(exc)`` is the Chinese reason."""


# ---------------------------------------------------------------- paths
_SLASH_LIKE = set("\u2044\u2215\u29f8\u29f5\u29f9\u2216\ufe68\uff0f\uff3c\u3033\u3035")
_WINDOWS_BAD = set('<>:"|?*')
_WINDOWS_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def unit_folder(unit_code: str) -> str:
    """The unit's own folder in the inbox: its 6-digit code (``430121``).

    The code alone: it never changes with a renamed division, and the warehouse reads a file's
    unit from the deepest folder named exactly like a division's code or name (marts.source_files).
    For the same reason no sub-folder below it may be named like a division (``_check_part``).
    """
    if not scope.is_unit_code(unit_code):
        raise UploadRefused(f"单位代码“{unit_code}”不是 6 位数字，无法确定报送目录")
    return unit_code


def _check_part(part: str, what: str) -> str:
    if part in ("", ".", ".."):
        raise UploadRefused(f"{what}中不能有空的部分、“.”或“..”")
    for ch in part:
        cat = unicodedata.category(ch)
        if ch in "/\\" or ch in _SLASH_LIKE:
            raise UploadRefused(f"{what}中不能含有斜杠或形似斜杠的字符（“{ch}”）")
        if ch == "\x00" or cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise UploadRefused(f"{what}中含有不可见的控制字符（U+{ord(ch):04X}），请重命名后再报送")
        if ch in _WINDOWS_BAD:
            raise UploadRefused(f"{what}中不能含有字符“{ch}”（< > : \" | ? * 均不可用）")
    folded = unicodedata.normalize("NFKC", part)
    if folded in (".", "..") or any(c in folded for c in "/\\"):
        raise UploadRefused(f"{what}“{part}”会被当作“{folded}”，不能使用")
    if part.startswith(".") or part.startswith("~$"):
        raise UploadRefused(f"{what}不能以“.”或“~$”开头（隐藏文件或 Office 临时文件，每日运行不会读取）")
    if part != part.strip() or part.endswith("."):
        raise UploadRefused(f"{what}“{part}”的首尾不能是空格或“.”")
    if part.split(".")[0].upper() in _WINDOWS_NAMES:
        raise UploadRefused(f"{what}“{part}”是 Windows 的保留名称，请换一个名称")
    if len(part) > MAX_PART_CHARS:
        raise UploadRefused(f"{what}中的“{part[:20]}…”超过 {MAX_PART_CHARS} 个字符")
    return part


def _check_folder(part: str) -> str:
    """A sub-folder must not look like a unit: the warehouse would take the file for that unit's."""
    name = part.strip()
    if (name.isdigit() and len(name) == 6) or any(d.name == name for d in divisions().values()):
        raise UploadRefused(f"子文件夹不能以单位代码或行政区划名称命名（“{part}”），"
                            "否则文件会被算作该单位报送；请换一个名称，如“2020年第二批”")
    return part


def target_path(unit_code: str, filename: str, path: str | None = None) -> PurePosixPath:
    """The file's path relative to the inbox: ``<unit folder>/[path/]<name>``.

    ``path`` is below the unit's own folder: a folder (``2020/第二批``) or, when its last part ends
    in .xlsx or .csv, the file's own relative path (its name then wins over ``filename``).
    """
    name = unicodedata.normalize("NFC", filename or "")
    _check_part(name, "文件名")
    parts: list[str] = []
    if path:
        raw = unicodedata.normalize("NFC", path)
        if raw.startswith("/") or "\\" in raw or "\x00" in raw:
            raise UploadRefused("报送路径必须是本单位目录下的相对路径（不能以“/”开头，不能含“\\”或空字符）")
        parts = [_check_part(p, "报送路径") for p in raw.rstrip("/").split("/")]
        if parts and parts[-1].lower().endswith(tuple(SUFFIXES)):
            name = parts.pop()
        parts = [_check_folder(p) for p in parts]
    if len(parts) + 1 > MAX_PARTS:
        raise UploadRefused(f"报送路径最多 {MAX_PARTS - 1} 层文件夹")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUFFIXES:
        hint = "；请在 Excel 中另存为 .xlsx" if suffix in (".xls", ".et", ".xlsm", ".xlsb", ".ods") else ""
        raise UploadRefused(f"不支持的文件格式“{suffix or '（无扩展名）'}”：只接受 .xlsx 和 .csv 文件{hint}")
    return PurePosixPath(unit_folder(unit_code), *parts, name)


# ---------------------------------------------------------------- content
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF 文档"), (b"\x89PNG", "PNG 图片"), (b"\xff\xd8\xff", "JPEG 图片"), (b"GIF8", "GIF 图片"),
    (b"Rar!", "RAR 压缩包"), (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"), (b"\x1f\x8b", "gzip 压缩包"),
    (b"{\\rtf", "RTF 文档"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def content_type(data: bytes, filename: str) -> str:
    """``xlsx`` or ``csv`` from the bytes; the name's extension must agree. Else UploadRefused."""
    if not data:
        raise UploadRefused("文件是空的（0 字节）")
    if len(data) > MAX_BYTES:
        raise UploadRefused(f"文件 {len(data) / _MIB:.1f} MB，超过报送上限 {MAX_BYTES // _MIB} MB；"
                            "请拆分成多个文件后报送")
    by_name = SUFFIXES.get(PurePosixPath(filename).suffix.lower())
    found = _sniff(data)
    if by_name == XLSX and found == CSV:
        raise UploadRefused("文件扩展名是 .xlsx，但内容是文本（CSV）；请把扩展名改为 .csv，或在 Excel 中另存为 .xlsx")
    if by_name == CSV and found == XLSX:
        raise UploadRefused("文件扩展名是 .csv，但内容是 Excel 工作簿（xlsx）；请把扩展名改为 .xlsx")
    return found


def _sniff(data: bytes) -> str:
    if data.startswith(_OLE2):
        if _ENCRYPTED in data:
            raise UploadRefused("xlsx 文件有密码保护，无法读取；请去掉密码后重新报送")
        raise UploadRefused("这是旧版 Excel 97-2003（.xls）或 WPS 格式的文件，不是 .xlsx；请在 Excel 中另存为 .xlsx")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise UploadRefused(f"文件内容是{what}，不是 Excel 表格（.xlsx）或 CSV；请上传数据表格")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        check_zip(data)
        return XLSX
    return _check_text(data)


def _check_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadRefused("文件是 UTF-16 编码；请另存为“CSV UTF-8（逗号分隔）”后重新报送")
    if b"\x00" in data:
        raise UploadRefused("文件中含有空字符（NUL，0x00），不是文本 CSV，也不是 Excel 表格；请重新导出")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            data.decode(enc)
        except UnicodeDecodeError:
            continue
        return CSV
    raise UploadRefused("文件既不是 Excel 表格（.xlsx），也不是可读的文本 CSV（UTF-8 或 GB18030/GBK）")


def check_zip(data: bytes) -> None:
    """Refuse anything but a sane xlsx zip, inflating every member with bounds (see module doc)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error):
        raise UploadRefused("文件已损坏：像是压缩格式（xlsx），但无法打开；请在 Excel 中重新另存为 .xlsx") from None
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        what = "Word 文档（.docx）" if "word/document.xml" in names else (
            "PowerPoint 文档" if "ppt/presentation.xml" in names else "普通压缩包（zip）")
        raise UploadRefused(f"文件内容是{what}，不是 Excel 工作簿（.xlsx）；请上传数据表格")
    if len(infos) > MAX_MEMBERS:
        raise UploadRefused(f"xlsx 内部有 {len(infos)} 个文件，超过上限 {MAX_MEMBERS}，疑似压缩炸弹，未读取")
    declared = sum(i.file_size for i in infos)
    if declared > MAX_UNCOMPRESSED:
        raise UploadRefused(f"xlsx 解压后共 {declared // _MIB} MB，超过上限 {MAX_UNCOMPRESSED // _MIB} MB；"
                            "请拆分成多个文件后报送")
    budget = MAX_UNCOMPRESSED
    for info in infos:
        if info.file_size > 10 * _MIB and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _bomb(info)
        budget -= _inflate(data, info, budget)


def _bomb(info: zipfile.ZipInfo) -> UploadRefused:
    return UploadRefused(f"xlsx 内部文件 {info.filename[:60]} 压缩比异常，疑似压缩炸弹，未读取")


def _inflate(data: bytes, info: zipfile.ZipInfo, budget: int) -> int:
    """Inflate one member from its raw bytes, never past its declared size or the budget."""
    broken = UploadRefused(f"xlsx 文件已损坏（内部文件 {info.filename[:60]} 无法解压）；请在 Excel 中重新另存为 .xlsx")
    if info.flag_bits & 0x1:
        raise UploadRefused("xlsx 文件有密码保护，无法读取；请去掉密码后重新报送")
    off = info.header_offset
    head = data[off:off + 30]
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise broken
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    start = off + 30 + name_len + extra_len
    raw = memoryview(data)[start:start + info.compress_size]
    if len(raw) != info.compress_size:
        raise broken
    limit = min(info.file_size, budget)
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != len(raw):
            raise broken
        if zlib.crc32(raw) != info.CRC:
            raise broken
        return len(raw)
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise UploadRefused(f"xlsx 内部文件使用了不支持的压缩方式（{info.compress_type}）；"
                            "请在 Excel 中重新另存为 .xlsx")
    d = zlib.decompressobj(-15)
    produced, crc, pos = 0, 0, 0
    while not d.eof:
        if d.unconsumed_tail:
            chunk = d.unconsumed_tail
        elif pos < len(raw):
            chunk, pos = raw[pos:pos + _CHUNK], pos + _CHUNK
        else:
            chunk = b""  # all input given: only output zlib still holds can come
        try:
            out = d.decompress(chunk, _CHUNK)
        except zlib.error:
            raise broken from None
        if not out and not chunk and not d.eof:
            raise broken  # the stream ends before the deflate end-of-block
        produced += len(out)
        if produced > limit:  # more than the header says, or than the whole upload may hold
            raise _bomb(info)
        crc = zlib.crc32(out, crc)
    if produced != info.file_size or crc != info.CRC:
        raise broken
    return produced
