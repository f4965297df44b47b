"""Tier 1 and 2 of the DAG tests: every DAG file imports cleanly, without cycles, and follows policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fundwatch.alerts import on_run_failure
from fundwatch.paths import DAGS_DIR
from fundwatch.pipeline import STAGE_NAMES, STAGES

DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_there_is_a_dag_file():
    assert DAG_FILES, "dags/ holds no DAG file"


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {Path(d.fileloc).name for d in dagbag.dags.values()} == {p.name for p in DAG_FILES}


def test_no_cycles(dagbag):

    for dag in dagbag.dags.values():
        # topological sort raises on a cycle
        assert len(dag.topological_sort()) == len(dag.tasks)


# What a DAG file must not load when Airflow parses it (every 30 s, in the dag-processor): the
# stages' own work (warehouse, GX, dbt, readers, writers, the review page).
HEAVY = ("duckdb", "great_expectations", "dbt", "pandas", "numpy", "pyarrow", "python_calamine",
         "xlsxwriter", "openpyxl", "flask", "ingestion", "expectations")


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_files_do_no_heavy_work_at_import(path, tmp_path):
    """Import the DAG file in a fresh interpreter, as the dag-processor does, and list what it loaded."""
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('dag_under_test', {str(path)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    heavy = sorted({m for m in loaded if m.split(".")[0] in HEAVY})
    assert heavy == [], f"{path.name} loads {heavy[:10]} when parsed"
    if path.name == "fundwatch_daily.py":
        assert "fundwatch.pipeline" in loaded, "the DAG takes its tasks from fundwatch.pipeline.STAGES"


def test_daily_dag_policy(dagbag):
    dag = dagbag.dags["fundwatch_daily"]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert {"fundwatch", "audit", "daily"} <= set(dag.tags)
    assert dag.doc_md and "fundwatch_daily" in dag.doc_md
    assert dag.timetable.expression == "0 6 * * *"
    assert str(dag.timetable.timezone) == "Asia/Shanghai"  # 06:00 Beijing time, not UTC
    for t in dag.tasks:
        assert t.owner == "supervision-office"
        assert t.execution_timeout is not None and t.execution_timeout <= timedelta(hours=2)
    retries = {t.task_id: t.retries for t in dag.tasks}
    assert retries == {"ingest": 2, "dbt_build": 2, "validate": 0, "export": 2, "docs": 2, "backup": 2}
    assert dag.on_failure_callback is on_run_failure, "a failed run reaches fundwatch.alerts"


def test_daily_dag_runs_the_pipeline_stages_in_order(dagbag):
    """One task per stage of fundwatch.pipeline.STAGES, chained in that order with >>; no task
    takes another's XCom as an argument (ordering is by dependency, not by data)."""
    dag = dagbag.dags["fundwatch_daily"]
    order = [t.task_id for t in dag.topological_sort()]
    assert order == list(STAGE_NAMES) == ["ingest", "dbt_build", "validate", "export", "docs", "backup"]
    for before, t in zip([None, *order], order, strict=False):
        task = dag.get_task(t)
        assert task.upstream_task_ids == ({before} if before else set()), t
        assert not task.op_args and not task.op_kwargs, f"{t} takes arguments: {task.op_args} {task.op_kwargs}"
    assert set(dag.params.keys()) == {"inbox", "home", "out"}
    for s in STAGES:
        assert f"| `{s.name}` | {s.doc} |" in dag.doc_md


def test_the_findings_export_is_an_asset(dagbag):
    dag = dagbag.dags["fundwatch_daily"]
    outlets = {t.task_id: [(o.name, o.uri) for o in t.outlets] for t in dag.tasks}
    assert outlets == {"ingest": [], "dbt_build": [], "validate": [],
                       "export": [("fundwatch_findings", "x-fundwatch://findings")], "docs": [], "backup": []}
