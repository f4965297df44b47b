"""Record one inbox entry in ``raw_history``: the file version and, for new bytes, its parsed rows,
rejected rows and 合计 values, in **one DuckDB transaction**. Used by the daily load
(:func:`ingestion.load_inbox`) and by the single-file check (:func:`ingestion.check_file`) alike.

Whatever happens while one file is read, the entry ends in one of these states (never an
exception for the caller): loaded; rejected with the Chinese reason (the file's content, or the
entry itself: a link out of the inbox, a name that is not UTF-8 ...); skipped with a reason (a
lock file; a new file that vanished or changed while read, tried again next run); or left as it
was (a path whose earlier version stays in force when it cannot be read this time).

An unexpected error while reading (a bug, not the file's fault) rejects the entry with the error
named and without recording its bytes as known, so the next run reads the file again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion import csv_duckdb, xlsx_bulk
from ingestion.csv_reader import iter_csv
from ingestion.inbox import Entry, os_error_reason
from ingestion.kinds import Kind, VType
from ingestion.parse import Header, ParseStats, Rejected, parse_rows
from ingestion.readers import FileChanged, FileRejected, FileScan, Limits, Row, scan_file
from ingestion.xlsx_reader import iter_xlsx, open_xlsx

BATCH_ROWS = 50_000
PROGRESS_EVERY = 200_000


class _Shared:
    """What the threads recording entries of one run at once share (``load_inbox`` records two at a
    time, each on its own cursor: its own transaction)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parsing: dict[str, threading.Event] = {}  # contents being parsed by a thread, by sha256
        self.rebuild_marked = False


@dataclass
class RunContext:
    """What recording an entry needs to know about the run and the warehouse. Copies for other threads
    (``dataclasses.replace`` with another ``con``) share everything else."""

    con: duckdb.DuckDBPyConnection
    run_seq: int
    run: tuple[str, datetime]  # (load_run_id, loaded_at)
    limits: Limits
    progress: Callable[[str], None] | None = None
    known: set[str] = field(default_factory=set)  # contents already parsed (sha256)
    path_state: dict[str, str] = field(default_factory=dict)  # path -> sha256 of its version in force
    path_stat: dict[str, tuple] = field(default_factory=dict)  # path -> raw_history.path_stat row
    shared: _Shared = field(default_factory=_Shared)

    def claim(self, sha: str) -> bool:
        """Whether this thread is to parse the content ``sha`` (then :meth:`release` it); False once it
        is known, after waiting for another thread that is parsing it."""
        while True:
            with self.shared.lock:
                if sha in self.known:
                    return False
                busy = self.shared.parsing.get(sha)
                if busy is None:
                    self.shared.parsing[sha] = threading.Event()
                    return True
            busy.wait()

    def release(self, sha: str) -> None:
        with self.shared.lock:
            self.shared.parsing.pop(sha).set()

    def mark_rebuild(self) -> None:
        """raw_history.state.needs_rebuild set (committed) before this run's first file version is
        written: a run killed after that is completed by the next one. Once per run, in a transaction of
        its own (two file transactions updating that row at once would conflict)."""
        with self.shared.lock:
            if not self.shared.rebuild_marked:
                self.con.execute("UPDATE raw_history.state SET needs_rebuild = true")
                self.shared.rebuild_marked = True


# A file whose os.stat is what it was when its version in force was read has not changed: any write
# moves its mtime and ctime, and nobody can set a ctime. Only a stat taken when the file's last change
# was at least this long ago is trusted (a clock that counts whole seconds could hide a second write
# in the same second).
_SETTLED_NS = 2_000_000_000


def _stat_key(path: Path) -> tuple[int, int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def unchanged_on_disk(ctx: RunContext, e: Entry) -> bool:
    """Whether the file at this path still looks exactly as when its version in force was read."""
    seen = ctx.path_stat.get(e.rel)
    if e.path is None or seen is None or seen[0] != ctx.path_state.get(e.rel):
        return False
    key = _stat_key(e.path)
    return key is not None and key == tuple(seen[1:6]) and seen[6] - key[1] >= _SETTLED_NS


def _replace(con: duckdb.DuckDBPyConnection, table: str, row: list) -> None:
    """The row of this path (the table's key) in place of any other: a DELETE and an INSERT cost DuckDB
    about half of an INSERT OR REPLACE (some 1.9 ms CPU against 3.6 with its commit)."""
    con.execute(f"DELETE FROM raw_history.{table} WHERE source_file = ?", [row[0]])
    con.execute(f"INSERT INTO raw_history.{table} VALUES ({', '.join('?' * len(row))})", row)


def _remember_stat(ctx: RunContext, e: Entry, sha: str, key: tuple | None, seen_ns: int) -> None:
    if key is None or e.path is None:
        return
    row = (sha, *key, seen_ns)
    _replace(ctx.con, "path_stat", [e.rel, *row])
    ctx.path_stat[e.rel] = row


def open_rows(path: Path, rel: str, scan: FileScan, limits: Limits) -> Iterator[Row]:
    """The rows of one file, by its extension; raises :class:`FileRejected` with the reason."""
    if scan.size == 0:
        raise FileRejected("文件是空的（0 字节），没有任何内容；请确认导出或复制是否完整后重新报送")
    if rel.lower().endswith(".csv"):
        return iter_csv(path, scan, limits)
    return iter_xlsx(path, scan, limits)


# How a batch of rows travels to DuckDB: from ARROW_ROWS rows on as an Arrow table (some 2 µs a row),
# a smaller one as one list parameter per column, unnested (some 7 µs a row, but a process's first
# pyarrow array imports pandas, some 0.3 s: the rows xlsx_bulk leaves to Python are usually few).
# Money goes as the text of its Decimal in a list (exact; no float on the way).
ARROW_ROWS = 10_000
_LIST_TYPE = {VType.DATE: "DATE[]", VType.INT: "INTEGER[]"}


def _arrow_type(vtype: VType) -> pa.DataType:
    return {VType.DATE: pa.date32(), VType.MONEY: pa.decimal128(18, 2), VType.INT: pa.int32()}.get(
        vtype, pa.string())


def _unnest(vtype: VType) -> str:
    if vtype is VType.MONEY:
        return "CAST(unnest(?::VARCHAR[]) AS DECIMAL(18, 2))"
    return f"unnest(?::{_LIST_TYPE.get(vtype, 'VARCHAR[]')})"


class _RowSink:
    """Buffers parsed rows and writes them to raw_history in batches (BATCH_ROWS at most)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, kind: Kind, sha: str, rel: str,
                 progress: Callable[[str], None] | None) -> None:
        self.con, self.kind, self.sha, self.rel, self.progress = con, kind, sha, rel, progress
        self.rows: list[int] = []
        self.values: list[tuple] = []
        self.rejects: list[Rejected] = []
        self.count = 0
        self.written = 0  # rows written to the table by SQL (csv_duckdb, xlsx_bulk), not yet counted
        self.table = f"raw_history.rows_{kind.table}"
        self.insert = (f"INSERT INTO {self.table} SELECT ?, unnest(?::INTEGER[]), "
                       + ", ".join(_unnest(c.vtype) for c in kind.columns))
        self.money = [i for i, c in enumerate(kind.columns) if c.vtype is VType.MONEY]
        self.schema = pa.schema(
            [("file_sha256", pa.string()), ("source_row", pa.int32())]
            + [(c.name, _arrow_type(c.vtype)) for c in kind.columns])

    def valid(self, row_no: int, values: tuple) -> None:
        self.rows.append(row_no)
        self.values.append(values)
        if len(self.values) >= BATCH_ROWS:
            self.flush()

    def rejected(self, rej: Rejected) -> None:
        self.rejects.append(rej)
        if len(self.rejects) >= BATCH_ROWS:
            self.flush()

    def wrote(self, n: int) -> None:
        """``n`` rows were written to the table by SQL; counted at the next flush."""
        self.written += n

    def flush(self) -> None:
        before = self.count
        if len(self.values) >= ARROW_ROWS:
            cols = list(zip(*self.values, strict=True))
            arrays = [pa.array([self.sha] * len(self.rows), pa.string()), pa.array(self.rows, pa.int32())]
            arrays += [pa.array(col, self.schema.field(i + 2).type) for i, col in enumerate(cols)]
            batch = pa.Table.from_arrays(arrays, schema=self.schema)  # noqa: F841 (read by DuckDB)
            self.con.execute(f"INSERT INTO {self.table} SELECT * FROM batch")
        elif self.values:
            lists = [list(col) for col in zip(*self.values, strict=True)]
            for i in self.money:
                lists[i] = [None if v is None else str(v) for v in lists[i]]
            self.con.execute(self.insert, [self.sha, self.rows, *lists])
        if self.values:
            self.count += len(self.rows)
            self.rows, self.values = [], []
        self.count, self.written = self.count + self.written, 0
        if self.progress and self.count // PROGRESS_EVERY > before // PROGRESS_EVERY:
            self.progress(f"    {self.rel}: 已读 {self.count:,} 行 / {self.count:,} rows read")
        if self.rejects:
            self.con.execute(
                "INSERT INTO raw_history.row_rejects (file_sha256, source_row, kind, reason, raw_values, column_name) "
                "SELECT ?, unnest(?::INTEGER[]), ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                [self.sha, [r.source_row for r in self.rejects], self.kind.table, [r.reason for r in self.rejects],
                 [r.raw_values for r in self.rejects], [r.column_name for r in self.rejects]])
            self.rejects = []


def _parse_file(ctx: RunContext, entry: Entry, scan: FileScan, fast: csv_duckdb.Prepared | None) -> None:
    """Parse one new content into raw_history (inside the caller's transaction): a CSV that DuckDB
    has read (``fast``, :mod:`ingestion.csv_duckdb`) is written from there, an xlsx through
    :mod:`ingestion.xlsx_bulk`, any other CSV through the Python reader."""
    assert entry.path is not None
    con = ctx.con
    sinks: list[_RowSink] = []

    def on_header(header: Header) -> None:
        sinks.append(_RowSink(con, header.kind, scan.sha256, entry.rel, ctx.progress))

    def valid(n: int, v: tuple) -> None:
        sinks[0].valid(n, v)

    def rejected(r: Rejected) -> None:
        sinks[0].rejected(r)

    def wrote(n: int) -> None:
        sinks[0].wrote(n)
        sinks[0].flush()

    is_csv = entry.rel.lower().endswith(".csv")
    try:
        if fast is not None:
            header, stats = fast.write(scan.sha256, on_header, valid, rejected, wrote, lambda: sinks[0].table)
        elif is_csv or scan.size == 0:
            header, stats = parse_rows(open_rows(entry.path, entry.rel, scan, ctx.limits), on_header, valid,
                                       rejected, csv=is_csv)
        else:
            header, stats = xlsx_bulk.write(con, open_xlsx(entry.path, scan, ctx.limits), scan.sha256, on_header,
                                              valid, rejected, wrote, lambda: sinks[0].table)
    except FileRejected as exc:
        exc.kind = sinks[0].kind.table if sinks else None  # type: ignore[attr-defined]
        raise
    sinks[0].flush()
    _record_content(con, scan.sha256, header.kind.table, "loaded", None, header.row, stats, ctx.run)
    if stats.totals:
        con.executemany("INSERT INTO raw_history.total_checks VALUES (?, ?, ?, ?, ?)",
                        [(scan.sha256, t.source_row, t.column_name, t.stated_total, t.computed_total)
                         for t in stats.totals])


def _record_content(con: duckdb.DuckDBPyConnection, sha: str, kind: str | None, status: str,
                    reason: str | None, header_row: int | None, stats: ParseStats | None,
                    run: tuple[str, datetime]) -> None:
    s = stats or ParseStats()
    con.execute("INSERT INTO raw_history.contents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sha, kind, status, reason, header_row, s.data_rows, s.rows_valid, s.rows_rejected, *run])


def _record_version(ctx: RunContext, e: Entry, sha: str, size: int | None) -> None:
    ctx.con.execute("""INSERT INTO raw_history.file_versions (source_file, file_sha256, size_bytes, entry_reason,
            run_seq, load_run_id, loaded_at, entry_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (source_file, file_sha256) DO UPDATE SET run_seq = excluded.run_seq,
            load_run_id = excluded.load_run_id, loaded_at = excluded.loaded_at,
            entry_reason = excluded.entry_reason, entry_status = excluded.entry_status""",
                    [e.rel, sha, size, e.reason, ctx.run_seq, *ctx.run, e.status])
    _replace(ctx.con, "path_state", [e.rel, sha])
    ctx.path_state[e.rel] = sha


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if there is one."""
    try:
        con.rollback()
    except duckdb.Error:
        pass  # no transaction was active


def _write(ctx: RunContext, fn: Callable[[], None], *, version: bool = True) -> None:
    """``fn`` in one transaction; ``version``: it records a file version (the raw layer needs a rebuild)."""
    if version:
        ctx.mark_rebuild()
    ctx.con.begin()
    try:
        fn()
        ctx.con.commit()
    except BaseException:
        rollback(ctx.con)
        raise


def record_entry(ctx: RunContext, e: Entry) -> tuple[str, str]:
    """Record one entry; returns (outcome, Chinese/English message) where outcome is
    ``unchanged`` | ``recorded`` | ``left`` (nothing recorded; the path's version in force stays)."""
    prior = ctx.path_state.get(e.rel)
    if e.status is None and prior and unchanged_on_disk(ctx, e):
        return "unchanged", ""
    scan = None
    key, seen_ns = (_stat_key(e.path), time.time_ns()) if e.path is not None else (None, 0)
    if e.path is not None:
        try:
            scan = scan_file(e.path)
        except OSError as exc:
            if prior is not None:
                return "left", f"本次无法读取，已载入的版本继续有效 / kept earlier version: {os_error_reason(exc)}"
            e = e.refused(os_error_reason(exc), "skipped" if isinstance(exc, FileNotFoundError) else "rejected")
    sha = scan.sha256 if scan else ""
    if prior == sha:
        if sha and key is not None and ctx.path_stat.get(e.rel, ())[:6] != (sha, *key):
            _write(ctx, lambda: _remember_stat(ctx, e, sha, key, seen_ns), version=False)
        return "unchanged", ""
    size = scan.size if scan else None
    if e.status is not None:
        _write(ctx, lambda: _record_version(ctx, e, sha, size))
        return "recorded", f"{'跳过 / skipped' if e.status == 'skipped' else '拒收 / rejected'}: {e.reason}"
    if not ctx.claim(sha):
        _write(ctx, lambda: (_record_version(ctx, e, sha, size), _remember_stat(ctx, e, sha, key, seen_ns)))
        return "recorded", "内容已载入过 / same bytes seen before"
    try:
        return _parse_entry(ctx, e, scan, prior, key, seen_ns)
    finally:
        ctx.release(sha)


def _parse_entry(ctx: RunContext, e: Entry, scan: FileScan | None, prior: str | None, key: tuple | None,
                 seen_ns: int) -> tuple[str, str]:
    assert scan is not None and e.path is not None
    sha, size = scan.sha256, scan.size
    fast = None
    try:
        if e.rel.lower().endswith(".csv"):  # read by DuckDB before the transaction (ingestion.csv_duckdb)
            fast = csv_duckdb.prepare(ctx.con, e.path, scan, ctx.limits)  # type: ignore[arg-type]
        _write(ctx, lambda: (_record_version(ctx, e, sha, size), _parse_file(ctx, e, scan, fast),
                             _remember_stat(ctx, e, sha, key, seen_ns)))
    except FileChanged:
        if prior is not None:
            ctx.path_state[e.rel] = prior
            return "left", "读取中文件被修改，下次运行再载入 / changed while read, kept earlier version"
        e = e.refused("读取时文件正在被修改（可能仍在复制中），本次跳过，下次运行再载入", "skipped")
        _write(ctx, lambda: _record_version(ctx, e, "", None))
        return "recorded", f"跳过 / skipped: {e.reason}"
    except FileRejected as exc:
        kind, reason = getattr(exc, "kind", None), str(exc)
        _write(ctx, lambda: _reject_content(ctx, e, sha, size, kind, reason))
        return "recorded", f"拒收 / rejected: {reason}"
    except Exception as exc:  # noqa: BLE001 - one broken file must not stop the load; reason recorded
        e = e.refused(f"读取时程序出错（{type(exc).__name__}: {str(exc)[:200]}），未载入；请联系系统管理员"
                      "（下次运行会重新读取）")
        _write(ctx, lambda: _record_version(ctx, e, "", size))
        return "recorded", f"拒收 / rejected: {e.reason}"
    finally:
        if fast is not None:
            fast.close()
    ctx.known.add(sha)
    return "recorded", "已读取 / parsed"


def _reject_content(ctx: RunContext, e: Entry, sha: str, size: int | None, kind: str | None,
                    reason: str) -> None:
    _record_version(ctx, e, sha, size)
    ctx.con.execute("DELETE FROM raw_history.contents WHERE file_sha256 = ?", [sha])
    _record_content(ctx.con, sha, kind, "rejected", reason, None, None, ctx.run)
    ctx.known.add(sha)
