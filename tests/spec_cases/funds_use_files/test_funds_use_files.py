"""Spec case: the funds, use-of-funds and file rules of rules.md on a hand-made inbox.

The inbox (built once by make_inbox.py, committed) and the expected findings were written from
source-files.md and rules.md alone, not from the program's output. The pipeline runs in-process
(every stage but the dbt docs) and its findings must equal the expected ones exactly:
every rule, subject, amount and source row.

Day 1 (2021-03-31) is the inbox as delivered. Day 2 (2021-04-01) is the same inbox after the
浏阳市 voucher file came again at the same path with its unreadable rows and 合计 corrected; it
also crosses the deadlines that were exactly on day 1 (ALLOC_SHORT, PROJ_REPORT_MISSING,
PROJ_FUNDS_IDLE at 91 days).
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pytest

from fundwatch import pipeline
from fundwatch.compare import compare
from fundwatch.paths import Home

NOT_DOCS = [s for s in pipeline.STAGE_NAMES if s != "docs"]  # the dbt docs page is not judged here
HERE = Path(__file__).parent
DAY1, DAY2 = date(2021, 3, 31), date(2021, 4, 1)
pytestmark = pytest.mark.slow  # the pipeline runs twice for these tests


def _run(home: Home, inbox: Path, day: date, out: Path) -> Path:
    pipeline.run_day(home, inbox, f"t{day:%Y%m%d}", day, out, stages=NOT_DOCS)
    return out / "findings.csv"


def _rows(path: Path) -> dict[tuple, dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {(r["rule_id"], r["subject_type"], r["subject_key"]): r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("funds_use_files")
    inbox = base / "inbox"
    shutil.copytree(HERE / "inbox", inbox)
    home = Home(base / "home").ensure()
    day1 = _run(home, inbox, DAY1, base / "out1")
    shutil.copytree(HERE / "corrections", inbox, dirs_exist_ok=True)  # same relative path, new bytes
    day2 = _run(home, inbox, DAY2, base / "out2")
    return day1, day2


def test_day1_findings_equal_the_expected_findings(runs):
    result = compare(HERE / "expected_findings.csv", runs[0])
    assert result.exact, result.report()


def test_day2_after_a_corrected_file_and_passed_deadlines(runs):
    result = compare(HERE / "expected_findings_day2.csv", runs[1])
    assert result.exact, result.report()


def test_day2_keeps_ids_and_first_seen_of_the_findings_that_still_hold(runs):
    day1, day2 = _rows(runs[0]), _rows(runs[1])
    for key, row in day2.items():
        if key in day1:
            assert (row["finding_id"], row["first_seen"]) == (day1[key]["finding_id"], "2021-03-31"), key
        else:
            assert row["first_seen"] == "2021-04-01", key
