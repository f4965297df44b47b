"""Backup and restore of what cannot be rebuilt (interface.md: ``fundwatch backup`` / ``restore``).

A backup is one gzip'd tar file:

``state.sqlite``
    a consistent copy of ``HOME/state.sqlite`` (people, decisions, rectifications, findings and their
    history, upload records, the audit log) taken with SQLite's online backup API while the review
    page and the daily run keep working (WAL: nobody waits for it);
``attachments/...``, ``uploads/...``
    the files under ``Home.attachments_dir`` and ``Home.uploads_dir`` when they exist;
``manifest.json`` (last)
    the format, when and from where, the state's schema version and row counts, and every file
    with its size and sha256.

Everything else in a home (warehouse, Airflow metadata, docs, GX results, exports) is rebuilt by
the next run from the inbox, which is the counties' delivery and backed up by whoever keeps it.

A backup is written to ``.<name>.partial-<host>-<pid>`` beside its final name, synced, then renamed:
a backup killed half-way leaves no file under the final name, and the next backup removes the
leftover. ``restore`` verifies every file against the manifest into a staging folder inside the
home before it replaces anything, refuses a home in use (``fundwatch.inuse``) and first backs up
the state it replaces (``backups/pre-restore-*.tar.gz``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import sqlite3
import tarfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from fundwatch import inuse
from fundwatch.paths import Home
from fundwatch.state import SHANGHAI

FORMAT = "fundwatch-backup/1"
MANIFEST = "manifest.json"
STATE_MEMBER = "state.sqlite"
KEEP = 30  # backups the daily run keeps in Home.backups_dir
RUN_PREFIX = "fundwatch-"  # backups taken by the daily run (only these are pruned)
STALE_PARTIAL_S = 6 * 3600
_CHUNK = 1 << 20


class BackupError(RuntimeError):
    """A backup that cannot be taken or a backup file that is not a sound fundwatch backup."""


def _trees(home: Home) -> dict[str, Path]:
    """Folders of non-rebuildable files, by their name inside the backup."""
    return {"attachments": home.attachments_dir, "uploads": home.uploads_dir}


@dataclass(frozen=True)
class Summary:
    path: Path
    files: int
    bytes: int
    seconds: float
    state: dict = field(default_factory=dict)

    def text(self) -> str:
        c = self.state.get("counts", {})
        return (f"{self.path}：{self.files} 个文件 / files，{self.bytes / 1e6:.1f} MB，{self.seconds:.1f} s；"
                f"人员 users {c.get('users', 0)}，决定 decisions {c.get('decisions', 0)}，"
                f"问题线索 findings {c.get('findings', 0)}，运行 runs {c.get('runs', 0)}"
                f"（最近 latest {self.state.get('latest_run_date') or '-'}）")


# ------------------------------------------------------------------------------------------ backup


def backup(home: Home, dest: Path) -> Summary:
    """Write a backup of ``home`` to ``dest`` (the home stays in use by others meanwhile)."""
    with inuse.hold(home, "fundwatch backup"):
        return _write(home, Path(dest))


def backup_after_run(home: Home, run_date, keep: int = KEEP) -> Summary:
    """The daily run's backup into ``Home.backups_dir``; keeps the last ``keep`` of them."""
    stamp = _stamp()
    dest = home.backups_dir / f"{RUN_PREFIX}{stamp}-{run_date}.tar.gz"
    info = backup(home, dest)
    prune(home.backups_dir, keep)
    return info


def _stamp() -> str:
    """Asia/Shanghai wall time for file names; names then sort by the time they were taken."""
    return datetime.now(SHANGHAI).strftime("%Y%m%dT%H%M%S")


def prune(folder: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest ``keep`` run backups in ``folder`` (names sort by time); returns them."""
    runs = sorted(p for p in folder.glob(f"{RUN_PREFIX}*.tar.gz") if p.is_file())
    gone = runs[:-keep] if keep > 0 else runs
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def _partial_name(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.partial-{socket.gethostname()}-{os.getpid()}"


def remove_stale_partials(folder: Path) -> list[Path]:
    """Leftovers of killed backups in ``folder``: their process is gone (this host) or they are old."""
    host = socket.gethostname()
    removed = []
    for p in folder.glob(".*.partial-*"):
        owner = p.name.rsplit(".partial-", 1)[1]
        h, _, pid = owner.rpartition("-")
        dead = h == host and pid.isdigit() and not Path(f"/proc/{pid}").exists()
        try:
            old = time.time() - p.stat().st_mtime > STALE_PARTIAL_S
        except FileNotFoundError:
            continue
        if dead or old:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _snapshot_state(db: Path, out: Path) -> dict:
    """SQLite's online backup of ``db`` into ``out`` (one step: one consistent read snapshot)."""
    if not db.exists():
        raise BackupError(f"没有审核数据库，无可备份（no state database to back up）：{db}")
    src = sqlite3.connect(db, timeout=30)
    dst = sqlite3.connect(out)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        src.backup(dst)  # pages=-1: all pages in one step, while writers go on (WAL)
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"审核数据库副本校验失败（state copy failed quick_check）：{check}")
        return _describe_state(dst)
    finally:
        dst.close()
        src.close()


def _describe_state(conn: sqlite3.Connection) -> dict:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
              for t in ("users", "decisions", "findings", "runs", "audit_log") if t in tables}
    migrations = ([r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
                  if "schema_migrations" in tables else [])
    latest = conn.execute("SELECT max(run_date) FROM runs").fetchone()[0] if "runs" in tables else None
    return {"user_version": conn.execute("PRAGMA user_version").fetchone()[0], "migrations": migrations,
            "counts": counts, "latest_run_date": latest}


class _Hashing:
    """A file reader that hashes what tarfile reads from it."""

    def __init__(self, fh) -> None:
        self.fh, self.sha, self.n = fh, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.sha.update(data)
        self.n += len(data)
        return data


def _add(tar: tarfile.TarFile, name: str, path: Path) -> dict:
    st = path.stat()
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o600
    with path.open("rb") as fh:
        reader = _Hashing(fh)
        tar.addfile(info, reader)
    return {"path": name, "size": reader.n, "sha256": reader.sha.hexdigest()}


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(home: Home, dest: Path) -> Summary:
    t0 = time.perf_counter()
    dest = dest.expanduser().resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(dest.parent)
    partial = _partial_name(dest)
    work = dest.parent / f".{dest.name}.work.partial-{socket.gethostname()}-{os.getpid()}"
    work.mkdir(mode=0o700)
    try:
        snap = work / STATE_MEMBER
        state_info = _snapshot_state(home.state_db, snap)
        files = []
        with partial.open("wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1, format=tarfile.PAX_FORMAT) as tar:
                files.append(_add(tar, STATE_MEMBER, snap))
                for tree, root in _trees(home).items():
                    if not root.is_dir():
                        continue
                    for path in sorted(root.rglob("*")):
                        if path.is_file() and not path.is_symlink():
                            files.append(_add(tar, f"{tree}/{path.relative_to(root).as_posix()}", path))
                manifest = {
                    "format": FORMAT, "created_at": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
                    "source_home": str(home.root), "state": state_info, "files": files,
                }
                body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
                tar.addfile(info, io.BytesIO(body))
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)  # people, password hashes, personal data: owner only
        os.replace(partial, dest)
        _fsync_dir(dest.parent)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return Summary(dest, len(files), dest.stat().st_size, time.perf_counter() - t0, state_info)


# ----------------------------------------------------------------------------------------- restore


def _member_target(name: str, known_trees: set[str]) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise BackupError(f"备份中有不安全的路径（unsafe path in backup）：{name!r}")
    if name not in (STATE_MEMBER, MANIFEST) and p.parts[0] not in known_trees:
        raise BackupError(f"备份中有未知文件（unknown file in backup）：{name!r}")
    return p


def verify_into(src: Path, staging: Path, home: Home) -> dict:
    """Extract ``src`` into ``staging``, checking every file against the manifest; returns the manifest."""
    trees = set(_trees(home))
    seen: dict[str, dict] = {}
    manifest = None
    try:
        tar = tarfile.open(src, mode="r|gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"不是可读的备份文件（not a readable backup file）：{src}：{exc}") from exc
    try:
        with tar:
            for member in tar:
                if not member.isfile():
                    raise BackupError(f"备份中有非普通文件（not a regular file）：{member.name!r}")
                rel = _member_target(member.name, trees)
                fh = tar.extractfile(member)
                if member.name == MANIFEST:
                    manifest = json.loads(fh.read(64 << 20).decode("utf-8"))
                    continue
                out = staging.joinpath(*rel.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                sha, n = hashlib.sha256(), 0
                with out.open("wb") as w:
                    while chunk := fh.read(_CHUNK):
                        sha.update(chunk)
                        n += len(chunk)
                        w.write(chunk)
                seen[member.name] = {"size": n, "sha256": sha.hexdigest()}
    except (OSError, EOFError, tarfile.TarError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"备份文件不完整或已损坏（backup truncated or corrupt）：{src}：{exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"备份文件没有有效的清单（no valid manifest, expected {FORMAT}）：{src}")
    listed = {f["path"]: f for f in manifest.get("files", [])}
    if set(listed) != set(seen) or STATE_MEMBER not in seen:
        missing, extra = sorted(set(listed) - set(seen)), sorted(set(seen) - set(listed))
        raise BackupError(f"备份内容与清单不符（files differ from the manifest）：缺少 missing {missing}，"
                          f"多出 extra {extra}")
    for name, got in seen.items():
        want = listed[name]
        if got["size"] != want["size"] or got["sha256"] != want["sha256"]:
            raise BackupError(f"文件校验值不符（sha256 mismatch）：{name}")
    return manifest


def _check_schema(db: Path) -> None:
    from fundwatch import state

    conn = sqlite3.connect(db)
    try:
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError("备份中的审核数据库已损坏（state in backup fails quick_check）")
        got = _describe_state(conn)
        conn.execute("PRAGMA journal_mode = WAL")  # as the live state: readers never wait for a run
    finally:
        conn.close()
    unknown = set(got["migrations"]) - {name for name, _ in state.MIGRATIONS}
    if got["user_version"] > state.SCHEMA_VERSION or unknown:
        raise BackupError("备份来自更新版本的 fundwatch，请先升级（backup is from a newer fundwatch; upgrade "
                          f"first）：schema {got['user_version']}，migrations {sorted(unknown)}")


def _keep_replaced(home: Home) -> Path:
    """What a restore replaces stays recoverable: a backup of it, or (a state too damaged to back up)
    a raw copy of its files."""
    stamp = _stamp()
    try:
        return _write(home, home.backups_dir / f"pre-restore-{stamp}.tar.gz").path
    except (BackupError, sqlite3.DatabaseError):
        raw = home.backups_dir / f"pre-restore-{stamp}-raw"
        raw.mkdir(parents=True, exist_ok=True)
        for p in home.root.glob(home.state_db.name + "*"):
            shutil.copy2(p, raw / p.name)
        return raw


def restore(home: Home, src: Path) -> Summary:
    """Replace the home's non-rebuildable files by those of backup ``src``.

    Raises :class:`fundwatch.inuse.HomeInUse` while anybody uses the home and :class:`BackupError`
    for a backup that does not verify; in both cases nothing in the home has changed.
    """
    t0 = time.perf_counter()
    src = Path(src).expanduser().resolve()
    if not src.is_file():
        raise BackupError(f"备份文件不存在（backup file not found）：{src}")
    home.root.mkdir(parents=True, exist_ok=True)
    with inuse.exclusive(home):
        staging = home.root / f".restore-{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            manifest = verify_into(src, staging, home)
            _check_schema(staging / STATE_MEMBER)
            if home.state_db.exists():
                _keep_replaced(home)
            for suffix in ("-wal", "-shm"):  # the old WAL must never meet the new database file
                home.state_db.with_name(home.state_db.name + suffix).unlink(missing_ok=True)
            os.replace(staging / STATE_MEMBER, home.state_db)
            for p in home.root.glob(home.review_sessions_db.name + "*"):  # every session ends: sign in again
                p.unlink(missing_ok=True)
            for tree, target in _trees(home).items():
                old = staging / f"old-{tree}"
                if target.exists():
                    os.replace(target, old)
                if (staging / tree).is_dir():
                    os.replace(staging / tree, target)
            _fsync_dir(home.root)
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(staging)
    files = manifest["files"]
    return Summary(src, len(files), sum(f["size"] for f in files), time.perf_counter() - t0, manifest["state"])
