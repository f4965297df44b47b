"""fundwatch.dbt_cli runs dbt's own command line and ends without the interpreter's teardown: dbt's exit
code is kept and the warehouse is closed (checkpointed, no WAL left) as on a normal exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dbt_fixture_raw import RUN_DATE, write_raw

from fundwatch.dbt_cli import EXCLUSIVE
from fundwatch.paths import Home
from fundwatch.warehouse import dbt_build
from ingestion.load import SMALL_ROW_GROUP, connect


def test_the_exit_code_is_dbts():
    ours = subprocess.run([sys.executable, "-m", "fundwatch.dbt_cli", "no-such-command"],
                          capture_output=True, text=True, check=False)
    theirs = subprocess.run([str(Path(sys.executable).parent / "dbt"), "no-such-command"],
                            capture_output=True, text=True, check=False)
    assert ours.returncode == theirs.returncode == 2
    assert "No such command" in ours.stderr


def test_a_build_leaves_the_warehouse_checkpointed(built_home: Home):
    assert built_home.warehouse.exists()
    assert not Path(f"{built_home.warehouse}.wal").exists()


def test_the_models_that_read_every_payment_are_built_one_at_a_time(built_home: Home):
    """The models that read every payment or roster entry (meta fw_exclusive) are never built side by
    side (from compiling to the end of their run, in the build's run_results.json), and the two that
    could run together, each pair, are not each other's ancestors: a lock orders them, not the lineage."""
    target = built_home.dbt_target_dir
    nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    exclusive = {n["unique_id"] for n in nodes.values() if (n["config"].get("meta") or {}).get(EXCLUSIVE)}
    assert {uid.rsplit(".", 1)[1] for uid in exclusive} == {
        "stg_raw__payments", "stg_raw__roster_entries", "int_payments_matched", "int_roster_entries_paid"}
    for pair in (("stg_raw__payments", "stg_raw__roster_entries"), ("int_payments_matched", "int_roster_entries_paid")):
        a, b = (f"model.fundwatch.{name}" for name in pair)
        assert a not in nodes[b]["depends_on"]["nodes"] and b not in nodes[a]["depends_on"]["nodes"]
    spans = []
    for result in json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]:
        if result["unique_id"] in exclusive:
            timing = {t["name"]: t for t in result["timing"]}
            spans.append((timing["compile"]["started_at"], timing["execute"]["completed_at"]))
    spans.sort()
    assert len(spans) == 4
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, f"built side by side: {spans}"


def _row_groups(warehouse: Path, table: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{table}')").fetchone()[0]


@pytest.mark.parametrize("recorded", [SMALL_ROW_GROUP, None])
def test_a_build_keeps_the_row_groups_the_load_wrote(tmp_path: Path, recorded):
    """A warehouse whose last load wrote small row groups (recorded in raw_history.storage) is built by
    dbt attached with the same size: its checkpoint leaves them as they are. Without the record (DuckDB's
    default size) the same build's checkpoint merges them: what the record spares a 1M build (1.2 s)."""
    home = Home(tmp_path / "home").ensure()
    write_raw(home.warehouse)
    with connect(home.warehouse, SMALL_ROW_GROUP) as con:  # as a load of small files writes them
        con.execute("CREATE SCHEMA IF NOT EXISTS raw_history")
        con.execute("CREATE TABLE raw_history.fw_probe AS SELECT range AS n FROM range(40000)")
        con.execute("CREATE TABLE IF NOT EXISTS raw_history.storage (row_group_size INTEGER)")
        con.execute("DELETE FROM raw_history.storage")
        if recorded:
            con.execute("INSERT INTO raw_history.storage VALUES (?)", [recorded])
    assert _row_groups(home.warehouse, "raw_history.fw_probe") == 3
    dbt_build(home, RUN_DATE)
    assert _row_groups(home.warehouse, "raw_history.fw_probe") == (3 if recorded else 1)
    assert not Path(f"{home.warehouse}.wal").exists()
