"""``ingestion.check_file``: one file checked exactly as the daily load checks it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ingest_helpers import PAY_HEADER, Warehouse, pay_row, write_csv, write_xlsx

from ingestion import check_file
from ingestion.check import RowProblem, TotalProblem


def test_a_file_with_row_problems_and_a_total(tmp_path: Path):
    f = write_csv(tmp_path / "up.csv", [
        ["长沙县发放明细"], PAY_HEADER, pay_row("T1", "100"), pay_row("T2", "x"), pay_row("T3", "200"),
        pay_row("T3", "250"), pay_row("T4", "50", date=""), ["合计", *[""] * 6, "999"]])
    got = check_file(f, "长沙县/发放明细.csv")
    assert (got.relpath, got.kind, got.kind_label, got.status, got.reason) == (
        "长沙县/发放明细.csv", "payments", "发放明细", "loaded", None)
    assert (got.rows_read, got.rows_loaded, got.ok) == (5, 1, False)
    assert [(p.row, p.column) for p in got.rows_rejected] == [
        (4, "金额（元）"), (5, "交易流水号"), (6, "交易流水号"), (7, "发放日期")]
    assert "应为金额" in got.rows_rejected[0].reason
    assert "与“长沙县/发放明细.csv”第6行相同" in got.rows_rejected[1].reason
    assert got.total_mismatches == (TotalProblem(8, "金额（元）", Decimal("999.00"), Decimal("100.00"),
                                                 Decimal("899.00")),)


def test_a_clean_file_is_ok(tmp_path: Path):
    f = write_xlsx(tmp_path / "x.xlsx", [PAY_HEADER, pay_row("T1"), pay_row("T2")])
    got = check_file(f, "x.xlsx")
    assert got.ok and (got.rows_read, got.rows_loaded) == (2, 2)


def test_a_rejected_file_gives_the_load_reason(tmp_path: Path):
    f = tmp_path / "up.csv"
    f.write_bytes(b"a;b;c\r\n")
    got = check_file(f, "f.csv")
    assert got.status == "rejected" and got.kind is None and "找不到可识别的表头" in (got.reason or "")
    assert (got.rows_read, got.rows_loaded, got.rows_rejected) == (0, 0, ())


def test_check_file_says_what_the_daily_load_says(wh: Warehouse, inbox: Path, tmp_path: Path):
    """The same reasons, counts and 合计 results for every file of a mixed inbox (one path, one truth)."""
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1", "100"), pay_row("T2", "1,000"), ["合计", *[""] * 6, "7"]])
    (inbox / "b.csv").write_bytes(",".join(PAY_HEADER).encode() + b'\r\nT1,"oops\r\nT2\r\n')
    (inbox / "c.csv").write_bytes(b"")
    write_xlsx(inbox / "d.xlsx", [PAY_HEADER, pay_row("D1", amount="=1+1"), pay_row("D2")])
    write_csv(inbox / "e.csv", [["发放"], ["交易流水号"]])
    wh.load()
    loaded = wh.files()
    rejected = {}
    for f, row, reason in wh.rejected():
        rejected.setdefault(f, []).append(RowProblem(row, None, reason))
    mismatches = {f: (row, diff) for f, row, diff in wh.q(
        "SELECT source_file, source_row, difference FROM raw.total_mismatches")}
    for name, (status, reason, rows_loaded, rows_rejected, kind) in loaded.items():
        got = check_file(inbox / name, name)
        assert (got.status, got.reason, got.kind, got.rows_loaded, len(got.rows_rejected)) == (
            status, reason, kind, rows_loaded, rows_rejected), name
        assert [(p.row, p.reason) for p in got.rows_rejected] == [
            (p.row, p.reason) for p in rejected.get(name, [])], name
        assert [(t.row, t.difference) for t in got.total_mismatches] == (
            [mismatches[name]] if name in mismatches else []), name
