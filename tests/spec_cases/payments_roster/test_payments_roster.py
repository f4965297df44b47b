"""Spec cases for the payment (PAY_*) and roster (ROSTER_*) rules, on a hand-built inbox.

The inbox (``inbox/``) and ``expected_findings.csv`` were made by ``make_inbox.py`` independently of
fundwatch.generator; every expected finding was derived from rules.md and source-files.md (the
``case`` column says why). The real pipeline runs in-process into a temporary home and its export
must equal the expectation exactly (rule, subject, amount, source file and row). Bank accounts
as number cells have their own small inbox (``inbox_account_number_cell/``).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from fundwatch import pipeline
from fundwatch.compare import compare
from fundwatch.paths import Home

NOT_DOCS = [s for s in pipeline.STAGE_NAMES if s != "docs"]  # the dbt docs page is not judged here
HERE = Path(__file__).resolve().parent
RUN_DATE = date(2021, 4, 30)
pytestmark = pytest.mark.slow  # each test runs the pipeline


def _run(inbox: Path, base: Path) -> Path:
    """The day's stages but the dbt docs, in-process, into a fresh home; the findings CSV."""
    shutil.copytree(inbox, base / "inbox")
    home = Home(base / "home").ensure()
    out = base / "out"
    pipeline.run_day(home, base / "inbox", "t", RUN_DATE, out, stages=NOT_DOCS)
    return out / "findings.csv"


def test_findings_equal_the_spec_derived_expectation(tmp_path):
    """Every PAY_* and ROSTER_* rule, positive and near-miss cases, on 16 files of varied forms."""
    actual = _run(HERE / "inbox", tmp_path)
    result = compare(HERE / "expected_findings.csv", actual)
    assert result.exact, result.report()


def test_account_number_cells_are_read_when_they_lost_nothing(tmp_path):
    """source-files.md accepts for 银行账号 "an Excel number cell that lost nothing". A 16-digit account
    written as an exact integer is read (from the sheet XML: calamine hands over a float); the 19-digit
    ones were written by openpyxl as 6.2...e+18, a float that lost the last digits, so those rows are
    rejected with the reason and the payment whose roster row was lost is on no roster."""
    actual = _run(HERE / "inbox_account_number_cell", tmp_path)
    result = compare(HERE / "expected_findings_account_number_cell.csv", actual)
    assert result.exact, result.report()
