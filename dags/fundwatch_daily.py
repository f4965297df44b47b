"""
# fundwatch_daily — 计生协项目资金每日监督 (daily audit of project money)

Every morning at **06:00 Asia/Shanghai** this DAG takes the files that arrived in the inbox
(allocation documents, bank credits, rosters, payments, vouchers, postings, reports, decisions,
death and staff registers) and checks every rule of the provincial requirements:

| task | what it does |
|---|---|
| `ingest` | 入库: new and corrected files → raw layer; rejected files/rows kept with a Chinese reason |
| `dbt_build` | 建模: staging → intermediate → marts, dbt tests, as of the run date |
| `validate` | 校验: Great Expectations suites over the marts, GX Data Docs; an erroring check fails the run |
| `export` | 导出: findings recorded (`finding_id`, `first_seen`, history); `findings.csv`/`.xlsx`; 监督日报 per unit |
| `docs` | 文档: regenerates the dbt docs auditors browse |
| `backup` | 备份: state, attachments and uploads into the home's backups folder (the last 30 kept) |

The **logical date is the run date** everywhere: deadlines are judged as of that date, never the
wall clock. One run at a time (`max_active_runs=1`): DuckDB has one writer.

Parameters (trigger conf): `inbox`, `home`, `out` — empty means `$FUNDWATCH_INBOX`,
`$FUNDWATCH_HOME` (or the project's default home) and `<home>/out`.
Owner: 省计生协监督办 (supervision office). Runbook: README.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from fundwatch.alerts import on_run_failure

DEFAULT_ARGS = {
    "owner": "supervision-office",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),  # transient: a file lock, a slow disk
    "execution_timeout": timedelta(hours=2),
}


def _run() -> dict:
    """The run's identity and folders, from the Airflow context (imports stay out of module level)."""
    from fundwatch.airflow_support import run_settings

    return run_settings(get_current_context())


@dag(
    dag_id="fundwatch_daily",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2020, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_run_failure,
    tags=["fundwatch", "audit", "daily"],
    doc_md=__doc__,
    params={
        "inbox": Param("", type="string", description="收件箱目录 (inbox folder); empty = $FUNDWATCH_INBOX"),
        "home": Param("", type="string", description="安装目录 (home folder); empty = $FUNDWATCH_HOME"),
        "out": Param("", type="string", description="导出目录 (export folder); empty = <home>/out"),
    },
)
def fundwatch_daily():
    @task
    def ingest() -> dict:
        from fundwatch import pipeline
        from fundwatch.airflow_support import refusals_fail_at_once

        s = _run()
        with refusals_fail_at_once():
            return pipeline.ingest(s["home"], s["inbox"], s["run_id"], s["run_date"]).to_xcom()

    @task
    def dbt_build(_loaded: dict) -> dict:
        from fundwatch import pipeline

        s = _run()
        return pipeline.build(s["home"], s["run_date"]).to_xcom()

    @task(retries=0)  # a broken check is not transient: fail at once, loudly
    def validate(_built: dict) -> dict:
        from fundwatch import pipeline

        s = _run()
        return pipeline.validate(s["home"], s["run_date"]).to_xcom()

    @task
    def export(_validated: dict) -> dict:
        from fundwatch import pipeline

        s = _run()
        return pipeline.export(s["home"], s["run_id"], s["run_date"], s["out"]).to_xcom()

    @task
    def docs(_exported: dict) -> dict:
        from fundwatch import pipeline

        s = _run()
        return pipeline.docs(s["home"], s["run_date"]).to_xcom()

    @task
    def backup(_docs: dict) -> dict:
        from fundwatch import pipeline

        s = _run()
        return pipeline.backup(s["home"], s["run_date"]).to_xcom()

    backup(docs(export(validate(dbt_build(ingest())))))


fundwatch_daily()
