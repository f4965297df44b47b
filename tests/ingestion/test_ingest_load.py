"""Idempotence, duplicates, corrected versions, key conflicts, lineage, kill -9 and the inbox boundary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_helpers import PAY_HEADER, Warehouse, pay_row, write_csv

from fundwatch.generator import generate
from ingestion import load_inbox
from ingestion.kinds import KINDS

REPO = Path(__file__).resolve().parents[2]


def test_rerunning_loads_nothing_new(wh: Warehouse, inbox: Path):
    write_csv(inbox / "a/p.csv", [PAY_HEADER, pay_row("T1"), pay_row("T2", "x")])
    write_csv(inbox / "b.csv", [["标题"]])
    first = wh.load()
    before = wh.snapshot(history=False)
    second = wh.load()
    assert (first.files_loaded, first.files_rejected, first.rows_loaded, first.rows_rejected) == (1, 1, 1, 1)
    got = (second.files_seen, second.files_unchanged, second.files_loaded, second.rows_loaded)
    assert got == (2, 2, 0, 0)
    assert wh.snapshot(history=False) == before
    assert wh.q("SELECT load_run_id FROM raw.payments") == [("run1",)]
    assert "未变化 2 个" in second.summary_zh()


def test_same_bytes_under_two_names_load_once_with_the_smallest_path(wh: Warehouse, inbox: Path):
    rows = [PAY_HEADER, pay_row("T1"), pay_row("T2")]
    write_csv(inbox / "z/copy.csv", rows)
    write_csv(inbox / "a.csv", rows)
    report = wh.load()
    assert (report.files_loaded, report.files_duplicate, report.rows_loaded) == (1, 1, 2)
    assert wh.q("SELECT DISTINCT source_file FROM raw.payments") == [("a.csv",)]
    status, reason = wh.files()["z/copy.csv"][:2]
    assert status == "duplicate" and "与“a.csv”内容完全相同" in reason


def test_copy_seen_first_keeps_its_lineage_across_runs(wh: Warehouse, inbox: Path):
    rows = [PAY_HEADER, pay_row("T1")]
    write_csv(inbox / "m.csv", rows)
    wh.load()
    write_csv(inbox / "a.csv", rows)  # smaller path, but seen later
    report = wh.load()
    assert (report.files_duplicate, report.rows_loaded) == (1, 0)
    assert wh.q("SELECT source_file, load_run_id FROM raw.payments") == [("m.csv", "run1")]


def test_corrected_version_replaces_every_record_and_history_is_kept(wh: Warehouse, inbox: Path):
    f = write_csv(inbox / "p.csv", [PAY_HEADER, pay_row("T1"), pay_row("T2"), pay_row("T3", "bad")])
    wh.load()
    write_csv(f, [PAY_HEADER, pay_row("T1", "1300"), pay_row("T4")])
    report = wh.load()
    assert report.files_loaded == 1 and report.rows_loaded == 2
    assert wh.q("SELECT txn_ref, amount, load_run_id FROM raw.payments ORDER BY 1") == [
        ("T1", Decimal("1300.00"), "run2"), ("T4", Decimal("1200.00"), "run2")]
    assert wh.rejected() == []  # the old version's rejected row went with it
    assert wh.q("SELECT status, is_current, load_run_id FROM raw.files ORDER BY load_run_id") == [
        ("superseded", False, "run1"), ("loaded", True, "run2")]
    assert wh.q("SELECT count(*) FROM raw_history.rows_payments") == [(4,)]


def test_same_key_same_values_is_one_record_with_first_lineage(wh: Warehouse, inbox: Path):
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T9"), pay_row("T1")])
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T2"), pay_row("T1"), pay_row("T1")])
    wh.load()
    assert wh.q("SELECT source_file, source_row FROM raw.payments WHERE txn_ref = 'T1'") == [("a.csv", 3)]
    assert wh.q("SELECT count(*) FROM raw.payments") == [(3,)]
    assert wh.rejected() == []
    files = wh.files()
    assert (files["a.csv"][2], files["b.csv"][2]) == (2, 1)


def test_same_key_different_values_is_a_conflict_naming_the_other_place(wh: Warehouse, inbox: Path):
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1", "1200"), pay_row("T2")])
    write_csv(inbox / "sub/b.csv", [["标题"], PAY_HEADER, pay_row("T1", "1300")])
    report = wh.load()
    assert wh.q("SELECT txn_ref FROM raw.payments") == [("T2",)]
    assert report.rows_rejected == 2
    (fa, ra, reason_a), (fb, rb, reason_b) = wh.rejected()
    assert (fa, ra, fb, rb) == ("a.csv", 2, "sub/b.csv", 3)
    assert "与“sub/b.csv”第3行相同，但内容不同" in reason_a and "金额（元）：1300.00" in reason_a
    assert "与“a.csv”第2行相同，但内容不同" in reason_b and "金额（元）：1200.00" in reason_b


def test_conflict_reason_never_quotes_personal_data(wh: Warehouse, inbox: Path):
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1", name="张三")])
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T1", name="李四")])
    wh.load()
    for _, _, reason in wh.rejected():
        assert "姓名" in reason and "张三" not in reason and "李四" not in reason


def test_raw_counts_equal_the_files_data_rows(wh: Warehouse, inbox: Path):
    n = 0
    for i in range(3):
        rows = [["标题"], [], PAY_HEADER]
        for j in range(40):
            rows.append(pay_row(f"T{i}-{j}", "bad" if j % 10 == 0 else "100"))
            rows.append([])
            n += 1
        rows.append(["合计", *[""] * 6, "3600"])
        write_csv(inbox / f"f{i}.csv", rows)
    report = wh.load()
    loaded = wh.q("SELECT count(*) FROM raw.payments")[0][0]
    rejected = wh.q("SELECT count(*) FROM raw.rejected_rows")[0][0]
    assert (loaded, rejected, loaded + rejected) == (108, 12, n)
    assert (report.rows_loaded, report.rows_rejected) == (108, 12)
    assert wh.q("SELECT sum(rows_loaded), sum(rows_rejected) FROM raw.files") == [(108, 12)]
    assert wh.q("SELECT count(*) FROM raw.total_mismatches") == [(0,)]


def test_lineage_columns(wh: Warehouse, inbox: Path):
    import hashlib

    f = write_csv(inbox / "sub dir/名单.csv", [["标题"], PAY_HEADER, pay_row("T1")])
    utc = datetime.fromisoformat("2021-04-30T02:00:00+00:00")
    load_inbox(inbox, wh.path, run_id="2021-04-30T00:00", loaded_at=utc)
    assert wh.q("SELECT source_file, source_row, file_sha256, load_run_id, loaded_at FROM raw.payments") == [
        ("sub dir/名单.csv", 3, hashlib.sha256(f.read_bytes()).hexdigest(), "2021-04-30T00:00",
         datetime(2021, 4, 30, 10, 0))]  # Asia/Shanghai wall time


def test_progress_is_reported(wh: Warehouse, inbox: Path):
    write_csv(inbox / "p.csv", [PAY_HEADER, pay_row("T1")])
    lines: list[str] = []
    wh.load(progress=lines.append)
    assert any("[1/1] p.csv" in x for x in lines) and "载入完成" in lines[-1]


# ---------------------------------------------------------------- the inbox boundary
def test_nothing_outside_the_inbox_is_read(wh: Warehouse, inbox: Path, tmp_path: Path):
    secret = write_csv(tmp_path / "secret.csv", [PAY_HEADER, pay_row("SECRET")])
    (tmp_path / "outside").mkdir()
    write_csv(tmp_path / "outside/x.csv", [PAY_HEADER, pay_row("OUTDIR")])
    (inbox / "link.csv").symlink_to(secret)
    (inbox / "dotdot.csv").symlink_to(Path("..") / "secret.csv")
    (inbox / "linkdir").symlink_to(tmp_path / "outside", target_is_directory=True)
    os.mkfifo(inbox / "pipe.csv")  # opening it would block the load forever
    write_csv(inbox / "real.csv", [PAY_HEADER, pay_row("T1")])
    (inbox / "inner.csv").symlink_to(inbox / "real.csv")

    opened: list[str] = []
    watching = True

    def hook(event, args):
        if watching and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)
    try:
        wh.load()
    finally:
        watching = False
    files = wh.files()
    for name in ("link.csv", "dotdot.csv", "linkdir"):
        assert files[name][0] == "skipped" and "收件箱之外" in files[name][1]
    assert files["pipe.csv"][0] == "rejected" and "不是普通文件" in files["pipe.csv"][1]
    assert {files["inner.csv"][0], files["real.csv"][0]} == {"loaded", "duplicate"}  # link inside: same bytes
    assert wh.q("SELECT txn_ref FROM raw.payments") == [("T1",)]
    touched = [p for p in opened if p.startswith(str(tmp_path)) and not p.startswith(str(wh.path.parent))]
    assert touched and all(Path(p).resolve().is_relative_to(inbox.resolve()) for p in touched), touched


# ---------------------------------------------------------------- kill -9
KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import ingestion.load as L
    import ingestion.history as H
    import ingestion.rebuild as R

    point = sys.argv[3]
    H.BATCH_ROWS = 100
    if point == "mid-file":
        orig = H._RowSink.flush
        def flush(self):
            orig(self)
            if self.count >= 300:
                os.kill(os.getpid(), signal.SIGKILL)
        H._RowSink.flush = flush
    rebuilding = []

    class Kinds(tuple):
        def __iter__(self):
            for n, kind in enumerate(tuple.__iter__(self)):
                if rebuilding and n == 6:  # payments and others already replaced in the open transaction
                    os.kill(os.getpid(), signal.SIGKILL)
                yield kind

    if point == "mid-rebuild":
        R.KINDS = Kinds(R.KINDS)
    L.load_inbox(Path(sys.argv[1]), Path(sys.argv[2]), run_id="killed",
                 progress=lambda msg: rebuilding.append(1) if "重建" in msg else None)
""")


def _big_inbox(inbox: Path) -> None:
    for i in range(3):
        write_csv(inbox / f"f{i}.csv", [PAY_HEADER] + [pay_row(f"T{i}-{j}") for j in range(1000)])


@pytest.mark.parametrize("point", [pytest.param("mid-file", id="killed-while-loading-a-file"),
                                   pytest.param("mid-rebuild", id="killed-while-rebuilding-raw")])
def test_kill_9_leaves_nothing_half_loaded_and_the_next_run_completes(wh: Warehouse, inbox: Path,
                                                                      tmp_path: Path, point: str):
    write_csv(inbox / "early.csv", [PAY_HEADER, pay_row("E1")])
    wh.load()
    before = wh.snapshot(history=False)
    _big_inbox(inbox)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(inbox), str(wh.path), point],
                          env=env, capture_output=True, timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert wh.snapshot(history=False) == before  # the old state, whole

    wh.load()
    clean = Warehouse(inbox, tmp_path / "clean.duckdb")
    clean.load()
    assert wh.snapshot(history=False) == clean.snapshot(history=False)
    assert wh.q("SELECT count(*) FROM raw.payments") == [(3001,)]


def test_generated_demo_inbox_loads_exactly_what_the_generator_planted(tmp_path: Path):
    """Contract with fundwatch.generator: per-kind row counts and the file-level findings' subjects."""
    g = generate(tmp_path / "demo", payments=400)
    wh = Warehouse(g.inbox, tmp_path / "w.duckdb")
    wh.load()
    for k in KINDS:
        if f"loaded_{k.table}" in g.counts:
            assert wh.q(f"SELECT count(*) FROM raw.{k.table}") == [(g.counts[f"loaded_{k.table}"],)], k.table
    import csv

    with open(g.expected_findings, encoding="utf-8-sig") as f:
        expected = {(r["rule_id"], r["subject_key"]) for r in csv.DictReader(f)
                    if r["rule_id"] in ("FILE_REJECTED", "ROW_REJECTED", "FILE_TOTAL_MISMATCH")}
    got = {("FILE_REJECTED", f) for (f,) in wh.q(
        "SELECT source_file FROM raw.files WHERE is_current AND status = 'rejected'")}
    got |= {("ROW_REJECTED", f"{f}|{r}") for f, r in wh.q("SELECT source_file, source_row FROM raw.rejected_rows")}
    got |= {("FILE_TOTAL_MISMATCH", f) for (f,) in wh.q("SELECT DISTINCT source_file FROM raw.total_mismatches")}
    assert got == expected


def test_a_key_column_filled_with_one_value_rejects_every_row_and_counts_the_places(wh: Warehouse, inbox: Path):
    write_csv(inbox / "p.csv", [PAY_HEADER, *[pay_row("见附件", str(100 + i)) for i in range(60)],
                                pay_row("T2")])
    report = wh.load()
    assert (report.rows_loaded, report.rows_rejected) == (1, 60)
    rejected = wh.rejected()
    assert rejected[0][1] == 2 and "与“p.csv”第3行、“p.csv”第4行、“p.csv”第5行等59处相同" in rejected[0][2]
    assert "与“p.csv”第2行、“p.csv”第3行、“p.csv”第4行等59处相同" in rejected[-1][2]


def test_identical_copies_of_one_version_conflict_with_the_other_version(wh: Warehouse, inbox: Path):
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1"), pay_row("T1")])
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T1", "999")])
    wh.load()
    got = [(f, r, reason.split("，但")[0]) for f, r, reason in wh.rejected()]
    assert got == [("a.csv", 2, "键（交易流水号）与“b.csv”第2行相同"),
                   ("a.csv", 3, "键（交易流水号）与“b.csv”第2行相同"),
                   ("b.csv", 2, "键（交易流水号）与“a.csv”第2行等2处相同")]


def test_command_line_loads_into_the_home_warehouse(inbox: Path, tmp_path: Path, capsys):
    from ingestion.__main__ import main

    write_csv(inbox / "p.csv", [PAY_HEADER, pay_row("T1")])
    assert main(["--inbox", str(inbox), "--home", str(tmp_path / "home"), "--run-id", "cli"]) == 0
    out = capsys.readouterr()
    assert "新载入 1 个" in out.out and "[1/1] p.csv" in out.err
    wh = Warehouse(inbox, tmp_path / "home" / "warehouse.duckdb")
    assert wh.q("SELECT txn_ref, load_run_id FROM raw.payments") == [("T1", "cli")]


# ---------------------------------------------------------------- rejected copies, 合计 over the loaded rows
def test_a_rejected_file_is_reported_under_every_path_it_came_as(wh: Warehouse, inbox: Path):
    (inbox / "新建文本文档.csv").write_bytes(b"")
    (inbox / "sub/新建文本文档 - 副本.csv").parent.mkdir()
    (inbox / "sub/新建文本文档 - 副本.csv").write_bytes(b"")
    broken = [["标题"], ["交易流水号", "金额"], ["T1", "1"]]
    write_csv(inbox / "x.csv", broken)
    write_csv(inbox / "y.csv", broken)
    write_csv(inbox / "good.csv", [PAY_HEADER, pay_row("T1")])
    write_csv(inbox / "good copy.csv", [PAY_HEADER, pay_row("T1")])  # loaded bytes: still loaded once
    report = wh.load()
    files = wh.files()
    for name in ("新建文本文档.csv", "sub/新建文本文档 - 副本.csv"):
        assert files[name][:2] == ("rejected", "文件是空的（0 字节），没有任何内容；请确认导出或复制是否完整后重新报送")
    assert files["x.csv"][0] == files["y.csv"][0] == "rejected"
    assert files["x.csv"][1] == files["y.csv"][1] and "找不到可识别的表头" in files["x.csv"][1]
    assert (files["good copy.csv"][0], files["good.csv"][0]) == ("loaded", "duplicate")  # smaller path first
    assert (report.files_rejected, report.files_duplicate, report.files_loaded) == (4, 1, 1)


def test_a_rejected_copy_seen_on_a_later_day_is_reported_too(wh: Warehouse, inbox: Path):
    (inbox / "a.csv").write_bytes(b"")
    wh.load()
    (inbox / "b.csv").write_bytes(b"")
    wh.load()
    assert {k: v[0] for k, v in wh.files().items()} == {"a.csv": "rejected", "b.csv": "rejected"}


def test_total_line_counts_only_loaded_rows_not_either_place_of_a_conflict(wh: Warehouse, inbox: Path):
    """source-files.md: a rejected row counts for nothing, both places of a key conflict included;
    a key repeated with the same values counts (the clerk's total includes it)."""
    total = ["合计", *[""] * 6]
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1", "100"), pay_row("T2", "200"), pay_row("T2", "200"),
                                pay_row("T3", "bad"), pay_row("T4", "400"), [*total, "700"]])
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T4", "450"), pay_row("T5", "50"), [*total, "50"]])
    wh.load()
    assert wh.q("SELECT txn_ref FROM raw.payments ORDER BY 1") == [("T1",), ("T2",), ("T5",)]
    # a.csv: T1 100 + T2 200 + T2 200 (same values: counts) = 500; T3 rejected, T4 in conflict with b.csv
    assert wh.q("SELECT source_file, stated_total, computed_total, difference FROM raw.total_mismatches") == [
        ("a.csv", Decimal("700.00"), Decimal("500.00"), Decimal("200.00"))]


def test_a_total_that_matched_stops_matching_when_a_later_file_conflicts(wh: Warehouse, inbox: Path):
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1", "100"), pay_row("T2", "200"), ["合计", *[""] * 6, "300"]])
    wh.load()
    assert wh.q("SELECT count(*) FROM raw.total_mismatches") == [(0,)]
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T2", "250")])
    wh.load()
    assert wh.q("SELECT source_file, computed_total, difference FROM raw.total_mismatches") == [
        ("a.csv", Decimal("100.00"), Decimal("200.00"))]


@pytest.mark.parametrize("arrow_rows", [1, 10**9])
def test_raw_history_batches_hold_the_same_whichever_way_they_travel(arrow_rows: int, monkeypatch):
    """A batch goes to DuckDB as Arrow (large) or as list parameters (small, no pandas import): the
    same values either way, money exact."""
    import duckdb

    from ingestion import history
    from ingestion.schema import ensure_schema

    monkeypatch.setattr(history, "ARROW_ROWS", arrow_rows)
    kind = next(k for k in KINDS if k.table == "projects")  # text, code, date, money and integer columns
    rows = [("P1", "项目一", "培训", "430121", None, date(2020, 6, 30), date(2099, 12, 31),
             Decimal("9999999999999999.99"), Decimal("0.01"), None, 2_147_483_647, date(1900, 1, 1), "培训;宣传",
             Decimal("0.00")),
            ("P2", "", "x", None, "单位", None, None, None, None, None, None, None, None, None)]
    con = duckdb.connect()
    ensure_schema(con)
    sink = history._RowSink(con, kind, "sha", "p.xlsx", None)
    for n, values in enumerate(rows, 2):
        sink.valid(n, values)
    sink.flush()
    assert sink.count == 2
    got = con.execute("SELECT * FROM raw_history.rows_projects ORDER BY source_row").fetchall()
    assert got == [("sha", n, *values) for n, values in enumerate(rows, 2)]


@pytest.mark.parametrize("way", ["csv", "csv through DuckDB", "xlsx", "xlsx column-wise"])
def test_a_total_line_over_rows_summing_beyond_what_decimal_18_2_holds_rejects_the_file_saying_why(
        wh: Warehouse, inbox: Path, monkeypatch, way: str):
    """Each amount below 10^16 is read, their sum is not (DECIMAL(18,2)): the file with a 合计 line is
    rejected with its reason (it was once rejected as a program error); without one it loads."""
    from ingest_helpers import write_xlsx

    from ingestion import csv_duckdb, xlsx_bulk

    monkeypatch.setattr(csv_duckdb, "MIN_BYTES", 0 if way == "csv through DuckDB" else 10**9)
    monkeypatch.setattr(xlsx_bulk, "MIN_ROWS", 0 if way == "xlsx column-wise" else 10**9)
    big = "6217000011112222"  # an account number in the amount column: 6,217 trillion yuan
    rows = [PAY_HEADER, pay_row("T1", big), pay_row("T2", big), pay_row("T3", "100")]
    write = write_xlsx if way.startswith("xlsx") else write_csv
    suffix = ".xlsx" if way.startswith("xlsx") else ".csv"
    write(inbox / f"with total{suffix}", [*rows, ["合计", *[""] * 6, "100"]])
    write(inbox / f"without{suffix}", [PAY_HEADER, *(pay_row(f"U{i}", big) for i in (1, 2))])
    wh.load()
    files = wh.files()
    status, reason = files[f"with total{suffix}"][:2]
    assert status == "rejected" and reason == (
        "第5行合计无法核对：“金额（元）”列各行金额之和为 12434000022224544.00 元，"
        "超出系统可记录的金额（须小于 1 亿亿元）；多半是某些行的金额填错（如把账号或身份证号填进了金额列），"
        "请核对后重新报送")
    assert files[f"without{suffix}"][:4] == ("loaded", None, 2, 0)


def test_two_entries_are_recorded_at_once_and_two_copies_of_the_same_bytes_parsed_once(
        wh: Warehouse, inbox: Path, monkeypatch):
    """load_inbox records WORKERS entries at once, each thread on its own cursor (a barrier of two
    passes only if two entries are in record_entry together); the second copy of bytes another
    thread is parsing waits for it and is recorded as those bytes, not parsed again."""
    import threading

    from ingestion import load

    assert load.WORKERS == 2
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1", "100"), pay_row("T2", "200")])
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T1", "100"), pay_row("T2", "200")])
    barrier, real = threading.Barrier(2, timeout=20), load.record_entry

    def together(ctx, e):
        barrier.wait()  # BrokenBarrierError (the entry left, "could not be recorded") if alone
        return real(ctx, e)

    monkeypatch.setattr(load, "record_entry", together)
    said: list[str] = []
    report = wh.load(progress=said.append)
    assert (report.files_loaded, report.files_duplicate, report.rows_loaded) == (1, 1, 2)
    assert sorted(m.split(": ", 1)[1] for m in said if m.startswith("[")) == [
        "内容已载入过 / same bytes seen before", "已读取 / parsed"]
    assert [m[:len("[1/2] a.csv")] for m in said if m.startswith("[")] == ["[1/2] a.csv", "[2/2] b.csv"]
    assert wh.q("SELECT count(*) FROM raw_history.contents") == [(1,)]
    assert wh.q("SELECT count(*) FROM raw_history.rows_payments") == [(2,)]
    assert {k: v[0] for k, v in wh.files().items()} == {"a.csv": "loaded", "b.csv": "duplicate"}
