"""fundwatch.dbt_cli runs dbt's own command line and ends without the interpreter's teardown: dbt's exit
code is kept and the warehouse is closed (checkpointed, no WAL left) as on a normal exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fundwatch.dbt_cli import EXCLUSIVE
from fundwatch.paths import Home


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
