"""Tier 1 and 2 of the DAG tests: every DAG file imports cleanly, without cycles, and follows policy."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fundwatch.paths import DAGS_DIR

DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

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


def test_dag_files_do_no_heavy_work_at_import():
    heavy = ("import great_expectations", "import duckdb", "import pandas", "from ingestion", "dbt")
    for path in DAG_FILES:
        top = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith(("import ", "from "))]
        assert not [ln for ln in top if any(h in ln for h in heavy)], f"{path.name} imports heavy modules at top level"


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


def test_daily_dag_order(dagbag):
    dag = dagbag.dags["fundwatch_daily"]
    order = [t.task_id for t in dag.topological_sort()]
    assert order == ["ingest", "dbt_build", "validate", "export", "docs", "backup"]
    assert set(dag.params.keys()) == {"inbox", "home", "out"}
