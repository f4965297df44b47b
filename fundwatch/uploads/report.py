"""The upload report: what the daily run will decide about one file, as the clerk sees it.

The report is the ingestion's own check of one file (``check`` = ``ingestion.check_file``): the
daily load's readers, header recognition, normalisers, key deduplication and conflicts within the
file and 合计 rule, never a second reader. ``Report.to_json``
is the answer of ``POST /api/uploads`` (interface.md): ``kind``, ``rows_read``, ``rows_loaded``,
``rows_rejected`` (``row`` and ``reason`` each), ``total_mismatches``, ``status``; money as strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from ingestion import RowProblem as RowProblemOfIngestion
from ingestion import check_file
from ingestion.history import open_rows
from ingestion.kinds import KINDS_BY_TABLE
from ingestion.parse import HEADER_SCAN_ROWS, find_header
from ingestion.readers import FileRejected, Limits, Row, scan_file

LOADED, REJECTED = "loaded", "rejected"


@dataclass(frozen=True)
class RowProblem:
    """A rejected data row: its row number as a person sees it, the reason, the bad columns' headers."""

    row: int
    reason: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mismatch:
    """A 合计 line whose money column disagrees with the sum of the loaded rows above it."""

    row: int
    column: str
    stated: Decimal
    computed: Decimal

    @property
    def difference(self) -> Decimal:
        return abs(self.stated - self.computed)


@dataclass(frozen=True)
class Report:
    status: str  # LOADED (the file loads, maybe with rejected rows) | REJECTED (nothing loads)
    kind: str | None = None  # raw table name, e.g. "payments"
    reason: str | None = None  # why the whole file is rejected (Chinese)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: tuple[RowProblem, ...] = ()
    total_mismatches: tuple[Mismatch, ...] = ()
    notes: tuple[str, ...] = field(default=())  # what else the clerk should know (Chinese)

    @property
    def kind_label(self) -> str | None:
        return KINDS_BY_TABLE[self.kind].label if self.kind else None

    def with_notes(self, *notes: str) -> Report:
        return replace(self, notes=self.notes + tuple(n for n in notes if n))

    def to_json(self) -> dict:
        """The report as interface.md's JSON (plus ``kind_label``, ``reason``, ``notes``; ``columns`` per row)."""
        return {
            "status": self.status,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "reason": self.reason,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": [{"row": p.row, "reason": p.reason, "columns": list(p.columns)}
                              for p in self.rows_rejected],
            "total_mismatches": [{"row": m.row, "column": m.column, "stated": f"{m.stated:.2f}",
                                  "computed": f"{m.computed:.2f}", "difference": f"{m.difference:.2f}"}
                                 for m in self.total_mismatches],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: dict) -> Report:
        return cls(
            status=data["status"], kind=data.get("kind"), reason=data.get("reason"),
            rows_read=data.get("rows_read", 0),
            rows_loaded=data.get("rows_loaded", 0),
            rows_rejected=tuple(RowProblem(r["row"], r["reason"], tuple(r.get("columns", ())))
                                for r in data.get("rows_rejected", ())),
            total_mismatches=tuple(Mismatch(m["row"], m["column"], Decimal(m["stated"]), Decimal(m["computed"]))
                                   for m in data.get("total_mismatches", ())),
            notes=tuple(data.get("notes", ())))


def refused(reason: str, kind: str | None = None) -> Report:
    return Report(status=REJECTED, kind=kind, reason=reason)


_COLUMN_IN_REASON = re.compile(r"列“([^”]+)”")


def _columns(problem: RowProblemOfIngestion) -> tuple[str, ...]:
    """Every column the reason names (``列“金额（元）”``), the ingestion's first column at fault first;
    for a key conflict the ingestion names the key's headers joined by 、."""
    named = [*(problem.column.split("、") if problem.column else ()), *_COLUMN_IN_REASON.findall(problem.reason)]
    return tuple(dict.fromkeys(named))


def check(path: Path, relpath: str, limits: Limits | None = None) -> Report:
    """The daily load's verdict on the file at ``path`` delivered as ``relpath`` (``ingestion.check_file``)."""
    fc = check_file(path, relpath, limits=limits)
    if fc.status != LOADED:
        return refused(fc.reason or "", fc.kind)
    return Report(
        status=LOADED, kind=fc.kind, rows_read=fc.rows_read, rows_loaded=fc.rows_loaded,
        rows_rejected=tuple(RowProblem(p.row, p.reason, _columns(p)) for p in fc.rows_rejected),
        total_mismatches=tuple(Mismatch(m.row, m.column, m.stated, m.computed) for m in fc.total_mismatches))


def read_rows(path: Path, relpath: str, limits: Limits | None = None) -> Iterator[Row]:
    """The file's ``(row number, cells)`` as the daily load reads them (FileRejected if it cannot)."""
    return open_rows(path, relpath, scan_file(path), limits or Limits())


def header_row(kind: str | None, rows: Iterator[Row]) -> int | None:
    """The row holding ``kind``'s header among the first rows (the daily load's header recognition)."""
    for row_no, cells in rows:
        if row_no > HEADER_SCAN_ROWS:
            return None
        try:
            h = find_header(cells, row_no)
        except FileRejected:
            return None
        if h is not None:
            return row_no if h.kind.table == kind else None
    return None
