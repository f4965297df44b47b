"""Receiving an upload: placement in the unit's folder, corrected versions, concurrency, kills, the log."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path, PurePosixPath

import pytest
from upload_files import COUNTY, csv_bytes, filled_template, headers, raw_query, valid_rows

from fundwatch import state
from fundwatch.uploads import store
from fundwatch.uploads.submit import receive
from ingestion import load_inbox

UNIT_DIR = "430121"


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


def test_accepted_file_lands_in_the_unit_folder_and_is_logged(home):
    data = filled_template("payments", valid_rows("payments"))
    up = receive(home, username="clerk", unit_code=COUNTY, data=data, filename="发放明细.xlsx", path="2020")
    assert up.status == "loaded" and up.placed and up.kind == "payments"
    assert _files(home.inbox) == [f"{UNIT_DIR}/2020/发放明细.xlsx"]
    assert (home.inbox / up.inbox_path).read_bytes() == data
    assert store.kept_path(home, up.sha256, "xlsx").read_bytes() == data
    conn = state.connect(home.state_db)
    row = conn.execute("SELECT * FROM uploads").fetchone()
    assert (row["username"], row["unit_code"], row["inbox_path"], row["sha256"], row["size_bytes"], row["kind"],
            row["status"], row["placed"], row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (
        "clerk", COUNTY, f"{UNIT_DIR}/2020/发放明细.xlsx", hashlib.sha256(data).hexdigest(), len(data), "payments",
        "loaded", 1, 3, 3, 0)


def test_same_name_again_is_a_corrected_version(home):
    first = filled_template("payments", valid_rows("payments", 2))
    second = filled_template("payments", valid_rows("payments", 3))
    a = receive(home, username="clerk", unit_code=COUNTY, data=first, filename="发放明细.xlsx")
    b = receive(home, username="clerk", unit_code=COUNTY, data=second, filename="发放明细.xlsx")
    assert (home.inbox / b.inbox_path).read_bytes() == second
    assert b.replaced_sha256 == a.sha256 and a.replaced_sha256 is None
    assert any("更正版本" in n for n in b.report.notes)
    c = receive(home, username="clerk", unit_code=COUNTY, data=second, filename="发放明细.xlsx")
    assert c.replaced_sha256 is None and any("完全相同" in n for n in c.report.notes)
    assert _files(home.inbox) == [f"{UNIT_DIR}/发放明细.xlsx"]


def test_a_file_rejected_as_a_whole_is_not_placed_but_logged(home):
    bad_header = csv_bytes([["流水", "金额"], ["T1", "12"]])
    up = receive(home, username="clerk", unit_code=COUNTY, data=bad_header, filename="x.csv")
    assert up.status == "rejected" and not up.placed and "表头" in up.report.reason
    pdf = receive(home, username="clerk", unit_code=COUNTY, data=b"%PDF-1.4", filename="x.xlsx")
    assert pdf.status == "rejected" and "PDF" in pdf.report.reason
    escape = receive(home, username="clerk", unit_code=COUNTY, data=bad_header, filename="x.csv", path="../430122")
    assert escape.status == "rejected" and escape.inbox_path is None
    assert not home.inbox.exists() or _files(home.inbox) == []
    conn = state.connect(home.state_db)
    assert conn.execute("SELECT count(*), sum(placed) FROM uploads").fetchone()[:] == (3, 0)
    assert store.kept_path(home, pdf.sha256, None).read_bytes() == b"%PDF-1.4"


def test_a_file_with_some_rejected_rows_is_placed_with_its_report(home):
    rows = valid_rows("payments", 3)
    rows[1][7] = "一千二"  # 金额 unreadable
    up = receive(home, username="clerk", unit_code=COUNTY, data=filled_template("payments", rows), filename="a.xlsx")
    assert up.placed and up.report.rows_loaded == 2
    assert [(p.row, p.columns) for p in up.report.rows_rejected] == [(3, ("金额（元）",))]


def test_a_symlink_in_the_unit_folder_is_refused(home, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    home.inbox.mkdir(parents=True)
    (home.inbox / UNIT_DIR).symlink_to(outside, target_is_directory=True)
    up = receive(home, username="clerk", unit_code=COUNTY, data=filled_template("deaths", valid_rows("deaths")),
                 filename="d.xlsx")
    assert up.status == "rejected" and "符号链接" in up.report.reason and not up.placed
    assert list(outside.iterdir()) == []
    (home.inbox / UNIT_DIR).unlink()
    (home.inbox / UNIT_DIR).mkdir()
    (home.inbox / UNIT_DIR / "d.xlsx").symlink_to(outside / "target.xlsx")
    up = receive(home, username="clerk", unit_code=COUNTY, data=filled_template("deaths", valid_rows("deaths")),
                 filename="d.xlsx")
    assert up.status == "rejected" and "符号链接" in up.report.reason
    assert list(outside.iterdir()) == []


def test_while_the_state_is_busy_nothing_is_placed(home, monkeypatch):
    """The daily run holds the state's write lock: the upload fails as a whole, the inbox untouched."""
    import sqlite3

    state.connect(home.state_db).close()
    writer = sqlite3.connect(home.state_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(state, "BUSY_TIMEOUT_MS", 200)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            receive(home, username="clerk", unit_code=COUNTY, data=filled_template("deaths", valid_rows("deaths")),
                    filename="d.xlsx")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert not home.inbox.exists() or _files(home.inbox) == []


# ---------------------------------------------------------------- concurrency and kills
def _upload_many(home_root: str, data: bytes, barrier, rounds: int) -> None:
    from fundwatch.paths import Home

    for _ in range(rounds):
        barrier.wait()
        receive(Home(Path(home_root)), username="clerk", unit_code=COUNTY, data=data, filename="同名.xlsx")


def test_two_uploads_of_the_same_name_at_once_leave_one_whole_file(home):
    rows = valid_rows("payments", 500)
    a = filled_template("payments", rows)
    rows[0][10] = "更正"  # the same size and work, other bytes: the two race as closely as possible
    b = filled_template("payments", rows)
    rounds = 4
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    # a child still running after 120 s is killed: it fails this test instead of hanging the run at exit
    # (multiprocessing joins its live children then); not daemonic, as receive() may start processes
    procs = [ctx.Process(target=_upload_many, args=(str(home.root), d, barrier, rounds))
             for d in (a, b)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    late = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(10)
    assert not late, f"upload children still running after 120 s: {late}"
    assert [p.exitcode for p in procs] == [0, 0]
    final = (home.inbox / UNIT_DIR / "同名.xlsx").read_bytes()
    assert final in (a, b)
    assert _files(home.inbox) == [f"{UNIT_DIR}/同名.xlsx"]
    conn = state.connect(home.state_db)
    log = conn.execute("SELECT sha256, replaced_sha256 FROM uploads ORDER BY id").fetchall()
    assert len(log) == 2 * rounds
    assert log[-1]["sha256"] == hashlib.sha256(final).hexdigest()  # the log is in placement order
    for prev, cur in zip(log, log[1:], strict=False):  # each replacement names the version before it
        assert cur["replaced_sha256"] in (None, prev["sha256"])
        assert (cur["replaced_sha256"] is None) == (cur["sha256"] == prev["sha256"])


_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path, PurePosixPath
    from fundwatch.uploads import store
    data = bytes([int(sys.argv[3])]) * (int(sys.argv[2]) * 1024 * 1024)
    print("ready", flush=True)
    store.place(Path(sys.argv[1]), PurePosixPath("430121/名单.xlsx"), data)
    print("done", flush=True)
""")


def _kill_while_writing(inbox: Path, mib: int, fill: int) -> bool:
    """Start a placement in a child and SIGKILL it while it holds its unnamed file; True if caught."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(inbox), str(mib), str(fill)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    caught = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            links = [os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")]
        except OSError:
            links = []
        if any(str(inbox) in link and "(deleted)" in link for link in links):
            os.kill(proc.pid, signal.SIGKILL)
            caught = True
            break
    proc.wait(30)
    return caught


def test_an_upload_killed_half_way_leaves_nothing_in_the_inbox(tmp_path):
    inbox = tmp_path / "inbox"
    assert _kill_while_writing(inbox, 96, 1), "the child finished before it could be killed"
    assert _files(inbox) == []  # not a byte: the half-written file never had a name


def test_a_killed_correction_leaves_the_previous_version_whole(tmp_path):
    inbox = tmp_path / "inbox"
    rel = PurePosixPath(UNIT_DIR, "名单.xlsx")
    store.place(inbox, rel, b"old version")
    assert _kill_while_writing(inbox, 96, 2)
    assert _files(inbox) == [rel.as_posix()] and (inbox / rel).read_bytes() == b"old version"


# ---------------------------------------------------------------- the report is the daily run's verdict
def test_the_report_equals_what_the_daily_load_records(home, tmp_path):
    pay = valid_rows("payments", 5)
    pay[1][8] = "2020-02-30"  # no such day
    pay[3][4] = ""  # ID empty
    pay.append(["合计", None, None, None, None, None, None, 1.0, None, None, None])
    roster_csv = csv_bytes([["长沙县2020年上报名单"], [], headers("roster"),
                            *[[str(v) for v in r] for r in valid_rows("roster", 4)],
                            ["P1", "王五", "43012119900101123X", "", "", "", "一百", COUNTY, "", "", ""]],
                           "gb18030")
    uploads = [
        receive(home, username="c", unit_code=COUNTY, data=filled_template("payments", pay), filename="pay.xlsx"),
        receive(home, username="c", unit_code=COUNTY, data=roster_csv, filename="名单.csv", path="上报"),
    ]
    bad = csv_bytes([["文号", "金额"], ["x", "1"]])
    refused = receive(home, username="c", unit_code=COUNTY, data=bad, filename="bad.csv")
    daily_inbox = tmp_path / "daily"
    (daily_inbox / UNIT_DIR).mkdir(parents=True)
    (daily_inbox / UNIT_DIR / "bad.csv").write_bytes(bad)

    load_inbox(home.inbox, home.warehouse, run_id="r1")
    for up in uploads:
        rep = up.report
        files = raw_query(home.warehouse, "SELECT kind, status, rows_loaded, rows_rejected FROM raw.files "
                                          "WHERE source_file = ?", [up.inbox_path])
        assert files == [(rep.kind, rep.status, rep.rows_loaded, len(rep.rows_rejected))]
        rejected = raw_query(home.warehouse, "SELECT source_row, reason FROM raw.rejected_rows "
                                             "WHERE source_file = ? ORDER BY source_row", [up.inbox_path])
        assert rejected == [(p.row, p.reason) for p in rep.rows_rejected]
        totals = raw_query(home.warehouse, "SELECT source_row, column_name, stated_total, computed_total "
                                           "FROM raw.total_mismatches WHERE source_file = ?", [up.inbox_path])
        assert totals == [(m.row, m.column, m.stated, m.computed) for m in rep.total_mismatches]
    assert len(uploads[0].report.rows_rejected) == 2 and uploads[0].report.total_mismatches
    assert len(uploads[1].report.rows_rejected) == 1

    wh2 = tmp_path / "daily.duckdb"
    load_inbox(daily_inbox, wh2, run_id="r1")
    assert raw_query(wh2, "SELECT status, reason FROM raw.files") == [("rejected", refused.report.reason)]


def test_the_report_names_key_conflicts_inside_the_file_like_the_daily_load(home):
    rows = valid_rows("payments", 3)
    rows[2][0] = rows[0][0]  # the same 交易流水号 with other values
    up = receive(home, username="c", unit_code=COUNTY, data=filled_template("payments", rows), filename="p.xlsx")
    load_inbox(home.inbox, home.warehouse, run_id="r1")
    rejected = raw_query(home.warehouse, "SELECT source_row, reason FROM raw.rejected_rows ORDER BY 1")
    assert [(p.row, p.reason) for p in up.report.rows_rejected] == rejected
