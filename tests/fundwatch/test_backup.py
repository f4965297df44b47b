"""fundwatch backup / restore (interface.md): a consistent copy taken while the home is in use,
verified on restore, refused for a home in use, and a restored home serves the same people,
decisions and findings."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tarfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fundwatch import attachments, backup, backupstore, inuse, state
from fundwatch.cli import main
from fundwatch.paths import Home
from fundwatch.review import create_app
from fundwatch.review.users import add_user
from fundwatch.uploads.store import keep

PASSWORD = "correct-horse-9"
ID_NUMBER = "430121198505051236"  # synthetic


def _finding(key: str, rule: str = "PAY_LATE", amount: str = "3000.00") -> dict:
    return {
        "rule_id": rule, "rule_name": "超期发放", "severity": "error", "subject_type": "payment",
        "subject_key": key, "project_code": "JQZX-2020-430121", "unit_code": "430121",
        "amount_at_risk": Decimal(amount), "source_file": "长沙县/发放.csv", "source_row": 8,
        "detail": f"应在2020-12-31前发放（{key}）。",
        "evidence": {"source_row": {"txn_ref": key, "name": "刘建国", "id_number": ID_NUMBER}},
    }


def _make_home(root: Path) -> Home:
    home = Home(root).ensure()
    state.record_run(home.state_db, run_id="scheduled__2021-04-29", run_date=date(2021, 4, 29),
                     findings=[_finding("TX1"), _finding("TX2")])
    state.record_run(home.state_db, run_id="scheduled__2021-04-30", run_date=date(2021, 4, 30),
                     findings=[_finding("TX1"), _finding("TX3", amount="12.50")])
    add_user(home.state_db, "reviewer1", PASSWORD, "reviewer")
    add_user(home.state_db, "clerk1", PASSWORD, "unit", unit="430121")
    fid = state.finding_id("PAY_LATE", "payment", "TX1")
    state.add_decision(home.state_db, finding_id=fid, action="dismissed", comment="已补发，见凭证 12 号",
                       username="reviewer1")
    (home.attachments_dir / fid).mkdir(parents=True)
    (home.attachments_dir / fid / "整改说明.pdf").write_bytes(b"%PDF-1.4 synthetic\n" * 100)
    (home.uploads_dir / "430121").mkdir(parents=True)
    (home.uploads_dir / "430121" / "发放明细.csv").write_text("姓名,金额\n某某,1.00\n", encoding="utf-8")
    return home


@pytest.fixture
def home(tmp_path) -> Home:
    return _make_home(tmp_path / "home")


def _rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def _sign_in(app, name: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client


def test_a_restored_home_serves_the_same_people_decisions_and_findings(home, tmp_path, capsys):
    dest = tmp_path / "b" / "home.tar.gz"
    assert main(["backup", "--home", str(home.root), "--to", str(dest)]) == 0
    assert "备份完成" in capsys.readouterr().out
    new = Home(tmp_path / "restored")
    assert main(["restore", "--home", str(new.root), "--from", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "恢复完成" in out and "decisions 1" in out

    for sql in ("SELECT username, password_hash, role, unit_code FROM users ORDER BY 1",
                "SELECT finding_id, action, comment, username, decided_at FROM decisions ORDER BY id",
                "SELECT * FROM findings ORDER BY finding_id", "SELECT * FROM finding_history ORDER BY 1, 2",
                "SELECT * FROM runs ORDER BY 1"):
        assert _rows(new.state_db, sql) == _rows(home.state_db, sql), sql
    assert _rows(new.state_db, "PRAGMA journal_mode") == [("wal",)]  # readers never wait for a run
    for rel in ("attachments", "uploads"):
        original = sorted(p.relative_to(home.root) for p in (home.root / rel).rglob("*") if p.is_file())
        assert original and original == sorted(p.relative_to(new.root) for p in (new.root / rel).rglob("*")
                                               if p.is_file())
        for p in original:
            assert (new.root / p).read_bytes() == (home.root / p).read_bytes()

    # The page over the restored home: the same person signs in with the same password and sees the
    # same queue and the same decision.
    old_app, new_app = create_app(home), create_app(new)
    old_client, new_client = _sign_in(old_app, "reviewer1"), _sign_in(new_app, "reviewer1")
    fid = state.finding_id("PAY_LATE", "payment", "TX1")
    for url in ("/api/findings", f"/api/findings/{fid}"):
        assert new_client.get(url).get_json() == old_client.get(url).get_json(), url
    page = new_client.get(f"/findings/{fid}").get_data(as_text=True)
    assert "已补发，见凭证 12 号" in page
    assert _sign_in(new_app, "clerk1")  # the county clerk too


def test_the_backup_is_consistent_while_a_writer_holds_a_transaction(home, tmp_path):
    writer = sqlite3.connect(home.state_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO decisions (finding_id, action, comment, username, decided_at) "
                   "VALUES ('x', 'confirmed', 'uncommitted', 'w', 'now')")
    try:
        t0 = time.perf_counter()
        info = backup.backup(home, tmp_path / "mid.tar.gz")  # never waits for the writer (WAL)
        assert time.perf_counter() - t0 < 10
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert info.state["counts"]["decisions"] == 1  # the committed one, not the open transaction's
    new = Home(tmp_path / "r")
    backup.restore(new, info.path)
    assert _rows(new.state_db, "SELECT comment FROM decisions") == [("已补发，见凭证 12 号",)]


def test_the_manifest_lists_every_file_with_its_sha256(home, tmp_path):
    info = backup.backup(home, tmp_path / "b.tar.gz")
    with tarfile.open(info.path, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(backup.MANIFEST).read())
    assert names[-1] == backup.MANIFEST and names[0] == backup.STATE_MEMBER
    assert manifest["format"] == backup.FORMAT
    assert {f["path"] for f in manifest["files"]} == set(names[:-1])
    assert any(f["path"].startswith("attachments/") and f["path"].endswith("整改说明.pdf") for f in manifest["files"])
    assert all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) for f in manifest["files"])
    assert manifest["state"]["counts"] == {"users": 2, "decisions": 1, "findings": 3, "runs": 2,
                                           "audit_log": manifest["state"]["counts"]["audit_log"]}
    assert oct(info.path.stat().st_mode & 0o777) == "0o600"


def _rewrite(src: Path, dest: Path, change, extra: tuple[str, bytes] | None = None) -> None:
    """Copy a backup member by member, letting ``change(name, data)`` alter or drop (None) each;
    ``extra`` (name, data) is put first."""
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dest, "w:gz") as tout:
        if extra:
            info = tarfile.TarInfo(extra[0])
            info.size = len(extra[1])
            tout.addfile(info, io.BytesIO(extra[1]))
        for m in tin.getmembers():
            data = change(m.name, tin.extractfile(m).read())
            if data is None:
                continue
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))


@pytest.mark.parametrize("damage", ["flipped byte", "missing file", "truncated", "path escape"])
def test_a_damaged_backup_is_refused_and_the_home_is_unchanged(home, tmp_path, damage, capsys):
    good = backup.backup(home, tmp_path / "good.tar.gz").path
    bad = tmp_path / "bad.tar.gz"
    if damage == "flipped byte":
        _rewrite(good, bad, lambda n, d: d[:-1] + bytes([d[-1] ^ 1]) if n.endswith(".pdf") else d)
    elif damage == "missing file":
        _rewrite(good, bad, lambda n, d: None if n.startswith("uploads/") else d)
    elif damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:
        _rewrite(good, bad, lambda n, d: d, extra=("../escaped.txt", b"x"))
    target = _make_home(tmp_path / "target")
    before = _rows(target.state_db, "SELECT * FROM decisions")
    assert main(["restore", "--home", str(target.root), "--from", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "恢复失败，安装目录未改动" in out and "restore failed" in out
    assert _rows(target.state_db, "SELECT * FROM decisions") == before
    assert not (tmp_path / "escaped.txt").exists() and not (target.root.parent / "escaped.txt").exists()
    assert not list(target.root.glob(".restore-*"))


def test_restore_refuses_a_home_in_use_and_says_who_holds_it(home, tmp_path, capsys):
    dest = backup.backup(home, tmp_path / "b.tar.gz").path
    target = _make_home(tmp_path / "target")
    before = _rows(target.state_db, "SELECT * FROM users")
    script = ("import sys, time; from fundwatch import inuse; from fundwatch.paths import Home\n"
              "with inuse.hold(Home.resolve(sys.argv[1]), sys.argv[2]):\n"
              "    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(target.root), "每日运行 daily run r1 (export)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["restore", "--home", str(target.root), "--from", str(dest)]) == 3
        out = capsys.readouterr().out
        assert "安装目录正在使用中" in out and "home in use, restore refused" in out
        assert "每日运行 daily run r1 (export)" in out and f"pid {holder.pid}" in out
        assert _rows(target.state_db, "SELECT * FROM users") == before
    finally:
        holder.kill()
        holder.wait()
    # Its lock went with it (even killed): the restore now goes through, the old state kept aside,
    # and sessions of the page end (people sign in again on the restored state).
    client = _sign_in(create_app(target), "reviewer1")
    assert client.get("/").status_code == 200
    assert main(["restore", "--home", str(target.root), "--from", str(dest)]) == 0
    assert client.get("/").status_code == 302
    kept = list(target.backups_dir.glob("pre-restore-*.tar.gz"))
    assert len(kept) == 1


def test_restore_refuses_while_fundwatch_serve_runs(home, tmp_path):
    dest = backup.backup(home, tmp_path / "b.tar.gz").path
    exe = Path(sys.executable).with_name("fundwatch")
    server = subprocess.Popen([str(exe), "serve", "--home", str(home.root), "--port", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not inuse.holders(home) and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(inuse.HomeInUse, match="fundwatch serve"):
            backup.restore(home, dest)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_newer_backup_is_refused(home, tmp_path):
    good = backup.backup(home, tmp_path / "good.tar.gz").path
    work = tmp_path / "x"
    work.mkdir()
    with tarfile.open(good, "r:gz") as tar:
        db = work / "state.sqlite"
        db.write_bytes(tar.extractfile(backup.STATE_MEMBER).read())
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_migrations VALUES ('9999_from_the_future', 'x')")
    conn.commit()
    conn.close()
    newer = tmp_path / "newer.tar.gz"

    def change(name, data):
        if name == backup.STATE_MEMBER:
            return db.read_bytes()
        if name == backup.MANIFEST:
            m = json.loads(data)
            for f in m["files"]:
                if f["path"] == backup.STATE_MEMBER:
                    f["size"], f["sha256"] = db.stat().st_size, hashlib.sha256(db.read_bytes()).hexdigest()
            return json.dumps(m).encode()
        return data

    _rewrite(good, newer, change)
    with pytest.raises(backup.BackupError, match="newer fundwatch"):
        backup.restore(Home(tmp_path / "n"), newer)


def test_the_run_keeps_the_last_30_backups(home):
    folder = home.backups_dir
    folder.mkdir(parents=True, exist_ok=True)
    for day in range(1, 33):
        (folder / f"{backup.RUN_PREFIX}202104{day:02d}T060000-2021-04-{day:02d}.tar.gz").write_bytes(b"old")
    (folder / "pre-restore-20210101T000000.tar.gz").write_bytes(b"kept")
    (folder / "manual-20210101T000000.tar.gz").write_bytes(b"kept")
    info = backup.backup_after_run(home, date(2021, 5, 3))
    runs = sorted(p.name for p in folder.glob(f"{backup.RUN_PREFIX}*.tar.gz"))
    assert len(runs) == backup.KEEP and runs[-1] == info.path.name
    assert runs[0].startswith(f"{backup.RUN_PREFIX}20210404")  # the three oldest went
    assert (folder / "pre-restore-20210101T000000.tar.gz").exists()
    assert (folder / "manual-20210101T000000.tar.gz").exists()
    assert oct(os.stat(info.path).st_mode & 0o777) == "0o600"


# -------------------------------------------------------------- the daily backups' file store


def _upload(home: Home, size: int, kind: str = "xlsx") -> Path:
    """An upload kept as the page keeps it (content-addressed, immutable); incompressible bytes."""
    data = os.urandom(size)
    return keep(home, data, hashlib.sha256(data).hexdigest(), kind)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def daily(home, monkeypatch):
    """The home with a scanned attachment and two uploads, and one daily backup a call (names that
    sort by the call, as one a day do)."""
    attachments.store(home.attachments_dir, attachments.Upload("扫描件.pdf", b"%PDF-1.4 " + os.urandom(50_000)))
    for size in (300_000, 200_000):
        _upload(home, size)
    calls = iter(range(1, 100))
    monkeypatch.setattr(backup, "_stamp", lambda: f"20210501T06{next(calls):04d}")
    return lambda day, **kw: backup.backup_after_run(home, day if isinstance(day, date) else date(2021, 5, day), **kw)


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_the_next_days_backup_copies_only_the_files_that_arrived(home, daily):
    first = daily(1)
    uploaded = _tree_bytes(home.uploads_dir) + _tree_bytes(home.attachments_dir)
    assert first.stored[0] == 3 and first.stored[1] > 550_000  # the day's new files, once
    new = _upload(home, 100_000, "csv")
    second = daily(2)
    assert second.stored == (1, 100_000)  # the new upload only, not the years before it
    third = daily(3)
    assert third.stored == (0, 0)
    assert "新存入文件库 0 个" in third.text()
    # Three backups of ~0.66 MB of files take one copy of the files, not three.
    assert _tree_bytes(home.backups_dir) < uploaded + 100_000 + 3 * 60_000
    assert backupstore.Store(home.backups_dir).path(_sha(new)).read_bytes() == new.read_bytes()


def test_a_daily_backup_holds_no_upload_bytes_and_restores_the_same_home(home, daily, tmp_path):
    first = daily(1)
    _upload(home, 100_000)
    state.add_decision(home.state_db, finding_id=state.finding_id("PAY_LATE", "payment", "TX3"),
                       action="confirmed", comment="第二天的决定", username="reviewer1")
    second = daily(2)
    with tarfile.open(second.path, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(backup.MANIFEST).read())
    assert names[0] == backup.MANIFEST and backup.STATE_MEMBER in names
    assert not [n for n in names if n.startswith("uploads/files/") or "扫描件" in n]
    assert second.path.stat().st_size < 60_000  # the state and small files, not the 0.66 MB of files
    assert manifest["format"] == backup.STORE_FORMAT
    assert {f["path"] for f in manifest["files"]} >= set(names) - {backup.MANIFEST}
    assert len([f for f in manifest["files"] if f.get("store")]) == 4

    def content(h: Home) -> dict:
        files = {p.relative_to(h.root).as_posix(): p.read_bytes()
                 for tree in (h.uploads_dir, h.attachments_dir) for p in tree.rglob("*") if p.is_file()}
        return {"files": files, **{sql: _rows(h.state_db, sql) for sql in (
            "SELECT username, password_hash, role, unit_code FROM users ORDER BY 1",
            "SELECT finding_id, action, comment, username, decided_at FROM decisions ORDER BY id",
            "SELECT * FROM findings ORDER BY finding_id", "SELECT * FROM finding_history ORDER BY 1, 2")}}

    new = Home(tmp_path / "restored")
    info = backup.restore(new, second.path)
    assert content(new) == content(home) and info.files == len(manifest["files"])
    # The first day's backup still restores the first day: without the upload that came after it.
    older = Home(tmp_path / "older")
    backup.restore(older, first.path)
    assert len(content(older)["files"]) == len(content(home)["files"]) - 1
    assert _rows(older.state_db, "SELECT count(*) FROM decisions") == [(1,)]


@pytest.mark.parametrize("damage", ["flipped byte", "missing", "truncated"])
def test_a_damaged_stored_file_is_refused_at_restore_and_the_home_is_unchanged(home, daily, tmp_path, damage,
                                                                               capsys):
    info = daily(1)
    victim = next(p for p in home.uploads_dir.rglob("*.xlsx"))
    stored = backupstore.Store(home.backups_dir).path(_sha(victim))
    data = stored.read_bytes()
    if damage == "flipped byte":
        stored.write_bytes(data[:1000] + bytes([data[1000] ^ 1]) + data[1001:])
    elif damage == "missing":
        stored.unlink()
    else:
        stored.write_bytes(data[:-1])
    target = _make_home(tmp_path / "target")
    state.record_run(target.state_db, run_id="only-in-target", run_date=date(2021, 5, 9), findings=[])
    before = _rows(target.state_db, "SELECT * FROM runs")
    assert main(["restore", "--home", str(target.root), "--from", str(info.path)]) == 1
    out = capsys.readouterr().out
    assert "恢复失败，安装目录未改动" in out
    assert ("missing from the backup store" if damage == "missing" else "stored file fails its sha256") in out
    assert victim.relative_to(home.root).as_posix() in out  # names the file
    assert _rows(target.state_db, "SELECT * FROM runs") == before
    assert not (target.root / victim.relative_to(home.root)).exists()
    assert not list(target.root.glob(".restore-*")) and not list(target.backups_dir.glob("pre-restore-*"))


def test_the_scrub_finds_a_damaged_stored_file_and_stores_it_again(home, daily, tmp_path):
    daily(1)
    victim = next(p for p in home.uploads_dir.rglob("*.xlsx"))
    sha = _sha(victim)
    stored = backupstore.Store(home.backups_dir).path(sha)
    data = stored.read_bytes()
    stored.write_bytes(bytes([data[0] ^ 1]) + data[1:])  # same size: only re-reading finds it
    slice_ = int(sha[:8], 16) % backupstore.SCRUB_DAYS
    base = date(2021, 6, 1).toordinal()
    its_day = date.fromordinal(base + (slice_ - base) % backupstore.SCRUB_DAYS)
    assert daily(its_day - timedelta(days=1)).damaged == 0 and stored.read_bytes() != data  # not read
    info = daily(its_day)
    assert info.damaged == 1 and info.stored[0] == 1 and "损坏文件" in info.text()
    assert stored.read_bytes() == data
    backup.restore(Home(tmp_path / "r"), info.path)


def test_pruning_removes_only_stored_files_no_kept_backup_lists(home, daily, tmp_path):
    first = daily(1)
    gone = next(p for p in home.uploads_dir.rglob("*.xlsx"))
    stays = [p for p in home.uploads_dir.rglob("*.xlsx") if p != gone]
    store = backupstore.Store(home.backups_dir)
    gone_sha = _sha(gone)
    gone.unlink()  # as after a restore of a home without it
    # A copy of the first daily backup under a name pruning never deletes keeps its files.
    keeper = home.backups_dir / "keep-forever.tar.gz"
    keeper.write_bytes(first.path.read_bytes())
    second = daily(2, keep=1)
    assert not first.path.exists() and store.path(gone_sha).exists()
    keeper.unlink()
    (home.backups_dir / "broken.tar.gz").write_bytes(b"not a backup")  # unreadable: might need anything
    daily(3, keep=1)
    assert store.path(gone_sha).exists()
    (home.backups_dir / "broken.tar.gz").unlink()
    third = daily(4, keep=1)
    assert not store.path(gone_sha).exists() and not second.path.exists()
    assert all(store.path(_sha(p)).exists() for p in stays)
    # Self-contained backups beside them do not hold stored files back, and still restore alone.
    manual = backup.backup(home, home.backups_dir / "manual-x.tar.gz")
    r = Home(tmp_path / "r")
    backup.restore(r, third.path)
    backup.restore(Home(tmp_path / "m"), manual.path)
    assert sorted(p.name for p in r.uploads_dir.rglob("*.xlsx")) == sorted(p.name for p in stays)


def test_backup_to_a_file_stays_self_contained(home, daily, tmp_path):
    daily(1)
    info = backup.backup(home, tmp_path / "elsewhere" / "b.tar.gz")
    assert info.stored is None
    with tarfile.open(info.path, "r:gz") as tar:
        names = tar.getnames()
    assert sum(n.startswith("uploads/files/") for n in names) == 2 and names[-1] == backup.MANIFEST
    backup.restore(Home(tmp_path / "r"), info.path)  # no store beside it


@pytest.mark.parametrize("size", [0, 1, backup._ParallelGzip.BLOCK, 3 * backup._ParallelGzip.BLOCK + 7])
def test_the_backup_stream_is_gzip_whatever_its_length(size, tmp_path):
    """Blocks deflated on two threads join into one gzip member that gzip, tarfile and the gzip tool
    read back exactly (the CRC and length of the whole in its trailer)."""
    import gzip
    import shutil

    data = (os.urandom(size // 3) + b"\u4eba\u5458" * size)[:size]
    path = tmp_path / "x.gz"
    with path.open("wb") as raw:
        gz = backup._ParallelGzip(raw)
        for i in range(0, len(data), 10_240):  # as tarfile writes: small pieces
            gz.write(data[i:i + 10_240])
        gz.close()
    assert gzip.decompress(path.read_bytes()) == data
    if shutil.which("gzip"):
        tested = subprocess.run(["gzip", "-t", str(path)], capture_output=True, check=False)
        assert tested.returncode == 0, tested.stderr
