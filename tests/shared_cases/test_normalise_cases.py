"""Normalisation of 公民身份号码, 银行账号, 姓名 and 文号: ``tests/shared_cases/normalise.csv`` through
``ingestion.normalise`` and through the dbt macros that normalise again in staging
(``dbt_project/macros/normalise.sql``, ``doc_no.sql``).

dbt only ever sees what ingestion delivered, so on every case dbt must leave ingestion's result as it
is; on the cases marked ``same`` it must also reach the same result from the raw input. Cases marked
``ingestion`` are ingestion's alone (the 15-digit upgrade, Excel's apostrophe, other dashes and
brackets): the staging macros are a defensive second pass, not a second normaliser.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ingestion import normalise as nz

sys.path.insert(0, str(Path(__file__).parent))
from conftest import read_cases  # noqa: E402

CASES = read_cases("normalise.csv")
PYTHON = {"id": nz.norm_id, "account": nz.norm_account, "name": nz.norm_name, "doc_no": nz.norm_docno}
DBT = {"id": ("normalise.sql", "normalise_id"), "account": ("normalise.sql", "normalise_account"),
       "name": ("normalise.sql", "normalise_name"), "doc_no": ("doc_no.sql", "normalise_doc_no")}


def _expected(case: dict) -> str | None:
    return case["expected"] or None  # an empty cell is NULL


@pytest.mark.parametrize("case", CASES, ids=[f"{c['field']}-{c['case']}" for c in CASES])
def test_ingestion_normalises_each_case(case):
    assert PYTHON[case["field"]](case["input"]) == _expected(case)
    assert PYTHON[case["field"]](_expected(case)) == _expected(case)  # and leaves its result as it is


@pytest.mark.parametrize("field", sorted(PYTHON))
def test_dbt_keeps_what_ingestion_delivered_and_agrees_where_both_normalise(run_macro, field):
    cases = [c for c in CASES if c["field"] == field]
    macro_file, macro = DBT[field]
    again = run_macro(macro_file, macro, [_expected(c) for c in cases])
    assert [(c["case"], g) for c, g in zip(cases, again, strict=True) if g != _expected(c)] == []
    same = [c for c in cases if c["dbt"] == "same"]
    got = run_macro(macro_file, macro, [c["input"] for c in same])
    assert [(c["case"], c["input"], g) for c, g in zip(same, got, strict=True) if g != _expected(c)] == []


def test_every_case_says_who_normalises_it():
    assert {c["dbt"] for c in CASES} <= {"same", "ingestion"}
    assert {c["field"] for c in CASES} == set(PYTHON)
