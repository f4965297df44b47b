"""xlsx reader: the first visible sheet, checked before it is parsed, with the cells the grid hides.

Before python-calamine parses anything: the file size, the zip members (sizes, compression ratio:
a zip bomb is refused), the first visible sheet, and its size **judged by the cells that hold
values** (source-files.md: cells that hold only formatting are blank, however far the used range
runs). The sheet's ``<dimension>`` is trusted while it is small; when it is large or missing, the
sheet XML is streamed once to count the rows that hold values and the grid they span.

The same streamed pass finds what calamine turns into an empty cell: Excel error values
(``#N/A`` …) and formulas without a stored result; they become :class:`CellIssue` cells. Empty
cells inside merged ranges become :class:`MergedBlank`. A password-protected workbook (an OLE
file holding ``EncryptedPackage``) is "有密码保护"; an old .xls under an .xlsx name is named so.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import python_calamine

from ingestion.cells import EXCEL_ERRORS, CellIssue, MergedBlank, NumberText, col_index, col_letters, mark_errors
from ingestion.readers import OLE_MAGIC, FileChanged, FileRejected, FileScan, Limits, Row
from ingestion.xlsx_merges import merges_first

_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)>")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)>")
_ATTR = re.compile(rb"([\w:]+)\s*=\s*\"([^\"]*)\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+)?(\d+)?(?::([A-Z]+)(\d+))?\"")
_MIB = 1024 * 1024
T = TypeVar("T")
_BROKEN = "xlsx 文件已损坏（内部压缩数据不完整）；请在 Excel 中另存为 .xlsx 后重新报送"
_PROTECTED = ("xlsx 文件有密码保护，无法读取；请在 Excel 中去掉密码（文件→信息→保护工作簿→用密码进行加密，"
              "清空密码）后重新报送")


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


# ---------------------------------------------------------------- one streamed pass over the sheet XML
_CELL_WITH_VALUE = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_HAS_VALUE = re.compile(rb"<v>[^<]|<is>|<is ")
_REF = re.compile(rb"\br=\"([A-Z]{1,3})(\d+)\"")
_ERROR_CELL = re.compile(rb"<c\b([^>/]*\bt=\"e\"[^>/]*)>(.*?)</c>", re.S)
_V = re.compile(rb"<v>([^<]*)</v>")
_NO_RESULT = re.compile(  # a formula cell with no stored result (no <v>, or an empty one)
    rb"<c\b([^>/]*)>\s*<f\b[^>]*?(?:/>|>([^<]*)</f>)\s*(<v\s*/>|<v>\s*</v>)?\s*</c>")


_ERROR_TEXT = re.compile(rb"<(?:\w+:)?t\b[^>]*>\s*(#[A-Z0-9/!?_]+)\s*</(?:\w+:)?t>")


def _holds_error_text(xml: bytes) -> bool:
    """Whether a text of the XML (shared strings, inline strings) is exactly an Excel error value."""
    return b">#" in xml and any(m.group(1).decode() in EXCEL_ERRORS for m in _ERROR_TEXT.finditer(xml))


@dataclass
class SheetSurvey:
    issues: dict[int, list[tuple[int, CellIssue]]] = field(default_factory=dict)  # row -> [(col, issue)]
    error_text: bool = False  # some text cell reads exactly like an Excel error value ("#N/A")
    value_rows: int = 0  # rows that hold a value (counted only when the dimension is not trusted)
    last_row: int = 0
    min_col: int | None = None
    max_col: int = 0
    far_cell: str = ""  # the value cell furthest down, e.g. "D1048576"


def _pieces(z: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The sheet XML in pieces that never split a cell (cut after ``</c>`` or ``row>``)."""
    with z.open(member) as f:
        carry = b""
        while data := f.read(_MIB):
            buf = carry + data
            cut = max(buf.rfind(b"</c>"), buf.rfind(b"row>"))
            if cut < 0:
                carry = buf
                continue
            yield buf[:cut + 4]
            carry = buf[cut + 4:]
        if carry:
            yield carry


_HIDING = (b"#", b"</f>")  # an error value or a "#..." text; a formula (a shared one has a master)


def _may_hide_cells(z: zipfile.ZipFile, member: str) -> bool:
    """A quick pass (no parsing): does the sheet hold an error cell, a formula or a text "#..."?"""
    with z.open(member) as f:
        tail = b""
        while data := f.read(_MIB):
            probe = tail + data[:16]
            if any(t in data or t in probe for t in _HIDING):
                return True
            tail = data[-16:]
    return False


def survey_sheet(z: zipfile.ZipFile, member: str, *, extent: bool, limits: Limits, name: str,
                 xml: bytes | None = None) -> SheetSurvey:
    """Cells calamine would show as empty though they are not (errors, formulas without a result)
    and, with ``extent``, the rows that hold values; raises :class:`FileRejected` when too big.
    ``xml``: the member already inflated (else it is streamed)."""
    s = SheetSurvey()
    rows_seen: set[int] = set()
    try:
        s.error_text = _holds_error_text(z.read("xl/sharedStrings.xml"))
    except KeyError:
        pass
    if not extent and not (_may_hide_cells(z, member) if xml is None else any(t in xml for t in _HIDING)):
        return s
    for piece in _pieces(z, member) if xml is None else (xml,):
        if not s.error_text and _holds_error_text(piece):
            s.error_text = True
        if b't="e"' in piece:
            for m in _ERROR_CELL.finditer(piece):
                ref, v = _REF.search(m.group(1)), _V.search(m.group(2))
                if ref:
                    value = html.unescape(v.group(1).decode("utf-8", "replace")) if v else "#错误"
                    s.issues.setdefault(int(ref.group(2)), []).append(
                        (col_index(ref.group(1)), CellIssue.error(value)))
        if b"<f" in piece:
            for m in _NO_RESULT.finditer(piece):
                attrs, formula, empty_v = m.groups()
                if empty_v and b't="str"' in attrs:
                    continue  # a cached empty string: the formula's result is ""
                ref = _REF.search(attrs)
                if ref:
                    text = html.unescape((formula or b"").decode("utf-8", "replace"))
                    s.issues.setdefault(int(ref.group(2)), []).append(
                        (col_index(ref.group(1)), CellIssue.formula_without_value(text)))
        if extent:
            for m in _CELL_WITH_VALUE.finditer(piece):
                body = m.group(2)
                if not body or not _HAS_VALUE.search(body):
                    continue
                ref = _REF.search(m.group(1))
                if not ref:
                    continue
                row, col = int(ref.group(2)), col_index(ref.group(1))
                if row not in rows_seen:
                    rows_seen.add(row)
                    if len(rows_seen) > limits.max_xlsx_rows:
                        raise FileRejected(f"工作表“{name}”有超过 {limits.max_xlsx_rows} 行数据，超过上限；"
                                           "请拆分成多个文件或改用 CSV 后报送")
                if row > s.last_row:
                    s.last_row, s.far_cell = row, ref.group(1).decode() + str(row)
                s.min_col = col if s.min_col is None else min(s.min_col, col)
                s.max_col = max(s.max_col, col)
    s.value_rows = len(rows_seen)
    return s


def check_xlsx(data: bytes, limits: Limits,
               parse: Callable[[str, bytes | None], T] | None = None) -> tuple[str, SheetSurvey, T | None]:
    """Refuse zip bombs and oversize sheets before parsing; the first visible sheet's name, survey and
    ``parse(name, quick)``. Once nothing is left that could refuse the file before it is parsed (the
    sheet's dimension is trusted), the sheet XML is inflated once, for the survey and for ``quick``,
    the workbook with the sheet's merged ranges first (:mod:`ingestion.xlsx_merges`, else None), and
    ``parse`` runs in a thread while the sheet is surveyed (calamine lets go of the GIL): a reason of
    the survey still comes first."""
    if data.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise FileRejected(_PROTECTED)
        raise FileRejected("文件是旧版 Excel 97-2003（.xls）格式，扩展名却是 .xlsx；"
                           "请在 Excel 中另存为 .xlsx 后重新报送")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise FileRejected(
            "不是有效的 xlsx 文件（可能是把其他文件改了扩展名，或文件已损坏、不完整）；"
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
        if not member:
            return name, SheetSurvey(), parse(name, None) if parse else None
        try:
            with z.open(member) as f:
                head = f.read(64 * 1024)
        except KeyError:
            raise FileRejected(f"工作表“{name}”的内容缺失，文件可能已损坏；请在 Excel 中另存为 .xlsx") from None
        except (zipfile.BadZipFile, OSError, EOFError):
            raise FileRejected(_BROKEN) from None
        m = _DIMENSION.search(head)
        trusted = False
        if m and m.group(2):
            first_col = col_index(m.group(1) or b"A")
            last_col, last_row = col_index(m.group(3) or m.group(1) or b"A"), int(m.group(4) or m.group(2))
            width = last_col - first_col + 1
            trusted = last_row <= limits.max_xlsx_rows and last_row * width <= limits.max_xlsx_cells
        with ThreadPoolExecutor(max_workers=1) as pool:
            parsed, xml = None, None
            try:
                if parse and trusted:
                    xml = z.read(member)
                    parsed = pool.submit(parse, name, merges_first(data, z, member, xml))
                survey = survey_sheet(z, member, extent=not trusted, limits=limits, name=name, xml=xml)
            except (zipfile.BadZipFile, OSError, EOFError):
                raise FileRejected(_BROKEN) from None
            del xml  # not held while calamine parses
        if not trusted and survey.value_rows:
            width = survey.max_col - (survey.min_col or 0) + 1
            if survey.last_row * width > limits.max_xlsx_cells:
                raise FileRejected(
                    f"工作表“{name}”在 {survey.far_cell} 等远离数据的单元格中有内容，整张表跨 {survey.last_row} 行、"
                    f"{width} 列，超过上限；请删除数据区以外的多余内容（或拆分文件）后重新报送")
    if parsed is not None:
        return name, survey, parsed.result()
    return name, survey, parse(name, None) if parse else None


def _merged(sheet: python_calamine.CalamineSheet) -> dict[int, list[tuple[int, int, str]]]:
    """row (1-based) -> [(first col, last col, "C4:C6")]: the cells of merged ranges that are not
    the range's first cell (only rows up to the sheet's last row: a range may run much further)."""
    out: dict[int, list[tuple[int, int, str]]] = {}
    last = sheet.end[0] if sheet.end else 0
    for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or ():
        ref = f"{col_letters(c0)}{r0 + 1}:{col_letters(c1)}{r1 + 1}"
        if c1 > c0:  # the first row, right of the first cell
            out.setdefault(r0 + 1, []).append((c0 + 1, c1, ref))
        for r in range(r0 + 1, min(r1, last) + 1):
            out.setdefault(r + 1, []).append((c0, c1, ref))
    return out


class XlsxSheet:
    """The first visible sheet, checked and parsed by calamine: its rows as calamine gives them
    (:meth:`raw_rows`) and what :meth:`fix` makes of one (the cells the grid hides put back)."""

    def __init__(self, data: bytes, survey: SheetSurvey, sheet: python_calamine.CalamineSheet) -> None:
        self.data, self.survey, self.sheet = data, survey, sheet
        self.height = sheet.height
        self.first_col = sheet.start[1] if sheet.start else 0
        self.merged = _merged(sheet)
        self._exact: dict[float, str | None] | None = None

    def raw_rows(self) -> Iterator[Row]:
        """Rows as calamine gives them, numbered as Excel shows them."""
        return enumerate(self.sheet.iter_rows(), start=1)

    def special_rows(self) -> set[int]:
        """Rows :meth:`fix` may change beyond single cells: merged ranges, error cells, formulas
        without a result (the other changes are per cell: a float of 1e15 or more, a text that is
        exactly an Excel error value when :attr:`SheetSurvey.error_text`)."""
        return set(self.merged) | set(self.survey.issues)

    def fix(self, n: int, row: list[object]) -> list[object]:
        """Row ``n`` as the parser reads it: long integers' exact digits, merged blanks, error
        values and formulas without a result as :mod:`ingestion.cells` cells."""
        if any(type(c) is float and not -_EXACT_LIMIT < c < _EXACT_LIMIT for c in row):
            if self._exact is None:
                self._exact = _long_number_texts(self.data)
            exact = self._exact
            row = [NumberText(exact[c]) if type(c) is float and exact.get(c) else c for c in row]
        first_col = self.first_col
        if n in self.merged:
            row = row.copy()  # the caller's list stays as calamine gave it
            for c0, c1, ref in self.merged[n]:
                for i in range(max(c0 - first_col, 0), min(c1 - first_col + 1, len(row))):
                    if row[i] == "":
                        row[i] = MergedBlank(ref)
        if self.survey.error_text:
            row = mark_errors(row)
        if n in self.survey.issues:
            row = row.copy()
            for col, issue in self.survey.issues[n]:
                i = col - first_col
                if 0 <= i < len(row) and (row[i] == "" or row[i] is None):
                    row[i] = issue
        return row


def _parse(data: bytes, name: str, quick: bytes | None = None) -> python_calamine.CalamineSheet:
    """calamine's parse of the sheet ``name`` (in ``quick``, the same workbook with the sheet's merged
    ranges first, when there is one: an error there is worded from ``data`` itself)."""
    if quick is not None:
        try:
            return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(quick)).get_sheet_by_name(name)
        except Exception:  # noqa: BLE001, S110 - parsed again below, from the file's own bytes
            pass
    try:
        return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(name)
    except python_calamine.PasswordError:
        raise FileRejected(_PROTECTED) from None
    except python_calamine.CalamineError as exc:
        raise FileRejected(f"xlsx 文件无法读取（{exc}）；请在 Excel 中另存为 .xlsx 后重新报送") from None


def open_xlsx(path: Path, scan: FileScan, limits: Limits) -> XlsxSheet:
    """Check the file (:func:`check_xlsx`) and parse its first visible sheet; :class:`FileRejected`
    with the reason when it cannot be read, :class:`FileChanged` when its bytes are not ``scan``'s."""
    if scan.size > limits.max_xlsx_bytes:
        raise FileRejected(f"xlsx 文件 {scan.size // _MIB} MB，超过上限 {limits.max_xlsx_bytes // _MIB} MB；"
                           "请拆分成多个文件后报送")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != scan.sha256:
        raise FileChanged(str(path))
    name, survey, sheet = check_xlsx(data, limits, lambda name, quick: _parse(data, name, quick))
    assert sheet is not None
    if sheet.height == 0:
        raise FileRejected(f"第一个可见工作表“{name}”是空的；请把数据放在第一个可见工作表中")
    return XlsxSheet(data, survey, sheet)


def iter_xlsx(path: Path, scan: FileScan, limits: Limits) -> Iterator[Row]:
    """Rows of the first visible sheet, numbered as Excel shows them (read when first asked for)."""
    sheet = open_xlsx(path, scan, limits)
    for n, row in sheet.raw_rows():
        yield n, sheet.fix(n, row)


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
