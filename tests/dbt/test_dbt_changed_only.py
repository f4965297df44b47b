"""After a build that succeeded, a day builds only what its new raw rows and its run date can change,
and the warehouse is the one a build of everything would give, relation for relation. Nothing new:
no dbt run at all. A build that failed is followed by a build of everything."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from dbt_fixture_raw import ID1, PA, RUN_DATE, U1, insert_raw

from fundwatch import warehouse
from fundwatch.paths import Home
from fundwatch.warehouse import WarehouseError, dbt_build, dbt_docs

NEXT_RUN = RUN_DATE + timedelta(days=400)
RELATIONS = ["marts." + t for t in ("allocations", "transfers", "payments", "roster_entries", "expenditures",
                                    "projects", "source_files", "fct_findings", "fct_finding_evidence")]
DEATH_FILE = "reg/死亡补报.csv"
# 张三 (paid in May 2020) reported dead since January 2020: his payments become findings
DEATH = ("张三", ID1, date(2020, 1, 2), "公安", DEATH_FILE, 2, "sha-" + DEATH_FILE, "run-2", None)


def _copy(built: Home, root: Path) -> Home:
    home = Home(root).ensure()
    shutil.copyfile(built.warehouse, home.warehouse)
    shutil.copytree(built.dbt_target_dir, home.dbt_target_dir, dirs_exist_ok=True)  # the same installation
    return home


def _built_nodes(home: Home) -> set[str]:
    results = json.loads((home.dbt_target_dir / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {r["unique_id"] for r in results}


def _rows(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r: con.execute(f"select * from {r} order by all").fetchall() for r in RELATIONS}


def _as_built_from_scratch(home: Home, root: Path, run_date: date) -> dict[str, list[tuple]]:
    """The marts a build of everything makes from the same raw layer."""
    full = Home(root).ensure()
    shutil.copyfile(home.warehouse, full.warehouse)
    with duckdb.connect(str(full.warehouse)) as con:
        for schema in ("seeds", "staging", "intermediate", "marts", "incremental"):
            con.execute(f"drop schema if exists {schema} cascade")
    dbt_build(full, run_date)
    return _rows(full.warehouse)


def test_a_day_builds_what_its_rows_and_date_reach_and_equals_a_build_of_everything(
        built_home: Home, tmp_path: Path, caplog):
    day = _copy(built_home, tmp_path / "day")
    results = day.dbt_target_dir / "run_results.json"
    before = _rows(day.warehouse)

    # The same day again, nothing new: dbt does not run.
    stamp = results.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="fundwatch.warehouse"):
        dbt_build(day, RUN_DATE)
    assert not [r for r in caplog.records if r.getMessage().startswith("running dbt")]
    assert results.stat().st_mtime_ns == stamp

    # A death register arrived: what reads deaths (and the file list) is built, payments are not.
    with duckdb.connect(str(day.warehouse)) as con:
        insert_raw(con, "deaths", [DEATH])
    dbt_build(day, RUN_DATE)
    built = _built_nodes(day)
    assert {"model.fundwatch.stg_raw__deaths", "model.fundwatch.payments", "model.fundwatch.fct_findings",
            "test.fundwatch.assert_findings_unique_per_rule_and_subject"} <= built
    assert not built & {"model.fundwatch.stg_raw__payments", "model.fundwatch.stg_raw__roster_entries",
                        "model.fundwatch.stg_raw__allocations", "model.fundwatch.allocations",
                        "seed.fundwatch.rule_catalog"}
    assert not [u for u in built if u.startswith("unit_test.")]
    after = _rows(day.warehouse)
    assert after["marts.fct_findings"] != before["marts.fct_findings"]  # the death did reach the findings
    assert after == _as_built_from_scratch(day, tmp_path / "full-1", RUN_DATE)

    # A new date, no new rows: what reads the run date and what depends on it.
    dbt_build(day, NEXT_RUN)
    built = _built_nodes(day)
    assert {"model.fundwatch.allocations", "model.fundwatch.roster_entries", "model.fundwatch.projects",
            "model.fundwatch.fct_findings"} <= built
    assert not built & {"model.fundwatch.stg_raw__payments", "model.fundwatch.int_payments_matched",
                        "model.fundwatch.stg_raw__deaths", "model.fundwatch.stg_raw__allocations"}
    assert _rows(day.warehouse) == _as_built_from_scratch(day, tmp_path / "full-2", NEXT_RUN)

    # The docs still show every model's compiled SQL: the nodes not built keep the SQL that built them.
    manifest = json.loads((day.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))
    models = {u: n for u, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    assert all(n["compiled"] and n["compiled_code"] for n in models.values())
    assert f"cast('{NEXT_RUN.isoformat()}' as date)" in models["model.fundwatch.roster_entries"]["compiled_code"]
    first = json.loads((built_home.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    uid = "model.fundwatch.stg_raw__payments"  # not built since the first build: its SQL is that build's
    assert models[uid]["compiled_code"] == first[uid]["compiled_code"]
    (day.dbt_target_dir / "fundwatch_catalog_of").unlink(missing_ok=True)  # dbt generates the catalog
    assert dbt_docs(day, NEXT_RUN).exists()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fundwatch.warehouse"):
        dbt_build(day, NEXT_RUN)  # the docs did not make the build forget what it built
    assert not [r for r in caplog.records if r.getMessage().startswith("running dbt")]


def test_a_dbt_run_by_hand_makes_the_next_build_build_everything(built_home: Home, tmp_path: Path):
    day = _copy(built_home, tmp_path / "day")
    warehouse._run(warehouse._dbt_args(["run", "--select", "allocations"], day.dbt_target_dir, day.logs_dir),
                   warehouse._dbt_env(day.warehouse, day.dbt_target_dir, day.logs_dir, NEXT_RUN), day.root)
    dbt_build(day, RUN_DATE)  # as of the date of the record, whose allocations were rebuilt as of another
    assert "model.fundwatch.stg_raw__payments" in _built_nodes(day)
    assert _rows(day.warehouse) == _as_built_from_scratch(day, tmp_path / "full", RUN_DATE)


def test_after_a_failed_build_everything_is_built(built_home: Home, tmp_path: Path):
    day = _copy(built_home, tmp_path / "day")
    broken = ("N900", "3", PA, "新人", ID1, "6217990000000001", "邮储银行", None, date(2020, 6, 1), U1, None,
              "pay/补发.csv", 2, "sha-pay/补发.csv", "run-2", None)
    with duckdb.connect(str(day.warehouse)) as con:
        insert_raw(con, "payments", [broken])  # no amount: a data test fails
    with pytest.raises(WarehouseError):
        dbt_build(day, RUN_DATE)
    with duckdb.connect(str(day.warehouse)) as con:
        con.execute("delete from raw_history.rows_payments where txn_ref = 'N900'")
    dbt_build(day, RUN_DATE)  # the raw rows are those of the last good build, but that build is not known
    built = _built_nodes(day)
    assert {"model.fundwatch.stg_raw__deaths", "model.fundwatch.stg_raw__allocations",
            "model.fundwatch.stg_raw__payments"} <= built


def test_a_raw_relation_that_cannot_be_read_is_never_taken_as_unchanged(built_home: Home, tmp_path: Path):
    day = _copy(built_home, tmp_path / "day")
    with duckdb.connect(str(day.warehouse)) as con:  # a view left over something gone: no model reads it
        con.execute("create table raw_history.gone as select 1 as a")
        con.execute("create view raw.leftover as select * from raw_history.gone")
        con.execute("drop table raw_history.gone")
    dbt_build(day, NEXT_RUN)  # the build goes on (what reads the date is built)
    assert "model.fundwatch.fct_findings" in _built_nodes(day)
    with duckdb.connect(str(day.warehouse), read_only=True) as con:
        recorded = json.loads(con.execute("select raw from incremental.fw_last_build").fetchone()[0])
    assert recorded["leftover"] is None and recorded["payments"]
