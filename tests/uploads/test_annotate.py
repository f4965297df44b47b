"""The annotated copy: reasons on the right rows, bad cells highlighted, a summary; fixed, it loads."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from upload_files import COUNTY, csv_bytes, filled_template, headers, valid_rows

from fundwatch.uploads import store
from fundwatch.uploads.annotate import BAD_FILL, PROBLEM_HEADER, SUMMARY_SHEET, TOTAL_FILL, annotated_xlsx
from fundwatch.uploads.submit import receive


def _annotated(home, up) -> bytes:
    return annotated_xlsx(store.kept_path(home, up.sha256, up.file_type), up.inbox_path or up.file_name,
                          up.report, title="t", meta={"报送人": up.username})


def _fill(cell) -> str | None:
    return cell.fill.fgColor.rgb[-6:] if cell.fill.fill_type == "solid" else None


def test_reasons_on_the_rejected_rows_and_the_bad_cells_in_red(home):
    rows = valid_rows("payments", 4)
    rows[1][7] = "一千二"  # row 3: 金额
    rows[2][4] = None  # row 4: ID empty
    rows[2][8] = "2020-13-01"  # row 4: 发放日期
    rows.append(["合计", None, None, None, None, None, None, 99.0, None, None, None])  # row 6
    up = receive(home, username="clerk", unit_code=COUNTY, data=filled_template("payments", rows), filename="p.xlsx")
    wb = load_workbook(io.BytesIO(_annotated(home, up)))
    assert wb.sheetnames == ["发放明细", SUMMARY_SHEET]
    ws = wb.worksheets[0]
    hdr = [c.value for c in ws[1]]
    note = hdr.index(PROBLEM_HEADER) + 1
    assert hdr[:note - 1] == headers("payments")
    col = {h: i + 1 for i, h in enumerate(hdr)}
    assert ws.cell(2, note).value is None
    assert "金额（元）" in ws.cell(3, note).value and "一千二" in ws.cell(3, note).value
    assert "公民身份号码" in ws.cell(4, note).value and "发放日期" in ws.cell(4, note).value
    assert ws.cell(5, note).value is None
    assert "合计不符" in ws.cell(6, note).value
    red = {(r, ws.cell(1, c).value) for r in range(2, 7) for c in range(1, note)
           if _fill(ws.cell(r, c)) == BAD_FILL[1:]}
    assert red == {(3, "金额（元）"), (4, "公民身份号码"), (4, "发放日期")}
    assert _fill(ws.cell(6, col["金额（元）"])) == TOTAL_FILL[1:]
    assert ws.cell(2, col["公民身份号码"]).value == rows[0][4]  # digits intact, a text cell
    assert ws.cell(2, col["公民身份号码"]).number_format == "@"
    summary = {r[0]: r[1] for r in wb[SUMMARY_SHEET].iter_rows(values_only=True) if r[0]}
    assert summary["拒收行"] == "2" and summary["可载入行"] == "2" and summary["合计不符"] == "1"
    assert summary[3].startswith("列“金额（元）”") and summary[6].startswith("合计不符")


def test_a_csv_comes_back_as_xlsx_at_its_line_numbers_and_fixed_it_loads(home):
    rows = [[str(v) for v in r] for r in valid_rows("roster", 3)]
    rows[1][6] = "=1+1"  # 核定金额: a formula-looking value stays text and is rejected
    data = csv_bytes([["长沙县上报名单"], headers("roster"), *rows])
    up = receive(home, username="clerk", unit_code=COUNTY, data=data, filename="名单.csv")
    assert [p.row for p in up.report.rows_rejected] == [4]
    wb = load_workbook(io.BytesIO(_annotated(home, up)))
    ws = wb.worksheets[0]
    assert ws.cell(1, 1).value == "长沙县上报名单" and ws.cell(2, 1).value == "项目编码"
    note = [c.value for c in ws[2]].index(PROBLEM_HEADER) + 1
    assert "核定金额" in ws.cell(4, note).value
    assert ws.cell(4, 7).value == "=1+1" and ws.cell(4, 7).data_type == "s"  # never a formula
    ws.cell(4, 7).value = "1200.00"  # the clerk fixes the cell and sends the annotated file back
    out = io.BytesIO()
    wb.save(out)
    again = receive(home, username="clerk", unit_code=COUNTY, data=out.getvalue(), filename="名单.xlsx")
    assert again.status == "loaded" and again.report.rows_rejected == () and again.report.rows_loaded == 3


def test_a_file_rejected_as_a_whole_gets_the_reason_in_the_summary(home):
    up = receive(home, username="clerk", unit_code=COUNTY, data=csv_bytes([["a", "b"], ["1", "2"]]),
                 filename="x.csv")
    wb = load_workbook(io.BytesIO(_annotated(home, up)))
    summary = {r[0]: r[1] for r in wb[SUMMARY_SHEET].iter_rows(values_only=True) if r[0]}
    assert "整个文件被拒收" in summary["检查结果"] and "表头" in summary["原因"]
    pdf = receive(home, username="clerk", unit_code=COUNTY, data=b"%PDF-1.4", filename="x.xlsx")
    wb = load_workbook(io.BytesIO(_annotated(home, pdf)))
    assert wb.sheetnames == [SUMMARY_SHEET]
