"""findings.xlsx as written by ``export.write_xlsx`` (rows straight into the sheet XML, the frame by
xlsxwriter): the same workbook xlsxwriter writes cell by cell, read back by two readers, split into
sheets, atomic, and cheap."""

from __future__ import annotations

import re
import zipfile
from decimal import Decimal

import openpyxl
import pytest
import python_calamine
import xlsxwriter

from fundwatch import export
from fundwatch.state import EXPORT_COLUMNS

ASTRAL = "\U0001f600"  # two UTF-16 units


def _row(n: int, **over) -> dict:
    row = {
        "finding_id": f"{n:016x}", "rule_id": "PAY_NOT_ON_ROSTER", "rule_name": "名单外发放", "severity": "error",
        "subject_type": "payment", "subject_key": f"T{n}", "project_code": "JSX2020-430102-ABCD",
        "unit_code": "430102", "amount_at_risk": Decimal("1234.50"), "source_file": "长沙/发放.xlsx",
        "source_row": n + 1, "detail": f"收款人不在名单中（第{n}笔）", "first_seen": "2021-04-30", "status": "open",
    }
    return {**row, **over}


# Texts that take every path of the escaping: XML's own characters, control characters (as _xHHHH_),
# a literal _xHHHH_, non-characters, whitespace to preserve, formula guards, cells cut at Excel's limit.
TRICKY = [
    _row(1, detail="a & b < c > d \"q\" 'a'", subject_key="=HYPERLINK(\"http://x\")", project_code=None),
    _row(2, detail="控制\x00字符\x01\x08\x0b\x0c\x0e\x1f结束", subject_key="\rCR", unit_code=""),
    _row(3, detail="tab\tand\nnewline kept", subject_key="\t坏文件.pdf", source_row=None),
    _row(4, detail="literal _x000D_ and _x1F2e_ and _xZZZZ_ and _x12_", subject_key="-5"),
    _row(5, detail="non\ufffecharacters\uffff", subject_key="+86", amount_at_risk=Decimal("0")),
    _row(6, detail=" leading space", subject_key="trailing space ", amount_at_risk=Decimal("-12.30")),
    _row(7, detail="\u3000全角空格开头", subject_key="末尾换行\n", amount_at_risk=Decimal("999999999999.99")),
    _row(8, detail="x" * (export.XLSX_MAX_TEXT + 5), subject_key="@SUM(A1)", amount_at_risk=None),
    _row(9, detail="y" * (export.XLSX_MAX_TEXT - 1) + ASTRAL + "z", subject_key=None, source_file=None),
    _row(10, detail="ü" * 20_000 + "&", rule_name=12345, amount_at_risk="7.10", source_row="42"),
    _row(11, detail="'already quoted", subject_key="a=b", status="dismissed"),
    _row(12, detail="\r", subject_key="\x01", first_seen=None),
]


def _xlsxwriter_cell_by_cell(rows, path, *, sheet_title="问题清单"):
    """The writer findings.xlsx had before: every cell through xlsxwriter (the reference)."""
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False, "strings_to_numbers": False})
    wb.set_properties({"title": "fundwatch findings", "comments": "fundwatch 问题清单导出"})
    head = wb.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1})
    money = wb.add_format({"num_format": "#,##0.00"})
    size = export.XLSX_MAX_ROWS
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)] or [rows]
    for n, chunk in enumerate(chunks, start=1):
        ws = wb.add_worksheet(sheet_title if n == 1 else f"{sheet_title}{n}")
        ws.freeze_panes(1, 0)
        widths = {"finding_id": 18, "rule_name": 22, "subject_key": 34, "source_file": 40, "detail": 70}
        for col, name in enumerate(EXPORT_COLUMNS):
            ws.set_column(col, col, widths.get(name, 14))
            ws.write_string(0, col, name, head)
        for r, row in enumerate(chunk, start=1):
            for col, name in enumerate(EXPORT_COLUMNS):
                value = row.get(name)
                if value is None or value == "":
                    continue
                if name == "amount_at_risk":
                    ws.write_number(r, col, float(Decimal(value)), money)
                elif name == "source_row":
                    ws.write_number(r, col, int(value))
                else:
                    ws.write_string(r, col, export.safe_text(value))
        ws.autofilter(0, 0, max(len(chunk), 1), len(EXPORT_COLUMNS) - 1)
    wb.close()
    return path


def _parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        return {i.filename: z.read(i) for i in z.infolist()}


def _placed(xml: bytes) -> str:
    """A sheet's XML with every data row and cell at its place said (``r`` attributes) and no empty cell:
    our rows leave their places to their order (``export._rows_xml``: a block's XML is the same wherever
    it lies), xlsxwriter says them. Equal after this, the two sheets hold the same cells in the same
    places, byte for byte."""
    head, rest = xml.decode("utf-8").split("<sheetData>", 1)
    body, tail = rest.split("</sheetData>", 1)
    rows, r = [], 0
    for attrs, cells in re.findall(r"<row((?: [^>]*)?)>(.*?)</row>", body, re.S):
        said = re.search(r' r="(\d+)"', attrs)
        r = int(said.group(1)) if said else r + 1
        col, placed = 0, []
        for cell in re.findall(r"<c(?: [^>]*)?/>|<c(?: [^>]*)?>.*?</c>", cells, re.S):
            said = re.match(r'<c r="([A-Z])\d+"', cell)
            col = ord(said.group(1)) - ord("A") + 1 if said else col + 1
            bare = re.sub(r'^<c r="[A-Z]\d+"', "<c", cell)
            if bare != "<c/>":
                placed.append(f'<c r="{chr(ord("A") + col - 1)}{r}"{bare[2:]}')
        rows.append(f'<row r="{r}"{re.sub(r" r=.[0-9]+.", "", attrs)}>{"".join(placed)}</row>')
    return f"{head}<sheetData>{''.join(rows)}</sheetData>{tail}"


def _same_workbook(ours: dict[str, bytes], reference: dict[str, bytes]) -> None:
    assert list(ours) == list(reference), "the same parts in the same order"
    for name, xml in reference.items():
        if name.startswith("xl/worksheets/sheet"):
            assert ours[name].count(b"<row r=") == 1, "only the frame's header row says its place"
            assert _placed(ours[name]) == _placed(xml), f"{name}: other cells than xlsxwriter's"
        elif name != "docProps/core.xml":  # it holds the time of writing
            assert ours[name] == xml, f"{name} differs from xlsxwriter's"


@pytest.mark.parametrize("rows", [
    pytest.param(TRICKY, id="tricky-texts"),
    pytest.param([_row(n) for n in range(12_345)], id="many-rows-several-blocks"),
    pytest.param([], id="no-findings"),
])
def test_the_same_workbook_as_xlsxwriter_cell_by_cell(tmp_path, rows):
    ours = _parts(export.write_xlsx(rows, tmp_path / "findings.xlsx"))
    reference = _parts(_xlsxwriter_cell_by_cell(rows, tmp_path / "reference.xlsx"))
    _same_workbook(ours, reference)


def test_split_into_sheets_like_xlsxwriter(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 5)
    rows = [_row(n) for n in range(12)]
    ours = _parts(export.write_xlsx(rows, tmp_path / "findings.xlsx"))
    reference = _parts(_xlsxwriter_cell_by_cell(rows, tmp_path / "reference.xlsx"))
    assert [n for n in ours if n.startswith("xl/worksheets/")] == [f"xl/worksheets/sheet{i}.xml" for i in (1, 2, 3)]
    _same_workbook(ours, reference)

    wb = openpyxl.load_workbook(tmp_path / "findings.xlsx")
    assert wb.sheetnames == ["问题清单", "问题清单2", "问题清单3"]
    for ws, chunk in zip(wb.worksheets, (rows[:5], rows[5:10], rows[10:]), strict=True):
        assert [c.value for c in ws[1]] == list(EXPORT_COLUMNS)
        assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == [r["finding_id"] for r in chunk]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:N{len(chunk) + 1}"


def test_read_back_values_types_and_formats(tmp_path):
    path = export.write_xlsx(TRICKY, tmp_path / "findings.xlsx")
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:N{len(TRICKY) + 1}"
    assert [c.value for c in ws[1]] == list(EXPORT_COLUMNS) and all(c.font.b for c in ws[1])
    col = {name: i for i, name in enumerate(EXPORT_COLUMNS)}
    for row, cells in zip(TRICKY, ws.iter_rows(min_row=2), strict=True):
        for name, cell in zip(EXPORT_COLUMNS, cells, strict=True):
            value = row.get(name)
            if value is None or value == "":
                assert cell.value is None, cell.coordinate
            elif name == "amount_at_risk":
                assert cell.data_type == "n" and cell.number_format == "#,##0.00"
                assert Decimal(str(cell.value)).quantize(Decimal("0.01")) == Decimal(value)
            elif name == "source_row":
                assert cell.data_type == "n" and cell.value == int(value) and isinstance(cell.value, int)
            else:
                assert cell.data_type == "s", f"{cell.coordinate} is not a string cell"
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows[0][col["subject_key"]] == "'=HYPERLINK(\"http://x\")"
    assert rows[0][col["detail"]] == "a & b < c > d \"q\" 'a'"
    assert rows[1][col["detail"]] == "控制_x0000_字符_x0001__x0008__x000B__x000C__x000E__x001F_结束", "Excel's escapes"
    assert rows[1][col["subject_key"]] == "'_x000D_CR"
    assert rows[2][col["detail"]] == "tab\tand\nnewline kept"
    assert rows[3][col["detail"]] == "literal _x005F_x000D_ and _x005F_x1F2e_ and _xZZZZ_ and _x12_"
    assert rows[4][col["detail"]] == "non_xFFFE_characters_xFFFF_"
    assert rows[5][col["detail"]] == " leading space" and rows[5][col["subject_key"]] == "trailing space "
    assert rows[6][col["detail"]] == "\u3000全角空格开头" and rows[6][col["subject_key"]] == "末尾换行\n"
    assert rows[7][col["detail"]] == "x" * export.XLSX_MAX_TEXT, "cut at Excel's limit"
    assert rows[8][col["detail"]] == "y" * (export.XLSX_MAX_TEXT - 1), "never half a character"
    assert rows[9][col["rule_name"]] == "12345" and rows[9][col["detail"]].endswith("&")

    # A second, independent reader (Rust's calamine, as the ingestion reads clerks' files).
    sheet = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert sheet[0] == list(EXPORT_COLUMNS)
    assert [r[col["finding_id"]] for r in sheet[1:]] == [r["finding_id"] for r in TRICKY]
    assert sheet[1][col["amount_at_risk"]] == 1234.5 and sheet[8][col["amount_at_risk"]] == ""
    assert sheet[1][col["detail"]] == "a & b < c > d \"q\" 'a'"


def test_a_text_like_a_rich_string_stays_text(tmp_path):
    """xlsxwriter's inline path took a text between <r> and </r> for rich-string XML and wrote it
    unescaped (a broken sheet); it is a text like any other."""
    rows = [_row(1, detail="<r><t>x</t></r>"), _row(2, detail="<r>&</r>")]
    ws = openpyxl.load_workbook(export.write_xlsx(rows, tmp_path / "f.xlsx")).worksheets[0]
    assert [r[EXPORT_COLUMNS.index("detail")] for r in ws.iter_rows(min_row=2, values_only=True)] == \
        ["<r><t>x</t></r>", "<r>&</r>"]


def test_atomic_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = export.write_xlsx([_row(1)], tmp_path / "findings.xlsx")
    before = path.read_bytes()
    with pytest.raises((ValueError, ArithmeticError)):
        export.write_xlsx([_row(1), _row(2, amount_at_risk="not a number")], path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.xlsx"]
