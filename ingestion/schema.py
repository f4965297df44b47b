"""The DuckDB tables of ingestion: ``raw`` (the contract dbt reads, ARCHITECTURE.md "Raw layer")
and ``raw_history`` (every file version and its parsed rows, from which ``raw`` is rebuilt).

Each kind's rows are stored once, in ``raw_history.rows_<kind>``: ``raw.<kind>`` is a view of the
rows in force, those of the loaded file versions (``raw_history.loaded_files``, with their lineage)
less the rows the rebuild holds back (``raw_history.held_<kind>``: a later place of a key repeated
with the same values, every place of a key met with different values).

``raw_history.rows_<kind>`` is append-only: a file version's rows are written once, in the
transaction that records it, and never updated or deleted (``raw_signatures`` relies on it)."""

from __future__ import annotations

import hashlib

import duckdb

from ingestion.kinds import KINDS, LINEAGE_COLUMNS, Kind


def _rows_ddl(kind: Kind) -> str:
    """The parsed rows of every file version of the kind (one copy, whatever its paths)."""
    cols = ["file_sha256 VARCHAR NOT NULL", "source_row INTEGER NOT NULL",
            *(f"{c.name} {c.sql_type}" for c in kind.columns)]
    return f"CREATE TABLE IF NOT EXISTS raw_history.rows_{kind.table} ({', '.join(cols)})"


def _held_ddl(kind: Kind) -> str:
    """Rows of loaded versions not in force (by key: the rebuild redoes a key's rows together)."""
    keys = [f"{c.name} {c.sql_type}" for c in kind.columns if c.name in kind.key]
    return (f"CREATE TABLE IF NOT EXISTS raw_history.held_{kind.table} "
            f"({', '.join(keys)}, file_sha256 VARCHAR NOT NULL, source_row INTEGER NOT NULL)")


def _view_ddl(kind: Kind) -> str:
    """``raw.<kind>``: the kind's columns, then the lineage columns (LINEAGE_COLUMNS' order)."""
    cols = ", ".join(f"r.{c.name}" for c in kind.columns)
    lineage = {"source_file": "f.source_file", "source_row": "r.source_row", "file_sha256": "r.file_sha256",
               "load_run_id": "f.load_run_id", "loaded_at": "f.loaded_at"}
    assert [n for n, _ in LINEAGE_COLUMNS] == list(lineage)
    return f"""CREATE OR REPLACE VIEW raw.{kind.table} AS
        SELECT {cols}, {', '.join(lineage.values())}
        FROM raw_history.rows_{kind.table} r
        JOIN raw_history.loaded_files f ON f.file_sha256 = r.file_sha256
        ANTI JOIN raw_history.held_{kind.table} h ON h.file_sha256 = r.file_sha256 AND h.source_row = r.source_row"""


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
    # entry_reason/entry_status: set when the entry itself was not read (a link out of the inbox, a
    # name that is not UTF-8, a lock file ...); file_sha256 is '' when its bytes were never read.
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
    # every readable value of a 合计 line (computed_total: the sum over the file's valid rows, as
    # parsed; the mismatch itself is judged at the rebuild, over the rows in force)
    """CREATE TABLE IF NOT EXISTS raw_history.total_checks (file_sha256 VARCHAR, source_row INTEGER,
        column_name VARCHAR, stated_total DECIMAL(18,2), computed_total DECIMAL(18,2))""",
    "CREATE TABLE IF NOT EXISTS raw_history.state (needs_rebuild BOOLEAN)",
    # the rows per row group the last load wrote (ingestion.load.row_group_size): every writer after it
    # attaches the warehouse with as many (ingestion.load.connect), so that no checkpoint merges them
    "CREATE TABLE IF NOT EXISTS raw_history.storage (row_group_size INTEGER)",
    # what each path's file looked like (os.stat) when its version in force was last read: a file that
    # still looks the same is not read again (ingestion.history.unchanged_on_disk)
    """CREATE TABLE IF NOT EXISTS raw_history.path_stat (source_file VARCHAR PRIMARY KEY, file_sha256 VARCHAR,
        size_bytes BIGINT, mtime_ns BIGINT, ctime_ns BIGINT, inode BIGINT, device BIGINT, seen_ns BIGINT)""",
    # the loaded file versions as of the last rebuild: the next one redoes only what changed
    """CREATE TABLE IF NOT EXISTS raw_history.loaded_files (file_sha256 VARCHAR, source_file VARCHAR,
        run_seq INTEGER, load_run_id VARCHAR, loaded_at TIMESTAMP)""",
)
# Columns added after the first release: added to an existing warehouse in place.
ADDED_COLUMNS = (
    "ALTER TABLE raw_history.file_versions ADD COLUMN IF NOT EXISTS entry_status VARCHAR",
    "ALTER TABLE raw_history.row_rejects ADD COLUMN IF NOT EXISTS column_name VARCHAR",
)


def raw_signatures(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """A signature of every relation of the ``raw`` schema: equal signatures, equal rows (up to a
    64-bit hash collision); None when it cannot be read (never equal to anything).

    A kind's view (``_view_ddl``) is signed by its inputs, not its rows, so a day does not read every
    row ever loaded (a day with 10M payments in raw read them all): its SQL, the number of rows of the
    append-only ``rows_<kind>`` (DuckDB keeps it; rows are only ever added), and the count and XOR of
    the row hashes of ``held_<kind>`` (one row per held-back row) and of the rows of ``loaded_files``
    (one per file in force) whose version has rows of the kind (another kind's file changes nothing). Any
    other relation (the bookkeeping tables, one row per file or rejected row): its own rows' count
    and XOR of hashes."""
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' ORDER BY 1").fetchall()]
    views = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'raw'").fetchall())
    kinds = {k.table for k in KINDS}
    out: dict[str, str | None] = {}
    for name in names:
        try:
            if name in kinds and name in views:  # ensure_schema's view (_view_ddl), its SQL as DuckDB keeps it
                n_rows = con.execute(f"SELECT count(*) FROM raw_history.rows_{name}").fetchone()[0]  # type: ignore[index]
                parts = [hashlib.sha256(views[name].encode()).hexdigest()[:16], str(n_rows)]
                for table in (f"(SELECT * FROM raw_history.loaded_files SEMI JOIN (SELECT DISTINCT file_sha256 "
                              f"FROM raw_history.rows_{name}) USING (file_sha256))", f"raw_history.held_{name}"):
                    n, h = con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {table} AS t").fetchone()  # type: ignore[misc]
                    parts.append(f"{n}:{h}")
                out[name] = "inputs:" + ":".join(parts)
            else:
                n, h = con.execute(f'SELECT count(*), bit_xor(hash(t)) FROM raw."{name}" AS t').fetchone()  # type: ignore[misc]
                out[name] = f"{n}:{h}"
        except duckdb.Error:  # unreadable (a view over something gone)
            out[name] = None
    return out


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and raw_history schemas and tables if missing (idempotent)."""
    con.execute("BEGIN")
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS raw_history")
    for ddl in RAW_BOOKKEEPING + HISTORY + ADDED_COLUMNS:
        con.execute(ddl)
    if not con.execute("SELECT count(*) FROM raw_history.state").fetchone()[0]:  # type: ignore[index]
        con.execute("INSERT INTO raw_history.state VALUES (false)")
    # A warehouse from before the views held a copy of the rows in force in tables named raw.<kind>:
    # they go, and the next rebuild derives everything (what it holds back was never recorded).
    copies = con.execute("""SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'raw' AND table_type = 'BASE TABLE'""").fetchall()
    for k in KINDS:
        con.execute(_rows_ddl(k))
        con.execute(_held_ddl(k))
        if (k.table,) in copies:
            con.execute(f"DROP TABLE raw.{k.table}")
            con.execute("DELETE FROM raw_history.loaded_files")
            con.execute("UPDATE raw_history.state SET needs_rebuild = true")
        con.execute(_view_ddl(k))
    con.execute("COMMIT")
