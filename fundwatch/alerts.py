"""When a day fails: the daily DAG's ``on_failure_callback``.

Today it writes one masked line to the log. It is the one place a failed run reaches: the alert to
the supervision office (issue 16, through apprise) is sent from here. Kept import-light: the DAG
file imports it when Airflow parses the DAG.
"""

from __future__ import annotations

import logging
from typing import Any

from fundwatch.masking import mask_line

log = logging.getLogger(__name__)


def on_run_failure(context: Any) -> None:
    """A run of the daily DAG failed (Airflow calls this once per failed run)."""
    dag_run = context.get("dag_run")
    run_id = context.get("run_id") or getattr(dag_run, "run_id", "?")
    moment = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    ti = context.get("ti") or context.get("task_instance")
    task = getattr(ti, "task_id", None) or "?"
    reason = context.get("reason") or context.get("exception") or "?"
    log.error(mask_line(f"每日运行失败（daily run failed）：run {run_id}，logical date {moment}，"
                        f"task {task}，原因（reason）{reason}"))
