"""The file store beside the daily backups: every immutable upload and attachment kept once.

Uploads (``uploads/files/<sha[:2]>/<sha>.<ext>``) and rectification attachments
(``attachments/<sha[:2]>/<sha>``) never change once written and are named by their sha256. The
daily backups (``fundwatch.backup.backup_after_run``) keep their bytes here once,
``<backups>/files/<sha[:2]>/<sha>``, and list them in each backup's manifest; each daily tar holds
only the state snapshot and the few small files not named by their content. A day's backup copies
only the files the store lacks: its cost follows what arrived, not the years of uploads.

- A file enters the store through ``.<sha>.partial-<host>-<pid>``, hashed while copied, synced,
  then renamed to the sha256 its bytes really have: a name in the store is only ever a whole,
  verified copy (a copy killed half-way leaves a partial, removed by the next backup).
- A file already in the store with the same size is not read again, except by the scrub: each
  daily backup re-hashes the stored files of its day's slice (1/``SCRUB_DAYS`` of them, by sha256),
  so every stored file is re-read once every ``SCRUB_DAYS`` days and a damaged one is copied again
  from the home. ``restore`` verifies every file it takes from the store against the manifest
  before it replaces anything.
- Daily backups write and prune the store under an exclusive lock (``.lock``): a prune never
  removes a file a backup being written is about to list.
- Copies, not hard links: the backups folder may be another disk, and a backup must not share its
  bytes with the home it protects.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

DIR_NAME = "files"  # the store's folder inside the backups folder
STALE_PARTIAL_S = 6 * 3600
SCRUB_DAYS = 30  # every stored file is re-hashed once in this many daily backups
_CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def content_sha(name: str) -> str | None:
    """The sha256 a content-addressed file's name claims (``<sha>`` or ``<sha>.<ext>``), else None."""
    head = name.split(".", 1)[0]
    return head if _HEX64.match(head) else None


def copy_hashing(src: Path, dst: Path, sync: bool = True) -> tuple[int, str]:
    """Copy ``src`` to a new file ``dst`` (owner only), synced unless told; returns its size and sha256."""
    sha, n = hashlib.sha256(), 0
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with src.open("rb") as r, os.fdopen(fd, "wb", closefd=False) as w:
            while chunk := r.read(_CHUNK):
                sha.update(chunk)
                n += len(chunk)
                w.write(chunk)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return n, sha.hexdigest()


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_partials(folder: Path) -> list[Path]:
    """Leftovers of killed writers in ``folder``: their process is gone (this host) or they are old."""
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


class Store:
    """``<backups>/files``: file bytes by sha256, written once, read by restore."""

    def __init__(self, backups_dir: Path, scrub_day: int | None = None) -> None:
        self.root = Path(backups_dir) / DIR_NAME
        self.scrub_day = None if scrub_day is None else scrub_day % SCRUB_DAYS  # the slice re-hashed
        self.damaged: list[str] = []  # stored files the scrub found damaged (copied again when possible)
        self.copied_files = 0  # what this object copied in (the day's new files)
        self.copied_bytes = 0
        self._touched: set[Path] = set()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    @contextlib.contextmanager
    def locked(self) -> Iterator[Store]:
        """The store to one daily backup at a time (writing and pruning)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            remove_stale_partials(self.root)
            yield self
        finally:
            os.close(fd)  # releases the lock

    def put(self, src: Path, claimed: str) -> tuple[int, str]:
        """Size and sha256 of ``src``, whose name claims sha256 ``claimed``; copied in when the store
        lacks it. Call under :meth:`locked`, then :meth:`sync` before anything lists the file."""
        size = src.stat().st_size
        with contextlib.suppress(FileNotFoundError):
            if self.path(claimed).stat().st_size == size and self._sound(claimed):
                return size, claimed  # immutable and verified when it came in: not read again
        tmp = self.root / f".{claimed}.partial-{socket.gethostname()}-{os.getpid()}"
        try:
            size, sha = copy_hashing(src, tmp)
            target = self.path(sha)  # the bytes' own sha256, whatever the name claimed
            target.parent.mkdir(exist_ok=True, mode=0o700)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        self._touched.add(target.parent)
        self.copied_files += 1
        self.copied_bytes += size
        return size, sha

    def _sound(self, sha256: str) -> bool:
        """False for a stored file of the day's scrub slice whose bytes no longer hash to its name."""
        if self.scrub_day is None or int(sha256[:8], 16) % SCRUB_DAYS != self.scrub_day:
            return True
        with self.path(sha256).open("rb") as fh:
            if hashlib.file_digest(fh, "sha256").hexdigest() == sha256:
                return True
        self.damaged.append(sha256)
        return False

    def sync(self) -> None:
        """Make the renames of the files copied in durable."""
        for folder in sorted(self._touched):
            fsync_dir(folder)
        if self._touched:
            fsync_dir(self.root)
        self._touched.clear()

    def fetch(self, sha256: str, dest: Path) -> tuple[int, str] | None:
        """Copy the stored file into new file ``dest``; its size and sha256 as read, None when absent."""
        src = self.path(sha256)
        if not src.is_file():
            return None
        return copy_hashing(src, dest, sync=False)

    def remove_unreferenced(self, wanted: set[str]) -> list[Path]:
        """Delete stored files whose sha256 is not in ``wanted``; call under :meth:`locked`."""
        gone = []
        for shard in self.root.iterdir() if self.root.is_dir() else ():
            if not shard.is_dir() or shard.name.startswith("."):
                continue
            for p in shard.iterdir():
                if _HEX64.match(p.name) and p.name not in wanted:
                    p.unlink(missing_ok=True)
                    gone.append(p)
            with contextlib.suppress(OSError):
                shard.rmdir()  # only when empty
        return gone
