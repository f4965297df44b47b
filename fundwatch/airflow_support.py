"""Airflow and fundwatch: what a task of the daily DAG runs, and running the DAG from ``fundwatch run``.

Each task of the DAG calls :func:`run_stage_task` with its stage's name: the day (home, inbox, out,
run id, run date) comes from the Airflow context. ``fundwatch run`` calls :func:`run_dag`: it
migrates Airflow's metadata once per home (SQLite in the home), then runs ``airflow dags test
fundwatch_daily <logical date>`` with the inbox/home/out as the run's conf — the same DAG file the
scheduler runs — and reads the run's final state back from Airflow.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fundwatch.masking import mask_line
from fundwatch.paths import DAGS_DIR, Home
from fundwatch.pipeline import STAGE_NAMES, Day, run_stage

DAG_ID = "fundwatch_daily"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def run_settings(context: Any) -> Day:
    """Home, inbox, out, run id and run date of the current task, from the Airflow context.

    The run date is the logical date in Asia/Shanghai (never the wall clock); a run triggered
    without a logical date uses its ``run_after``.
    """
    params = context.get("params") or {}
    home = Home.resolve(params.get("home") or None).ensure()
    inbox = Path(params["inbox"]) if params.get("inbox") else home.inbox  # else $FUNDWATCH_INBOX or <home>/inbox
    out = Path(params.get("out") or home.default_out)
    moment = context.get("logical_date") or context["dag_run"].run_after
    run_date = moment.astimezone(SHANGHAI).date()
    return Day(home=home, inbox=inbox, run_id=context["run_id"], run_date=run_date, out=out)


def run_stage_task(stage: str, context: Any) -> dict:
    """The body of the DAG's task ``stage``: run that stage of the day; its small JSON summary is the
    task's XCom and the extra of the asset events of the task's outlets (the findings export)."""
    with refusals_fail_at_once():
        summary = run_stage(stage, run_settings(context)).to_xcom()
    for outlet in getattr(context.get("task"), "outlets", None) or ():
        context["outlet_events"][outlet].extra = summary
    return summary


@contextlib.contextmanager
def refusals_fail_at_once() -> Iterator[None]:
    """A stage that refuses to run (``pipeline.RunRefused``: retrying will not help) fails its task
    without the retries, so the run fails and its alert goes out at once."""
    from fundwatch.pipeline import RunRefused

    try:
        yield
    except RunRefused as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


def airflow_env(home: Home) -> dict[str, str]:
    """Environment for Airflow CLI processes of this home: metadata in SQLite under the home."""
    env = dict(os.environ)
    af = home.airflow_home
    env.update(
        {
            "AIRFLOW_HOME": str(af),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{af / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home.logs_dir / "airflow"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "FUNDWATCH_HOME": str(home.root),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _airflow(home: Home, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(exe), *args], env=airflow_env(home), check=False, text=True,
        capture_output=capture, cwd=str(home.root),
    )


def ensure_metadata(home: Home) -> None:
    """`airflow db migrate` once per home (about 7 s); a stamp file remembers it."""
    home.ensure()
    stamp = home.airflow_home / ".migrated"
    if stamp.exists():
        return
    proc = _airflow(home, "db", "migrate", capture=True)
    if proc.returncode != 0:
        raise RuntimeError(f"Airflow 元数据库初始化失败（airflow db migrate failed）：{proc.stderr[-2000:]}")
    stamp.write_text("ok\n", encoding="utf-8")


def logical_date_for(run_date: date) -> str:
    """06:00 Asia/Shanghai of the run date: the schedule's own time of day."""
    return datetime(run_date.year, run_date.month, run_date.day, 6, 0, tzinfo=SHANGHAI).isoformat()


def run_dag(home: Home, inbox: Path, run_date: date, out: Path, *, quiet: bool = False) -> str:
    """Run the daily DAG once through Airflow; returns the run's final state ('success' or other).

    The state is the one the run logs as it finishes; only when that line is missing is Airflow
    asked again (``airflow dags state``: a second Airflow process, some 3-5 s)."""
    ensure_metadata(home)
    conf = json.dumps({"inbox": str(inbox), "home": str(home.root), "out": str(out)})
    logical = logical_date_for(run_date)
    log_path = home.logs_dir / f"run-{run_date.isoformat()}.log"
    exe = Path(sys.executable).with_name("airflow")
    finished = None
    with log_path.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            [str(exe), "dags", "test", DAG_ID, logical, "-c", conf], env=airflow_env(home), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(home.root), bufsize=1,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            line = mask_line(line)
            log_file.write(line)
            shown = _progress(line)
            if shown and not quiet:
                print(shown, flush=True)
            finished = _FINISHED.search(line) or finished
        returncode = proc.wait()
    if not quiet:
        print(f"完整日志（full Airflow log）：{log_path}", flush=True)
    state = finished.group(1) if finished else dag_run_state(home, logical)
    if returncode != 0 and state == "success":
        return "failed"
    return state


_STAGE = re.compile(rf"\[({'|'.join(STAGE_NAMES)})\] (.*?) \[fundwatch\.pipeline\]")
_FINISHED = re.compile(rf"DagRun Finished: dag_id={DAG_ID}, .*?, state=(\w+),")
_STAGE_SECONDS = re.compile(rf"\[({'|'.join(STAGE_NAMES)})\] .*\((\d+(?:\.\d+)?) s\) \[fundwatch\.pipeline\]")


def stage_seconds(log_path: Path) -> dict[str, float]:
    """Each stage's own seconds, as logged by ``fundwatch.pipeline`` in a run's Airflow log."""
    out: dict[str, float] = {}
    for line in log_path.read_text(encoding="utf-8").splitlines():
        m = _STAGE_SECONDS.search(line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out
_FAILED = re.compile(r"Task failed with exception|BrokenCheckError|WarehouseError|Error: |Exception: ")


def _progress(line: str) -> str | None:
    """The lines of an Airflow run a person wants to see: each stage's summary, and failures."""
    m = _STAGE.search(line)
    if m:
        return f"  [{m.group(1)}] {m.group(2)}"
    if _FAILED.search(line) and "[info" not in line:
        return "  ! " + line.strip()[:400]
    return None


def dag_run_state(home: Home, logical: str) -> str:
    proc = _airflow(home, "dags", "state", DAG_ID, logical, capture=True)
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
    return lines[-1].split(",")[0] if lines else "unknown"
