"""Templates: every kind's blank xlsx, filled by openpyxl, loads through the daily load with no rejection."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from upload_files import COUNTY, filled_template, headers, raw_query, valid_rows

from fundwatch.uploads.templates import (
    GUIDE_SHEET,
    LISTS_SHEET,
    Project,
    known_projects,
    save_projects,
    template_xlsx,
    units_in_scope,
)
from ingestion import load_inbox
from ingestion.kinds import KINDS, KINDS_BY_TABLE, VType

TABLES = [k.table for k in KINDS]


def test_every_filled_template_loads_with_zero_rejections_as_its_own_kind(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for table in TABLES:
        (inbox / f"{table}.xlsx").write_bytes(filled_template(table, valid_rows(table)))
    wh = tmp_path / "warehouse.duckdb"
    load_inbox(inbox, wh, run_id="t")
    files = raw_query(wh, "SELECT source_file, kind, status, reason, rows_loaded, rows_rejected FROM raw.files")
    assert sorted((f[0], f[1], f[2], f[4], f[5]) for f in files) == sorted(
        (f"{t}.xlsx", t, "loaded", 3, 0) for t in TABLES), files
    assert raw_query(wh, "SELECT count(*) FROM raw.rejected_rows") == [(0,)]
    # digits typed into the text-formatted ID and account columns survive
    assert raw_query(wh, "SELECT id_number, account_no FROM raw.payments ORDER BY txn_ref LIMIT 1") == [
        (valid_rows("payments")[0][4], valid_rows("payments")[0][5])]


@pytest.mark.parametrize("table", TABLES)
def test_template_layout(table):
    kind = KINDS_BY_TABLE[table]
    wb = load_workbook(io.BytesIO(template_xlsx(table, COUNTY)))
    assert wb.sheetnames == [kind.label, GUIDE_SHEET, LISTS_SHEET]
    assert [ws.sheet_state for ws in wb.worksheets] == ["visible", "visible", "hidden"]
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == headers(table)
    assert ws.max_row == 1  # blank below the header
    for i, col in enumerate(kind.columns, start=1):
        fmt = next(d.number_format for d in ws.column_dimensions.values() if d.min <= i <= d.max)
        expected = {VType.DATE: "yyyy-mm-dd", VType.MONEY: "#,##0.00", VType.INT: "0"}.get(col.vtype, "@")
        assert fmt == expected, (col.header, fmt)
        assert (ws.cell(1, i).font.color.rgb == "FFC00000") is col.required, col.header
    guide = wb[GUIDE_SHEET]
    text = "\n".join(str(v) for row in guide.iter_rows(values_only=True) for v in row if v)
    for col in kind.columns:
        assert col.header in text


def _validation_lists(wb) -> dict[str, list[str]]:
    """Header of the data column -> the values its drop-down offers."""
    ws, lists = wb.worksheets[0], wb[LISTS_SHEET]
    columns = {lists.cell(1, c).value: [v for (v,) in lists.iter_rows(min_row=2, min_col=c, max_col=c,
                                                                       values_only=True) if v is not None]
               for c in range(1, lists.max_column + 1)}
    out = {}
    for dv in ws.data_validations.dataValidation:
        if dv.type == "list":
            col = str(dv.sqref).split(":")[0].rstrip("0123456789")
            out[ws[f"{col}1"].value] = columns[ws[f"{col}1"].value]
    return out


def test_drop_downs_follow_the_scope_and_the_spec_lists():
    projects = [Project("P-CSX-1", "金秋助学", COUNTY), Project("P-LS-1", "金秋助学", "430203")]
    county = _validation_lists(load_workbook(io.BytesIO(template_xlsx("payments", COUNTY, projects))))
    assert county["发放单位代码"] == [COUNTY]
    assert county["项目编码"] == ["P-CSX-1"]  # another county's project is not offered
    assert "中国农业银行" in county["开户银行"]
    city = _validation_lists(load_workbook(io.BytesIO(template_xlsx("payments", "430100", projects))))
    assert city["发放单位代码"][0] == "430100" and COUNTY in city["发放单位代码"]
    assert all(c.startswith("4301") for c in city["发放单位代码"])
    province = _validation_lists(load_workbook(io.BytesIO(template_xlsx("projects", "430000"))))
    assert len(province["实施单位代码"]) == len(units_in_scope("430000")) == 137
    assert province["项目类型"][0] == "金秋助学" and len(province["项目类型"]) == 12
    assert _validation_lists(load_workbook(io.BytesIO(template_xlsx("staff", COUNTY))))["关系"] == [
        "本人", "配偶", "子女", "父母", "兄弟姐妹"]
    assert _validation_lists(load_workbook(io.BytesIO(template_xlsx("postings", COUNTY))))["公示类型"] == [
        "项目挂牌", "名单公示"]


def test_closed_lists_stop_open_lists_warn():
    wb = load_workbook(io.BytesIO(template_xlsx("roster", COUNTY, [Project("P1", "x", COUNTY)])))
    ws = wb.worksheets[0]
    style = {ws[str(dv.sqref).split(":")[0].rstrip("0123456789") + "1"].value: dv.errorStyle
             for dv in ws.data_validations.dataValidation if dv.type == "list"}
    assert style["上报单位代码"] in (None, "stop")
    assert style["人员类别"] == "information" and style["项目编码"] == "information"


def test_project_codes_are_kept_by_the_daily_export_for_the_templates(home, tmp_path):
    from fundwatch.pipeline import project_list

    assert known_projects(home) == []  # before the first run
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "projects.xlsx").write_bytes(filled_template("projects", valid_rows("projects", 2)))
    load_inbox(inbox, home.warehouse, run_id="t")
    save_projects(home, project_list(home.warehouse))
    expected = [Project(f"project_code-{i}", f"project_name-{i}", COUNTY) for i in (1, 2)]
    assert known_projects(home) == expected
    lists = _validation_lists(load_workbook(io.BytesIO(template_xlsx("roster", COUNTY, known_projects(home)))))
    assert lists["项目编码"] == ["project_code-1", "project_code-2"]
