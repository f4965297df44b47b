"""Readers: turn one inbox file into ``(row_number, cells)`` pairs, safely.

Row numbers are those a person sees: 1-based, counting title rows and the header; for CSV the
line on which the record starts. A file that cannot be read raises :class:`FileRejected` whose
message is the Chinese reason a clerk can act on.

Safety: an xlsx is checked *before* it is parsed (file size, zip member sizes and compression
ratio, the sheet's ``<dimension>``), so a zip bomb or a sheet with too many rows is refused before
it fills memory. CSV is streamed (one record at a time through the C ``csv`` module, which also
handles GB18030 that DuckDB's reader does not), with a bounded field size.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import html
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import python_calamine

Row = tuple[int, list[object]]


class FileRejected(Exception):
    """The whole file cannot be loaded; ``str(exc)`` is the Chinese reason."""


class FileChanged(Exception):
    """The file's bytes changed while it was being read; it is left for the next run."""


@dataclass(frozen=True)
class Limits:
    """Resource limits; a file beyond them is rejected with a reason, before it fills memory."""

    max_xlsx_bytes: int = 200 * 1024 * 1024  # compressed file
    max_xlsx_uncompressed: int = 512 * 1024 * 1024  # all zip members together
    max_zip_ratio: int = 200  # per member, above 10 MB uncompressed
    # calamine holds the whole sheet: 300k rows x 11 columns peaked at 540 MB RSS, so 500k stays
    # well under 2 GB; bigger deliveries should come as CSV, which streams.
    max_xlsx_rows: int = 500_000
    max_csv_field: int = 131_072  # characters in one CSV cell


@dataclass(frozen=True)
class FileScan:
    sha256: str
    size: int
    head: bytes
    utf8: bool  # the whole file decodes as UTF-8
    has_nul: bool


_CHUNK = 1024 * 1024


def scan_file(path: Path) -> FileScan:
    """Hash the file and learn, in the same pass, whether it is UTF-8 and holds a NUL byte."""
    h = hashlib.sha256()
    dec = codecs.getincrementaldecoder("utf-8")()
    utf8, nul, size, head = True, False, 0, b""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            if not head:
                head = chunk[:8]
            h.update(chunk)
            size += len(chunk)
            if not nul and b"\x00" in chunk:
                nul = True
            if utf8:
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return FileScan(h.hexdigest(), size, head, utf8, nul)


class _HashingReader(io.RawIOBase):
    """Passes bytes through and hashes them, to notice a file that changes while it is read."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = self._raw.readinto(b)
        if n:
            self.sha.update(memoryview(b)[:n])
        return n or 0


def csv_encoding(scan: FileScan) -> str:
    """The encoding a CSV is read with, or :class:`FileRejected`."""
    if scan.head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected("文件是 UTF-16 编码；请另存为“CSV UTF-8（逗号分隔）”后重新报送")
    if scan.has_nul:
        raise FileRejected("文件中含有空字符（NUL，0x00），不是正常的文本 CSV，可能已损坏；请重新导出")
    if scan.head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return "utf-8" if scan.utf8 else "gb18030"


def iter_csv(path: Path, scan: FileScan, limits: Limits) -> Iterator[Row]:
    """Stream a CSV's records with the line number on which each starts."""
    encoding = csv_encoding(scan)
    csv.field_size_limit(limits.max_csv_field)
    with open(path, "rb") as raw:
        hashing = _HashingReader(raw)
        text = io.TextIOWrapper(io.BufferedReader(hashing, _CHUNK), encoding=encoding, newline="")
        reader = csv.reader(text)
        prev = 0
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if "field larger" in str(exc):
                    raise FileRejected(
                        f"第{prev + 1}行起有一个单元格超过{limits.max_csv_field}个字符，文件可能已损坏"
                        f"（例如引号不成对）；请检查后重新导出") from None
                raise FileRejected(f"第{prev + 1}行不是合法的 CSV：{exc}") from None
            except UnicodeDecodeError:
                raise FileRejected(
                    "文件编码无法识别：既不是 UTF-8 也不是 GB18030/GBK；"
                    "请另存为“CSV UTF-8（逗号分隔）”") from None
            start, prev = prev + 1, reader.line_num
            yield start, rec  # type: ignore[misc]
        if hashing.sha.hexdigest() != scan.sha256:
            raise FileChanged(str(path))


# ---------------------------------------------------------------- xlsx
_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)>")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)>")
_ATTR = re.compile(rb"([\w:]+)\s*=\s*\"([^\"]*)\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+)?(\d+)?(?::[A-Z]+(\d+))?\"")
_MIB = 1024 * 1024


def _attrs(blob: bytes) -> dict[str, str]:
    return {k.decode().split(":")[-1]: html.unescape(v.decode("utf-8", "replace"))
            for k, v in _ATTR.findall(blob)}


def _first_visible_sheet(z: zipfile.ZipFile) -> tuple[str, str | None]:
    """(sheet name, zip member of its XML) of the first sheet that is not hidden."""
    try:
        wb_xml = z.read("xl/workbook.xml")
        rels_xml = z.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        raise FileRejected("不是有效的 xlsx 文件（缺少工作簿结构）；请在 Excel 中另存为 .xlsx") from None
    targets = {}
    for m in _REL_TAG.finditer(rels_xml):
        a = _attrs(m.group(1))
        if "Id" in a and "Target" in a:
            t = a["Target"]
            targets[a["Id"]] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    for m in _SHEET_TAG.finditer(wb_xml):
        a = _attrs(m.group(1))
        if a.get("state") in ("hidden", "veryHidden"):
            continue
        target = targets.get(a.get("id", ""))
        if target and "/worksheets/" not in target:
            continue  # a chart or dialog sheet holds no table
        return a.get("name", ""), target
    raise FileRejected("工作簿中没有可见的工作表")


def check_xlsx(data: bytes, limits: Limits) -> str:
    """Refuse zip bombs and oversize sheets before parsing; return the first visible sheet's name."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise FileRejected(
            "不是有效的 xlsx 文件（可能是把 .xls 或其他文件改了扩展名，或文件已损坏）；"
            "请在 Excel 中另存为 .xlsx"
        ) from None
    with z:
        infos = z.infolist()
        total = sum(i.file_size for i in infos)
        if total > limits.max_xlsx_uncompressed:
            raise FileRejected(f"xlsx 解压后共 {total // _MIB} MB，超过上限 "
                               f"{limits.max_xlsx_uncompressed // _MIB} MB；请拆分成多个文件后报送")
        for i in infos:
            if i.file_size > 10 * _MIB and i.file_size > limits.max_zip_ratio * max(i.compress_size, 1):
                raise FileRejected(f"xlsx 内部文件 {i.filename} 压缩比异常（{i.file_size // _MIB} MB 由 "
                                   f"{i.compress_size} 字节解出），疑似压缩炸弹，未读取")
        name, member = _first_visible_sheet(z)
        if member:
            try:
                with z.open(member) as f:
                    head = f.read(64 * 1024)
            except KeyError:
                head = b""
            m = _DIMENSION.search(head)
            if m:
                last = int(m.group(3) or m.group(2) or 0)
                if last > limits.max_xlsx_rows:
                    raise FileRejected(f"工作表“{name}”有 {last} 行，超过上限 {limits.max_xlsx_rows} 行；"
                                       "请拆分成多个文件或改用 CSV 后报送")
    return name


def iter_xlsx(data: bytes, limits: Limits) -> Iterator[Row]:
    """Rows of the first visible sheet, numbered as Excel shows them."""
    if len(data) > limits.max_xlsx_bytes:
        raise FileRejected(f"xlsx 文件 {len(data) // _MIB} MB，超过上限 {limits.max_xlsx_bytes // _MIB} MB；"
                           "请拆分成多个文件后报送")
    name = check_xlsx(data, limits)
    try:
        wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = wb.get_sheet_by_name(name)
    except python_calamine.PasswordError:
        raise FileRejected("xlsx 文件有密码保护，无法读取；请去掉密码后重新报送") from None
    except python_calamine.CalamineError as exc:
        raise FileRejected(f"xlsx 文件无法读取（{exc}）；请在 Excel 中另存为 .xlsx 后重新报送") from None
    if sheet.total_height > limits.max_xlsx_rows:
        raise FileRejected(f"工作表“{name}”有 {sheet.total_height} 行，超过上限 {limits.max_xlsx_rows} 行；"
                           "请拆分成多个文件后报送")
    if sheet.height == 0:
        raise FileRejected(f"第一个可见工作表“{name}”是空的；请把数据放在第一个可见工作表中")
    exact: dict[float, str | None] | None = None
    for n, row in enumerate(sheet.iter_rows(), start=1):
        if any(type(c) is float and not -_EXACT_LIMIT < c < _EXACT_LIMIT for c in row):
            if exact is None:
                exact = _long_number_texts(data)
            row = [exact.get(c) or c if type(c) is float else c for c in row]
        yield n, row


# A number cell of more than 15 digits (a bank account typed as a number) comes out of calamine as a
# float, which cannot hold 16-19 digits. When the file itself stores the full integer (a program
# wrote it; source-files.md: "an Excel number cell that lost nothing"), its digits are read from the
# sheet XML instead. What Excel rounded stays a float and is rejected by the normaliser with the
# reason: Excel keeps 15 significant digits and zeroes the rest (6217000011112220, 6.21700243001234E+18),
# so only an integer with a non-zero digit after the 15th is known to have lost nothing; one ending in
# zeros there is ambiguous and treated as rounded (the clerk is told to send the column as text).
_EXACT_LIMIT = 1e15
_LONG_INTEGER_V = re.compile(rb"<(?:\w+:)?v>(-?\d{16,})</(?:\w+:)?v>")


def _long_number_texts(data: bytes) -> dict[float, str | None]:
    """float value -> the exact digits written in the first visible sheet for every integer of 16+
    digits; None where two different integers share one float (ambiguous: left as the float)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        _, member = _first_visible_sheet(z)
        xml = z.read(member) if member else b""
    out: dict[float, str | None] = {}
    for m in _LONG_INTEGER_V.finditer(xml):
        text = m.group(1).decode("ascii")
        if not text.lstrip("-")[15:].strip("0"):
            continue  # zeros after the 15th digit: possibly Excel's rounding, not known to be exact
        key = float(text)
        out[key] = text if out.get(key, text) == text else None
    return out
