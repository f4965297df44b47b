"""Tier 3: real Airflow runs of the daily DAG (`fundwatch run` → `airflow dags test`) on generated inboxes.

The findings export must hold exactly the findings the generator computed for its data (rules.md):
recall and precision 1.0 for every rule, amounts to the cent, lineage to the row — for two seeds.
Re-running the same day duplicates nothing and keeps every finding_id and first_seen.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fundwatch import scope, state
from fundwatch.compare import compare
from fundwatch.generator import generate
from fundwatch.paths import Home
from fundwatch.uploads.templates import known_projects

RUN_DATE = "2021-04-30"
FUNDWATCH = str(Path(sys.executable).with_name("fundwatch"))


def _run(home: Path, inbox: Path, out: Path, day: str = RUN_DATE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FUNDWATCH, "run", "--inbox", str(inbox), "--date", day, "--out", str(out), "--home", str(home)],
        capture_output=True, text=True, timeout=900, check=False,
    )


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# Each seed's run and the tests on it are one work unit of `make test` (tests/conftest.py): the two
# runs go to the two workers, and each is made once.
SEED2020 = pytest.param(2020, id="seed2020", marks=pytest.mark.xdist_group("daily-run-seed2020"))
SEED7 = pytest.param(7, id="seed7", marks=pytest.mark.xdist_group("daily-run-seed7"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=[SEED2020, SEED7])
def daily_run(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"run{request.param}")
    gen = generate(base / "gen", seed=request.param, payments=400)
    proc = _run(base / "home", gen.inbox, base / "out")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base, gen, proc


def test_the_run_reports_where_the_results_are(daily_run):
    base, _, proc = daily_run
    assert "findings.csv" in proc.stdout and "index.html" in proc.stdout
    assert (base / "home" / "docs" / "dbt" / "index.html").exists()
    assert (base / "home" / "docs" / "gx" / "index.html").exists()
    assert (base / "out" / "findings.xlsx").exists()
    projects = known_projects(Home(base / "home"))  # the upload templates' 项目编码 drop-down
    assert len(projects) > 10 and all(p.code and p.unit_code for p in projects)
    # The daily digest of the day: the province's counts every new finding; the units' add up to it.
    conn = state.connect(Home(base / "home").state_db)
    digests = {r["unit_code"]: r["new_findings"] for r in conn.execute(
        "SELECT unit_code, new_findings FROM digests WHERE run_date = ?", (RUN_DATE,))}
    conn.close()
    new = len(_rows(base / "out" / "findings.csv"))  # the first run: every finding is new
    assert digests["430000"] == new > 0
    assert sum(n for u, n in digests.items() if scope.level(u) is scope.Level.prefecture) <= new
    assert len(digests) > 2


def test_the_export_is_an_airflow_asset_event(daily_run):
    """The export task's outlet: Airflow records an event of the fundwatch_findings asset whose extra
    says where the findings went and how many there are."""
    base, _, _ = daily_run
    with sqlite3.connect(Home(base / "home").airflow_home / "airflow.db") as conn:
        extras = [json.loads(e) for (e,) in conn.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = 'fundwatch_findings' ORDER BY e.id")]
    assert extras, "no asset event for the findings export"
    assert extras[-1]["csv"] == str(base / "out" / "findings.csv")
    assert extras[-1]["findings"] == len(_rows(base / "out" / "findings.csv"))


def test_findings_equal_the_generators_expected_findings(daily_run):
    base, gen, _ = daily_run
    result = compare(gen.expected_findings, base / "out" / "findings.csv")
    assert result.exact, result.report()
    assert all(m["recall"] == 1.0 and m["precision"] == 1.0 for m in result.per_rule.values())


@pytest.mark.parametrize("daily_run", [SEED2020], indirect=True)  # one seed: a run costs a minute
def test_rerunning_the_same_day_duplicates_nothing(daily_run):
    base, gen, _ = daily_run
    before = _rows(base / "out" / "findings.csv")
    proc = _run(base / "home", gen.inbox, base / "out2")
    assert proc.returncode == 0, proc.stdout[-3000:]
    after = _rows(base / "out2" / "findings.csv")
    assert len(after) == len(before) == len({r["finding_id"] for r in after})
    assert sorted((r["finding_id"], r["first_seen"], r["amount_at_risk"]) for r in after) == sorted(
        (r["finding_id"], r["first_seen"], r["amount_at_risk"]) for r in before
    )


def test_a_missing_inbox_is_refused_with_a_reason(tmp_path):
    proc = _run(tmp_path / "home", tmp_path / "no-such-inbox", tmp_path / "out")
    assert proc.returncode == 2
    assert "收件箱目录不存在" in proc.stdout


@pytest.mark.parametrize("daily_run", [SEED2020], indirect=True)
def test_a_check_that_cannot_run_fails_the_run_and_leaves_no_export(daily_run, tmp_path):
    """GX cannot keep its results (a file stands where its results folder goes): the run fails,
    non-zero, no findings.csv. On a copy of the seed's home after its run (a later day's run: its
    Airflow metadata and dbt parse are there already, as every day but the first)."""
    base, gen, _ = daily_run
    home = tmp_path / "home"
    shutil.copytree(base / "home", home)
    (home / "logs" / f"run-{RUN_DATE}.log").unlink(missing_ok=True)  # the log read below is this run's only
    (Home(home).airflow_home / "airflow.cfg").unlink()  # it names the original home's paths; Airflow writes it anew
    blocker = home / "gx" / "validations"
    shutil.rmtree(blocker, ignore_errors=True)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder", encoding="utf-8")
    proc = _run(home, gen.inbox, tmp_path / "out")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "运行失败" in proc.stdout
    assert not (tmp_path / "out" / "findings.csv").exists()
    log = (home / "logs" / f"run-{RUN_DATE}.log").read_text(encoding="utf-8")
    assert "每日运行失败（daily run failed）" in log, "Airflow called the DAG's on_failure_callback"
