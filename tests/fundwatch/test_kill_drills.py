"""Kill drills: ``kill -9`` in the middle of the writes that matter, then check nothing is half-written.

- the state write of a run (one transaction): readers see the previous complete run, the next run
  succeeds;
- reviewers' decisions (one transaction each): every committed decision is there, none is partial;
- a backup: the previous backup is intact and no file carries the final name half-written;
- a daily backup while it copies an upload into the store beside the backups: no stored file
  carries a name its bytes do not hash to, and the next backup and its restore are whole.

Each write runs in a child process that the test kills with SIGKILL at a moment it observes (not a
fixed sleep), so the kill lands inside the write.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from fundwatch import backup, backupstore, state
from fundwatch.paths import Home
from fundwatch.uploads.store import keep

DAY1, DAY2 = date(2021, 4, 30), date(2021, 5, 1)
BIG_RUN = 60_000  # findings in the killed run: a transaction of ~100 MB, seconds long

_BIG_RUN_SCRIPT = """
import sys
from datetime import date
from fundwatch import state
pad = "某" * 300  # evidence text: makes the transaction large enough to be caught in the middle
def findings():
    for i in range(int(sys.argv[2])):
        yield {"rule_id": "PAY_LATE", "rule_name": "超期发放", "severity": "error", "subject_type": "payment",
               "subject_key": f"TX{i:08d}", "project_code": "P1", "unit_code": "430121",
               "amount_at_risk": "1.00", "source_file": "a.csv", "source_row": i, "detail": "d",
               "evidence_json": '{"pad": "' + pad + '"}'}
print("RECORDING", flush=True)  # one transaction, the findings streamed into it
state.record_run(sys.argv[1], run_id="big", run_date=date(2021, 5, 1), findings=findings())
print("COMMITTED", flush=True)
"""

_DECISIONS_SCRIPT = """
import sys
from fundwatch import state
for i in range(100000):
    state.add_decision(sys.argv[1], finding_id=sys.argv[2], action="confirmed" if i % 2 else "reopened",
                       comment=f"第 {i} 次复核 " + "说明" * 50, username="reviewer1")
    print(i, flush=True)  # printed only after its transaction committed
"""


def _finding(key: str) -> dict:
    return {"rule_id": "PAY_LATE", "rule_name": "超期发放", "severity": "error", "subject_type": "payment",
            "subject_key": key, "project_code": "P1", "unit_code": "430121", "amount_at_risk": Decimal("3000.00"),
            "source_file": "a.csv", "source_row": 2, "detail": "d", "evidence": {}}


def _child(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _query(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return [tuple(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def _wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_kill_during_the_state_write_of_a_run(tmp_path):
    home = Home(tmp_path / "home").ensure()
    state.record_run(home.state_db, run_id="day1", run_date=DAY1, findings=[_finding("TX-A"), _finding("TX-B")])
    state.add_decision(home.state_db, finding_id=state.finding_id("PAY_LATE", "payment", "TX-A"),
                       action="confirmed", comment="", username="reviewer1")
    before = state.export_rows(home.state_db)
    wal = home.state_db.with_name(home.state_db.name + "-wal")

    def written() -> int:  # bytes in the database and its WAL
        return sum(p.stat().st_size for p in (home.state_db, wal) if p.exists())

    before_bytes = written()

    child = _child(_BIG_RUN_SCRIPT, str(home.state_db), str(BIG_RUN))
    assert child.stdout.readline().strip() == "RECORDING"
    # Half-way through the transaction: SQLite has spilled ~48 of its ~93 MB into the WAL. (A run that
    # committed in batches would have made some of them visible by now: this drill would catch it.)
    _wait_for(lambda: written() > before_bytes + 48_000_000, "the write to be half done")
    _kill(child)
    assert "COMMITTED" not in child.stdout.read()

    # What every reader (the review page, the export) sees: the previous complete run, nothing of the killed one.
    assert _query(home.state_db, "PRAGMA integrity_check") == [("ok",)]
    assert _query(home.state_db, "SELECT run_id FROM runs") == [("day1",)]
    assert _query(home.state_db, "SELECT count(*) FROM findings") == [(2,)]
    assert _query(home.state_db, "SELECT count(*) FROM finding_history WHERE run_date = ?", DAY2.isoformat()) == [(0,)]
    assert state.export_rows(home.state_db) == before
    # The next run succeeds and records its day completely.
    summary = state.record_run(home.state_db, run_id="day2", run_date=DAY2,
                               findings=[_finding("TX-A"), _finding("TX-C")])
    assert (summary.new, summary.still_open, summary.closed) == (1, 1, 1)
    assert [r["status"] for r in state.export_rows(home.state_db)] == ["confirmed", "open"]
    assert _query(home.state_db, "PRAGMA integrity_check") == [("ok",)]


def test_kill_during_decisions(tmp_path):
    home = Home(tmp_path / "home").ensure()
    state.record_run(home.state_db, run_id="day1", run_date=DAY1, findings=[_finding("TX-A")])
    fid = state.finding_id("PAY_LATE", "payment", "TX-A")
    child = _child(_DECISIONS_SCRIPT, str(home.state_db), fid)
    committed = [int(child.stdout.readline()) for _ in range(150)]  # 150 committed, more in flight
    _kill(child)
    committed += [int(line) for line in child.stdout.read().split()]

    assert _query(home.state_db, "PRAGMA integrity_check") == [("ok",)]
    rows = _query(home.state_db, "SELECT id, finding_id, action, comment, username, decided_at FROM decisions "
                                 "ORDER BY id")
    # Every decision reported committed is there; at most the one in flight at the kill besides.
    assert len(committed) <= len(rows) <= len(committed) + 1
    for i, (_id, finding, action, comment, user, at) in enumerate(rows):
        assert (finding, user) == (fid, "reviewer1") and at
        assert action == ("confirmed" if i % 2 else "reopened")
        assert comment == f"第 {i} 次复核 " + "说明" * 50  # whole, never cut
    # The page keeps working: the next decision goes in.
    state.add_decision(home.state_db, finding_id=fid, action="resolved", comment="ok", username="reviewer1")
    assert [r["status"] for r in state.export_rows(home.state_db)] == ["resolved"]


_BACKUP_SCRIPT = """
import sys
from pathlib import Path
from fundwatch import backup
from fundwatch.paths import Home
backup.backup(Home(Path(sys.argv[1])), Path(sys.argv[2]))
print("WRITTEN", flush=True)
"""


def test_kill_during_a_backup(tmp_path):
    home = Home(tmp_path / "home").ensure()
    state.record_run(home.state_db, run_id="day1", run_date=DAY1, findings=[_finding("TX-A")])
    folder = tmp_path / "backups"
    previous = backup.backup(home, folder / "previous.tar.gz")
    # Incompressible attachments make the next backup take a moment to write.
    (home.attachments_dir / "f1").mkdir(parents=True)
    (home.attachments_dir / "f1" / "scan.bin").write_bytes(os.urandom(32 * 1024 * 1024))
    final = folder / "next.tar.gz"

    child = _child(_BACKUP_SCRIPT, str(home.root), str(final))
    partials = lambda: [p for p in folder.glob(".next.tar.gz.partial-*") if p.is_file()]  # noqa: E731
    # Whatever name it is written under: wait until 4 MB of it are on disk.
    writing = lambda: [p for p in folder.glob("*next.tar.gz*") if p.is_file() and p.stat().st_size > 4 << 20]  # noqa: E731
    _wait_for(writing, "the backup to be written")
    _kill(child)
    assert "WRITTEN" not in child.stdout.read()

    assert not final.exists(), "a half-written backup must never carry the final name"
    assert partials()  # the leftover has a name nobody mistakes for a backup
    restored = Home(tmp_path / "from-previous")
    backup.restore(restored, previous.path)  # the previous backup verifies and restores
    assert _query(restored.state_db, "SELECT run_id FROM runs") == [("day1",)]
    # The next backup succeeds and clears the leftover of the killed one.
    again = backup.backup(home, final)
    assert again.path == final and not partials()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    assert any(f["path"] == "attachments/f1/scan.bin" for f in _manifest(final)["files"])


_DAILY_SCRIPT = """
import sys
from datetime import date
from pathlib import Path
from fundwatch import backup
from fundwatch.paths import Home
backup.backup_after_run(Home(Path(sys.argv[1])), date(2021, 5, 2))
print("WRITTEN", flush=True)
"""


def test_kill_during_a_daily_backup_copying_into_the_store(tmp_path):
    home = Home(tmp_path / "home").ensure()
    state.record_run(home.state_db, run_id="day1", run_date=DAY1, findings=[_finding("TX-A")])
    small = os.urandom(100_000)
    keep(home, small, hashlib.sha256(small).hexdigest(), "csv")
    previous = backup.backup_after_run(home, DAY2)
    big = os.urandom(96 * 1024 * 1024)  # an upload that takes a moment to copy and sync
    big_sha = hashlib.sha256(big).hexdigest()
    keep(home, big, big_sha, "xlsx")
    store = backupstore.Store(home.backups_dir)
    partials = lambda: [p for p in store.root.glob(".*.partial-*") if p.is_file()]  # noqa: E731

    child = _child(_DAILY_SCRIPT, str(home.root))
    _wait_for(lambda: [p for p in partials() if p.stat().st_size > 4 << 20], "the upload being stored")
    _kill(child)
    assert "WRITTEN" not in child.stdout.read()

    assert not store.path(big_sha).exists(), "a half-copied file must never carry its sha256 name"
    for p in store.root.glob("??/*"):  # whatever is stored is whole
        assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name
    runs = sorted(home.backups_dir.glob(f"{backup.RUN_PREFIX}*.tar.gz"))
    assert runs == [previous.path]
    backup.restore(Home(tmp_path / "from-previous"), previous.path)
    # The next daily backup clears the leftover, stores the upload whole, and restores.
    again = backup.backup_after_run(home, date(2021, 5, 3))
    assert not partials() and again.stored == (1, len(big))
    restored = Home(tmp_path / "restored")
    backup.restore(restored, again.path)
    assert (restored.root / keep(home, big, big_sha, "xlsx").relative_to(home.root)).read_bytes() == big


def _manifest(path: Path) -> dict:
    with tarfile.open(path, "r:gz") as tar:
        return json.loads(tar.extractfile(backup.MANIFEST).read())

