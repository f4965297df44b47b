"""The raw layer brought up to date from what changed equals the raw layer derived from all history,
day after day: new files, corrected files, copies, keys that start and stop conflicting."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from ingest_helpers import PAY_HEADER, Warehouse, pay_row, write_csv

from ingestion.kinds import KINDS
from ingestion.rebuild import rebuild
from ingestion.schema import raw_signatures

ROSTER_HEADER = ["项目编码", "姓名", "公民身份号码", "核定金额（元）", "上报单位代码"]


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    out = {k.table: con.execute(f"SELECT * FROM raw.{k.table} ORDER BY ALL").fetchall() for k in KINDS}
    for t in ("files", "rejected_rows", "total_mismatches"):
        out[t] = con.execute(f"SELECT * FROM raw.{t} ORDER BY ALL").fetchall()
    return out


def _same_as_full_rebuild(wh: Warehouse, tmp_path: Path) -> dict[str, list[tuple]]:
    copy = tmp_path / "full.duckdb"
    shutil.copyfile(wh.path, copy)
    with duckdb.connect(str(wh.path), read_only=True) as con:
        incremental = _state(con)
    with duckdb.connect(str(copy)) as con:
        con.begin()
        rebuild(con, full=True)
        con.commit()
        full = _state(con)
    copy.unlink()
    assert incremental == full
    return incremental


def test_each_day_the_incremental_raw_layer_equals_a_full_rebuild(wh: Warehouse, inbox: Path, tmp_path: Path):
    days = [
        lambda: write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1"), pay_row("T2"), pay_row("T3")]),
        lambda: write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T4"), pay_row("T2")]),  # T2 again, same values
        lambda: write_csv(inbox / "c.csv", [PAY_HEADER, pay_row("T3", amount="999.00")]),  # T3 now conflicts
        lambda: write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1"), pay_row("T2")]),  # corrected: T3 leaves a
        lambda: shutil.copyfile(inbox / "b.csv", inbox / "b-copy.csv"),  # a copy: loaded once
        lambda: write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T4", amount="1.00"), pay_row("T5"),
                                            ["合计", "", "", "", "", "", "", "2.00"]]),  # the copy takes over T2
        lambda: write_csv(inbox / "r.csv", [ROSTER_HEADER, ["P2020001", "张三", "430102199001011238", "1200", "430121"],
                                            ["P2020001", "张三", "430102199001011238", "1300", "430121"]]),
        lambda: write_csv(inbox / "c.csv", [PAY_HEADER, pay_row("T3", amount="bad")]),  # conflict gone, row refused
        lambda: write_csv(inbox / "c.csv", [PAY_HEADER, pay_row("T6")]),  # corrected: the refused row goes
    ]
    seen = []
    for change in days:
        change()
        wh.load()
        seen.append(_same_as_full_rebuild(wh, tmp_path))
    assert len({repr(s) for s in seen}) == len(days)  # every day changed the raw layer
    last = seen[-1]
    assert {r[0] for r in last["payments"]} == {"T1", "T2", "T5", "T6"}  # T4 differs between b and its old copy
    assert any("相同，但内容不同" in r[4] for r in last["rejected_rows"])  # the roster conflict


def _full_signatures(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """Every raw relation's rows, read whole: what the cheap signatures stand for."""
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()]
    return {n: tuple(con.execute(f'SELECT * FROM raw."{n}" ORDER BY ALL').fetchall()) for n in names}


def test_the_raw_signatures_change_whenever_the_raw_rows_do_without_reading_them(
        wh: Warehouse, inbox: Path, tmp_path: Path):
    """dbt's selective build (fundwatch.warehouse) rebuilds a source when its signature changed: every
    change of a raw relation's rows must change its signature; a day with nothing new changes none."""
    def rows_and_signatures():
        with duckdb.connect(str(wh.path), read_only=True) as con:
            return _full_signatures(con), raw_signatures(con)

    days = [
        lambda: write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1"), pay_row("T2"), pay_row("T3")]),
        lambda: None,  # nothing new
        lambda: write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T4"), pay_row("T2")]),  # T2 again: held back
        lambda: write_csv(inbox / "c.csv", [PAY_HEADER, pay_row("T3", amount="999.00")]),  # T3 conflicts
        lambda: (inbox / "c.csv").unlink(),  # gone from the inbox: its rows stay stored, no longer in force
        lambda: write_csv(inbox / "c.csv", [PAY_HEADER, pay_row("T3", amount="999.00")]),  # back, same bytes
        lambda: write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1"), pay_row("T2")]),  # corrected
        lambda: (inbox / "a.csv").rename(inbox / "a2.csv"),  # renamed: the same rows, another source_file
        lambda: write_csv(inbox / "r.csv",
                          [ROSTER_HEADER, ["P2020001", "张三", "430102199001011238", "1200", "430121"]]),
        lambda: write_csv(inbox / "d.csv", [PAY_HEADER, pay_row("T7")]),
        lambda: write_csv(inbox / "d.csv", [PAY_HEADER, pay_row("T8")]),  # corrected
        # back to its first bytes: a version stored before, not parsed again (no new stored rows, none
        # held back): only which version is in force changes
        lambda: write_csv(inbox / "d.csv", [PAY_HEADER, pay_row("T7")]),
    ]
    wh.load()
    rows, sig = rows_and_signatures()
    for i, change in enumerate(days):
        change()
        wh.load()
        new_rows, new_sig = rows_and_signatures()
        assert set(new_sig) == set(new_rows)
        for name in new_rows:
            if new_rows[name] != rows.get(name):
                assert new_sig[name] != sig.get(name), (i, name, "rows changed, signature did not")
        if i == 1:
            assert new_sig == sig, "nothing new: no signature changes"
        assert new_sig["payments"].startswith("inputs:"), "a kind is signed by its inputs, not by reading its rows"
        rows, sig = new_rows, new_sig
    assert {r[0] for r in rows["payments"]} >= {"T7"} and "T8" not in {r[0] for r in rows["payments"]}
    # Each input alone (not how ingestion changes them, but what the signature must notice): a row
    # no longer held back, a stored row added to a version in force.
    for change in ("DELETE FROM raw_history.held_payments WHERE txn_ref = 'T2'",
                   "INSERT INTO raw_history.rows_payments SELECT * REPLACE (source_row + 100 AS source_row) "
                   "FROM raw_history.rows_payments WHERE txn_ref = 'T7'"):
        with duckdb.connect(str(wh.path)) as con:
            con.execute(change)
        new_rows, new_sig = rows_and_signatures()
        assert new_rows["payments"] != rows["payments"] and new_sig["payments"] != sig["payments"], change
        rows, sig = new_rows, new_sig


def test_rows_are_stored_once_and_the_raw_tables_show_those_in_force(wh: Warehouse, inbox: Path):
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1"), pay_row("T2"), pay_row("T3")])
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T2"), pay_row("T3", amount="999.00")])  # same T2, T3 conflicts
    wh.load()
    assert wh.q("""SELECT table_name, table_type FROM information_schema.tables
                   WHERE table_schema = 'raw' AND table_name = 'payments'""") == [("payments", "VIEW")]
    assert wh.q("SELECT count(*) FROM raw_history.rows_payments") == [(5,)]  # each parsed row once
    assert wh.q("SELECT txn_ref, source_file, source_row FROM raw.payments ORDER BY 1") == [
        ("T1", "a.csv", 2), ("T2", "a.csv", 3)]  # T2 from the place seen first; T3 from neither
    held = wh.q("SELECT txn_ref, source_row FROM raw_history.held_payments ORDER BY 1, 2")
    assert held == [("T2", 2), ("T3", 3), ("T3", 4)]  # b's T2; both places of T3 ('a' row 4, 'b' row 3)


def test_a_warehouse_that_held_copies_of_the_rows_is_rebuilt_into_views(wh: Warehouse, inbox: Path, tmp_path: Path):
    """A warehouse from before the views: raw.<kind> were tables holding a copy of the rows in force."""
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1"), pay_row("T2")])
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T2"), pay_row("T3")])
    wh.load()
    with duckdb.connect(str(wh.path)) as con:
        before = _state(con)
        for k in KINDS:  # what ingestion made then: a table per kind, filled by the rebuild
            con.execute(f"CREATE TABLE raw.copy_{k.table} AS SELECT * FROM raw.{k.table}")
            con.execute(f"DROP VIEW raw.{k.table}")
            con.execute(f"ALTER TABLE raw.copy_{k.table} RENAME TO {k.table}")
            con.execute(f"DROP TABLE raw_history.held_{k.table}")
    write_csv(inbox / "c.csv", [PAY_HEADER, pay_row("T4")])
    wh.load()
    with duckdb.connect(str(wh.path), read_only=True) as con:
        after = _state(con)
        kinds = con.execute("""SELECT DISTINCT table_type FROM information_schema.tables
            WHERE table_schema = 'raw' AND table_name IN (SELECT unnest(?))""", [[k.table for k in KINDS]]).fetchall()
    assert kinds == [("VIEW",)]
    assert {r[0] for r in after["payments"]} == {"T1", "T2", "T3", "T4"}
    assert [r for r in after["payments"] if r[0] != "T4"] == before["payments"]
    _same_as_full_rebuild(wh, tmp_path)
