"""The effective raw layer, brought up to date from ``raw_history`` in one transaction (ARCHITECTURE.md).

Current version per path; identical bytes loaded once (lineage of the copy seen first, then the
smallest relative path), while a *rejected* content is reported under every path it came as;
keys deduplicated (same values: one record) or rejected as conflicts (different values: neither
place loaded, each reason naming the other place); 合计 lines compared with the rows in force.

The rows are not copied: ``raw.<kind>`` is a view of the parsed rows of the loaded versions
(``raw_history.loaded_files``) less those held back here (``raw_history.held_<kind>``).
Only what changed is redone: the loaded file versions are compared with those of the last rebuild,
and only the keys met in a version that came, went or changed its
lineage are re-derived (a key's record, duplicates and conflicts depend on nothing else). A day's
new file costs its own rows, not the history's. The first rebuild of a warehouse (or
``full=True``) derives everything.
"""

from __future__ import annotations

import duckdb

from ingestion.kinds import KINDS, PERSONAL, Kind, VType

_LOADED = "SELECT file_sha256, source_file, run_seq, load_run_id, loaded_at FROM eff_files WHERE status = 'loaded'"


def rebuild(con: duckdb.DuckDBPyConnection, *, full: bool = False) -> None:
    """Bring every effective raw table up to date with raw_history (caller holds the transaction)."""
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
                 WHEN r.entry_reason IS NOT NULL THEN coalesce(r.entry_status, 'rejected')
                 WHEN c.status = 'rejected' THEN 'rejected'  -- under every path it came as
                 WHEN r.copy_rank > 1 THEN 'duplicate'
                 ELSE 'loaded' END AS status
        FROM r LEFT JOIN raw_history.contents c
          ON c.file_sha256 = r.file_sha256 AND r.entry_reason IS NULL""")
    full = full or not con.execute("SELECT count(*) FROM raw_history.loaded_files").fetchone()[0]  # type: ignore[index]
    if full:
        con.execute("DELETE FROM raw.rejected_rows")
        con.execute("DELETE FROM raw_history.loaded_files")
    # Loaded versions that came, went or changed lineage since the last rebuild.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE changed_shas AS
        SELECT DISTINCT file_sha256 FROM (
            ({_LOADED} EXCEPT SELECT * FROM raw_history.loaded_files)
            UNION ALL
            (SELECT * FROM raw_history.loaded_files EXCEPT {_LOADED}))""")
    # The versions in force from now on: raw.<kind> (views) join them for their lineage.
    con.execute("DELETE FROM raw_history.loaded_files")
    con.execute(f"INSERT INTO raw_history.loaded_files {_LOADED}")
    for kind in KINDS:
        _rebuild_kind(con, kind, full)

    # rejected rows of the files' own reading (the key conflicts are the kinds' business above)
    if not full:
        con.execute("""DELETE FROM raw.rejected_rows x USING raw_history.row_rejects j
            WHERE x.file_sha256 = j.file_sha256 AND x.source_row = j.source_row
              AND j.file_sha256 IN (SELECT file_sha256 FROM changed_shas)""")
    con.execute("""INSERT INTO raw.rejected_rows
        SELECT f.source_file, j.source_row, j.file_sha256, j.kind, j.reason, j.raw_values,
            f.load_run_id, f.loaded_at
        FROM raw_history.row_rejects j
        JOIN eff_files f ON f.file_sha256 = j.file_sha256 AND f.status = 'loaded'
        WHERE j.file_sha256 IN (SELECT file_sha256 FROM changed_shas)""")

    _total_mismatches(con)

    loaded = " UNION ALL ".join(f"SELECT source_file FROM raw.{k.table}" for k in KINDS)
    con.execute("DELETE FROM raw.files")
    con.execute(f"""INSERT INTO raw.files
        WITH n_loaded AS (SELECT source_file, count(*) AS n FROM ({loaded}) GROUP BY ALL),
        n_rejected AS (SELECT source_file, count(*) AS n FROM raw.rejected_rows GROUP BY ALL)
        SELECT e.source_file, NULLIF(e.file_sha256, ''), e.size_bytes, e.kind, e.status,
            CASE e.status
                WHEN 'loaded' THEN NULL
                WHEN 'rejected' THEN coalesce(e.entry_reason, e.content_reason)
                WHEN 'skipped' THEN e.entry_reason
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
    for t in ("eff_files", "changed_shas", "touched_keys", "dup_keys"):
        con.execute(f"DROP TABLE IF EXISTS {t}")


def _rebuild_kind(con: duckdb.DuckDBPyConnection, kind: Kind, full: bool) -> None:
    """Re-derive the rows held back (duplicates, conflicts) and the conflicts' reasons for the keys met
    in a changed version (all keys when ``full``). The rows themselves stay where they were parsed:
    ``raw.<kind>`` is a view of them (ingestion/schema.py)."""
    t = kind.table
    cols = ", ".join(c.name for c in kind.columns)
    keys = ", ".join(kind.key)
    match = " AND ".join(f"c.{k} IS NOT DISTINCT FROM d.{k}" for k in kind.key)
    if full:
        con.execute(f"DELETE FROM raw_history.held_{t}")
        scope = ""
    else:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE touched_keys AS
            SELECT DISTINCT {keys} FROM raw_history.rows_{t}
            WHERE file_sha256 IN (SELECT file_sha256 FROM changed_shas)""")
        if not con.execute("SELECT count(*) FROM touched_keys").fetchone()[0]:  # type: ignore[index]
            return
        within = match.replace("c.", "x.")
        con.execute(f"DELETE FROM raw_history.held_{t} x USING touched_keys d WHERE {within}")
        con.execute(f"""DELETE FROM raw.rejected_rows x USING (
                SELECT c.file_sha256, c.source_row FROM raw_history.rows_{t} c SEMI JOIN touched_keys d ON {match}) y
            WHERE x.kind = '{t}' AND x.file_sha256 = y.file_sha256 AND x.source_row = y.source_row""")
        scope = f"SEMI JOIN touched_keys d ON {match.replace('c.', 'r.')}"
    cand = f"""WITH cand AS (
            SELECT r.*, f.source_file, f.run_seq, f.load_run_id, f.loaded_at
            FROM raw_history.rows_{t} r
            JOIN eff_files f ON f.file_sha256 = r.file_sha256 AND f.status = 'loaded'
            {scope})"""
    # Keys met more than once (rare): how many distinct records each carries.
    # cand is read twice here: inlined (not materialised, all its columns), the first read takes the keys only
    inlined = cand.replace("cand AS (", "cand AS NOT MATERIALIZED (", 1)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE dup_keys AS {inlined},
        multi AS (SELECT {keys} FROM cand GROUP BY ALL HAVING count(*) > 1)
        SELECT {", ".join("c." + k for k in kind.key)}, count(DISTINCT ({cols})) AS nd
        FROM cand c SEMI JOIN multi d ON {match} GROUP BY ALL""")
    if not con.execute("SELECT count(*) FROM dup_keys").fetchone()[0]:  # type: ignore[index]
        return
    # Held back: every place but the first of a key repeated with the same values (one record, the
    # lineage of the place seen first), and every place of a key met with different values.
    con.execute(f"""INSERT INTO raw_history.held_{t} {cand},
        places AS (
            SELECT c.*, d.nd, row_number() OVER (PARTITION BY {", ".join("c." + k for k in kind.key)}
                                                 ORDER BY run_seq, source_file, source_row) AS rn
            FROM cand c JOIN dup_keys d ON {match})
        SELECT {keys}, file_sha256, source_row FROM places WHERE nd > 1 OR rn > 1""")
    _insert_conflicts(con, kind, cand, match)


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


def _total_mismatches(con: duckdb.DuckDBPyConnection) -> None:
    """合计 lines against the sum of their file's *loaded rows* (source-files.md): every row that
    passed the row checks and is not one place of a key conflict (rejected at this rebuild); a row
    whose key repeats an earlier place with the same values counts, as the clerk's total counts it."""
    sums = " UNION ALL ".join(
        f"""SELECT r.file_sha256, '{c.header}' AS column_name, sum(r.{c.name}) AS total
            FROM raw_history.rows_{k.table} r
            SEMI JOIN checks k ON k.file_sha256 = r.file_sha256 AND k.kind = '{k.table}'
            ANTI JOIN raw.rejected_rows x ON x.file_sha256 = r.file_sha256 AND x.source_row = r.source_row
            GROUP BY ALL"""
        for k in KINDS for c in k.columns if c.vtype is VType.MONEY)
    con.execute("DELETE FROM raw.total_mismatches")
    con.execute(f"""INSERT INTO raw.total_mismatches
        WITH checks AS (
            SELECT f.source_file, f.kind, t.file_sha256, t.source_row, t.column_name, t.stated_total
            FROM raw_history.total_checks t
            JOIN eff_files f ON f.file_sha256 = t.file_sha256 AND f.status = 'loaded'),
        sums AS ({sums})
        SELECT c.source_file, c.file_sha256, c.source_row, c.column_name, c.stated_total,
            coalesce(s.total, 0), abs(c.stated_total - coalesce(s.total, 0))
        FROM checks c LEFT JOIN sums s ON s.file_sha256 = c.file_sha256 AND s.column_name = c.column_name
        WHERE c.stated_total <> coalesce(s.total, 0)""")
