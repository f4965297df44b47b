"""The eleven file kinds of source-files.md as the generator writes them.

The columns of each kind are ``ingestion.kinds`` (the one definition, which ingestion reads by): a
record of a kind is a plain tuple in the order of those columns (ARCHITECTURE.md's raw tables)
holding *normalised* values (``str``, ``date``, ``Decimal``, ``int`` or ``None``). The writer turns
records into messy cells; the expected-findings engine reads records. The spec cases
(``tests/spec_cases``) are written from source-files.md alone, so a wrong column here cannot hide.
"""

from __future__ import annotations

from ingestion.kinds import KINDS as _KINDS
from ingestion.kinds import Column

#: The columns of each kind (by raw table name), in record order.
KINDS: dict[str, tuple[Column, ...]] = {k.table: k.columns for k in _KINDS}
#: The key columns that identify a record across deliveries.
KEYS: dict[str, tuple[str, ...]] = {k.table: k.key for k in _KINDS}

# Money columns whose 合计 line the writer may state (projects' money columns are not additive).
TOTAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "allocations": ("amount",),
    "credits": ("amount",),
    "roster": ("approved_amount",),
    "payments": ("amount",),
    "expenditures": ("amount",),
    "final_reports": ("actual_spent",),
    "decisions": ("amount",),
}


def field_index(kind: str) -> dict[str, int]:
    """Position of each field in a record of ``kind``."""
    return {c.name: i for i, c in enumerate(KINDS[kind])}
