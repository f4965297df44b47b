"""Placing an accepted upload in the inbox, atomically, and the upload log.

Placement (``place``): the unit folder and sub-folders are opened one by one from the inbox with
``O_NOFOLLOW`` (a symlink anywhere on the way, or at the file itself, is refused); the bytes are
written to an anonymous file in the target folder (``O_TMPFILE``: it has no name, so a process
killed half-way leaves nothing in the inbox), fsynced, given a temporary ``~$`` name (an office
lock-file name, which the daily run skips) and renamed over the target with ``os.replace``; then
the folder is fsynced. Where ``O_TMPFILE`` is not supported the temporary file is named from the
start and removed on any error. The same path again is a corrected version (the daily run's rule).

Concurrency: everything from reading the previous version to writing the log happens under an
exclusive ``flock`` on a lock file of that path (``HOME/uploads/locks/``, outside the inbox), so two
uploads of the same name at once leave one whole file and two log rows in the order they happened.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fundwatch import scope, state
from fundwatch.paths import Home
from fundwatch.uploads.guard import UploadRefused
from fundwatch.uploads.report import Report

FILE_MODE = 0o644
TEMP_SUFFIX = ".uploading"


@dataclass(frozen=True)
class Upload:
    """One row of the upload log."""

    id: int
    uploaded_at: str
    username: str
    unit_code: str
    file_name: str
    inbox_path: str | None
    sha256: str
    size_bytes: int
    file_type: str | None
    status: str
    placed: bool
    replaced_sha256: str | None
    report: Report

    @property
    def kind(self) -> str | None:
        return self.report.kind


# ---------------------------------------------------------------- the bytes as sent
def kept_path(home: Home, sha256: str, file_type: str | None) -> Path:
    """Where the bytes of an upload are kept (never served directly)."""
    return home.uploads_dir / "files" / sha256[:2] / f"{sha256}.{file_type or 'bin'}"


def keep(home: Home, data: bytes, sha256: str, file_type: str | None) -> Path:
    """Keep the uploaded bytes, content-addressed (the same bytes are kept once)."""
    path = kept_path(home, sha256, file_type)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- the inbox
@contextlib.contextmanager
def path_lock(home: Home, rel: PurePosixPath) -> Iterator[None]:
    """Exclusive lock of one inbox path, across threads and processes (flock)."""
    locks = home.uploads_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = hashlib.sha256(rel.as_posix().encode()).hexdigest()[:32]
    fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _open_folder(inbox: Path, parts: tuple[str, ...]) -> int:
    """A descriptor of inbox/parts..., creating folders, never following a symlink."""
    inbox.mkdir(parents=True, exist_ok=True)
    fd = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UploadRefused(f"收件箱中的“{part}”是符号链接或不是文件夹，不能写入；"
                                        "请联系系统管理员") from None
                raise
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _current_sha(dfd: int, name: str) -> str | None:
    """SHA-256 of the file now at ``name`` in the folder, None if there is none."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UploadRefused(f"收件箱中的“{name}”是符号链接，不能覆盖；请联系系统管理员") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        if not os.path.isfile(f"/proc/self/fd/{fh.fileno()}"):
            raise UploadRefused(f"收件箱中的“{name}”不是普通文件，不能覆盖；请联系系统管理员")
        return hashlib.file_digest(fh, "sha256").hexdigest()


def place(inbox: Path, rel: PurePosixPath, data: bytes) -> str | None:
    """Put ``data`` at ``inbox/rel`` atomically; return the SHA-256 of the version it replaced.

    Call under ``path_lock``. Nothing is written when the same bytes are already there.
    """
    dfd = _open_folder(inbox, rel.parts[:-1])
    name = rel.name
    try:
        previous = _current_sha(dfd, name)
        if previous == hashlib.sha256(data).hexdigest():
            return previous
        temp = f"~${name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
        named = False
        try:
            try:
                fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, FILE_MODE, dir_fd=dfd)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                    raise
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE, dir_fd=dfd)
                named = True
            try:
                _write_all(fd, data)
                os.fsync(fd)
                if not named:  # give the complete anonymous file its temporary name
                    os.link(f"/proc/self/fd/{fd}", temp, dst_dir_fd=dfd, follow_symlinks=True)
                    named = True
            finally:
                os.close(fd)
            os.replace(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            named = False
            os.fsync(dfd)
        finally:
            if named:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=dfd)
        return previous
    finally:
        os.close(dfd)


# ---------------------------------------------------------------- the log
def log_upload(conn: sqlite3.Connection, *, username: str, unit_code: str, file_name: str,
               inbox_path: str | None, sha256: str, size_bytes: int, file_type: str | None, report: Report,
               placed: bool, replaced_sha256: str | None) -> int:
    """Append one upload to the log, inside the caller's transaction; returns its id."""
    cur = conn.execute(
        """INSERT INTO uploads (uploaded_at, username, unit_code, file_name, inbox_path, sha256, size_bytes,
            file_type, kind, status, placed, replaced_sha256, reason, rows_read, rows_loaded, rows_rejected,
            total_mismatches, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (state.now_shanghai(), username, unit_code, file_name, inbox_path, sha256, size_bytes, file_type,
         report.kind, report.status, int(placed), replaced_sha256, report.reason, report.rows_read,
         report.rows_loaded, len(report.rows_rejected), len(report.total_mismatches),
         json.dumps(report.to_json(), ensure_ascii=False)))
    return int(cur.lastrowid)  # type: ignore[arg-type]


def _row(r: sqlite3.Row) -> Upload:
    return Upload(id=r["id"], uploaded_at=r["uploaded_at"], username=r["username"], unit_code=r["unit_code"],
                  file_name=r["file_name"], inbox_path=r["inbox_path"], sha256=r["sha256"],
                  size_bytes=r["size_bytes"], file_type=r["file_type"], status=r["status"],
                  placed=bool(r["placed"]), replaced_sha256=r["replaced_sha256"],
                  report=Report.from_json(json.loads(r["report"])))


def get(conn: sqlite3.Connection, upload_id: int, viewer_unit: str) -> Upload | None:
    """One upload if it is in the viewer's scope, else None (the caller answers 404)."""
    cond, params = scope.sql_filter(viewer_unit)
    r = conn.execute(f"SELECT * FROM uploads WHERE id = ? AND {cond}", (upload_id, *params)).fetchone()
    return _row(r) if r else None


def history(conn: sqlite3.Connection, viewer_unit: str, limit: int = 200) -> list[Upload]:
    """The latest uploads in the viewer's scope, newest first."""
    cond, params = scope.sql_filter(viewer_unit)
    rows = conn.execute(f"SELECT * FROM uploads WHERE {cond} ORDER BY id DESC LIMIT ?", (*params, limit))
    return [_row(r) for r in rows]


def same_bytes_elsewhere(conn: sqlite3.Connection, unit_code: str, sha256: str, inbox_path: str) -> str | None:
    """Another inbox path of the same unit where an upload placed these exact bytes, if any."""
    r = conn.execute("SELECT inbox_path FROM uploads WHERE unit_code = ? AND sha256 = ? AND placed = 1 "
                     "AND inbox_path <> ? ORDER BY id LIMIT 1", (unit_code, sha256, inbox_path)).fetchone()
    return r[0] if r else None
