"""Load an inbox into the warehouse's raw layer (ARCHITECTURE.md "Raw layer").

How it works:

1. Walk the inbox (``ingestion.inbox``: never following anything out of it; every entry becomes
   one to read or one with its reason).
2. Each *new* entry version (a path whose bytes the warehouse has not seen at that path) is
   recorded in ``raw_history`` in **one DuckDB transaction per file** (``ingestion.history``, the
   same code :func:`ingestion.check_file` runs): the version, and — unless the same bytes were
   parsed before — its parsed rows, rejected rows and 合计 values, keyed by the file's SHA-256.
   Two files are recorded at once (``WORKERS`` threads, each on its own cursor), so that one file's
   DuckDB work runs beside the other's; the outcomes are reported in the inbox's order. A kill -9
   loses at most the files being read; the next run redoes them.
3. The effective ``raw.*`` tables are rebuilt from ``raw_history`` in **one transaction**
   (``ingestion.rebuild``). A flag in ``raw_history.state`` makes the next run finish a rebuild a
   killed run did not commit.

Decisions (决定及理由):

- 收件箱中已载入、后来又不见了的文件：其记录保留（收件箱可能被归档清理，历史不能因此丢失）。
  没有读到内容的条目（链接、坏文件名、锁定文件等）例外：不在收件箱中了，其记录随之删除。
- 已载入过的路径本次读不到（被移走、没有权限、读取中被修改）：保留已载入的版本，下次再读。
- 文件的 os.stat（大小、修改时间、inode 变更时间、inode）与上次读取时完全相同、且上次读取时它已有 2 秒
  以上未被改动的，不再重新读取计算哈希（任何写入都会改变修改时间和 inode 变更时间，后者无法人为设回）；
  这样每天的耗时取决于新到的文件，而不是收件箱的全部历史。
- 不是 .xlsx/.csv 的文件（含 .xls、隐藏文件）：按规范整个拒收，写明原因。
- raw.files 中 rows_loaded / rows_rejected 是该文件在当前 raw 表 / raw.rejected_rows 中的行数；
  与其他文件完全相同而未重复载入的行两边都不计。被取代（superseded）和重复（duplicate）的版本记 0。
- 键冲突（同一键、不同内容）的各行都不载入，作为拒收行报出，理由写明另一处的文件和行号以及不同
  的列；个人信息列（姓名、身份证号、账号）只写列名不写值。
- 合计行核对使用“已载入的行”：通过行级检查、且不是键冲突任何一处的行（同键同值的重复行照算）。
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from ingestion.history import RunContext, record_entry, rollback
from ingestion.inbox import Entry, walk_inbox
from ingestion.readers import Limits
from ingestion.rebuild import rebuild
from ingestion.schema import ensure_schema

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUCKDB_MEMORY_LIMIT = "512MB"
CHECKPOINT_THRESHOLD = "4GB"  # keeps a 1 GB CSV load well under 2 GB peak (Python + DuckDB)
# Entries recorded at once, each by a thread on its own cursor (its own transaction): one file's
# DuckDB work (which runs a file of 80,000 lines on one core) beside the other's, or beside Python.
WORKERS = 2
# DuckDB writes the rows a transaction appends straight into the database file, compressed, only by
# whole row groups (122,880 rows by default); a file of fewer rows goes into the WAL and is written a
# second time at the checkpoint. A load of an inbox whose files are on average smaller than
# SMALL_FILES_BYTES (about a row group of a payments CSV) writes row groups of SMALL_ROW_GROUP rows,
# so that most of a file's rows skip the WAL: at 1M payments (files of 35,000-75,000 rows) the load
# 7.1 -> 5.1 s. Bigger files, whose rows skip the WAL anyway, keep the default: at 10M dbt's models
# built in groups of 16,384 rows took 108 s against 101 s (README, Measurements).
# The size the load chose is recorded in the warehouse (raw_history.storage) and every later writer
# (dbt's build: fundwatch.dbt_cli; fundwatch.warehouse) attaches it with the same: any checkpoint of a
# connection of DuckDB's default size merges the small row groups of every table, changed or not
# (1.2 s at 1M, in dbt's build), and dbt's own tables of a small inbox build faster in small groups.
SMALL_ROW_GROUP = 16_384
SMALL_FILES_BYTES = 16 << 20
DEFAULT_ROW_GROUP = 122_880  # DuckDB's


@dataclass(frozen=True)
class LoadReport:
    """What one load run did (counts are of file versions first seen in this run)."""

    files_seen: int
    files_loaded: int
    files_rejected: int
    files_duplicate: int
    files_unchanged: int
    rows_loaded: int
    rows_rejected: int
    seconds: float
    files_skipped: int = 0

    def summary_zh(self) -> str:
        """One Chinese line for logs and the CLI."""
        return (f"载入完成：收件箱共 {self.files_seen} 个文件，新载入 {self.files_loaded} 个，"
                f"拒收 {self.files_rejected} 个，重复 {self.files_duplicate} 个，跳过 {self.files_skipped} 个，"
                f"未变化 {self.files_unchanged} 个；"
                f"载入 {self.rows_loaded} 行，拒收 {self.rows_rejected} 行；用时 {self.seconds:.1f} 秒")


def wall_time(loaded_at: datetime | None) -> datetime:
    """Asia/Shanghai wall time (naive) of ``loaded_at``; None means now."""
    if loaded_at is None:
        return datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)
    if loaded_at.tzinfo is not None:
        return loaded_at.astimezone(SHANGHAI).replace(tzinfo=None)
    return loaded_at


def start_run(con: duckdb.DuckDBPyConnection, run: tuple[str, datetime], limits: Limits,
              progress: Callable[[str], None] | None) -> RunContext:
    """Create the schema if missing, register the run and read what the warehouse already holds."""
    ensure_schema(con)
    con.begin()
    run_seq = con.execute("SELECT coalesce(max(run_seq), 0) + 1 FROM raw_history.runs").fetchone()[0]  # type: ignore[index]
    con.execute("INSERT INTO raw_history.runs VALUES (?, ?, ?)", [run_seq, *run])
    con.commit()
    return RunContext(
        con, run_seq, run, limits, progress,
        known={r[0] for r in con.execute("SELECT file_sha256 FROM raw_history.contents").fetchall()},
        path_state=dict(con.execute("SELECT source_file, file_sha256 FROM raw_history.path_state").fetchall()),
        path_stat={r[0]: tuple(r[1:]) for r in con.execute("SELECT * FROM raw_history.path_stat").fetchall()})


def finish_run(con: duckdb.DuckDBPyConnection, say: Callable[[str], None]) -> None:
    """Rebuild the effective raw layer if anything changed (or a killed run left it unfinished)."""
    if con.execute("SELECT needs_rebuild FROM raw_history.state").fetchone()[0]:  # type: ignore[index]
        say("重建 raw 层 / rebuilding the raw layer")
        con.begin()
        rebuild(con)
        con.commit()


def _forget_gone(ctx: RunContext, present: set[str]) -> None:
    """Entries never read (sha256 '') count only while they are in the inbox; a renamed file or a
    removed link takes its record with it. Non-current unread versions go too."""
    gone = [p for p, sha in ctx.path_state.items() if sha == "" and p not in present]
    con = ctx.con
    stale = con.execute("""SELECT count(*) FROM raw_history.file_versions v WHERE v.file_sha256 = ''
        AND NOT EXISTS (SELECT 1 FROM raw_history.path_state p
                        WHERE p.source_file = v.source_file AND p.file_sha256 = '')""").fetchone()[0]  # type: ignore[index]
    if not gone and not stale:
        return
    con.begin()
    if gone:
        con.executemany("DELETE FROM raw_history.path_state WHERE source_file = ?", [[p] for p in gone])
    con.execute("""DELETE FROM raw_history.file_versions v WHERE v.file_sha256 = ''
        AND NOT EXISTS (SELECT 1 FROM raw_history.path_state p
                        WHERE p.source_file = v.source_file AND p.file_sha256 = '')""")
    con.execute("UPDATE raw_history.state SET needs_rebuild = true")
    con.commit()
    for p in gone:
        del ctx.path_state[p]


def _record(ctx: RunContext, e: Entry) -> tuple[str, str]:
    try:
        return record_entry(ctx, e)
    except Exception as exc:  # noqa: BLE001 - recording one entry failed: say so, load the rest
        rollback(ctx.con)
        return "left", f"无法记录，下次运行重试 / could not be recorded: {type(exc).__name__}: {exc}"


def row_group_size(entries: list[Entry]) -> int | None:
    """``SMALL_ROW_GROUP`` when the inbox's files (those not refused outright, loaded before or not: the
    inbox's usual size of file) are on average under ``SMALL_FILES_BYTES``, else None (DuckDB's default)."""
    sizes = []
    for e in entries:
        if e.path is not None and e.status is None:
            with contextlib.suppress(OSError):
                sizes.append(e.path.stat().st_size)
    return SMALL_ROW_GROUP if sizes and sum(sizes) < SMALL_FILES_BYTES * len(sizes) else None


def recorded_row_group_size(con: duckdb.DuckDBPyConnection) -> int | None:
    """The rows per row group the last load into the connection's warehouse wrote (raw_history.storage)
    when not DuckDB's default, else None (a warehouse loaded before the record)."""
    known = con.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = 'raw_history' "
                        "AND table_name = 'storage'").fetchone()
    row = con.execute("SELECT max(row_group_size) FROM raw_history.storage").fetchone() if known else None
    return row[0] if row and row[0] and row[0] != DEFAULT_ROW_GROUP else None


def warehouse_row_group_size(warehouse: Path) -> int | None:
    """``recorded_row_group_size`` of the warehouse file (None when there is none yet)."""
    if not Path(warehouse).exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return recorded_row_group_size(con)


def connect(warehouse: Path, rows_per_group: int | None) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is ``warehouse`` (named as ``duckdb.connect`` would name
    it), attached with row groups of ``rows_per_group`` rows (None: DuckDB's default) and spilling
    into its ``.tmp``."""
    if rows_per_group is None:
        return duckdb.connect(str(warehouse))
    con = duckdb.connect()
    quoted = str(warehouse).replace("'", "''")
    name = _identifier(warehouse.stem)  # as duckdb.connect names it
    con.execute(f"SET temp_directory = '{quoted}.tmp'")
    con.execute(f"ATTACH '{quoted}' AS {name} (ROW_GROUP_SIZE {int(rows_per_group)})")
    con.execute(f"USE {name}")
    return con


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    """The connection's default database, quoted."""
    return _identifier(con.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _recorders(ctx: RunContext) -> Iterator[Callable[[list[Entry]], Iterator[tuple[str, str]]]]:
    """Records entries WORKERS at a time, each thread on a cursor of its own; the outcomes come in
    the entries' order. Two copies of the same bytes are never parsed at once (RunContext.claim)."""
    local, cursors = threading.local(), []
    lock = threading.Lock()
    catalog = _catalog(ctx.con)

    def one(e: Entry) -> tuple[str, str]:
        own = getattr(local, "ctx", None)
        if own is None:
            cur = ctx.con.cursor()
            cur.execute("SET enable_progress_bar = false")
            cur.execute(f"USE {catalog}")  # a cursor starts in the in-memory database
            with lock:
                cursors.append(cur)
            own = local.ctx = replace(ctx, con=cur)
        return _record(own, e)

    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ingest") as pool:
        try:
            yield lambda entries: (f.result() for f in [pool.submit(one, e) for e in entries])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for cur in cursors:
                cur.close()


def load_inbox(inbox: Path, warehouse: Path, *, run_id: str, loaded_at: datetime | None = None,
               progress: Callable[[str], None] | None = None, limits: Limits | None = None) -> LoadReport:
    """Load new and changed files of ``inbox`` into the raw layer of the DuckDB file ``warehouse``.

    Creates the raw tables if missing, records every new file version in ``raw_history`` (one
    transaction per file) and rebuilds the effective ``raw.*`` tables (one transaction). Re-running
    over the same inbox loads nothing new; a killed run is completed by the next one. No file can
    stop the others: each ends loaded, rejected or skipped, with its reason in ``raw.files``.

    ``run_id`` and ``loaded_at`` go into the lineage columns; a naive ``loaded_at`` is taken as
    Asia/Shanghai wall time, an aware one is converted to it, ``None`` means now. ``progress``
    receives one line per file (and every 200,000 rows of a big one). ``limits`` bounds what an
    xlsx or CSV may hold (see :class:`ingestion.readers.Limits`).
    """
    t0 = time.monotonic()
    run = (run_id, wall_time(loaded_at))
    say = progress or (lambda _msg: None)
    entries = walk_inbox(Path(inbox))
    warehouse = Path(warehouse)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    rows_per_group = row_group_size(entries)
    con = connect(warehouse, rows_per_group)
    try:
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET preserve_insertion_order = false")
        # One checkpoint when the load is done rather than one whenever the WAL passes 16 MB (a big
        # inbox would rewrite the growing tables again and again); each file still commits alone.
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        ctx = start_run(con, run, limits or Limits(), progress)
        con.execute("DELETE FROM raw_history.storage")
        con.execute("INSERT INTO raw_history.storage VALUES (?)", [rows_per_group or DEFAULT_ROW_GROUP])
        say(f"收件箱 {inbox}：{len(entries)} 个文件 / files")
        unchanged = 0
        with _recorders(ctx) as record:
            for i, (e, (outcome, msg)) in enumerate(zip(entries, record(entries), strict=True), 1):
                if outcome == "unchanged":
                    unchanged += 1
                    continue
                say(f"[{i}/{len(entries)}] {e.rel}: {msg}")
        _forget_gone(ctx, {e.rel for e in entries})
        finish_run(con, say)
        stats = dict.fromkeys(("loaded", "rejected", "duplicate", "skipped"), (0, 0, 0))
        for status, n, rl, rr in con.execute("""
                SELECT f.status, count(*), sum(f.rows_loaded), sum(f.rows_rejected)
                FROM raw.files f JOIN raw_history.file_versions v
                  ON v.source_file = f.source_file AND v.file_sha256 = coalesce(f.file_sha256, '')
                WHERE v.run_seq = ? AND f.is_current GROUP BY ALL""", [ctx.run_seq]).fetchall():
            stats[status] = (n, int(rl or 0), int(rr or 0))
    finally:
        con.close()
    report = LoadReport(
        files_seen=len(entries), files_loaded=stats["loaded"][0], files_rejected=stats["rejected"][0],
        files_duplicate=stats["duplicate"][0], files_unchanged=unchanged,
        rows_loaded=stats["loaded"][1], rows_rejected=stats["loaded"][2],
        seconds=round(time.monotonic() - t0, 3), files_skipped=stats["skipped"][0])
    say(report.summary_zh())
    return report
