"""The DuckDB patch of GX's SQL engine must keep working; this fails loudly the day it stops."""

from __future__ import annotations

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe

from expectations import gx_duckdb


def _run(tmp_path, name):
    db = tmp_path / f"{name}.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table t as select i as x from range(100) r(i)")
    ctx = gx.get_context(mode="ephemeral")
    ds = ctx.data_sources.add_sql(name, connection_string=f"duckdb:///{db}")
    batch = ds.add_table_asset("t", table_name="t").add_batch_definition_whole_table("b").get_batch()
    return batch.validate(gxe.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=98))


def test_patched_gx_evaluates_expectations_on_duckdb(tmp_path):
    gx_duckdb.apply()
    assert gx_duckdb.is_applied()
    result = _run(tmp_path, "patched")
    assert not result.exception_info.get("raised_exception"), result.exception_info
    assert result.success is False
    assert result.result["unexpected_count"] == 1  # x = 99 is outside [0, 98]
