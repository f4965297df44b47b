"""Receiving one upload: guard, keep, check, place, log (the flow of ``fundwatch.uploads``)."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from fundwatch import state
from fundwatch.paths import Home
from fundwatch.uploads import guard, store
from fundwatch.uploads.report import LOADED, Report, check, refused
from fundwatch.uploads.store import Upload


def receive(home: Home, *, username: str, unit_code: str, data: bytes, filename: str,
            path: str | None = None) -> Upload:
    """Check one upload of ``unit_code``'s clerk, place it in the inbox if it loads, log it."""
    sha = hashlib.sha256(data).hexdigest()
    rel: PurePosixPath | None = None
    file_type: str | None = None
    try:
        rel = guard.target_path(unit_code, filename, path)
        file_type = guard.content_type(data, rel.name)
    except guard.UploadRefused as exc:
        report = refused(str(exc))
    else:
        report = check(store.keep(home, data, sha, file_type), rel.as_posix())
    if len(data) <= guard.MAX_BYTES and file_type is None:
        store.keep(home, data, sha, None)  # refused bytes are kept too, for the record
    conn = state.connect(home.state_db)
    try:
        if rel is None or report.status != LOADED:
            with state.transaction(conn):
                uid = _log(conn, username, unit_code, filename, rel, sha, data, file_type, report, False, None)
            return store.get(conn, uid, unit_code)  # type: ignore[return-value]
        with store.path_lock(home, rel):
            try:
                # The log's write lock is taken before the file is placed: when the state is busy
                # (the daily run commits) nothing is placed; once placed, the log row commits with it.
                with state.transaction(conn):
                    previous = store.place(home.inbox, rel, data)
                    report = report.with_notes(*_notes(conn, unit_code, rel, sha, previous))
                    uid = _log(conn, username, unit_code, filename, rel, sha, data, file_type, report, True,
                               previous if previous != sha else None)
            except guard.UploadRefused as exc:  # a symlink or a non-folder on the way: nothing placed
                with state.transaction(conn):
                    uid = _log(conn, username, unit_code, filename, rel, sha, data, file_type, refused(str(exc)),
                               False, None)
        return store.get(conn, uid, unit_code)  # type: ignore[return-value]
    finally:
        conn.close()


def _notes(conn, unit_code: str, rel: PurePosixPath, sha: str, previous: str | None) -> list[str]:
    notes = [f"文件已放入收件箱“{rel.as_posix()}”，将由下一次每日运行载入"]
    if previous == sha:
        notes = [f"与收件箱中“{rel.as_posix()}”的现有版本完全相同，未作改动"]
    elif previous:
        notes.append("同一路径已有文件：本次为更正版本，将取代原版本带来的全部记录（原版本保留在历史中）")
    other = store.same_bytes_elsewhere(conn, unit_code, sha, rel.as_posix())
    if other:
        notes.append(f"与本单位已报送的“{other}”内容完全相同，每日运行只载入一次")
    return notes


def _log(conn, username: str, unit_code: str, filename: str, rel: PurePosixPath | None, sha: str, data: bytes,
         file_type: str | None, report: Report, placed: bool, replaced: str | None) -> int:
    return store.log_upload(conn, username=username, unit_code=unit_code, file_name=filename[:255],
                            inbox_path=rel.as_posix() if rel else None, sha256=sha, size_bytes=len(data),
                            file_type=file_type, report=report, placed=placed, replaced_sha256=replaced)
