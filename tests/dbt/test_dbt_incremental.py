"""The day after, built incrementally, equals a full rebuild of the same raw layer, finding for
finding: new payments (one more for a person already paid, one on an account another person used),
a payment withdrawn, a roster entry corrected, and a run date that crosses deadlines. And it is
incremental: the payments nothing reached keep their stored rows."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_fixture_raw import ID1, ID2, ID3, ID5, PA, PB, RUN_DATE, U1, insert_raw, make_id, store_raw

from fundwatch import warehouse
from fundwatch.paths import Home
from fundwatch.pipeline import FINGERPRINT_SQL
from fundwatch.warehouse import WarehouseError, dbt_build

NEXT_RUN = RUN_DATE + timedelta(days=400)  # past every pay deadline of the fixture
NEW_FILE, NEW_SHA = "pay/补发明细.csv", "sha-pay/补发明细.csv"
ID_NEW = make_id("43010219900101123")
RELATIONS = ["marts." + t for t in ("allocations", "transfers", "payments", "roster_entries", "expenditures",
                                    "projects", "source_files", "fct_findings", "fct_finding_evidence")] + [
    "incremental.evidence_fingerprints"]
# The fingerprints the export reads (fundwatch.pipeline.FINGERPRINT_SQL, kept by dbt where a finding and
# its evidence are written), computed again from the findings and every evidence record.
RECOMPUTED_FINGERPRINTS = """
with sums as (
    select
        rule_id, subject_type, subject_key, count(*) as n, count(evidence_kind) as kinds,
        count(record_json) as records, sum(hash(evidence_kind, record_seq, record_json)) as hi,
        sum(hash(record_json, record_seq, evidence_kind, 'fw')) as lo
    from marts.fct_finding_evidence
    group by all
)
select
    left(sha256(f.rule_id || '|' || f.subject_type || '|' || f.subject_key), 16) as finding_id,
    md5(to_json([
        f.rule_name, f.severity, f.project_code, f.unit_code, f.amount_at_risk::varchar, f.source_file,
        f.source_row::varchar, f.detail
    ])::varchar) || ':' || md5(to_json([
        coalesce(e.n, 0)::varchar, e.kinds::varchar, e.records::varchar, e.hi::varchar, e.lo::varchar
    ])::varchar) as content_hash
from marts.fct_findings as f
left join sums as e using (rule_id, subject_type, subject_key)
order by finding_id
"""


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
    shutil.copytree(built_home.dbt_target_dir, day.dbt_target_dir, dirs_exist_ok=True)  # the same installation
    _day_two(day.warehouse)
    full = Home(tmp_path / "full").ensure()
    shutil.copyfile(day.warehouse, full.warehouse)
    with duckdb.connect(str(full.warehouse)) as con:  # only the raw layer: dbt builds everything anew
        for schema in ("seeds", "staging", "intermediate", "marts", "incremental"):
            con.execute(f"drop schema if exists {schema} cascade")
    with duckdb.connect(str(day.warehouse)) as con:  # a probe in a payment nothing reaches (shown in no mart)
        con.execute("update intermediate.int_payments_matched set project_unit_code = 'probe' where txn_ref = 'S001'")
        _probe_evidence(con)
        con.execute("update marts.fct_findings set detail = detail || '#probe'")  # every finding marked

    dbt_build(day, NEXT_RUN)
    dbt_build(full, NEXT_RUN)

    kept = _unprobe_evidence(day.warehouse)
    with duckdb.connect(str(day.warehouse)) as con:  # the findings still marked were not computed again
        kept_findings = {tuple(r) for r in con.execute(
            "select distinct subject_type, rule_id, subject_key from marts.fct_findings "
            "where ends_with(detail, '#probe')").fetchall()}
        con.execute("update marts.fct_findings set detail = replace(detail, '#probe', '')")
    incremental, rebuilt = _rows(day.warehouse), _rows(full.warehouse)
    for relation in RELATIONS:
        assert incremental[relation] == rebuilt[relation], relation
    # what the export reads of each finding is its findings' and records' fingerprint, the day after too
    with duckdb.connect(str(day.warehouse), read_only=True) as con:
        stored = con.execute(FINGERPRINT_SQL).fetchall()
        assert stored == con.execute(RECOMPUTED_FINGERPRINTS).fetchall()
        assert len(stored) == len(incremental["marts.fct_findings"]) and all(h for _, h in stored)
    findings = {(r[0], r[4]) for r in incremental["marts.fct_findings"]}
    assert {("PAY_SHARED_ACCOUNT", "P004"), ("PAY_DUPLICATE", "P001")} <= findings  # the changes did reach
    with duckdb.connect(str(day.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from incremental.changes").fetchone() == (0,)
        probe = con.execute("select project_unit_code from intermediate.int_payments_matched "
                            "where txn_ref = 'S001'").fetchone()
    assert probe == ("probe",)  # not recomputed: the day was incremental
    # The findings too: those of the payments the day did not touch were kept, every other computed again.
    assert kept_findings, "every finding was computed again"
    assert {t for t, _, _ in kept_findings} == {"payment"}
    assert not {("PAY_SHARED_ACCOUNT", "P004"), ("PAY_DUPLICATE", "P001")} & {(r, k) for _, r, k in kept_findings}
    # The evidence too: only the findings the day reached were computed again (new: the as-of ones;
    # the person paid again, the shared account, the corrected roster entry, ...), the others kept.
    assert kept, "every finding's evidence was computed again"
    evidence = {(r[1], r[3]) for r in incremental["marts.fct_finding_evidence"]}
    assert not {("PAY_SHARED_ACCOUNT", "P004"), ("PAY_DUPLICATE", "P001")} & kept
    assert kept < evidence


def test_a_person_hash_shared_by_two_people_only_widens_the_day(built_home: Home, tmp_path: Path):
    """The day's scope finds the people touched by their stored ``person_hash`` (one column, filtered in
    the scan); every match is made on the codes. A payment and a roster entry of two other people forged
    to hold the hash of 张三 (touched: paid once more) are recomputed, as they were: the day still equals
    a full rebuild, and no one's payments are counted as 张三's."""
    day = Home(tmp_path / "incremental").ensure()
    shutil.copyfile(built_home.warehouse, day.warehouse)
    shutil.copytree(built_home.dbt_target_dir, day.dbt_target_dir, dirs_exist_ok=True)
    _day_two(day.warehouse)
    full = Home(tmp_path / "full").ensure()
    shutil.copyfile(day.warehouse, full.warehouse)
    with duckdb.connect(str(full.warehouse)) as con:
        for schema in ("seeds", "staging", "intermediate", "marts", "incremental"):
            con.execute(f"drop schema if exists {schema} cascade")
    with duckdb.connect(str(day.warehouse)) as con:
        (zhang,) = con.execute("select distinct person_hash from staging.stg_raw__payments where id_number = ?",
                               [ID1]).fetchone()
        assert con.execute("update staging.stg_raw__payments set person_hash = ? where txn_ref = 'P007'",
                           [zhang]).fetchone() == (1,)
        assert con.execute("update staging.stg_raw__roster_entries set person_hash = ? where id_number = ?",
                           [zhang, ID5]).fetchone() == (1,)

    dbt_build(day, NEXT_RUN)
    dbt_build(full, NEXT_RUN)

    incremental, rebuilt = _rows(day.warehouse), _rows(full.warehouse)
    for relation in RELATIONS:
        assert incremental[relation] == rebuilt[relation], relation


def _probe_evidence(con: duckdb.DuckDBPyConnection) -> None:
    """Mark every evidence row (its source_file): a row still marked after a build was not computed again."""
    con.execute("update marts.fct_finding_evidence set source_file = source_file || '#probe'")


def _unprobe_evidence(warehouse: Path) -> set[tuple[str, str]]:
    """The (rule_id, subject_key) whose evidence is still marked, and the marks removed."""
    with duckdb.connect(str(warehouse)) as con:
        kept = {tuple(r) for r in con.execute("select distinct rule_id, subject_key from marts.fct_finding_evidence "
                                              "where ends_with(source_file, '#probe')").fetchall()}
        con.execute("update marts.fct_finding_evidence set source_file = replace(source_file, '#probe', '')")
    return kept


@pytest.mark.parametrize("change", ["deaths", "files"])
def test_the_evidence_of_a_day_that_changed_a_register(built_home: Home, tmp_path: Path, change: str):
    """A change in a small input of the evidence: the death register (read for any payment subject)
    makes every finding's evidence be computed again; the file register (read for file and row
    subjects) makes theirs. Either way the day equals a full rebuild."""
    day = Home(tmp_path / "day").ensure()
    shutil.copyfile(built_home.warehouse, day.warehouse)
    shutil.copytree(built_home.dbt_target_dir, day.dbt_target_dir, dirs_exist_ok=True)
    with duckdb.connect(str(day.warehouse)) as con:
        if change == "deaths":
            # a death registered late, in a file of its own: 张三 died before he was paid
            insert_raw(con, "deaths", [("张三", ID1, "2020-01-02", "公安", "reg/死亡补录.csv", 2, "sha-death-2",
                                        "run-2", None)])
        else:
            con.execute("update raw.files set size_bytes = size_bytes + 1")
        _probe_evidence(con)
    full = Home(tmp_path / "full").ensure()
    shutil.copyfile(day.warehouse, full.warehouse)
    with duckdb.connect(str(full.warehouse)) as con:
        for schema in ("seeds", "staging", "intermediate", "marts", "incremental"):
            con.execute(f"drop schema if exists {schema} cascade")

    dbt_build(day, RUN_DATE)  # the same date: only the change is built
    dbt_build(full, RUN_DATE)

    kept = _unprobe_evidence(day.warehouse)
    incremental, rebuilt = _rows(day.warehouse), _rows(full.warehouse)
    for relation in RELATIONS:
        assert incremental[relation] == rebuilt[relation], relation
    subjects = {(r[1], r[3]): r[2] for r in incremental["marts.fct_finding_evidence"]}
    if change == "deaths":
        assert ("PAY_DECEASED", "P001") in subjects  # the change did reach
        assert not kept
    else:
        assert kept == {k for k, subject_type in subjects.items() if subject_type not in ("file", "row")}
        assert any(subject_type == "file" for subject_type in subjects.values())


def test_a_file_whose_row_numbers_changed_but_not_their_count_sum_xor_min_or_max(built_home: Home, tmp_path: Path):
    """The staging model finds every row whose lineage changed, also in a file version whose row
    numbers in force keep their count, sum, XOR, least and greatest ({2, 3, 12, 13} -> {2, 4, 11, 13},
    as the rebuild holds other rows back): the day after equals a full rebuild, row numbers and all."""
    day = Home(tmp_path / "day").ensure()
    shutil.copyfile(built_home.warehouse, day.warehouse)
    shutil.copytree(built_home.dbt_target_dir, day.dbt_target_dir, dirs_exist_ok=True)

    def hold(con: duckdb.DuckDBPyConnection, rows: tuple[int, int]) -> None:
        con.execute("delete from raw_history.held_payments where file_sha256 = ?", [NEW_SHA])
        con.execute("insert into raw_history.held_payments select txn_ref, file_sha256, source_row "
                    "from raw_history.rows_payments where file_sha256 = ? and source_row in (?, ?)", [NEW_SHA, *rows])

    with duckdb.connect(str(day.warehouse)) as con:
        insert_raw(con, "payments", [
            (f"N10{row}", "3", PA, "新人", ID_NEW, "6217990000000077", "邮储银行", "100.00", "2020-06-01", U1, None,
             NEW_FILE, row, NEW_SHA, "run-2", None) for row in (2, 3, 4, 11, 12, 13)])
        hold(con, (4, 11))
    dbt_build(day, RUN_DATE + timedelta(days=1))
    with duckdb.connect(str(day.warehouse)) as con:
        hold(con, (3, 12))
        assert sorted(r[0] for r in con.execute("select source_row from raw.payments where file_sha256 = ?",
                                                [NEW_SHA]).fetchall()) == [2, 4, 11, 13]
    full = Home(tmp_path / "full").ensure()
    shutil.copyfile(day.warehouse, full.warehouse)
    with duckdb.connect(str(full.warehouse)) as con:
        for schema in ("seeds", "staging", "intermediate", "marts", "incremental"):
            con.execute(f"drop schema if exists {schema} cascade")

    dbt_build(day, NEXT_RUN)
    dbt_build(full, NEXT_RUN)

    incremental, rebuilt = _rows(day.warehouse), _rows(full.warehouse)
    for relation in RELATIONS:
        assert incremental[relation] == rebuilt[relation], relation
    with duckdb.connect(str(day.warehouse), read_only=True) as con:
        staged = con.execute("select txn_ref, source_row from staging.stg_raw__payments "
                             "where file_sha256 = ? order by all", [NEW_SHA]).fetchall()
    assert staged == [("N1011", 11), ("N1013", 13), ("N102", 2), ("N104", 4)]


def _failing_tests(home: Home) -> set[str]:
    """The data tests that failed in the home's last dbt run (run_results.json), by name."""
    results = json.loads((home.dbt_target_dir / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {r["unique_id"].split(".")[2] for r in results if r["status"] in ("fail", "error")}


def _listed(home: Home, model: str, column: str) -> set[str]:
    """What `model` listed for its data tests (incremental.changes, consumer data_tests:<model>)."""
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return {r[0] for r in con.execute(f"select {column} from incremental.changes where consumer = ?",
                                          [f"data_tests:{model}"]).fetchall()}


def _n003(amount: str | None, sha: str, run: str) -> tuple:
    """A new payment (raw.payments' shape), in the file version ``sha`` loaded by ``run``."""
    return ("N003", "3", PA, "新人", ID_NEW, "6217990000000077", "邮储银行", amount, "2020-06-01", U1, None,
            NEW_FILE, 2, sha, run, None)


def test_data_tests_read_the_rows_written_since_they_last_passed(built_home: Home, tmp_path: Path, monkeypatch):
    """The data tests of the incremental models check every row written since they last passed (new,
    gone, recomputed; kept when a run fails) and, after a change of the dbt project (a full rebuild),
    every row; a row nobody wrote is the row they passed on."""
    day = Home(tmp_path / "day").ensure()
    shutil.copyfile(built_home.warehouse, day.warehouse)
    shutil.copytree(built_home.dbt_target_dir, day.dbt_target_dir, dirs_exist_ok=True)
    gone_entry = f"{PB}|{ID5}"
    with duckdb.connect(str(day.warehouse)) as con:
        # A broken row nobody writes today: S002 without a pay date (in raw too, so a rebuild keeps it).
        con.execute("update raw_history.rows_payments set pay_date = null where txn_ref = 'S002'")
        con.execute("update staging.stg_raw__payments set pay_date = null where txn_ref = 'S002'")
        # A stale row: S001 (untouched today) pointing at the roster entry that goes today.
        con.execute("update intermediate.int_payments_matched set roster_key = ? where txn_ref = 'S001'", [gone_entry])
        # The day: a new payment without an amount, a payment withdrawn, a roster entry withdrawn.
        insert_raw(con, "payments", [_n003(None, NEW_SHA, "run-2")])
        con.execute("delete from raw_history.rows_payments where txn_ref = 'P005'")
        con.execute("delete from raw_history.rows_roster where project_code = ? and id_number = ?", [PB, ID5])

    # The new row's missing amount is found; S002's is not looked at (its row was not written).
    with pytest.raises(WarehouseError):
        dbt_build(day, NEXT_RUN)
    assert _failing_tests(day) == {"not_null_stg_raw__payments_amount"}

    # The amount corrected (a new version of the row). The roster entry that went yesterday is still
    # listed (that run failed), so S001's stale pointer to it is found now.
    with duckdb.connect(str(day.warehouse)) as con:
        con.execute("delete from raw_history.rows_payments where txn_ref = 'N003'")
        insert_raw(con, "payments", [_n003("500.00", NEW_SHA + "-v2", "run-3")])
    with pytest.raises(WarehouseError):
        dbt_build(day, NEXT_RUN)
    stale = "relationships_int_payments_matched_roster_key__roster_key__ref_stg_raw__roster_entries_"
    assert _failing_tests(day) == {stale}
    assert {"N003", "P005"} <= _listed(day, "int_payments_matched", "txn_ref")  # written, deleted
    assert "S001" not in _listed(day, "int_payments_matched", "txn_ref")
    assert gone_entry in _listed(day, "stg_raw__roster_entries", "project_code || '|' || id_number")
    assert gone_entry in _listed(day, "int_roster_entries_paid", "project_code || '|' || id_number")

    # The dbt project changed: everything is rebuilt and every row tested, S002 too.
    monkeypatch.setattr(warehouse, "project_fingerprint", lambda: "another project")
    with pytest.raises(WarehouseError):
        dbt_build(day, NEXT_RUN)
    assert _failing_tests(day) == {"not_null_stg_raw__payments_pay_date"}


def test_every_input_of_the_evidence_is_watched_by_its_incremental_build():
    """The evidence is computed again where its inputs changed: every model it reads is either keyed
    (the findings; payments and roster entries through incremental.changes) or signed in
    fw_evidence_inputs. A model read but in neither would leave stale evidence unseen."""
    import re

    project = Path(__file__).resolve().parents[2] / "dbt_project"
    model = (project / "models/marts/findings/fct_finding_evidence.sql").read_text(encoding="utf-8")
    macros = (project / "macros/incremental.sql").read_text(encoding="utf-8")
    reads = set(re.findall(r"ref\('(\w+)'\)", model))
    start = macros.index("macro fw_evidence_inputs")
    inputs = macros[start:macros.index("endmacro", start)]
    signed = set(re.findall(r"'(\w+)'", inputs)) - {"everything", "files"}
    # int_spending_aggregated_by_project (a project's payments in total) is keyed through what it is made
    # of: the payments (a project's spending evidence is computed again when one of its payments
    # changed, fw_evidence_pre) and the vouchers (signed)
    spending = (project / "models/intermediate/use_of_funds/int_spending_aggregated_by_project.sql").read_text(
        encoding="utf-8")
    assert set(re.findall(r"ref\('(\w+)'\)", spending)) == {"stg_raw__payments", "stg_raw__expenditures"}
    assert "stg_raw__expenditures" in signed
    assert "subject_key in (select project_code from changes)" in macros
    assert reads == signed | {"fct_findings", "stg_raw__payments", "stg_raw__roster_entries",
                              "int_spending_aggregated_by_project"}
    for staging in ("stg_raw__payments", "stg_raw__roster_entries"):  # they list their changes for it
        assert "'fct_finding_evidence'" in (project / f"models/staging/raw/{staging}.sql").read_text(encoding="utf-8")
