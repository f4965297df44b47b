"""Make GX's SQL data source work on DuckDB (GX 1.24.1, pinned exactly).

GX returns every row fetch after the pooled connection went back to the pool; duckdb-engine's cursor
is the connection itself, so every expectation errors with "list index out of range" (GX issues
10738, 11579). GX keeps one persisted connection for the dialects in the private tuple
``_PERSISTED_CONNECTION_DIALECTS``; adding DuckDB there makes the SQL engine work (see
../shared/stack-notes.md). This patches a private name, so:

* great-expectations is pinned exactly in requirements.lock and pyproject.toml;
* ``tests/expectations/test_gx_duckdb.py`` fails loudly the day the patch stops working;
* any expectation that still errors is reported as a *broken check* (the run fails), never as data
  that failed or passed (see ``expectations.validate``).

The persisted connection holds DuckDB's file lock for as long as the process lives, and GX keeps
engines in places no public API reaches: so the validator opens the warehouse read-only, in a child
process of its own, and the lock is gone when that process exits (``expectations.validate``).
"""

from __future__ import annotations

from great_expectations.execution_engine import sqlalchemy_execution_engine as _engine_module

_PATCHED_VALUE = "duckdb"


class _DuckDBDialectName(str):
    """Compares equal to the engine's dialect name "duckdb" and offers ``.value`` like GXSqlDialect."""

    value = _PATCHED_VALUE


def apply() -> None:
    """Register DuckDB as a persisted-connection dialect (idempotent)."""
    current = _engine_module._PERSISTED_CONNECTION_DIALECTS
    if any(getattr(d, "value", None) == _PATCHED_VALUE for d in current):
        return
    _engine_module._PERSISTED_CONNECTION_DIALECTS = (*current, _DuckDBDialectName(_PATCHED_VALUE))


def is_applied() -> bool:
    return any(
        getattr(d, "value", None) == _PATCHED_VALUE for d in _engine_module._PERSISTED_CONNECTION_DIALECTS
    )
