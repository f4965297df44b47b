"""The upload report: what the daily run will decide about one file, as the clerk sees it.

The report is the ingestion's own check of one file (``check``): the same readers, header
recognition, normalisers and 合计 rule as the daily load, never a second reader. ``Report.to_json``
is the answer of ``POST /api/uploads`` (interface.md): ``kind``, ``rows_read``, ``rows_loaded``,
``rows_rejected`` (``row`` and ``reason`` each), ``total_mismatches``, ``status``; money as strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from ingestion.kinds import KINDS_BY_TABLE
from ingestion.parse import Rejected, parse_rows
from ingestion.readers import FileRejected, Limits, Row, iter_csv, iter_xlsx, scan_file

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
    header_row: int | None = None
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
        """The report as interface.md's JSON (plus ``kind_label``, ``reason``, ``header_row``, ``notes``)."""
        return {
            "status": self.status,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "reason": self.reason,
            "header_row": self.header_row,
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
            header_row=data.get("header_row"), rows_read=data.get("rows_read", 0),
            rows_loaded=data.get("rows_loaded", 0),
            rows_rejected=tuple(RowProblem(r["row"], r["reason"], tuple(r.get("columns", ())))
                                for r in data.get("rows_rejected", ())),
            total_mismatches=tuple(Mismatch(m["row"], m["column"], Decimal(m["stated"]), Decimal(m["computed"]))
                                   for m in data.get("total_mismatches", ())),
            notes=tuple(data.get("notes", ())))


def refused(reason: str) -> Report:
    return Report(status=REJECTED, reason=reason)


_COLUMN_IN_REASON = re.compile(r"列“([^”]+)”")


def read_rows(path: Path, relpath: str, limits: Limits | None = None) -> Iterator[Row]:
    """The file's ``(row number, cells)`` as the daily load reads them (FileRejected if it cannot)."""
    limits = limits or Limits()
    if relpath.lower().endswith(".csv"):
        return iter_csv(path, scan_file(path), limits)
    return iter_xlsx(path.read_bytes(), limits)


def check(path: Path, relpath: str, limits: Limits | None = None) -> Report:
    """Check one file exactly as the daily load reads it (readers, header, normalisers, 合计)."""
    problems: list[Rejected] = []
    try:
        rows = read_rows(path, relpath, limits)
        header, stats = parse_rows(rows, lambda _h: None, lambda _n, _v: None, problems.append)
    except FileRejected as exc:
        return refused(str(exc))
    return Report(
        status=LOADED, kind=header.kind.table, header_row=header.row, rows_read=stats.data_rows,
        rows_loaded=stats.rows_valid,
        rows_rejected=tuple(RowProblem(r.source_row, r.reason, tuple(dict.fromkeys(
            _COLUMN_IN_REASON.findall(r.reason)))) for r in problems),
        total_mismatches=tuple(Mismatch(m.source_row, m.column_name, m.stated_total, m.computed_total)
                               for m in stats.mismatches))
