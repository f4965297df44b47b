"""Check one file exactly as the daily load would, without touching any warehouse.

:func:`check_file` records the file in a scratch DuckDB with the same code the daily load runs
(``ingestion.history.record_entry``: same readers, same row checks, same reasons) and rebuilds the
scratch raw layer (``ingestion.rebuild``: same key deduplication and conflicts within the file,
same 合计 comparison), then reads the outcome back. What it cannot know is how the file meets the
others of the inbox (a copy of one, or a key conflict with another file).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from ingestion.history import record_entry
from ingestion.inbox import classify
from ingestion.kinds import KINDS_BY_TABLE
from ingestion.load import finish_run, start_run, wall_time
from ingestion.readers import Limits


@dataclass(frozen=True)
class RowProblem:
    """A data row that would not be loaded."""

    row: int  # the row a person sees (CSV: the line)
    column: str | None  # Chinese header of the first column at fault (key headers for a key conflict)
    reason: str  # Chinese


@dataclass(frozen=True)
class TotalProblem:
    """A 合计 line that disagrees with the loaded rows above it."""

    row: int
    column: str
    stated: Decimal
    computed: Decimal
    difference: Decimal


@dataclass(frozen=True)
class FileCheck:
    """The outcome of :func:`check_file` (what ``raw.files`` and the findings would say)."""

    relpath: str
    kind: str | None  # raw table name (``payments`` ...); None when the kind is not recognised
    kind_label: str | None  # the kind's Chinese name (发放明细 ...)
    status: str  # "loaded" | "rejected" | "skipped"
    reason: str | None  # why the file is rejected or skipped (Chinese); None when loaded
    rows_read: int  # data rows below the header (blank rows and the 合计 line not counted)
    rows_loaded: int  # records the file would bring (a row repeating an earlier one is one record)
    rows_rejected: tuple[RowProblem, ...]
    total_mismatches: tuple[TotalProblem, ...]

    @property
    def ok(self) -> bool:
        """Loaded with no rejected row and no 合计 mismatch."""
        return self.status == "loaded" and not self.rows_rejected and not self.total_mismatches


def check_file(path: Path, relpath: str, *, limits: Limits | None = None) -> FileCheck:
    """Check the file at ``path`` as if it were delivered at ``relpath`` (relative to the inbox;
    its name decides the format and, e.g., a lock file). Never raises for a bad file."""
    with tempfile.TemporaryDirectory(prefix="fundwatch-check-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "check.duckdb"))
        try:
            con.execute("SET enable_progress_bar = false")
            ctx = start_run(con, ("check", wall_time(None)), limits or Limits(), None)
            entry = classify(Path(path), relpath)
            record_entry(ctx, entry)
            finish_run(con, lambda _msg: None)
            return _read_back(con, entry.rel)
        finally:
            con.close()


def _read_back(con: duckdb.DuckDBPyConnection, rel: str) -> FileCheck:
    kind, status, reason, rows_loaded, sha = con.execute(
        "SELECT kind, status, reason, rows_loaded, file_sha256 FROM raw.files WHERE source_file = ?",
        [rel]).fetchone()  # type: ignore[misc]
    k = KINDS_BY_TABLE.get(kind) if kind else None
    read = con.execute("SELECT data_rows FROM raw_history.contents WHERE file_sha256 = ?", [sha]).fetchone()
    keys = "、".join(c.header for c in k.columns if c.name in k.key) if k else None
    rejected = tuple(
        RowProblem(row, column if found else keys, why)
        for row, column, found, why in con.execute("""
            SELECT r.source_row, h.column_name, h.file_sha256 IS NOT NULL, r.reason
            FROM raw.rejected_rows r
            LEFT JOIN raw_history.row_rejects h ON h.file_sha256 = r.file_sha256 AND h.source_row = r.source_row
            WHERE r.source_file = ? ORDER BY r.source_row""", [rel]).fetchall())
    totals = tuple(TotalProblem(*r) for r in con.execute(
        "SELECT source_row, column_name, stated_total, computed_total, difference FROM raw.total_mismatches "
        "WHERE source_file = ? ORDER BY source_row, column_name", [rel]).fetchall())
    return FileCheck(rel, kind, k.label if k else None, status, reason, int(read[0]) if read else 0,
                     int(rows_loaded or 0), rejected, totals)
