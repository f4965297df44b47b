"""Backup and restore of what cannot be rebuilt (interface.md: ``fundwatch backup`` / ``restore``).

``fundwatch backup --to FILE`` writes one self-contained gzip'd tar (format ``fundwatch-backup/1``):

``state.sqlite``
    a consistent copy of ``HOME/state.sqlite`` (people, decisions, rectifications, findings and their
    history, upload records, the audit log) taken with SQLite's online backup API while the review
    page and the daily run keep working (WAL: nobody waits for it);
``attachments/...``, ``uploads/...``
    the files under ``Home.attachments_dir`` and ``Home.uploads_dir`` when they exist;
``manifest.json`` (last)
    the format, when and from where, the state's schema version and row counts, and every file
    with its size and sha256.

The daily run's backups (``backup_after_run``, ``backups/fundwatch-<time>-<date>.tar.gz``, the last
``KEEP``) would otherwise copy and gzip every upload ever sent, every day, 30 times over: uploads
accumulate for years and xlsx does not compress. Their files named by their content (uploads
``<sha>.<ext>``, attachments ``<sha>``: immutable) are kept once in the store beside them,
``backups/files/<sha[:2]>/<sha>`` (``fundwatch.backupstore``: copied when new, verified by sha256,
a slice re-hashed each day), and each daily tar (format ``fundwatch-backup/2``) holds the manifest
first, then the state snapshot and the few files not named by content. Its manifest lists every file
as before; those in the store are marked ``"store": true``. A day's cost is the state snapshot plus
the files that arrived. After pruning the tars, the stored files no backup in the folder lists are
deleted (nothing while any ``*.tar.gz`` there cannot be read). A daily backup restores with the
``files/`` folder beside it: copy the whole backups folder off the machine, not single tars.

Everything else in a home (warehouse, Airflow metadata, docs, GX results, exports) is rebuilt by
the next run from the inbox, which is the counties' delivery and backed up by whoever keeps it.

A backup is written to ``.<name>.partial-<host>-<pid>`` beside its final name, synced, then renamed
(after the files it stores are synced under their names): a backup killed half-way leaves no file
under the final name, and the next backup removes the leftover. ``restore`` verifies every file
against the manifest into a staging folder inside the home (from the tar, and from the store for a
daily backup) before it replaces anything, refuses a home in use (``fundwatch.inuse``) and first
backs up the state it replaces (``backups/pre-restore-*.tar.gz``, self-contained).
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
import struct
import tarfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from isal import isal_zlib

from fundwatch import inuse
from fundwatch.backupstore import Store, content_sha, copy_hashing, fsync_dir, remove_stale_partials
from fundwatch.paths import Home
from fundwatch.state import SHANGHAI

FORMAT = "fundwatch-backup/1"  # self-contained: every file in the tar
STORE_FORMAT = "fundwatch-backup/2"  # the daily backups: files marked "store" are in the store beside it
MANIFEST = "manifest.json"
STATE_MEMBER = "state.sqlite"
KEEP = 30  # backups the daily run keeps in Home.backups_dir
RUN_PREFIX = "fundwatch-"  # backups taken by the daily run (only these are pruned)
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
    stored: tuple[int, int] | None = None  # a daily backup: files and bytes newly copied into the store
    damaged: int = 0  # stored files the day's scrub found damaged (copied again from the home)

    def text(self) -> str:
        c = self.state.get("counts", {})
        new = (f"，新存入文件库 {self.stored[0]} 个 / {self.stored[1] / 1e6:.1f} MB（new in the store）"
               if self.stored else "")
        if self.damaged:
            new += f"，文件库自检发现 {self.damaged} 个损坏文件并重新存入（scrub re-copied damaged stored files）"
        return (f"{self.path}：{self.files} 个文件 / files，{self.bytes / 1e6:.1f} MB{new}，{self.seconds:.1f} s；"
                f"人员 users {c.get('users', 0)}，决定 decisions {c.get('decisions', 0)}，"
                f"问题线索 findings {c.get('findings', 0)}，运行 runs {c.get('runs', 0)}"
                f"（最近 latest {self.state.get('latest_run_date') or '-'}）")


# ------------------------------------------------------------------------------------------ backup


def backup(home: Home, dest: Path) -> Summary:
    """Write a backup of ``home`` to ``dest`` (the home stays in use by others meanwhile)."""
    with inuse.hold(home, "fundwatch backup"):
        return _write(home, Path(dest))


def backup_after_run(home: Home, run_date, keep: int = KEEP) -> Summary:
    """The daily run's backup into ``Home.backups_dir``, its content-addressed files in the store
    beside it (``fundwatch.backupstore``); keeps the last ``keep`` backups and the stored files they
    list."""
    dest = home.backups_dir / f"{RUN_PREFIX}{_stamp()}-{run_date}.tar.gz"
    store = Store(home.backups_dir, scrub_day=run_date.toordinal())
    with inuse.hold(home, "fundwatch backup"), store.locked():
        info = _write(home, dest, store)
        prune(home.backups_dir, keep)
        prune_store(home.backups_dir, store)
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


def stored_refs(path: Path) -> set[str]:
    """The sha256 of the stored files a backup lists: its first member (a daily backup's manifest)
    is read, nothing more; a self-contained backup needs none."""
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                return set()
            manifest = json.loads(tar.extractfile(first).read(64 << 20).decode("utf-8"))
    except (OSError, EOFError, tarfile.TarError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"备份文件不可读（unreadable backup）：{path}：{exc}") from exc
    if manifest.get("format") != STORE_FORMAT:
        return set()
    return {f["sha256"] for f in manifest.get("files", []) if f.get("store")}


def prune_store(folder: Path, store: Store) -> list[Path]:
    """Delete the stored files no backup in ``folder`` lists (under the store's lock). While any
    backup there cannot be read, nothing is deleted: it might need any of them."""
    wanted: set[str] = set()
    for p in sorted(folder.glob("*.tar.gz")):
        if p.is_file():
            try:
                wanted |= stored_refs(p)
            except BackupError:
                return []
    return store.remove_unreferenced(wanted)


def _partial_name(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.partial-{socket.gethostname()}-{os.getpid()}"


def _snapshot_state(db: Path, out: Path, *, hashed: bool) -> tuple[dict, str | None]:
    """SQLite's online backup of ``db`` into ``out`` (one step: one consistent read snapshot); its
    description and, if ``hashed``, the SHA-256 of the copy, hashed by a thread while SQLite checks the
    copy (both let go of the GIL: at the 10M bench's 900 MB state the hash's 0.9 s ran beside the
    check's 0.7 s instead of after it)."""
    if not db.exists():
        raise BackupError(f"没有审核数据库，无可备份（no state database to back up）：{db}")
    src = sqlite3.connect(db, timeout=30)
    dst = sqlite3.connect(out)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        # The copy is a scratch file (checked below, then tarred; the tar is synced): no sync of its own
        # writes (the 10M bench's 840 MB state: 2.0-2.2 s -> 1.4-1.5 s).
        dst.execute("PRAGMA synchronous = OFF")
        src.backup(dst)  # pages=-1: all pages in one step, while writers go on (WAL)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-sha256") as pool:
            digest = pool.submit(_sha256_of, out) if hashed else None
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"审核数据库副本校验失败（state copy failed quick_check）：{check}")
            return _describe_state(dst), digest.result() if digest else None
    finally:
        dst.close()
        src.close()


def _sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _describe_state(conn: sqlite3.Connection) -> dict:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
              for t in ("users", "decisions", "findings", "runs", "audit_log") if t in tables}
    migrations = ([r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
                  if "schema_migrations" in tables else [])
    latest = conn.execute("SELECT max(run_date) FROM runs").fetchone()[0] if "runs" in tables else None
    return {"user_version": conn.execute("PRAGMA user_version").fetchone()[0], "migrations": migrations,
            "counts": counts, "latest_run_date": latest}


class _ParallelGzip:
    """A gzip stream (one member, level 1) deflated on ``workers`` threads, as pigz writes one: what is
    written is cut into blocks of ``BLOCK`` bytes, each deflated alone (it releases the GIL) and ended
    with a sync flush, so the blocks' output joins into one deflate stream; then the final empty block
    and the CRC-32 and length of the whole. Any gzip reader (``tarfile`` ``r|gz`` too) reads it as
    usual; a daily backup's 1 GB state snapshot is deflated on both cores instead of one.

    The deflate is ISA-L's (``isal_zlib``, zlib's interface): the 10M bench's 864 MB state in 0.74 s
    on one core at level 1 against 3.28 s for zlib's level 1, and 1.4 % smaller (2026-12-07)."""

    BLOCK = 1 << 22

    def __init__(self, raw, level: int = 1, workers: int = 2) -> None:
        self.raw, self.level, self.workers = raw, level, workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gzip")
        self.pending: deque = deque()
        self.buf = bytearray()
        self.crc = self.size = 0
        # magic, deflate, no flags, mtime, XFL 4 (fastest), OS unknown: what gzip.GzipFile writes at level 1
        raw.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", int(time.time())) + b"\x04\xff")

    def write(self, data) -> int:
        self.buf += data
        while len(self.buf) >= self.BLOCK:
            self._submit(bytes(self.buf[:self.BLOCK]))
            del self.buf[:self.BLOCK]
        return len(data)

    def _submit(self, block: bytes) -> None:
        self.crc = isal_zlib.crc32(block, self.crc)
        self.size += len(block)
        self.pending.append(self.pool.submit(_deflate_block, block, self.level))
        while len(self.pending) > 2 * self.workers:  # bounded memory: a few blocks in flight
            self.raw.write(self.pending.popleft().result())

    def close(self) -> None:
        """Write what is left, the end of the stream and its trailer (the raw file stays open)."""
        try:
            if self.buf:
                self._submit(bytes(self.buf))
                self.buf.clear()
            while self.pending:
                self.raw.write(self.pending.popleft().result())
            self.raw.write(isal_zlib.compressobj(self.level, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS).flush(
                isal_zlib.Z_FINISH))
            self.raw.write(struct.pack("<II", self.crc & 0xFFFFFFFF, self.size & 0xFFFFFFFF))
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _deflate_block(block: bytes, level: int) -> bytes:
    c = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS)
    return c.compress(block) + c.flush(isal_zlib.Z_SYNC_FLUSH)


class _Hashing:
    """A file reader that hashes what tarfile reads from it."""

    def __init__(self, fh) -> None:
        self.fh, self.sha, self.n = fh, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.sha.update(data)
        self.n += len(data)
        return data


def _add(tar: tarfile.TarFile, name: str, path: Path, *, hashed: bool = True) -> dict | None:
    """Add ``path`` as ``name``; its manifest entry (size and sha256 of what went in), unless ``hashed``
    is False (its entry is written already: a daily backup's manifest comes first)."""
    st = path.stat()
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o600
    with path.open("rb") as fh:
        if not hashed:
            tar.addfile(info, fh)
            return None
        reader = _Hashing(fh)
        tar.addfile(info, reader)
    return {"path": name, "size": reader.n, "sha256": reader.sha.hexdigest()}


def _home_files(home: Home) -> Iterator[tuple[str, Path]]:
    """Every file to back up but the state: its name inside the backup and its path, sorted."""
    for tree, root in _trees(home).items():
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    yield f"{tree}/{path.relative_to(root).as_posix()}", path


def _add_manifest(tar: tarfile.TarFile, fmt: str, home: Home, state_info: dict, files: list[dict]) -> None:
    manifest = {"format": fmt, "created_at": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
                "source_home": str(home.root), "state": state_info, "files": files}
    body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    info = tarfile.TarInfo(MANIFEST)
    info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
    tar.addfile(info, io.BytesIO(body))


def _into_store(home: Home, work: Path, store: Store, snap: Path,
                snap_sha: str) -> tuple[list[dict], list[tuple[str, Path]]]:
    """A daily backup's manifest entries and tar members: content-addressed files go to the store
    (copied when new), the state (``snap``, its SHA-256 ``snap_sha``) and the other files into the
    tar (copied into ``work`` first, so that what the manifest says is what the tar holds)."""
    files = [{"path": STATE_MEMBER, "size": snap.stat().st_size, "sha256": snap_sha}]
    members = [(STATE_MEMBER, snap)]
    for name, path in _home_files(home):
        claimed = content_sha(path.name)
        if claimed:
            size, sha = store.put(path, claimed)
            files.append({"path": name, "size": size, "sha256": sha, "store": True})
            continue
        copy = work / "small" / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        size, sha = copy_hashing(path, copy, sync=False)
        files.append({"path": name, "size": size, "sha256": sha})
        members.append((name, copy))
    store.sync()  # every stored file durable before a backup lists it
    return files, members


def _write(home: Home, dest: Path, store: Store | None = None) -> Summary:
    """A self-contained backup at ``dest``; with ``store`` (the daily backups) a tar of the state and
    the manifest whose content-addressed files are in ``store``."""
    t0 = time.perf_counter()
    dest = dest.expanduser().resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(dest.parent)
    partial = _partial_name(dest)
    work = dest.parent / f".{dest.name}.work.partial-{socket.gethostname()}-{os.getpid()}"
    work.mkdir(mode=0o700)
    try:
        snap = work / STATE_MEMBER
        # a daily backup's manifest comes first, with the state's hash; a whole one hashes as it tars
        state_info, snap_sha = _snapshot_state(home.state_db, snap, hashed=store is not None)
        with partial.open("wb") as raw:
            gz = _ParallelGzip(raw)
            try:
                # tarfile's own buffers are 10 and 16 KB: a 1 GB state went through 150,000 Python
                # calls. The bytes written are the same with any size (records of 10 KB all the same).
                with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_ParallelGzip.BLOCK,
                                  copybufsize=_ParallelGzip.BLOCK) as tar:
                    if store is None:
                        files = [_add(tar, name, path) for name, path in [(STATE_MEMBER, snap), *_home_files(home)]]
                        _add_manifest(tar, FORMAT, home, state_info, files)
                    else:  # the manifest first: pruning reads which stored files a backup needs cheaply
                        assert snap_sha is not None
                        files, members = _into_store(home, work, store, snap, snap_sha)
                        _add_manifest(tar, STORE_FORMAT, home, state_info, files)
                        for name, path in members:  # hashed for the manifest above: not again
                            _add(tar, name, path, hashed=False)
                gz.close()
            finally:
                gz.pool.shutdown(wait=True, cancel_futures=True)  # after a failure: no trailer, no threads left
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)  # people, password hashes, personal data: owner only
        os.replace(partial, dest)
        fsync_dir(dest.parent)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    stored = (store.copied_files, store.copied_bytes) if store else None
    return Summary(dest, len(files), dest.stat().st_size, time.perf_counter() - t0, state_info, stored,
                   len(store.damaged) if store else 0)


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
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if fmt not in (FORMAT, STORE_FORMAT):
        raise BackupError(f"备份文件没有有效的清单（no valid manifest, expected {FORMAT} or {STORE_FORMAT}）：{src}")
    files = manifest.get("files", [])
    listed = {f["path"]: f for f in files if not f.get("store")}
    stored = [f for f in files if f.get("store")]
    if len({f["path"] for f in files}) != len(files) or (stored and fmt != STORE_FORMAT):
        raise BackupError(f"备份文件没有有效的清单（no valid manifest）：{src}")
    if set(listed) != set(seen) or STATE_MEMBER not in seen:
        missing, extra = sorted(set(listed) - set(seen)), sorted(set(seen) - set(listed))
        raise BackupError(f"备份内容与清单不符（files differ from the manifest）：缺少 missing {missing}，"
                          f"多出 extra {extra}")
    for name, got in seen.items():
        want = listed[name]
        if got["size"] != want["size"] or got["sha256"] != want["sha256"]:
            raise BackupError(f"文件校验值不符（sha256 mismatch）：{name}")
    store = Store(src.parent)
    for f in stored:
        _from_store(store, f, staging, trees)
    return manifest


def _from_store(store: Store, want: dict, staging: Path, trees: set[str]) -> None:
    """Copy a file a daily backup lists from the store beside it into ``staging``, verified."""
    name = want["path"]
    rel = _member_target(name, trees)
    if rel.parts[0] not in trees or content_sha(str(want["sha256"])) != want["sha256"]:
        raise BackupError(f"备份清单中有无效条目（invalid manifest entry）：{name!r}")
    out = staging.joinpath(*rel.parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        got = store.fetch(want["sha256"], out)
    except OSError as exc:
        raise BackupError(f"备份文件库中的文件不可读（stored file unreadable）：{name}：{exc}") from exc
    if got is None:
        raise BackupError(f"备份文件库中缺少文件（file missing from the backup store {store.root}）：{name}")
    if got != (want["size"], want["sha256"]):
        raise BackupError(f"备份文件库中的文件已损坏（stored file fails its sha256）：{name}")


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
            fsync_dir(home.root)
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(staging)
    files = manifest["files"]
    return Summary(src, len(files), sum(f["size"] for f in files), time.perf_counter() - t0, manifest["state"])
