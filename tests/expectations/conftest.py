"""A small warehouse whose marts have the contract's shape (ARCHITECTURE.md), filled by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from fundwatch.catalog import rules
from fundwatch.masking import mask_subject_key
from fundwatch.paths import Home

# (rule_id, subject_key, amount) planted in the marts and in fct_findings
PLANTED = [
    ("PAY_NOT_ON_ROSTER", "TX0001", Decimal("3000.00")),
    ("PAY_NOT_ON_ROSTER", "TX0002", Decimal("500.50")),
    ("PAY_DECEASED", "TX0002", Decimal("500.50")),
    ("ROSTER_UNPAID", "JQZX-430102|43010219900307123X", Decimal("4000.00")),
    ("PROJ_REPORT_LATE", "JQZX-430102", Decimal("0.00")),
    ("FILE_REJECTED", "长沙/坏文件.xlsx", Decimal("0.00")),
    ("ALLOC_SHORT", "湘财社指〔2020〕36号|430102|P1", Decimal("1000.00")),
    ("TRANSFER_UNMATCHED", "ZJ0001", Decimal("200.00")),
    ("TRANSFER_UNMATCHED", "ZJ0002", Decimal("300.00")),
]


def build_marts(warehouse: Path, planted=PLANTED, *, findings_offset: int = 0) -> None:
    """Create every subject mart with its rule columns, plus fct_findings, holding ``planted``."""
    by_mart: dict[str, list] = {}
    for r in rules():
        by_mart.setdefault(r.mart, []).append(r)
    con = duckdb.connect(str(warehouse))
    con.execute("create schema if not exists marts")
    for mart, mart_rules in by_mart.items():
        cols = ", ".join(f"{r.column} decimal(18, 2)" for r in mart_rules)
        con.execute(
            f"create or replace table marts.{mart} (subject_key varchar, subject_label varchar, "
            f"project_code varchar, unit_code varchar, source_file varchar, source_row integer, {cols})"
        )
        keys = sorted({k for rid, k, _ in planted if any(r.rule_id == rid for r in mart_rules)} | {f"ok-{mart}"})
        for key in keys:
            values = []
            for r in mart_rules:
                hit = [a for rid, k, a in planted if rid == r.rule_id and k == key]
                values.append(hit[0] if hit else None)
            # subject_label: what dbt's mask_id makes of the key (tests/shared_cases hold the twins equal)
            label = mask_subject_key(mart_rules[0].subject_type, key)
            con.execute(
                f"insert into marts.{mart} values (?, ?, 'P1', '430102', 'a.xlsx', 3, {', '.join('?' * len(values))})",
                [key, label, *values],
            )
    con.execute(
        "create or replace table marts.fct_findings "
        "(rule_id varchar, subject_key varchar, amount_at_risk decimal(18, 2))"
    )
    for rid, key, amount in planted[findings_offset:]:
        con.execute("insert into marts.fct_findings values (?, ?, ?)", [rid, key, amount])
    con.close()


@pytest.fixture
def marts_home(tmp_path) -> Home:
    home = Home(tmp_path / "home").ensure()
    build_marts(home.warehouse)
    return home


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """One validation shared by the tests that only read its outcome (each costs a GX start-up)."""
    from datetime import date

    from expectations.validate import validate_marts

    home = Home(tmp_path_factory.mktemp("validated") / "home").ensure()
    build_marts(home.warehouse)
    return home, validate_marts(home, date(2021, 4, 30))


@pytest.fixture
def planted():
    return PLANTED


@pytest.fixture(name="build_marts")
def build_marts_fixture():
    return build_marts
