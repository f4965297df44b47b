"""When a day fails or is late: the alerts to the supervision office, through ``fundwatch.notify``.

- :func:`on_run_failure` is the daily DAG's ``on_failure_callback``: Airflow calls it once per failed
  run (under the scheduler the dag-processor runs it; under ``fundwatch run`` the ``airflow dags
  test`` process). The message names the run date, the failed task and its error (read from the
  task's log, masked), and what the review page shows meanwhile.
- :func:`check_day` is the watchdog's check (``dags/fundwatch_watchdog.py``, 08:00 Asia/Shanghai):
  today's run has not recorded its findings in ``state.sqlite`` → the office hears it, whether the
  run failed, is still running or never started (a scheduler that is down calls no callback).

Messages are Chinese with English beside, and hold no personal data (every line goes through
``fundwatch.masking``). Channels are ``$FUNDWATCH_NOTIFY_URLS``; a channel that fails is logged as an
error, never raised (Airflow would only log it, and the run's own state must not change).
Kept import-light: the DAG files import this module when Airflow parses them.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fundwatch.masking import mask_line
from fundwatch.paths import Home

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
PREFIX = "【fundwatch】"
DEADLINE = "08:00"  # the office's morning: the watchdog's schedule (dags/fundwatch_watchdog.py)


def latest_complete_run(home: Home) -> str | None:
    """The latest run date whose findings are recorded (what the review page shows), read-only."""
    if not home.state_db.exists():
        return None
    conn = sqlite3.connect(f"file:{home.state_db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT max(run_date) FROM runs WHERE status = 'complete'").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _send(title: str, lines: list[str]) -> bool:
    from fundwatch import notify

    body = "\n".join(mask_line(line) for line in lines)
    try:
        delivery = notify.send(mask_line(title), body)
    except Exception:  # a bad URL must not hide the alert in a traceback nobody reads
        log.exception("alert not sent (check %s): %s", notify.ENV_URLS, title)
        return False
    if delivery.configured and not delivery.sent:
        log.error("alert not delivered by every channel: %s", title)
    return delivery.sent


def _task_error(context: Any, ti: Any) -> str | None:
    """The last error the failed task logged (one masked line), from its log file, if it is readable."""
    folder = os.environ.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER")
    if not folder or ti is None:
        return None
    path = (Path(folder) / f"dag_id={ti.dag_id}" / f"run_id={ti.run_id}" / f"task_id={ti.task_id}"
            / f"attempt={ti.try_number}.log")
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("level") != "error":
            continue
        detail = event.get("error_detail") or []
        if detail and isinstance(detail[-1], dict) and detail[-1].get("exc_value"):
            return mask_line(f"{detail[-1].get('exc_type', '')}: {detail[-1]['exc_value']}")[:500]
        return mask_line(str(event.get("event", "")))[:500]
    return None


def on_run_failure(context: Any) -> None:
    """A run of the daily DAG failed: tell the office (Airflow calls this once per failed run)."""
    from fundwatch.airflow_support import run_settings

    dag_run = context.get("dag_run")
    run_id = context.get("run_id") or getattr(dag_run, "run_id", "?")
    moment = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    ti = context.get("ti") or context.get("task_instance")
    task = getattr(ti, "task_id", None) or "?"
    reason = context.get("reason") or context.get("exception") or "?"
    try:
        settings = run_settings(context)
        run_date, latest = settings.run_date, latest_complete_run(settings.home)
    except Exception as exc:  # noqa: BLE001 - a context without a date or home still gets its alert
        log.warning("run date or home not readable in the failure callback: %r", exc)
        run_date, latest = moment or "?", None
    error = _task_error(context, ti)
    title = f"{PREFIX}每日运行失败 daily run failed：{run_date}"
    lines = [
        f"运行日期 run date：{run_date}（run {run_id}）",
        f"失败的任务 failed task：{task}；原因 reason：{reason}",
        *([f"错误 error：{error}"] if error else []),
        f"审核页面仍显示上一次完整运行（{latest or '无 none'}）的结果。"
        f" The review page still shows the last complete run ({latest or 'none'}).",
        "处理：在 Airflow 中查看该任务的日志，修正后重新运行当天（README，运行手册）。"
        " To do: read the task's log in Airflow, fix, and re-run the day (README, Runbook).",
    ]
    log.error(mask_line(f"每日运行失败（daily run failed）：run {run_id}，logical date {moment}，task {task}，"
                        f"原因（reason）{reason}" + (f"，错误（error）{error}" if error else "")))
    _send(title, lines)


def check_day(home: Home, day: date) -> dict:
    """The watchdog: has a run recorded ``day``'s findings? If not, tell the office. Returns what it found."""
    latest = latest_complete_run(home)
    done = latest is not None and latest >= day.isoformat()
    if done:
        log.info("run of %s recorded (latest %s): no alert", day, latest)
        return {"day": day.isoformat(), "recorded": True, "latest": latest, "alerted": False}
    title = f"{PREFIX}截至 {DEADLINE} 今日运行未完成 no complete run by {DEADLINE}：{day}"
    lines = [
        f"{day} 的每日运行截至 {DEADLINE}（北京时间）尚未完成。 The daily run of {day} had not completed by "
        f"{DEADLINE} Asia/Shanghai.",
        f"审核页面显示的是 {latest or '（尚无运行 no run yet）'} 的结果。"
        f" The review page shows {latest or 'no run yet'}.",
        "请在 Airflow 中查看 fundwatch_daily 今天的运行：仍在运行、已失败，或未启动（调度器是否在运行）。"
        " Check today's fundwatch_daily run in Airflow: still running, failed, or never started (is the "
        "scheduler up?).",
    ]
    sent = _send(title, lines)
    return {"day": day.isoformat(), "recorded": False, "latest": latest, "alerted": sent}
