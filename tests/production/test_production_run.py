"""The production path, proven here: Airflow's metadata in PostgreSQL, the daily DAG run by the real
scheduler (not `airflow dags test`), its tasks executed through the api-server's Execution API.

It differs from docker-compose.yml only in the executor (LocalExecutor instead of Celery workers:
no Redis needed) and in running on loopback instead of containers. Slow (about 1 minute): marked
`production`; deselect with `-m "not production"`.
"""

from __future__ import annotations

import csv
import json
import re
import time
from datetime import date

import pytest
import yaml
from compose_model import COMPOSE_FILE
from prod_stack import AirflowStack, PostgresServer, marked_processes

from fundwatch.airflow_support import DAG_ID, logical_date_for
from fundwatch.generator import generate
from fundwatch.paths import Home

RUN_DATE = date(2021, 4, 30)
RUN_ID = "production_test__2021-04-30"
RUN_TIMEOUT_S = 900


def _compose_healthcheck(service: str) -> list[str]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"][service]["healthcheck"]["test"][1:]


def _wait_for_dag(conn, stack: AirflowStack, timeout: float = 180) -> None:
    """Until the dag-processor has written the DAG into the metadata database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM serialized_dag WHERE dag_id = %s", (DAG_ID,))
            if cur.fetchone()[0]:
                return
        time.sleep(1)
    raise AssertionError(f"{DAG_ID} never reached the metadata database:\n{stack.log_tail('dag-processor')}")


def _wait_for_run(conn, stack: AirflowStack) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state = None
    while time.monotonic() < deadline:
        stack.check_alive()
        with conn.cursor() as cur:
            cur.execute("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, RUN_ID))
            row = cur.fetchone()
        state = row[0] if row else None
        if state in ("success", "failed"):
            return state
        time.sleep(2)
    return f"timeout ({state})"


def _task_states(conn) -> dict[str, tuple[str, int]]:
    with conn.cursor() as cur:
        cur.execute("SELECT task_id, state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s",
                    (DAG_ID, RUN_ID))
        return {task: (state, tries) for task, state, tries in cur.fetchall()}


@pytest.mark.production
def test_daily_dag_succeeds_under_the_real_scheduler_on_postgresql(tmp_path):
    t0 = time.perf_counter()
    inbox = generate(tmp_path / "gen", seed=2020, payments=400, as_of=RUN_DATE).inbox
    home = Home(tmp_path / "home").ensure()
    out = tmp_path / "out"
    conf = json.dumps({"inbox": str(inbox), "home": str(home.root), "out": str(out)})
    timings: dict[str, float] = {}

    db = PostgresServer()
    stack = None
    try:
        db.start()
        timings["postgres"] = time.perf_counter() - t0
        stack = AirflowStack(home, db)
        stack.cli("db", "migrate", timeout=300)
        timings["migrate"] = time.perf_counter() - t0

        stack.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(stack.api_port),
                    "--workers", "1")
        stack.start("dag-processor", "dag-processor")
        stack.start("scheduler", "scheduler", "--skip-serve-logs")
        # The healthchecks docker-compose.yml uses, against the real servers.
        api_check = _compose_healthcheck("airflow-apiserver")[-1]
        api_path = re.search(r"http://localhost:8080(/\S*?)'", api_check).group(1)
        assert stack.wait_http(f"http://127.0.0.1:{stack.api_port}{api_path}") == 200
        assert stack.wait_http(f"http://127.0.0.1:{stack.api_port}/execution/health") == 200
        assert stack.wait_http(f"http://127.0.0.1:{stack.health_port}/health") == 200

        conn = db.connect()
        _wait_for_dag(conn, stack)
        stack.cli("dags", "unpause", DAG_ID)
        stack.cli("dags", "trigger", DAG_ID, "-l", logical_date_for(RUN_DATE), "-r", RUN_ID, "-c", conf)
        timings["triggered"] = time.perf_counter() - t0
        state = _wait_for_run(conn, stack)
        timings["run_finished"] = time.perf_counter() - t0
        tasks = _task_states(conn)
        # The dag-processor's healthcheck command of docker-compose.yml, against the live job.
        stack.cli(*_compose_healthcheck("airflow-dag-processor")[1:])
        conn.close()
        assert state == "success", (
            f"run {state}; tasks {tasks}\nscheduler:\n{stack.log_tail('scheduler')}\n"
            f"task logs: {home.logs_dir / 'airflow'}"
        )
    finally:
        if stack is not None:
            stack.stop()
        db.stop()
    print(f"production run timings (s from start): {({k: round(v, 1) for k, v in timings.items()})}; "
          f"total {time.perf_counter() - t0:.1f}")

    assert set(tasks) == {"ingest", "dbt_build", "validate", "export", "docs"}
    assert all(s == "success" for s, _ in tasks.values()), tasks
    # The metadata lived in PostgreSQL only: no SQLite database appeared in the home.
    assert not (home.airflow_home / "airflow.db").exists()
    findings = out / "findings.csv"
    assert findings.exists() and findings.stat().st_size > 0
    with findings.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {"rule_id", "finding_id"} <= set(rows[0])
    assert (home.dbt_docs_dir / "index.html").exists() and (home.gx_docs_dir / "index.html").exists()
    # Nothing the test started outlives it (servers, executor workers, task runners).
    assert marked_processes(stack.stack_id) == []
