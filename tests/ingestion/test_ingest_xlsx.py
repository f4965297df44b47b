"""Hostile xlsx files built with openpyxl and xlsxwriter: size judged by cells that hold values,
cells the grid hides (errors, formulas without a result, merged ranges), IDs in number cells."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from ingest_helpers import ID1, PAY_HEADER, Warehouse, pay_row, write_xlsx

from ingestion import Limits, xlsx_bulk

FIXTURES = Path(__file__).parent / "fixtures"
ROSTER = ["项目编码", "姓名", "公民身份号码", "人员类别", "银行账号", "开户银行", "核定金额（元）", "上报单位代码",
          "上报日期", "公示开始日期", "公示结束日期"]


def _roster_row(id_number: object, name: str = "张三") -> list[object]:
    return ["P1", name, id_number, "", "", "", 3000, "430121", None, None, None]


def test_a_formatted_cell_at_the_last_excel_row_does_not_make_a_sheet_too_big(wh: Warehouse, inbox: Path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (PAY_HEADER, pay_row("T1"), pay_row("T2"), pay_row("T3")):
        ws.append(r)
    ws["K1048576"].number_format = "0.00"
    ws["K1048576"].fill = openpyxl.styles.PatternFill("solid", fgColor="FFFF00")
    wb.save(inbox / "p.xlsx")
    with zipfile.ZipFile(inbox / "p.xlsx") as z:
        assert b'<dimension ref="A1:K1048576"' in z.read("xl/worksheets/sheet1.xml")
    report = wh.load()
    assert (report.files_loaded, report.rows_loaded) == (1, 3), wh.files()


def test_one_stray_value_far_away_is_refused_naming_the_cell(wh: Warehouse, inbox: Path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (PAY_HEADER, pay_row("T1")):
        ws.append(r)
    ws["XFD1048576"] = "x"  # calamine's grid would span 17 billion cells
    wb.save(inbox / "p.xlsx")
    wh.load()
    status, reason = wh.files()["p.xlsx"][:2]
    assert status == "rejected" and "XFD1048576" in reason and "删除数据区以外的多余内容" in reason


def test_more_rows_with_values_than_the_limit_are_refused_before_parsing(wh: Warehouse, inbox: Path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (PAY_HEADER, pay_row("T1"), pay_row("T2"), pay_row("T3")):
        ws.append(r)
    wb.save(inbox / "p.xlsx")
    wh.load(limits=Limits(max_xlsx_rows=3))
    status, reason = wh.files()["p.xlsx"][:2]
    assert status == "rejected" and "有超过 3 行数据" in reason


def test_a_password_protected_workbook_says_so(wh: Warehouse, inbox: Path):
    shutil.copy(FIXTURES / "password_protected.xlsx", inbox / "p.xlsx")
    wh.load()
    status, reason = wh.files()["p.xlsx"][:2]
    assert status == "rejected" and "有密码保护" in reason and "损坏" not in reason


def test_an_old_xls_under_an_xlsx_name_says_so(wh: Warehouse, inbox: Path):
    data = (FIXTURES / "password_protected.xlsx").read_bytes().replace(
        "EncryptedPackage".encode("utf-16-le"), "WorkbookPackage!".encode("utf-16-le"))
    (inbox / "p.xlsx").write_bytes(data)  # an OLE file without an encrypted package: a .xls
    wh.load()
    status, reason = wh.files()["p.xlsx"][:2]
    assert status == "rejected" and "旧版 Excel 97-2003（.xls）" in reason


def test_excel_errors_and_formulas_without_a_result_name_themselves(wh: Warehouse, inbox: Path):
    path = inbox / "p.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, PAY_HEADER)
    rows = [pay_row("T1"), pay_row("T2"), pay_row("T3"), pay_row("T4")]
    for r, row in enumerate(rows, start=1):
        ws.write_row(r, 0, row)
    ws.write_formula(1, 7, "=1/0", None, "#DIV/0!")  # T1: amount is #DIV/0!
    ws.write_formula(2, 10, '=VLOOKUP(A3,Sheet2!A:B,2,0)', None, "#N/A")  # T2: optional 备注 is #N/A
    ws.write_formula(3, 8, "=TODAY()", None, "#VALUE!")  # T3: date
    wb.close()
    wh.load()
    assert wh.q("SELECT txn_ref FROM raw.payments") == [("T4",)]
    got = {row: reason for _, row, reason in wh.rejected()}
    assert "列“金额（元）”的值“#DIV/0!”无法读取：单元格是 Excel 错误值 #DIV/0!" in got[2]
    assert "列“备注”的值“#N/A”无法读取：单元格是 Excel 错误值 #N/A" in got[3]
    assert "列“发放日期”的值“#VALUE!”" in got[4]
    assert not any("必填列" in r for r in got.values())


def test_an_error_value_written_as_text_rejects_the_row(wh: Warehouse, inbox: Path):
    """A sheet pasted from a CSV export holds "#N/A" as text: the same reason as an error cell."""
    write_xlsx(inbox / "p.xlsx", [PAY_HEADER, pay_row("T1"), [*pay_row("T2")[:10], "#N/A"]])
    wh.load()
    [(_, row, reason)] = wh.rejected()
    assert row == 3 and "列“备注”的值“#N/A”无法读取：单元格是 Excel 错误值 #N/A" in reason


def test_a_formula_without_a_stored_result_says_so(wh: Warehouse, inbox: Path):
    """openpyxl writes formulas without results, as many programs do."""
    write_xlsx(inbox / "p.xlsx", [PAY_HEADER, pay_row("T1", amount="=SUM(1,2)"), pay_row("T2")])
    wh.load()
    [(_, row, reason)] = wh.rejected()
    assert row == 2 and "列“金额（元）”的值“=SUM(1,2)”无法读取：单元格是公式，但文件中没有保存计算结果" in reason


def test_a_formula_whose_result_is_an_empty_text_is_an_empty_cell(wh: Warehouse, inbox: Path):
    path = inbox / "p.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, PAY_HEADER)
    ws.write_row(1, 0, pay_row("T1"))
    ws.write_formula(1, 10, '=IF(1=1,"","x")', None, "")
    wb.close()
    with zipfile.ZipFile(path) as z:  # xlsxwriter stores the empty result the way Excel does
        xml = z.read("xl/worksheets/sheet1.xml")
    xml = xml.replace(b'<c r="K2"><f>', b'<c r="K2" t="str"><f>')
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(inbox / "q.xlsx", "w") as out:
        for item in z.infolist():
            out.writestr(item, xml if item.filename == "xl/worksheets/sheet1.xml" else z.read(item))
    path.unlink()
    wh.load()
    assert wh.rejected() == []
    assert wh.q("SELECT txn_ref, remark FROM raw.payments") == [("T1", None)]


def test_merged_cells_say_they_are_merged(wh: Warehouse, inbox: Path):
    path = inbox / "p.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (PAY_HEADER, pay_row("T1"), pay_row("T2"), pay_row("T3"), pay_row("T4")):
        ws.append(r)
    ws.merge_cells("C2:C4")  # 项目编码 typed once for three payments
    ws.merge_cells("B2:B5")  # 发放批次 (optional) merged: blank below its first cell, no reason to reject
    wb.save(path)
    wh.load()
    assert wh.q("SELECT txn_ref, batch FROM raw.payments ORDER BY 1") == [("T1", "第一批"), ("T4", None)]
    got = {row: reason for _, row, reason in wh.rejected()}
    assert set(got) == {3, 4}
    assert "必填列“项目编码”为空：该格在合并单元格 C2:C4 中，只有合并区域的第一格有值" in got[3]


def test_an_18_digit_id_in_a_number_cell_is_rejected_with_the_hint(wh: Warehouse, inbox: Path):
    """openpyxl stores the integer exactly, xlsxwriter as a double (what Excel keeps): both refused,
    no invented digits; a 15-digit old number in a number cell is upgraded."""
    write_xlsx(inbox / "a.xlsx", [ROSTER, _roster_row(int(ID1)), _roster_row(430102900101123, "李四")])
    wb = xlsxwriter.Workbook(str(inbox / "b.xlsx"))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ROSTER)
    ws.write_row(1, 0, _roster_row(float(ID1), "王五"))
    ws.write_row(2, 0, _roster_row(float(4301021990010112), "赵六"))  # 16 digits
    wb.close()
    wh.load()
    assert wh.q("SELECT name, id_number FROM raw.roster") == [("李四", ID1)]  # 15 digits, upgraded
    rejected = wh.rejected()
    assert [(f, r) for f, r, _ in rejected] == [("a.xlsx", 2), ("b.xlsx", 2), ("b.xlsx", 3)]
    for _, _, reason in rejected:
        assert "公民身份号码写成了数值单元格" in reason and "设为文本格式" in reason
        assert ID1 not in reason and "4301021990010112" not in reason  # masked, no invented digits


def test_an_18_digit_id_as_text_still_loads(wh: Warehouse, inbox: Path):
    write_xlsx(inbox / "a.xlsx", [ROSTER, _roster_row(ID1)], text_columns=[2])
    wh.load()
    assert wh.q("SELECT id_number, approved_amount FROM raw.roster") == [(ID1, Decimal("3000.00"))]


@pytest.mark.parametrize("bulk", [False, True], ids=["row by row", "column-wise"])
def test_a_time_or_duration_cell_in_a_rejected_row_is_quoted_in_its_raw_values(wh: Warehouse, inbox: Path,
                                                                                 monkeypatch, bulk: bool):
    """calamine gives a time cell as datetime.time and a duration as timedelta: the row is rejected with
    its reason and its cells quoted, the file loaded (it was once rejected whole as a program error)."""
    if bulk:
        monkeypatch.setattr(xlsx_bulk, "MIN_ROWS", 0)
    write_xlsx(inbox / "p.xlsx", [PAY_HEADER, pay_row("T1"), pay_row("T2", date=time(8, 30)),
                                  pay_row("T3", amount=timedelta(hours=30)), pay_row("T4")])
    wh.load()
    assert wh.files()["p.xlsx"][:4] == ("loaded", None, 2, 2)
    (r2, why2, raw2), (r3, why3, raw3) = wh.q(
        "SELECT source_row, reason, raw_values FROM raw.rejected_rows ORDER BY source_row")
    assert (r2, r3) == (3, 4)
    assert "发放日期" in why2 and json.loads(raw2)["发放日期"] == "08:30:00"
    assert "金额（元）" in why3 and json.loads(raw3)["金额（元）"] == "1 day, 6:00:00"
