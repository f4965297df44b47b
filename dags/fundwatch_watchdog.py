"""
# fundwatch_watchdog — 每日运行看门狗 (is today's run done by 08:00?)

At **08:00 Asia/Shanghai**, when the supervision office starts its day, this DAG checks that the
daily run of today (`fundwatch_daily`, 06:00) has recorded its findings in the home's
`state.sqlite` — what the review page shows. If not (the run failed, is still running, or never
started because the scheduler or a worker was down), the office is told through
`$FUNDWATCH_NOTIFY_URLS` (`fundwatch.alerts.check_day`). A failed run is also reported at once
by the daily DAG's own failure callback; this catches what no callback can.

Parameter (trigger conf): `home` — empty means `$FUNDWATCH_HOME` (or the project's default home).
Owner: 省计生协监督办 (supervision office). Runbook: README.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task


@dag(
    dag_id="fundwatch_watchdog",
    schedule="0 8 * * *",
    start_date=pendulum.datetime(2020, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "supervision-office", "retries": 1, "retry_delay": timedelta(minutes=1),
                  "execution_timeout": timedelta(minutes=10)},
    tags=["fundwatch", "audit", "watchdog"],
    doc_md=__doc__,
    params={"home": Param("", type="string", description="安装目录 (home folder); empty = $FUNDWATCH_HOME")},
)
def fundwatch_watchdog():
    @task
    def check_today() -> dict:
        from fundwatch.airflow_support import run_settings
        from fundwatch.alerts import check_day

        s = run_settings(get_current_context())  # the run date: this run's logical date in Asia/Shanghai
        return check_day(s.home, s.run_date)

    check_today()


fundwatch_watchdog()
