"""Load an inbox into the warehouse's raw layer (ARCHITECTURE.md "Raw layer").

How it works:

1. Walk the inbox (never following anything out of it), hash every file.
2. Each *new* file version (a path whose bytes the warehouse has not seen at that path) is
   recorded in ``raw_history`` in **one DuckDB transaction per file**: the version, and — unless
   the same bytes were parsed before — its parsed rows, rejected rows and 合计 checks, keyed by the
   file's SHA-256. A kill -9 loses at most the file being read; the next run redoes it.
3. The effective ``raw.*`` tables are rebuilt from ``raw_history`` in **one transaction**: current
   version per path, identical copies loaded once (lineage of the copy seen first, then the
   smallest relative path), keys deduplicated or rejected as conflicts. A flag in
   ``raw_history.state`` makes the next run finish a rebuild a killed run did not commit.

Decisions (决定及理由):

- 收件箱中已载入、后来又不见了的文件：其记录保留（收件箱可能被归档清理，历史不能因此丢失）。
- 不是 .xlsx/.csv 的文件（含 .xls、隐藏文件）：按规范整个拒收，写明原因。
- 指向收件箱之外的符号链接、不是普通文件的条目（管道、设备）：不读取，作为拒收文件记录原因。
  指向收件箱之内的符号链接照常读取（其内容与目标相同，按“重复文件”处理）。目录符号链接不跟随。
- 读取过程中文件内容发生变化（哈希前后不一致）：本次跳过，下次运行再载入。
- raw.files 中 rows_loaded / rows_rejected 是该文件在当前 raw 表 / raw.rejected_rows 中的行数；
  与其他文件完全相同而未重复载入的行两边都不计。被取代（superseded）和重复（duplicate）的版本记 0。
- 键冲突（同一键、不同内容）的各行都不载入，作为拒收行报出，理由写明另一处的文件和行号以及不同
  的列；个人信息列（姓名、身份证号、账号）只写列名不写值。
- 合计行核对使用本文件中通过行级检查的行（与其他文件的去重、冲突无关）。
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from ingestion.kinds import KINDS, LINEAGE_COLUMNS, PERSONAL, Kind, VType
from ingestion.parse import Header, ParseStats, Rejected, parse_rows
from ingestion.readers import FileChanged, FileRejected, FileScan, Limits, iter_csv, iter_xlsx, scan_file

SHANGHAI = ZoneInfo("Asia/Shanghai")
BATCH_ROWS = 50_000
PROGRESS_EVERY = 200_000
DUCKDB_MEMORY_LIMIT = "512MB"  # keeps a 1 GB CSV load well under 2 GB peak (Python + DuckDB)


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

    def summary_zh(self) -> str:
        """One Chinese line for logs and the CLI."""
        return (f"载入完成：收件箱共 {self.files_seen} 个文件，新载入 {self.files_loaded} 个，"
                f"拒收 {self.files_rejected} 个，重复 {self.files_duplicate} 个，"
                f"未变化 {self.files_unchanged} 个；"
                f"载入 {self.rows_loaded} 行，拒收 {self.rows_rejected} 行；用时 {self.seconds:.1f} 秒")


# ---------------------------------------------------------------- schema
def _kind_ddl(kind: Kind, schema: str, table: str, lineage: bool) -> str:
    cols = [f"{c.name} {c.sql_type}" for c in kind.columns]
    if lineage:
        cols += [f"{n} {t}" for n, t in LINEAGE_COLUMNS]
    else:
        cols = ["file_sha256 VARCHAR NOT NULL", "source_row INTEGER NOT NULL", *cols]
    return f"CREATE TABLE IF NOT EXISTS {schema}.{table} ({', '.join(cols)})"


RAW_BOOKKEEPING = (
    """CREATE TABLE IF NOT EXISTS raw.files (source_file VARCHAR, file_sha256 VARCHAR, size_bytes BIGINT,
        kind VARCHAR, status VARCHAR, reason VARCHAR, rows_loaded INTEGER, rows_rejected INTEGER,
        is_current BOOLEAN, load_run_id VARCHAR, loaded_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS raw.rejected_rows (source_file VARCHAR, source_row INTEGER,
        file_sha256 VARCHAR, kind VARCHAR, reason VARCHAR, raw_values VARCHAR, load_run_id VARCHAR,
        loaded_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS raw.total_mismatches (source_file VARCHAR, file_sha256 VARCHAR,
        source_row INTEGER, column_name VARCHAR, stated_total DECIMAL(18,2), computed_total DECIMAL(18,2),
        difference DECIMAL(18,2))""",
)
HISTORY = (
    """CREATE TABLE IF NOT EXISTS raw_history.runs (run_seq INTEGER PRIMARY KEY, load_run_id VARCHAR,
        loaded_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS raw_history.file_versions (source_file VARCHAR, file_sha256 VARCHAR,
        size_bytes BIGINT, entry_reason VARCHAR, run_seq INTEGER, load_run_id VARCHAR, loaded_at TIMESTAMP,
        PRIMARY KEY (source_file, file_sha256))""",
    """CREATE TABLE IF NOT EXISTS raw_history.path_state (source_file VARCHAR PRIMARY KEY,
        file_sha256 VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS raw_history.contents (file_sha256 VARCHAR PRIMARY KEY, kind VARCHAR,
        status VARCHAR, reason VARCHAR, header_row INTEGER, data_rows INTEGER, rows_valid INTEGER,
        rows_rejected INTEGER, load_run_id VARCHAR, loaded_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS raw_history.row_rejects (file_sha256 VARCHAR, source_row INTEGER,
        kind VARCHAR, reason VARCHAR, raw_values VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS raw_history.total_checks (file_sha256 VARCHAR, source_row INTEGER,
        column_name VARCHAR, stated_total DECIMAL(18,2), computed_total DECIMAL(18,2))""",
    "CREATE TABLE IF NOT EXISTS raw_history.state (needs_rebuild BOOLEAN)",
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and raw_history schemas and tables if missing (idempotent)."""
    con.execute("BEGIN")
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS raw_history")
    for k in KINDS:
        con.execute(_kind_ddl(k, "raw", k.table, lineage=True))
        con.execute(_kind_ddl(k, "raw_history", f"rows_{k.table}", lineage=False))
    for ddl in RAW_BOOKKEEPING + HISTORY:
        con.execute(ddl)
    if not con.execute("SELECT count(*) FROM raw_history.state").fetchone()[0]:  # type: ignore[index]
        con.execute("INSERT INTO raw_history.state VALUES (false)")
    con.execute("COMMIT")


# ---------------------------------------------------------------- the inbox
@dataclass(frozen=True)
class Entry:
    rel: str  # posix path relative to the inbox
    path: Path | None  # what to read (a symlink's target inside the inbox), None if unreadable
    reason: str | None = None  # why it is not read


SUFFIXES = (".xlsx", ".csv")


def walk_inbox(inbox: Path) -> list[Entry]:
    """Every file under the inbox, sorted by relative path; nothing outside it is ever opened."""
    root = inbox.resolve(strict=True)
    if not root.is_dir():
        raise NotADirectoryError(f"收件箱不是目录: {inbox}")
    entries: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        for name in sorted(dirnames):
            p = d / name
            if p.is_symlink() and not p.resolve().is_relative_to(root):
                entries.append(Entry(p.relative_to(root).as_posix(), None,
                                     "这是指向收件箱之外的目录链接（符号链接），未读取；请把文件直接放入收件箱"))
        for name in filenames:
            p = d / name
            rel = p.relative_to(root).as_posix()
            target = p
            if p.is_symlink():
                target = p.resolve()
                if not target.is_relative_to(root):
                    entries.append(Entry(rel, None, "这是指向收件箱之外的链接（符号链接），未读取；"
                                                    "请把文件本身放入收件箱"))
                    continue
            try:
                st = os.stat(target, follow_symlinks=False)
            except OSError:
                entries.append(Entry(rel, None, "链接指向的文件不存在，未读取"))
                continue
            if not stat.S_ISREG(st.st_mode):
                entries.append(Entry(rel, None, "不是普通文件（可能是管道或设备），未读取"))
                continue
            if not name.lower().endswith(SUFFIXES):
                suffix = Path(name).suffix or "（无扩展名）"
                hint = "；请在 Excel 中另存为 .xlsx" if suffix.lower() in (".xls", ".et", ".xlsm") else ""
                reason = f"不支持的文件格式“{suffix}”：只接受 .xlsx 和 .csv 文件{hint}"
                entries.append(Entry(rel, target, reason))
                continue
            entries.append(Entry(rel, target))
    entries.sort(key=lambda e: e.rel)
    return entries


# ---------------------------------------------------------------- one file
def _arrow_type(vtype: VType) -> pa.DataType:
    return {VType.DATE: pa.date32(), VType.MONEY: pa.decimal128(18, 2), VType.INT: pa.int32()}.get(
        vtype, pa.string())


class _RowSink:
    """Buffers parsed rows and writes them to raw_history in Arrow batches."""

    def __init__(self, con: duckdb.DuckDBPyConnection, kind: Kind, sha: str, rel: str,
                 progress: Callable[[str], None] | None) -> None:
        self.con, self.kind, self.sha, self.rel, self.progress = con, kind, sha, rel, progress
        self.rows: list[int] = []
        self.values: list[tuple] = []
        self.rejects: list[Rejected] = []
        self.count = 0
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

    def flush(self) -> None:
        if self.values:
            cols = list(zip(*self.values, strict=True))
            arrays = [pa.array([self.sha] * len(self.rows), pa.string()), pa.array(self.rows, pa.int32())]
            arrays += [pa.array(col, self.schema.field(i + 2).type) for i, col in enumerate(cols)]
            batch = pa.Table.from_arrays(arrays, schema=self.schema)  # noqa: F841 (read by DuckDB)
            self.con.execute(f"INSERT INTO raw_history.rows_{self.kind.table} SELECT * FROM batch")
            before = self.count
            self.count += len(self.rows)
            if self.progress and self.count // PROGRESS_EVERY > before // PROGRESS_EVERY:
                self.progress(f"    {self.rel}: 已读 {self.count:,} 行 / {self.count:,} rows read")
            self.rows, self.values = [], []
        if self.rejects:
            self.con.executemany(
                "INSERT INTO raw_history.row_rejects VALUES (?, ?, ?, ?, ?)",
                [(self.sha, r.source_row, self.kind.table, r.reason, r.raw_values) for r in self.rejects])
            self.rejects = []


def _parse_file(con: duckdb.DuckDBPyConnection, entry: Entry, scan: FileScan, limits: Limits,
                run: tuple[str, datetime], progress: Callable[[str], None] | None) -> None:
    """Parse one new content into raw_history (inside the caller's transaction)."""
    assert entry.path is not None
    if entry.rel.lower().endswith(".csv"):
        rows = iter_csv(entry.path, scan, limits)
    else:
        if entry.path.stat().st_size > limits.max_xlsx_bytes:
            mib = limits.max_xlsx_bytes // 1024 // 1024
            raise FileRejected(f"xlsx 文件超过上限 {mib} MB；请拆分成多个文件后报送")
        data = entry.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != scan.sha256:
            raise FileChanged(entry.rel)
        rows = iter_xlsx(data, limits)
    sinks: list[_RowSink] = []

    def on_header(header: Header) -> None:
        sinks.append(_RowSink(con, header.kind, scan.sha256, entry.rel, progress))

    try:
        header, stats = parse_rows(rows, on_header, lambda n, v: sinks[0].valid(n, v),
                                   lambda r: sinks[0].rejected(r))
    except FileRejected as exc:
        exc.kind = sinks[0].kind.table if sinks else None  # type: ignore[attr-defined]
        raise
    sinks[0].flush()
    _record_content(con, scan.sha256, header.kind.table, "loaded", None, header.row, stats, run)
    if stats.mismatches:
        con.executemany("INSERT INTO raw_history.total_checks VALUES (?, ?, ?, ?, ?)",
                        [(scan.sha256, m.source_row, m.column_name, m.stated_total, m.computed_total)
                         for m in stats.mismatches])


def _record_content(con: duckdb.DuckDBPyConnection, sha: str, kind: str | None, status: str,
                    reason: str | None, header_row: int | None, stats: ParseStats | None,
                    run: tuple[str, datetime]) -> None:
    s = stats or ParseStats()
    con.execute("INSERT INTO raw_history.contents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sha, kind, status, reason, header_row, s.data_rows, s.rows_valid, s.rows_rejected, *run])


# ---------------------------------------------------------------- the effective raw layer
def _rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute every effective raw table from raw_history (caller holds the transaction)."""
    con.execute("""CREATE OR REPLACE TEMP TABLE eff_files AS
        WITH v AS (
            SELECT v.*, (ps.source_file IS NOT NULL) AS is_current
            FROM raw_history.file_versions v
            LEFT JOIN raw_history.path_state ps
              ON ps.source_file = v.source_file AND ps.file_sha256 = v.file_sha256),
        r AS (
            SELECT v.*,
                row_number() OVER w AS copy_rank,
                first_value(source_file) OVER w AS first_copy
            FROM v
            WINDOW w AS (PARTITION BY file_sha256, is_current, entry_reason IS NULL
                         ORDER BY run_seq, source_file))
        SELECT r.source_file, r.file_sha256, r.size_bytes, c.kind, c.reason AS content_reason,
            r.entry_reason, r.is_current, r.first_copy, r.run_seq, r.load_run_id, r.loaded_at,
            CASE WHEN NOT r.is_current THEN 'superseded'
                 WHEN r.entry_reason IS NOT NULL THEN 'rejected'
                 WHEN r.copy_rank > 1 THEN 'duplicate'
                 WHEN c.status = 'rejected' THEN 'rejected'
                 ELSE 'loaded' END AS status
        FROM r LEFT JOIN raw_history.contents c
          ON c.file_sha256 = r.file_sha256 AND r.entry_reason IS NULL""")
    con.execute("DELETE FROM raw.rejected_rows")
    for kind in KINDS:
        t = kind.table
        cols = ", ".join(c.name for c in kind.columns)
        keys = ", ".join(kind.key)
        lineage = "source_file, source_row, file_sha256, load_run_id, loaded_at"
        cand = f"""WITH cand AS (
                SELECT r.*, f.source_file, f.run_seq, f.load_run_id, f.loaded_at
                FROM raw_history.rows_{t} r
                JOIN eff_files f ON f.file_sha256 = r.file_sha256 AND f.status = 'loaded')"""
        match = " AND ".join(f"c.{k} IS NOT DISTINCT FROM d.{k}" for k in kind.key)
        # Keys met more than once (rare): how many distinct records each carries.
        con.execute(f"""CREATE OR REPLACE TEMP TABLE dup_keys AS {cand},
            multi AS (SELECT {keys} FROM cand GROUP BY ALL HAVING count(*) > 1)
            SELECT {", ".join("c." + k for k in kind.key)}, count(DISTINCT ({cols})) AS nd
            FROM cand c SEMI JOIN multi d ON {match} GROUP BY ALL""")
        con.execute(f"DELETE FROM raw.{t}")
        con.execute(f"""INSERT INTO raw.{t} {cand}
            SELECT {cols}, {lineage} FROM cand c ANTI JOIN dup_keys d ON {match}""")
        if not con.execute("SELECT count(*) FROM dup_keys").fetchone()[0]:  # type: ignore[index]
            continue
        con.execute(f"""INSERT INTO raw.{t} {cand},
            same AS (
                SELECT c.*, row_number() OVER (PARTITION BY {keys}
                                               ORDER BY run_seq, source_file, source_row) AS rn
                FROM cand c SEMI JOIN (SELECT * FROM dup_keys WHERE nd = 1) d ON {match})
            SELECT {cols}, {lineage} FROM same WHERE rn = 1""")
        _insert_conflicts(con, kind, cand, match)

    con.execute("""INSERT INTO raw.rejected_rows
        SELECT f.source_file, j.source_row, j.file_sha256, j.kind, j.reason, j.raw_values,
            f.load_run_id, f.loaded_at
        FROM raw_history.row_rejects j
        JOIN eff_files f ON f.file_sha256 = j.file_sha256 AND f.status = 'loaded'""")

    con.execute("DELETE FROM raw.total_mismatches")
    con.execute("""INSERT INTO raw.total_mismatches
        SELECT f.source_file, t.file_sha256, t.source_row, t.column_name, t.stated_total, t.computed_total,
            abs(t.stated_total - t.computed_total)
        FROM raw_history.total_checks t
        JOIN eff_files f ON f.file_sha256 = t.file_sha256 AND f.status = 'loaded'""")

    loaded = " UNION ALL ".join(f"SELECT source_file FROM raw.{k.table}" for k in KINDS)
    con.execute("DELETE FROM raw.files")
    con.execute(f"""INSERT INTO raw.files
        WITH n_loaded AS (SELECT source_file, count(*) AS n FROM ({loaded}) GROUP BY ALL),
        n_rejected AS (SELECT source_file, count(*) AS n FROM raw.rejected_rows GROUP BY ALL)
        SELECT e.source_file, NULLIF(e.file_sha256, ''), e.size_bytes, e.kind, e.status,
            CASE e.status
                WHEN 'loaded' THEN NULL
                WHEN 'rejected' THEN coalesce(e.entry_reason, e.content_reason)
                WHEN 'duplicate' THEN '与“' || e.first_copy || '”内容完全相同（SHA-256 相同），'
                                      || '只按该文件处理一次，本文件不再重复载入'
                ELSE '已被同一路径的更正版本取代，其记录不再有效（保留在历史中）' END,
            CASE WHEN e.status = 'loaded' THEN coalesce(l.n, 0) ELSE 0 END,
            CASE WHEN e.status = 'loaded' THEN coalesce(j.n, 0) ELSE 0 END,
            e.is_current, e.load_run_id, e.loaded_at
        FROM eff_files e
        LEFT JOIN n_loaded l ON l.source_file = e.source_file AND e.status = 'loaded'
        LEFT JOIN n_rejected j ON j.source_file = e.source_file AND e.status = 'loaded'
        ORDER BY e.source_file, e.run_seq""")
    con.execute("UPDATE raw_history.state SET needs_rebuild = false")
    con.execute("DROP TABLE eff_files")
    con.execute("DROP TABLE IF EXISTS dup_keys")


def _insert_conflicts(con: duckdb.DuckDBPyConnection, kind: Kind, cand: str, match: str) -> None:
    """Rejected rows for keys met with different values; each reason names the other place(s).

    Bounded whatever the data: each conflicting row is compared with at most the first 4 distinct
    versions of its key (so a key column filled with one constant does not explode quadratically).
    """
    t, keys = kind.table, ", ".join(kind.key)
    cols = ", ".join(c.name for c in kind.columns)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE conflict_rows AS {cand},
        c1 AS (SELECT c.* FROM cand c SEMI JOIN (SELECT * FROM dup_keys WHERE nd > 1) d ON {match}),
        c2 AS (
            SELECT *, count(*) OVER (PARTITION BY {keys}) AS grp_n,
                count(*) OVER (PARTITION BY {keys}, {cols}) AS same_n,
                row_number() OVER (PARTITION BY {keys}, {cols} ORDER BY run_seq, source_file, source_row) AS vrk
            FROM c1)
        SELECT *, CASE WHEN vrk = 1 THEN row_number() OVER (
                PARTITION BY {keys}, vrk = 1 ORDER BY run_seq, source_file, source_row) END AS reprk
        FROM c2""")
    pair_keys = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in kind.key)
    differs = " OR ".join(f"a.{c.name} IS DISTINCT FROM b.{c.name}" for c in kind.columns)
    diff = ", ".join(
        f"CASE WHEN a.{c.name} IS DISTINCT FROM b.{c.name} THEN '{c.header}'"
        + ("" if c.vtype in PERSONAL else f" || '：' || coalesce(CAST(b.{c.name} AS VARCHAR), '空')")
        + " END" for c in kind.columns)
    raw_json = ", ".join(f"'{c.header}', CAST(a.{c.name} AS VARCHAR)" for c in kind.columns)
    key_headers = "、".join(c.header for c in kind.columns if c.name in kind.key)
    con.execute(f"""INSERT INTO raw.rejected_rows
        WITH pairs AS (
            SELECT a.source_file, a.source_row, a.file_sha256, a.load_run_id, a.loaded_at,
                a.grp_n - a.same_n AS n_other, CAST(json_object({raw_json}) AS VARCHAR) AS raw_values,
                b.run_seq AS o_seq, b.source_file AS o_file, b.source_row AS o_row,
                concat_ws('，', {diff}) AS diff
            FROM conflict_rows a JOIN conflict_rows b ON {pair_keys} AND b.reprk <= 4 AND ({differs})),
        per_row AS (
            SELECT source_file, source_row, file_sha256, load_run_id, loaded_at, n_other, raw_values,
                list('“' || o_file || '”第' || o_row || '行' ORDER BY o_seq, o_file, o_row) AS places,
                first(diff ORDER BY o_seq, o_file, o_row) AS diff
            FROM pairs GROUP BY ALL)
        SELECT source_file, source_row, file_sha256, '{t}',
            '键（{key_headers}）与' || array_to_string(places[1:3], '、')
            || CASE WHEN n_other > least(len(places), 3) THEN '等' || n_other || '处' ELSE '' END
            || '相同，但内容不同（那边的' || diff || '）；两处均未载入，请核实后更正错误的一处',
            raw_values, load_run_id, loaded_at
        FROM per_row""")
    con.execute("DROP TABLE conflict_rows")


# ---------------------------------------------------------------- the run
def _wall_time(loaded_at: datetime | None) -> datetime:
    if loaded_at is None:
        return datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)
    if loaded_at.tzinfo is not None:
        return loaded_at.astimezone(SHANGHAI).replace(tzinfo=None)
    return loaded_at


def _record_version(con: duckdb.DuckDBPyConnection, e: Entry, sha: str, size: int | None,
                    run_seq: int, run: tuple[str, datetime]) -> None:
    con.execute("""INSERT INTO raw_history.file_versions VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (source_file, file_sha256) DO UPDATE SET run_seq = excluded.run_seq,
            load_run_id = excluded.load_run_id, loaded_at = excluded.loaded_at,
            entry_reason = excluded.entry_reason""", [e.rel, sha, size, e.reason, run_seq, *run])
    con.execute("INSERT OR REPLACE INTO raw_history.path_state VALUES (?, ?)", [e.rel, sha])
    con.execute("UPDATE raw_history.state SET needs_rebuild = true")


def load_inbox(inbox: Path, warehouse: Path, *, run_id: str, loaded_at: datetime | None = None,
               progress: Callable[[str], None] | None = None, limits: Limits | None = None) -> LoadReport:
    """Load new and changed files of ``inbox`` into the raw layer of the DuckDB file ``warehouse``.

    Creates the raw tables if missing, records every new file version in ``raw_history`` (one
    transaction per file) and rebuilds the effective ``raw.*`` tables (one transaction). Re-running
    over the same inbox loads nothing new; a killed run is completed by the next one.

    ``run_id`` and ``loaded_at`` go into the lineage columns; a naive ``loaded_at`` is taken as
    Asia/Shanghai wall time, an aware one is converted to it, ``None`` means now. ``progress``
    receives one line per file (and every 200,000 rows of a big one). ``limits`` bounds what an
    xlsx or CSV may hold (see :class:`ingestion.readers.Limits`).
    """
    t0 = time.monotonic()
    limits = limits or Limits()
    at = _wall_time(loaded_at)
    run = (run_id, at)
    say = progress or (lambda _msg: None)
    entries = walk_inbox(Path(inbox))
    warehouse = Path(warehouse)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET preserve_insertion_order = false")
        ensure_schema(con)
        con.begin()
        run_seq = con.execute("SELECT coalesce(max(run_seq), 0) + 1 FROM raw_history.runs").fetchone()[0]  # type: ignore[index]
        con.execute("INSERT INTO raw_history.runs VALUES (?, ?, ?)", [run_seq, *run])
        con.commit()
        path_state = dict(
            con.execute("SELECT source_file, file_sha256 FROM raw_history.path_state").fetchall())
        known = {r[0] for r in con.execute("SELECT file_sha256 FROM raw_history.contents").fetchall()}
        say(f"收件箱 {inbox}：{len(entries)} 个文件 / files")
        unchanged = 0
        for i, e in enumerate(entries, 1):
            tag = f"[{i}/{len(entries)}] {e.rel}"
            try:
                scan = scan_file(e.path) if e.path is not None else None
            except OSError as exc:
                e, scan = Entry(e.rel, None, f"文件无法打开（{exc.strerror or exc}），未读取；请检查文件权限"), None
            sha = scan.sha256 if scan else ""
            if path_state.get(e.rel) == sha:
                unchanged += 1
                continue
            size = scan.size if scan else None
            try:
                con.begin()
                _record_version(con, e, sha, size, run_seq, run)
                if e.reason is None and sha not in known:
                    assert scan is not None
                    _parse_file(con, e, scan, limits, run, progress)
                    msg = "已读取 / parsed"
                elif e.reason is not None:
                    msg = f"拒收 / rejected: {e.reason}"
                else:
                    msg = "内容已载入过 / same bytes seen before"
                con.commit()
            except FileChanged:
                con.rollback()
                say(f"{tag}: 读取中文件被修改，下次运行再载入 / changed while read, skipped")
                continue
            except FileRejected as exc:
                con.rollback()
                msg = f"拒收 / rejected: {exc}"
                _reject_content(con, e, sha, size, run_seq, run, getattr(exc, "kind", None), str(exc))
            except Exception as exc:  # noqa: BLE001 - one broken file must not stop the load; reason recorded
                con.rollback()
                reason = f"读取时程序出错（{type(exc).__name__}: {exc}），请联系系统管理员"
                msg = f"拒收 / rejected: {reason}"
                _reject_content(con, e, sha, size, run_seq, run, None, reason)
            if e.reason is None:
                known.add(sha)
            path_state[e.rel] = sha
            say(f"{tag}: {msg}")
        needs = con.execute("SELECT needs_rebuild FROM raw_history.state").fetchone()[0]  # type: ignore[index]
        if needs:
            say("重建 raw 层 / rebuilding the raw layer")
            con.begin()
            _rebuild(con)
            con.commit()
        stats = dict.fromkeys(("loaded", "rejected", "duplicate"), (0, 0, 0))
        for status, n, rl, rr in con.execute("""
                SELECT f.status, count(*), sum(f.rows_loaded), sum(f.rows_rejected)
                FROM raw.files f JOIN raw_history.file_versions v
                  ON v.source_file = f.source_file AND v.file_sha256 = coalesce(f.file_sha256, '')
                WHERE v.run_seq = ? AND f.is_current GROUP BY ALL""", [run_seq]).fetchall():
            stats[status] = (n, int(rl or 0), int(rr or 0))
    finally:
        con.close()
    report = LoadReport(
        files_seen=len(entries), files_loaded=stats["loaded"][0], files_rejected=stats["rejected"][0],
        files_duplicate=stats["duplicate"][0], files_unchanged=unchanged,
        rows_loaded=stats["loaded"][1], rows_rejected=stats["loaded"][2],
        seconds=round(time.monotonic() - t0, 3))
    say(report.summary_zh())
    return report


def _reject_content(con: duckdb.DuckDBPyConnection, e: Entry, sha: str, size: int | None, run_seq: int,
                    run: tuple[str, datetime], kind: str | None, reason: str) -> None:
    con.begin()
    _record_version(con, e, sha, size, run_seq, run)
    con.execute("DELETE FROM raw_history.contents WHERE file_sha256 = ?", [sha])
    _record_content(con, sha, kind, "rejected", reason, None, None, run)
    con.commit()
