"""The day after, built incrementally, equals a full rebuild of the same raw layer, finding for
finding: new payments (one more for a person already paid, one on an account another person used),
a payment withdrawn, a roster entry corrected, and a run date that crosses deadlines. And it is
incremental: the payments nothing reached keep their stored rows."""

from __future__ import annotations

import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
from dbt_fixture_raw import ID1, ID2, ID3, PA, PB, RUN_DATE, U1, insert_raw, make_id, store_raw

from fundwatch.paths import Home
from fundwatch.warehouse import dbt_build

NEXT_RUN = RUN_DATE + timedelta(days=400)  # past every pay deadline of the fixture
NEW_FILE, NEW_SHA = "pay/补发明细.csv", "sha-pay/补发明细.csv"
ID_NEW = make_id("43010219900101123")
RELATIONS = ["marts." + t for t in ("allocations", "transfers", "payments", "roster_entries", "expenditures",
                                    "projects", "source_files", "fct_findings", "fct_finding_evidence")]


def _day_two(warehouse: Path) -> None:
    """What the next day's load changed in the raw layer."""
    with duckdb.connect(str(warehouse)) as con:
        insert_raw(con, "payments", [
            # 张三 paid once more, earlier than before: the order of his payments changes
            ("N001", "3", PA, "张三", ID1, "6217990000000001", "邮储银行", "3000.00", "2020-05-09", U1, None,
             NEW_FILE, 2, NEW_SHA, "run-2", None),
            # someone new paid on 王五's account: 王五's payment now shares an account
            ("N002", "3", PB, "新人", ID_NEW, "6228480000000003", "农业银行", "500.00", "2020-06-01", U1, None,
             NEW_FILE, 3, NEW_SHA, "run-2", None),
        ])
        # withdrawn by a corrected file
        con.execute("delete from raw_history.rows_payments where txn_ref = 'P005'")
        # a roster entry corrected (its new version loaded by the second run)
        con.execute("create temp table corrected as select * from raw.roster where id_number = ?", [ID2])
        con.execute("update corrected set approved_amount = 3500.00, file_sha256 = 'sha-roster-v2', "
                    "load_run_id = 'run-2'")
        con.execute("delete from raw_history.rows_roster where id_number = ?", [ID2])
        store_raw(con, "roster", "corrected")
        assert con.execute("select count(*) from raw.payments where id_number = ?", [ID3]).fetchone() == (1,)
        assert con.execute("select approved_amount from raw.roster where id_number = ?", [ID2]).fetchone() == (
            Decimal("3500.00"),)


def _rows(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r: con.execute(f"select * from {r} order by all").fetchall() for r in RELATIONS}


def test_the_day_after_built_incrementally_equals_a_full_rebuild(built_home: Home, tmp_path: Path):
    day = Home(tmp_path / "incremental").ensure()
    shutil.copyfile(built_home.warehouse, day.warehouse)
    _day_two(day.warehouse)
    full = Home(tmp_path / "full").ensure()
    shutil.copyfile(day.warehouse, full.warehouse)
    with duckdb.connect(str(full.warehouse)) as con:  # only the raw layer: dbt builds everything anew
        for schema in ("seeds", "staging", "intermediate", "marts", "incremental"):
            con.execute(f"drop schema if exists {schema} cascade")
    with duckdb.connect(str(day.warehouse)) as con:  # a probe in a payment nothing reaches (shown in no mart)
        con.execute("update intermediate.int_payments_matched set project_unit_code = 'probe' where txn_ref = 'S001'")

    dbt_build(day, NEXT_RUN)
    dbt_build(full, NEXT_RUN)

    incremental, rebuilt = _rows(day.warehouse), _rows(full.warehouse)
    for relation in RELATIONS:
        assert incremental[relation] == rebuilt[relation], relation
    findings = {(r[0], r[4]) for r in incremental["marts.fct_findings"]}
    assert {("PAY_SHARED_ACCOUNT", "P004"), ("PAY_DUPLICATE", "P001")} <= findings  # the changes did reach
    with duckdb.connect(str(day.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from incremental.changes").fetchone() == (0,)
        probe = con.execute("select project_unit_code from intermediate.int_payments_matched "
                            "where txn_ref = 'S001'").fetchone()
    assert probe == ("probe",)  # not recomputed: the day was incremental
