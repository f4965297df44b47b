"""The DuckDB patch of GX's SQL engine must keep working; this fails loudly the day it stops, and the
day GX no longer needs it.

A broken check is judged as the validator judges it (``expectations.validate._raised``): GX reports
an error under each metric's id, so a top-level ``exception_info["raised_exception"]`` never sees it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe

from expectations import gx_duckdb
from expectations.validate import _raised


def _run(tmp_path, name):
    db = tmp_path / f"{name}.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table t as select i as x from range(100) r(i)")
    ctx = gx.get_context(mode="ephemeral")
    ds = ctx.data_sources.add_sql(name, connection_string=f"duckdb:///{db}")
    batch = ds.add_table_asset("t", table_name="t").add_batch_definition_whole_table("b").get_batch()
    return batch.validate(gxe.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=98))


def test_without_the_patch_gx_cannot_evaluate_on_duckdb(tmp_path):
    """In a fresh interpreter (the patch is process-wide): the bug the patch works around is there. When
    this fails, GX fixed it: drop the patch (expectations/gx_duckdb.py)."""
    code = (
        "import json, sys, pathlib\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_gx_duckdb import _run, _raised, gx_duckdb\n"
        "applied = gx_duckdb.is_applied()\n"
        "r = _run(pathlib.Path(sys.argv[2]), 'unpatched')\n"
        "print(json.dumps({'applied': applied, 'error': _raised(r.exception_info)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent),
                           str(tmp_path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["applied"] is False
    assert got["error"] == "list index out of range", got


def test_patched_gx_evaluates_expectations_on_duckdb(tmp_path):
    gx_duckdb.apply()
    assert gx_duckdb.is_applied()
    result = _run(tmp_path, "patched")
    assert _raised(result.exception_info) is None, result.exception_info
    assert result.success is False
    assert result.result["unexpected_count"] == 1  # x = 99 is outside [0, 98]
