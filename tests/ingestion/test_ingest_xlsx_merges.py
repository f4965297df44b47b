"""The workbook calamine parses with the sheet's merged ranges first (ingestion.xlsx_merges): a valid zip
whose sheet XML is the block and then the sheet's own bytes, parsed by calamine exactly as the file
itself (cells, merged ranges, extent); left as it is wherever that is not certain."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import openpyxl
import pytest
import python_calamine
import xlsxwriter

from ingestion.xlsx_merges import merges_block, merges_first
from ingestion.xlsx_reader import _first_visible_sheet


def _openpyxl(merged: bool) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "发放明细"
    ws.append(["2020年发放明细"])
    ws.append(["姓名", "金额（元）", "发放日期", "备注"])
    ws.append(["张三", 1200.5, date(2020, 6, 30), "=1+1"])
    ws.append(["李四", "#N/A", None, ""])
    if merged:
        ws.merge_cells("A1:D1")
        ws.merge_cells("D3:D4")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsxwriter() -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})  # shared strings, an XML declaration, dates as numbers
    ws = wb.add_worksheet("明细")
    ws.merge_range("A1:C1", "标题")
    ws.write_row(1, 0, ["姓名", 1200.0, "备注"])
    ws.write_datetime(2, 1, date(2020, 3, 1), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_formula(3, 0, "=1/0", None, "#DIV/0!")
    wb.close()
    return buf.getvalue()


def _sheet(data: bytes, name: str) -> tuple:
    sheet = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(name)
    return sheet.to_python(), sheet.merged_cell_ranges, sheet.start, sheet.end, sheet.height, sheet.width


@pytest.mark.parametrize("data", [_openpyxl(True), _openpyxl(False), _xlsxwriter()],
                         ids=["merged", "none", "xlsxwriter"])
def test_parsed_as_the_file_itself(data: bytes) -> None:
    z = zipfile.ZipFile(io.BytesIO(data))
    name, member = _first_visible_sheet(z)
    assert member
    xml = z.read(member)
    quick = merges_first(data, z, member, xml)
    assert quick is not None
    q = zipfile.ZipFile(io.BytesIO(quick))
    assert q.testzip() is None  # every member's CRC-32 and sizes hold
    assert [i.filename for i in q.infolist()] == [i.filename for i in z.infolist()]
    assert q.read(member) == merges_block(xml) + xml
    assert all(q.read(i.filename) == z.read(i.filename) for i in z.infolist() if i.filename != member)
    assert _sheet(quick, name) == _sheet(data, name)
    assert bool(_sheet(data, name)[1]) == (b"<mergeCell " in xml)


def test_the_block_is_the_first_calamine_finds() -> None:
    body = b'<sheetData><row r="1"/></sheetData>'
    block = b'<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>'
    assert merges_block(b"<worksheet>" + body + block + b"</worksheet>") == block
    assert merges_block(b"<worksheet>" + body + b"</worksheet>") == b'<mergeCells count="0"></mergeCells>'
    for decl in (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', b'<?xml version="1.0"?>'):
        assert merges_block(decl + b"<worksheet>" + body + block + b"</worksheet>") == block


@pytest.mark.parametrize("xml", [
    b'\xef\xbb\xbf<worksheet><sheetData/><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells></worksheet>',
    b'<x:worksheet><x:sheetData/><x:mergeCells count="1"><x:mergeCell ref="A1:B1"/></x:mergeCells></x:worksheet>',
    b'<worksheet><sheetData/><mergeCells/><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells></worksheet>',
    b'<worksheet><!-- <mergeCells> --><sheetData/><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>'
    b'</worksheet>',
    b'<worksheet><sheetData/><mergeCells count="1"><mergeCell ref="A1:B1"/></worksheet>',
    '<?xml version="1.0" encoding="GB2312"?><worksheet><sheetData/></worksheet>'.encode("gb2312"),
    "<worksheet><sheetData/></worksheet>".encode("utf-16-le"),
], ids=["bom", "prefixed", "self-closing", "comment", "unclosed", "gb2312", "utf-16"])
def test_left_as_it_is_when_not_certain(xml: bytes) -> None:
    assert merges_block(xml) is None
