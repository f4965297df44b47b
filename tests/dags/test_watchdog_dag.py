"""The watchdog DAG's policy: 08:00 Asia/Shanghai, one light task, no callback of its own."""

from __future__ import annotations

import pytest

from fundwatch.paths import DAGS_DIR


@pytest.fixture(scope="module")
def dags(tmp_path_factory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert bag.import_errors == {}
    return bag.dags


def test_the_watchdog_looks_at_eight_in_the_morning_beijing_time(dags):
    dag = dags["fundwatch_watchdog"]
    assert dag.timetable.expression == "0 8 * * *" and str(dag.timetable.timezone) == "Asia/Shanghai"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert [t.task_id for t in dag.tasks] == ["check_today"]
    assert set(dag.params.keys()) == {"home"}
    assert dag.on_failure_callback is None  # it is the alert; it does not alert about itself


def test_a_failed_daily_run_calls_the_alert(dags):
    from fundwatch.alerts import on_run_failure

    callbacks = dags["fundwatch_daily"].on_failure_callback
    assert on_run_failure in (callbacks if isinstance(callbacks, list) else [callbacks])
