"""
# fundwatch_daily — 计生协项目资金每日监督 (daily audit of project money)

Every morning at **06:00 Asia/Shanghai** this DAG takes the files that arrived in the inbox
(allocation documents, bank credits, rosters, payments, vouchers, postings, reports, decisions,
death and staff registers) and checks every rule of the provincial requirements:

{tasks}

The **logical date is the run date** everywhere: deadlines are judged as of that date, never the
wall clock. One run at a time (`max_active_runs=1`): DuckDB has one writer. The tasks are the
stages of `fundwatch.pipeline.STAGES`, in that order; `export` updates the asset
`fundwatch_findings`; a failed run calls `fundwatch.alerts.on_run_failure`.

Parameters (trigger conf): `inbox`, `home`, `out` — empty means `$FUNDWATCH_INBOX`,
`$FUNDWATCH_HOME` (or the project's default home) and `<home>/out`.
Owner: 省计生协监督办 (supervision office). Runbook: README.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, chain, dag, get_current_context, task

from fundwatch.alerts import on_run_failure
from fundwatch.pipeline import STAGES  # import-light: each stage imports its own work when it runs

DEFAULT_ARGS = {
    "owner": "supervision-office",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),  # transient: a file lock, a slow disk
    "execution_timeout": timedelta(hours=2),
}

#: The findings export (findings.csv / findings.xlsx in the run's out folder), for DAGs that follow it.
FINDINGS = Asset(name="fundwatch_findings", uri="x-fundwatch://findings")
OUTLETS = {"export": [FINDINGS]}


def _doc_md() -> str:
    """This docstring with the table of tasks: each stage's own line from ``fundwatch.pipeline``."""
    rows = [f"| `{s.name}` | {s.doc} |" for s in STAGES]
    return __doc__.format(tasks="\n".join(["| task | what it does |", "|---|---|", *rows]))


def _stage_task(name: str, retries: int | None):
    """One task per stage: it runs that stage of the day, by name."""
    overrides = {} if retries is None else {"retries": retries}

    @task(task_id=name, outlets=OUTLETS.get(name, []), **overrides)
    def run_stage() -> dict:
        from fundwatch.airflow_support import run_stage_task

        return run_stage_task(name, get_current_context())

    return run_stage()


@dag(
    dag_id="fundwatch_daily",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2020, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_run_failure,
    tags=["fundwatch", "audit", "daily"],
    doc_md=_doc_md(),
    params={
        "inbox": Param("", type="string", description="收件箱目录 (inbox folder); empty = $FUNDWATCH_INBOX"),
        "home": Param("", type="string", description="安装目录 (home folder); empty = $FUNDWATCH_HOME"),
        "out": Param("", type="string", description="导出目录 (export folder); empty = <home>/out"),
    },
)
def fundwatch_daily():
    chain(*[_stage_task(s.name, s.retries) for s in STAGES])  # ingest >> dbt_build >> ... in STAGES order


fundwatch_daily()
