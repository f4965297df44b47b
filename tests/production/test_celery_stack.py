"""The production path, for real and without Docker: docker-compose.yml's topology on loopback.

PostgreSQL (metadata and Celery results) and Redis (broker) from Debian's packages; `airflow
api-server`, `dag-processor`, `scheduler` and a `celery worker` with two task slots; the daily DAG
triggered as an operator would and run by the real scheduler, its tasks executed by the Celery
worker through the api-server's Execution API. One stack serves every test of this module:

- the daily DAG succeeds on the worker (its tasks went through Celery: the result backend has them);
- one writer: a second run triggered while the first runs waits for it (``max_active_runs=1``);
  no task of one run overlaps a task of the other, although the worker has two free slots;
- alerts: a run that fails (its inbox folder is missing) mails the office through the DAG's
  failure callback, run by the dag-processor; the 08:00 watchdog mails when a day has no complete
  run and stays quiet when it has one (a local SMTP server, aiosmtpd);
- nothing the stack started outlives it.

Slow (a couple of minutes): marked `production`; `make test` runs it, `make prod-test` runs only
the production tests.
"""

from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from compose_model import COMPOSE_FILE
from fw_testdata import Inbox, free_port, mail_url
from prod_stack import AirflowStack, PostgresServer, RedisServer, marked_processes

from fundwatch.airflow_support import DAG_ID, logical_date_for
from fundwatch.generator import generate
from fundwatch.paths import Home

DAY_A, DAY_B = date(2021, 4, 30), date(2021, 5, 1)
RUN_A = "morning__2021-04-30"  # the morning's run (a scheduled run in production) ...
RUN_B = "manual__2021-05-01"  # ... and a manual trigger while it runs
RUN_BROKEN = "manual__2021-05-02"  # a run whose inbox folder is missing
WATCHDOG = "fundwatch_watchdog"
RUN_TIMEOUT_S = 900
PAYMENTS = 200  # a small province: Airflow's overhead, not the data, is what this proves


@dataclass
class Stack:
    airflow: AirflowStack
    db: PostgresServer
    home: Home
    inbox: Path
    out: Path
    timings: dict[str, float] = field(default_factory=dict)
    observed: list[tuple[str | None, str | None]] = field(default_factory=list)

    def conn(self):
        return self.db.connect()


def _compose_healthcheck(service: str) -> list[str]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"][service]["healthcheck"]["test"][1:]


def _query(stack: Stack, sql: str, *params) -> list[tuple]:
    conn = stack.conn()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def _wait_for_dag(stack: Stack, dag_id: str, timeout: float = 180) -> None:
    """Until the dag-processor has written the DAG into the metadata database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.airflow.check_alive()
        if _query(stack, "SELECT count(*) FROM serialized_dag WHERE dag_id = %s", dag_id)[0][0]:
            return
        time.sleep(1)
    raise AssertionError(f"{dag_id} never reached the metadata database:\n{stack.airflow.log_tail('dag-processor')}")


def _run_states(stack: Stack, *run_ids: str, dag_id: str = DAG_ID) -> dict[str, str | None]:
    rows = dict(_query(stack, "SELECT run_id, state FROM dag_run WHERE dag_id = %s AND run_id = ANY(%s)",
                       dag_id, list(run_ids)))
    return {r: rows.get(r) for r in run_ids}


def _wait_for_runs(stack: Stack, *run_ids: str, dag_id: str = DAG_ID) -> dict[str, str]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        stack.airflow.check_alive()
        states = _run_states(stack, *run_ids, dag_id=dag_id)
        stack.observed.append(tuple(states.values()))
        if all(s in ("success", "failed") for s in states.values()):
            return states
        time.sleep(1)
    raise AssertionError(f"runs did not finish: {_run_states(stack, *run_ids)}\n{stack.airflow.log_tail('scheduler')}")


def _trigger(stack: Stack, run_id: str, day: date, **conf) -> None:
    conf = {"inbox": str(stack.inbox), "home": str(stack.home.root), "out": str(stack.out / run_id), **conf}
    stack.airflow.cli("dags", "trigger", DAG_ID, "-l", logical_date_for(day), "-r", run_id, "-c", json.dumps(conf))


class Mailbox:
    """A local SMTP server (aiosmtpd) for the whole module: the office's mailbox."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=free_port())

    def url(self) -> str:
        return mail_url(self.controller.port, "office@example.org")

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for _, m in self.inbox.messages]

    def wait(self, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _rcpts, msg in self.inbox.messages:
                if predicate(str(msg["Subject"])):
                    return msg
            time.sleep(0.5)
        raise AssertionError(f"no such mail within {timeout} s; received: {self.subjects()}")


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    box.controller.start()
    try:
        yield box
    finally:
        box.controller.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mailbox):
    t0 = time.perf_counter()
    tmp = tmp_path_factory.mktemp("celery")
    inbox = generate(tmp / "gen", seed=2020, payments=PAYMENTS, as_of=DAY_A).inbox
    home = Home(tmp / "home").ensure()
    db, broker, airflow, s = PostgresServer(), RedisServer(), None, None
    try:
        db.start()
        broker.start()
        airflow = AirflowStack(home, db, broker, extra_env={"FUNDWATCH_NOTIFY_URLS": mailbox.url()})
        s = Stack(airflow, db, home, inbox, tmp / "out")
        s.timings["postgres+redis"] = time.perf_counter() - t0
        airflow.cli("db", "migrate", timeout=300)
        s.timings["migrate"] = time.perf_counter() - t0
        airflow.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(airflow.api_port),
                      "--workers", "1")
        airflow.start("dag-processor", "dag-processor")
        airflow.start("scheduler", "scheduler", "--skip-serve-logs")
        airflow.start("worker", "celery", "worker", "--concurrency", "2", "--skip-serve-logs",
                      "--without-gossip", "--without-mingle", "-H", f"fundwatch-test-{airflow.stack_id}@%h")
        # The healthchecks docker-compose.yml uses, against the real servers.
        api_check = _compose_healthcheck("airflow-apiserver")[-1]
        api_path = re.search(r"http://localhost:8080(/\S*?)'", api_check).group(1)
        assert airflow.wait_http(f"http://127.0.0.1:{airflow.api_port}{api_path}") == 200
        assert airflow.wait_http(f"http://127.0.0.1:{airflow.api_port}/execution/health") == 200
        assert airflow.wait_http(f"http://127.0.0.1:{airflow.health_port}/health") == 200
        for dag_id in (DAG_ID, WATCHDOG):
            _wait_for_dag(s, dag_id)
            airflow.cli("dags", "unpause", dag_id)
        s.timings["stack_up"] = time.perf_counter() - t0
        yield s
        # The dag-processor's healthcheck command of docker-compose.yml, against the live job.
        airflow.cli(*_compose_healthcheck("airflow-dag-processor")[1:])
    finally:
        if airflow is not None:
            airflow.stop()
        broker.stop()
        db.stop()
    if s is not None:
        print(f"celery stack timings (s from start): {({k: round(v, 1) for k, v in s.timings.items()})}; "
              f"total {time.perf_counter() - t0:.1f}")
        # Nothing the stack started outlives it (servers, Celery pool processes, task runners).
        assert marked_processes(airflow.stack_id) == []


@pytest.fixture(scope="module")
def two_runs(stack):
    """The morning's run, and a manual run triggered while it works; both waited for."""
    t0 = time.perf_counter()
    _trigger(stack, RUN_A, DAY_A)
    deadline = time.monotonic() + 120
    while _run_states(stack, RUN_A)[RUN_A] != "running":  # B is triggered *during* A
        assert time.monotonic() < deadline, _run_states(stack, RUN_A)
        time.sleep(0.5)
    _trigger(stack, RUN_B, DAY_B)
    states = _wait_for_runs(stack, RUN_A, RUN_B)
    stack.timings["two_runs"] = time.perf_counter() - t0
    tis = _query(stack, "SELECT run_id, task_id, state, start_date, end_date, try_number FROM task_instance "
                        "WHERE dag_id = %s AND run_id IN (%s, %s) ORDER BY start_date", DAG_ID, RUN_A, RUN_B)
    return states, tis


@pytest.mark.production
def test_the_daily_dag_succeeds_on_the_celery_worker(stack, two_runs):
    states, tis = two_runs
    a = {t[1]: t[2] for t in tis if t[0] == RUN_A}
    assert states[RUN_A] == "success", (
        f"run {states[RUN_A]}; tasks {a}\nscheduler:\n{stack.airflow.log_tail('scheduler')}\n"
        f"worker:\n{stack.airflow.log_tail('worker')}\ntask logs: {stack.home.logs_dir / 'airflow'}")
    assert a and all(s == "success" for s in a.values()), a
    # Every task went through Celery: the result backend (PostgreSQL) holds one successful result each.
    # (The task runner reports success to the api-server a moment before the worker stores its result.)
    deadline = time.monotonic() + 30
    while (celery_ok := _query(stack, "SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'")[0][0]) < len(
            tis) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert celery_ok >= len(tis)
    # The metadata lived in PostgreSQL only: no SQLite database appeared in the home.
    assert not (stack.home.airflow_home / "airflow.db").exists()
    findings = stack.out / RUN_A / "findings.csv"
    with findings.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {"rule_id", "finding_id"} <= set(rows[0])
    assert (stack.home.dbt_docs_dir / "index.html").exists() and (stack.home.gx_docs_dir / "index.html").exists()


@pytest.mark.production
def test_a_second_run_waits_for_the_first_one_writer(stack, two_runs):
    states, tis = two_runs
    assert states == {RUN_A: "success", RUN_B: "success"}, states
    # B existed (queued) while A was running: it was triggered during A and held back.
    assert ("running", "queued") in stack.observed, sorted(set(stack.observed))
    spans = {run: [(t[3], t[4], t[1]) for t in tis if t[0] == run] for run in (RUN_A, RUN_B)}
    assert all(start and end for run in spans.values() for start, end, _ in run)
    a_end = max(end for _, end, _ in spans[RUN_A])
    b_start = min(start for start, _, _ in spans[RUN_B])
    assert a_end <= b_start, f"run B started {b_start} before run A ended {a_end}"
    # No two tasks ran at the same time (the worker had two slots; the DAG allowed one writer).
    every = sorted((start, end, f"{run}.{task}") for run, items in spans.items() for start, end, task in items)
    for (s1, e1, n1), (s2, _e2, n2) in zip(every, every[1:], strict=False):
        assert e1 <= s2, f"{n1} ({s1}..{e1}) overlaps {n2} (from {s2})"
    # Both days are recorded, each in its own run.
    assert (stack.out / RUN_B / "findings.csv").exists()


@pytest.mark.production
def test_a_failed_run_mails_the_office_at_once(stack, two_runs, mailbox):
    t0 = time.perf_counter()
    _trigger(stack, RUN_BROKEN, date(2021, 5, 2), inbox=str(stack.inbox.parent / "no-such-inbox"))
    assert _wait_for_runs(stack, RUN_BROKEN) == {RUN_BROKEN: "failed"}
    tis = dict(_query(stack, "SELECT task_id, state FROM task_instance WHERE dag_id = %s AND run_id = %s",
                      DAG_ID, RUN_BROKEN))
    assert tis["ingest"] == "failed" and tis["dbt_build"] == "upstream_failed", tis
    tries = _query(stack, "SELECT try_number FROM task_instance WHERE run_id = %s AND task_id = 'ingest'", RUN_BROKEN)
    assert tries == [(1,)]  # no retries: a missing inbox does not come back in 30 s
    # The dag-processor ran the DAG's on_failure_callback: the mail is real, through apprise and SMTP.
    msg = mailbox.wait(lambda subject: "2021-05-02" in subject and "failed" in subject, timeout=120)
    body = msg.get_body(("plain", "html")).get_content()
    assert msg["Subject"] == "【fundwatch】每日运行失败 daily run failed：2021-05-02"
    assert "ingest" in body and "收件箱目录不存在" in body and "2021-05-01" in body  # the last complete run
    stack.timings["failed_run_mail"] = time.perf_counter() - t0


@pytest.mark.production
def test_the_watchdog_mails_only_for_a_day_without_a_complete_run(stack, two_runs, mailbox):
    t0 = time.perf_counter()
    conf = json.dumps({"home": str(stack.home.root)})
    for day in ("2021-05-01", "2021-05-03"):
        stack.airflow.cli("dags", "trigger", WATCHDOG, "-l", f"{day}T08:00:00+08:00", "-r", f"watchdog__{day}",
                          "-c", conf)
    states = _wait_for_runs(stack, "watchdog__2021-05-01", "watchdog__2021-05-03", dag_id=WATCHDOG)
    assert set(states.values()) == {"success"}, states
    msg = mailbox.wait(lambda subject: "08:00" in subject, timeout=60)
    assert msg["Subject"] == "【fundwatch】截至 08:00 今日运行未完成 no complete run by 08:00：2021-05-03"
    watchdog_mails = [s for s in mailbox.subjects() if "08:00" in s]
    assert watchdog_mails == [msg["Subject"]]  # 2021-05-01 had its run: no mail for it
    stack.timings["watchdog"] = time.perf_counter() - t0
