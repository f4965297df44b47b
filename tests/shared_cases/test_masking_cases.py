"""Masking by field: ``tests/shared_cases/masking.csv`` through ``fundwatch.masking`` and through
the dbt macros of ``dbt_project/macros/mask_personal_data.sql``, which must give the same answers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fundwatch import masking

sys.path.insert(0, str(Path(__file__).parent))
from conftest import read_cases  # noqa: E402

CASES = read_cases("masking.csv")
MACRO_FILE = "mask_personal_data.sql"


@pytest.mark.parametrize("case", CASES, ids=[f"{c['field']}-{c['case']}-{i}" for i, c in enumerate(CASES)])
def test_python_masks_each_case(case):
    assert masking.mask(case["field"], case["input"]) == case["expected"]


@pytest.mark.parametrize("field", masking.FIELDS)
def test_the_dbt_macro_masks_each_case_the_same(run_macro, field):
    cases = [c for c in CASES if c["field"] == field]
    got = run_macro(MACRO_FILE, f"mask_{field}", [c["input"] for c in cases])
    wrong = [(c["case"], c["input"], g, c["expected"]) for c, g in zip(cases, got, strict=True) if g != c["expected"]]
    assert wrong == []


@pytest.mark.parametrize("field", masking.FIELDS)
def test_null_stays_null_in_both(run_macro, field):
    assert masking.mask(field, None) is None
    assert run_macro(MACRO_FILE, f"mask_{field}", [None]) == [None]


def test_the_table_covers_every_length_and_the_awkward_values():
    by_field = {f: [c for c in CASES if c["field"] == f] for f in masking.FIELDS}
    for field in ("id", "account", "name"):
        assert {len(c["input"]) for c in by_field[field]} >= set(range(1, 26)), field
    ids = {c["input"] for c in by_field["id"]}
    assert any(len(i) == 18 and i.endswith("X") for i in ids) and any(len(i) == 15 for i in ids)
    assert {len(c["input"]) for c in by_field["account"]} >= set(range(6, 26))
    assert any("·" in c["input"] for c in by_field["name"])
    # nothing that is masked keeps more than a third of its characters, except the ID's area code
    for c in by_field["account"] + by_field["name"]:
        shown = sum(1 for a, b in zip(c["input"], c["expected"], strict=True) if a == b and a != "·")
        assert shown <= max(1, len(c["input"]) // 3), c
