"""The data tests that tie one model's totals to another's catch a row that disagrees, among the rows
written since the tests last passed (the others passed already): run by dbt on a copy of the real build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_fixture_raw import RUN_DATE

from fundwatch.paths import Home
from fundwatch.warehouse import _dbt_args, _dbt_env, _home_dirs, _run

TEST = "assert_roster_paid_equals_its_payments"


def _copy(built_home: Home, root: Path) -> Home:
    home = Home(root).ensure()
    shutil.copyfile(built_home.warehouse, home.warehouse)
    shutil.copytree(built_home.dbt_target_dir, home.dbt_target_dir, dirs_exist_ok=True)  # its parse
    return home


def _failures(home: Home) -> int:
    target, logs = _home_dirs(home)
    rc, lines = _run(_dbt_args(["test", "--select", TEST], target, logs),
                     _dbt_env(home.warehouse, target, logs, RUN_DATE), home.warehouse.parent)
    (result,) = [r for r in json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
                 if r["unique_id"] == f"test.fundwatch.{TEST}"]
    assert (rc == 0) == (result["status"] == "pass"), lines[-5:]
    return result["failures"]


@pytest.mark.parametrize(("corrupt", "written", "caught"), [
    (True, True, 2),    # a wrong total and a wrong count on entries written since: both caught
    (False, True, 0),   # the same entries as they are: nothing to catch
    (True, False, 0),   # wrong, but not written since the tests passed: not read again
])
def test_the_roster_totals_test_catches_entries_that_disagree_with_their_payments(built_home, tmp_path,
                                                                                   corrupt, written, caught):
    home = _copy(built_home, tmp_path / "home")
    with duckdb.connect(str(home.warehouse)) as con:
        paid, unpaid = (con.execute(f"""SELECT project_code, id_number FROM intermediate.int_roster_entries_paid
            WHERE payment_count {op} 0 ORDER BY roster_key LIMIT 1""").fetchone() for op in (">", "="))
        if corrupt:
            con.execute("UPDATE intermediate.int_roster_entries_paid SET paid_amount = paid_amount + 0.01 "
                        "WHERE project_code = ? AND id_number = ?", list(paid))
            con.execute("UPDATE intermediate.int_roster_entries_paid SET payment_count = 1 "
                        "WHERE project_code = ? AND id_number = ?", list(unpaid))
        if written:  # as int_roster_entries_paid tells its data tests of the rows it wrote
            con.executemany("INSERT INTO incremental.changes (consumer, kind, project_code, id_number) "
                            "VALUES ('data_tests:int_roster_entries_paid', 'roster', ?, ?)", [paid, unpaid])
    assert _failures(home) == caught
