"""Every tolerated file form loads the same records; every refused file gets a reason a clerk can act on."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_helpers import ID1, PAY_HEADER, Warehouse, pay_row, write_csv, write_xlsx

from fundwatch.paths import REPO_ROOT
from ingestion import Limits

P = pytest.param
EXPECTED = ("T001", "第一批", "P2020001", "张三", ID1, "6217000011112222", "农行", Decimal("1200.00"),
            date(2020, 6, 30), "430121", None)
PAY_COLS = ("txn_ref, batch, project_code, name, id_number, account_no, bank_name, amount, pay_date, "
            "unit_code, remark")


def _csv(enc):
    return lambda p: write_csv(p / "f.csv", [PAY_HEADER, pay_row()], enc)


def _titles(p):
    rows = [["长沙县2020年金秋助学资金发放明细表"], ["填报单位：长沙县计生协", "", "填报日期：2020-07-01"],
            [], ["单位：元"], [], PAY_HEADER, pay_row()]
    return write_csv(p / "f.csv", rows)


def _shuffled(p):
    order = [10, 3, 0, 7, 8, 1, 2, 4, 5, 6, 9]
    header = [PAY_HEADER[i] for i in order] + ["序号"]
    row = [pay_row()[i] for i in order] + ["1"]
    return write_csv(p / "f.csv", [header, row])


def _bracket_variants(p):
    header = [" 交易 流水号 ", *PAY_HEADER[1:7], "金额(元)", *PAY_HEADER[8:]]
    return write_csv(p / "f.csv", [header, pay_row()])


def _messy_values(p):
    row = pay_row(amount="￥1,200.00", name="张　三", id_number="430102 19900101 1238",
                  account="6217-0000-1111-2222", date="2020年6月30日", unit="４３０１２１")
    return write_csv(p / "f.csv", [PAY_HEADER, [], row, ["", " "], ["合计", "", "", "", "", "", "", "1200"]])


def _old_id(p):
    return write_csv(p / "f.csv", [PAY_HEADER, pay_row(id_number="430102900101123")])


def _xlsx_cells(p):
    row = pay_row(amount=1200.0, date=datetime(2020, 6, 30), unit=430121, account=6217000011112222 // 100)
    row[5] = "6217000011112222"  # a text cell, as banks export it
    return write_xlsx(p / "f.xlsx", [["发放明细表"], PAY_HEADER, row], hidden_first=True)


def _xlsx_number_codes(p):
    row = pay_row(amount=1200, date=date(2020, 6, 30), unit=430121.0)
    return write_xlsx(p / "f.xlsx", [PAY_HEADER, row, ["总计", None, None, None, None, None, None, 1200]])


def _xlsx_chart_sheet_first(p):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.create_chartsheet("图表", 0)
    ws = wb.worksheets[0]
    ws.append(PAY_HEADER)
    ws.append(pay_row())
    wb.save(p / "f.xlsx")
    return p / "f.xlsx"


def _xlsx_leading_blank_rows(p):
    return write_xlsx(p / "f.xlsx", [[None], [None], ["", "发放明细表"], PAY_HEADER, [None], pay_row()])


@pytest.mark.parametrize("build, row", [
    P(_csv("utf-8"), 2, id="csv-utf8"),
    P(_csv("utf-8-sig"), 2, id="csv-utf8-bom"),
    P(_csv("gb18030"), 2, id="csv-gb18030"),
    P(_csv("gbk"), 2, id="csv-gbk"),
    P(_titles, 7, id="five-title-rows"),
    P(_shuffled, 2, id="any-column-order-and-extra-column"),
    P(_bracket_variants, 2, id="header-brackets-and-spaces"),
    P(_messy_values, 3, id="value-variants-blank-rows-total-line"),
    P(_old_id, 2, id="15-digit-id-upgraded"),
    P(_xlsx_cells, 3, id="xlsx-hidden-first-sheet-date-and-number-cells"),
    P(_xlsx_number_codes, 2, id="xlsx-number-cells-and-total-line"),
    P(_xlsx_chart_sheet_first, 2, id="xlsx-chart-sheet-before-the-table"),
    P(_xlsx_leading_blank_rows, 6, id="xlsx-blank-rows-counted-as-excel-shows-them"),
])
def test_tolerated_forms_load_the_same_record(wh: Warehouse, inbox: Path, build, row):
    f = build(inbox)
    report = wh.load()
    assert (report.files_loaded, report.rows_loaded, report.rows_rejected) == (1, 1, 0), wh.files()
    got = wh.q(f"SELECT {PAY_COLS}, source_file, source_row FROM raw.payments")
    assert got == [(*EXPECTED, f.name, row)]
    assert wh.q("SELECT count(*) FROM raw.total_mismatches") == [(0,)]


def _unrecognised(p):
    header = ["交易流水号", "姓名", "公民身份号码", "金额（元）"]
    return write_csv(p / "f.csv", [header, ["T1", "张三", ID1, "1"]])


def _ambiguous(p):
    return write_csv(p / "f.csv", [[*PAY_HEADER, "死亡日期"], [*pay_row(), "2020-01-01"]])


def _header_too_low(p):
    return write_csv(p / "f.csv", [["标题"]] * 6 + [PAY_HEADER, pay_row()])


def _duplicate_column(p):
    return write_csv(p / "f.csv", [[*PAY_HEADER, "金额(元)"], [*pay_row(), "1"]])


def _xls(p):
    (p / "f.xls").write_bytes(b"\xd0\xcf\x11\xe0 old excel")
    return p / "f.xls"


def _fake_xlsx(p):
    (p / "f.xlsx").write_bytes(b"this is not a zip")
    return p / "f.xlsx"


def _empty_sheet(p):
    return write_xlsx(p / "f.xlsx", [], hidden_first=True)


def _utf16(p):
    return write_csv(p / "f.csv", [PAY_HEADER, pay_row()], "utf-16")


def _nul(p):
    (p / "f.csv").write_bytes(",".join(PAY_HEADER).encode() + b"\r\nT1,\x00\r\n")
    return p / "f.csv"


def _huge_field(p):
    (p / "f.csv").write_bytes(",".join(PAY_HEADER).encode() + b'\r\nT1,"' + b"x" * 2_000_000 + b'"\r\n')
    return p / "f.csv"


def _bad_encoding(p):
    (p / "f.csv").write_bytes(",".join(PAY_HEADER).encode("gb18030") + b"\r\n\xff\xfe\xff,1\r\n")
    return p / "f.csv"


def _empty_file(p):
    (p / "f.csv").write_bytes(b"")
    return p / "f.csv"


@pytest.mark.parametrize("build, fragments", [
    P(_unrecognised, ["找不到可识别的表头", "最接近“发放明细”", "“项目编码”", "“发放日期”"], id="no-kind"),
    P(_ambiguous, ["同时符合", "“发放明细”", "“死亡登记”"], id="two-kinds"),
    P(_header_too_low, ["表头（“发放明细”）在第7行，上方有6行", "最多只能有5行"], id="six-title-rows"),
    P(_duplicate_column, ["“金额（元）”出现了2次", "第H、L列"], id="column-twice"),
    P(_xls, ["不支持的文件格式“.xls”", "另存为 .xlsx"], id="xls"),
    P(_fake_xlsx, ["不是有效的 xlsx 文件"], id="not-a-zip"),
    P(_empty_sheet, ["第一个可见工作表“明细”是空的"], id="empty-visible-sheet"),
    P(_utf16, ["UTF-16"], id="utf16"),
    P(_nul, ["空字符（NUL"], id="nul-byte"),
    P(_huge_field, ["超过131072个字符"], id="two-million-character-field"),
    P(_bad_encoding, ["GB18030", "第2行有无法识别的字节"], id="neither-utf8-nor-gb18030"),
    P(_empty_file, ["文件是空的（0 字节）"], id="empty-file"),
])
def test_refused_files_get_a_reason_and_the_rest_loads(wh: Warehouse, inbox: Path, build, fragments):
    bad = build(inbox)
    write_csv(inbox / "good.csv", [PAY_HEADER, pay_row()])
    report = wh.load()
    files = wh.files()
    status, reason = files[bad.name][:2]
    assert status == "rejected"
    for frag in fragments:
        assert frag in reason
    assert files["good.csv"][0] == "loaded" and report.rows_loaded == 1
    assert (report.files_rejected, report.files_loaded) == (1, 1)


def test_xlsx_zip_bomb_is_refused_before_parsing(wh: Warehouse, inbox: Path, monkeypatch):
    src = write_xlsx(inbox.parent / "src.xlsx", [PAY_HEADER, pay_row()])
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(inbox / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * 40_000_000)
            zout.writestr(item, data)
    import ingestion.xlsx_reader as readers

    def boom(*a, **k):
        raise AssertionError("calamine must not be reached")

    monkeypatch.setattr(readers.python_calamine.CalamineWorkbook, "from_filelike", boom, raising=False)
    wh.load()
    status, reason = wh.files()["bomb.xlsx"][:2]
    assert status == "rejected" and "疑似压缩炸弹" in reason


@pytest.mark.parametrize("limits, fragment", [
    P(Limits(max_xlsx_rows=2), "有超过 2 行数据", id="too-many-rows-with-values"),
    P(Limits(max_xlsx_uncompressed=10_000), "解压后", id="too-big-uncompressed"),
    P(Limits(max_xlsx_bytes=1_000), "超过上限", id="too-big-file"),
])
def test_xlsx_limits_are_checked_before_parsing(wh: Warehouse, inbox: Path, monkeypatch, limits, fragment):
    write_xlsx(inbox / "f.xlsx", [PAY_HEADER, pay_row("T1"), pay_row("T2")])
    import ingestion.xlsx_reader as readers

    def boom(*a, **k):
        raise AssertionError("calamine must not be reached")

    monkeypatch.setattr(readers.python_calamine.CalamineWorkbook, "from_filelike", boom, raising=False)
    wh.load(limits=limits)
    status, reason = wh.files()["f.xlsx"][:2]
    assert status == "rejected" and fragment in reason, reason


def _roster_header():
    return ["项目编码", "姓名", "公民身份号码", "人员类别", "银行账号", "开户银行", "核定金额（元）",
            "上报单位代码", "上报日期", "公示开始日期", "公示结束日期"]


@pytest.mark.parametrize("row, fragments", [
    P(pay_row(amount="12O0"), ["列“金额（元）”的值“12O0”无法读取", "应为金额"], id="letters-in-amount"),
    P(pay_row(amount="-100"), ["负数"], id="negative-amount"),
    P(pay_row(ref=""), ["必填列“交易流水号”为空"], id="empty-key"),
    P(pay_row(id_number=""), ["必填列“公民身份号码”为空"], id="empty-id"),
    P(pay_row(date="六月三十日"), ["列“发放日期”的值“六月三十日”无法读取", "应为日期"], id="bad-date"),
    P(pay_row(unit="43012"), ["列“发放单位代码”", "6位数字"], id="bad-unit-code"),
    P(pay_row(account="6217 0000 abc"), ["列“银行账号”的值“********abc”", "只含数字"],
      id="bad-account-masked"),
    P(pay_row(amount="x", date=""), ["金额（元）", "必填列“发放日期”为空"], id="two-problems"),
])
def test_rejected_rows_say_which_column_what_value_what_was_expected(wh: Warehouse, inbox: Path,
                                                                    row, fragments):
    write_csv(inbox / "p.csv", [["标题"], PAY_HEADER, pay_row("T0"), row, pay_row("T9")])
    report = wh.load()
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    [(source_file, source_row, reason)] = wh.rejected()
    assert (source_file, source_row) == ("p.csv", 4)
    for frag in fragments:
        assert frag in reason


def test_unreadable_optional_value_rejects_the_row(wh: Warehouse, inbox: Path):
    ok = ["P1", "张三", ID1, "", "", "", "3000", "430121", "", "2020-06-01", "2020-06-07"]
    bad = ["P1", "李四", "43012119850315003X", "", "", "", "3000", "430121", "六月", "", ""]
    write_csv(inbox / "r.csv", [_roster_header(), ok, bad])
    wh.load()
    got = wh.q("SELECT name, report_date, publicity_end FROM raw.roster")
    assert got == [("张三", None, date(2020, 6, 7))]
    [(_, row, reason)] = wh.rejected()
    assert row == 3 and "列“上报日期”的值“六月”无法读取" in reason


def test_total_line_not_last_is_a_rejected_row_with_a_hint(wh: Warehouse, inbox: Path):
    write_csv(inbox / "p.csv", [PAY_HEADER, pay_row("T1"), ["合计", *[""] * 6, "1200"], pay_row("T2")])
    wh.load()
    [(_, row, reason)] = wh.rejected()
    assert row == 3 and "合计/总计”行只能放在最后一行" in reason


def test_invalid_ids_load_so_that_the_rules_can_see_them(wh: Warehouse, inbox: Path):
    write_csv(inbox / "p.csv", [PAY_HEADER, pay_row("T1", id_number="430102199001011239"),
                                pay_row("T2", id_number="43010219900101")])
    wh.load()
    got = wh.q("SELECT id_number FROM raw.payments ORDER BY 1")
    assert got == [("43010219900101",), ("430102199001011239",)]


def test_xlsx_account_number_cell_that_lost_digits_is_rejected(wh: Warehouse, inbox: Path):
    """Excel keeps 15 significant digits of a typed 16-digit account and zeroes the 16th."""
    write_xlsx(inbox / "p.xlsx", [PAY_HEADER, pay_row("T1", account=6217000011112220)])
    wh.load()
    [(_, row, reason)] = wh.rejected()
    assert row == 2 and "超过15位的数值单元格" in reason and "设为文本格式" in reason


def test_xlsx_account_number_cell_that_lost_nothing_is_read_from_the_sheet(wh: Warehouse, inbox: Path):
    """A 16-digit account stored as an exact integer (source-files.md: "an Excel number cell that lost
    nothing"): calamine gives a float, the digits come from the sheet XML."""
    write_xlsx(inbox / "p.xlsx", [PAY_HEADER, pay_row("T1", account=6217000011112223)])
    wh.load()
    assert wh.rejected() == []
    assert wh.q("SELECT account_no FROM raw.payments") == [("6217000011112223",)]


def test_total_mismatch_is_recorded_per_money_column(wh: Warehouse, inbox: Path):
    write_csv(inbox / "p.csv", [["标题"], PAY_HEADER, pay_row("T1", "1200"), pay_row("T2", "300.50"),
                                pay_row("T3", "bad"), ["合 计", *[""] * 6, "1,600.00"]])
    wh.load()
    assert wh.q("SELECT source_file, source_row, column_name, stated_total, computed_total, difference "
                "FROM raw.total_mismatches") == [
        ("p.csv", 6, "金额（元）", Decimal("1600.00"), Decimal("1500.50"), Decimal("99.50"))]
    assert wh.q("SELECT count(*) FROM raw.payments") == [(2,)]


def test_every_kind_is_recognised_and_all_tables_exist(wh: Warehouse, inbox: Path):
    from ingestion.kinds import KINDS

    for k in KINDS:
        write_csv(inbox / f"{k.table}.csv", [[c.header for c in k.columns if c.required]])
    wh.load()
    files = wh.files()
    assert {name: f[4] for name, f in files.items()} == {f"{k.table}.csv": k.table for k in KINDS}
    for k in KINDS:
        cols = wh.q("SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
                    "AND table_name = ? ORDER BY ordinal_position", [k.table])
        assert [c[0] for c in cols] == [c.name for c in k.columns] + [
            "source_file", "source_row", "file_sha256", "load_run_id", "loaded_at"]


def test_raw_layer_is_what_dbt_and_architecture_declare(wh: Warehouse):
    """The raw tables ingestion writes (from ingestion.kinds) have the columns, in order, that dbt's
    sources declare (_raw__sources.yml) and ARCHITECTURE.md's "Raw layer" table lists."""
    import yaml

    from ingestion.kinds import KINDS

    wh.load()
    written: dict[str, list[str]] = {}
    for table, column in wh.q("SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE table_schema = 'raw' ORDER BY table_name, ordinal_position"):
        written.setdefault(table, []).append(column)
    sources = yaml.safe_load((REPO_ROOT / "dbt_project/models/staging/raw/_raw__sources.yml").read_text("utf-8"))
    [raw] = [s for s in sources["sources"] if s["name"] == "raw"]
    declared = {t["name"]: [c["name"] for c in t["columns"]] for t in raw["tables"]}
    assert written == declared
    lineage = ["source_file", "source_row", "file_sha256", "load_run_id", "loaded_at"]
    documented = {}
    for line in (REPO_ROOT / "ARCHITECTURE.md").read_text("utf-8").splitlines():
        if m := re.fullmatch(r"\| (\S+) \| `raw\.(\w+)` \| ([a-z_, ]+) \|", line):
            documented[m[2]] = [c.strip() for c in m[3].split(",")] + lineage
            assert m[1] == next(k.label for k in KINDS if k.table == m[2])
    assert documented == {k.table: written[k.table] for k in KINDS}
