"""Evidence per finding (marts.fct_finding_evidence) on the real build of the hand-made raw fixture:
each kind of record where the rule relies on it, with its file and row, money exact to the state
store and the review page; units of file and row findings."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from dbt_fixture_raw import (
    BIG_AMOUNT,
    F_ALLOC,
    F_CREDIT,
    F_DEATH,
    F_DEC,
    F_PAY,
    F_POST,
    F_PROJ,
    F_REPORT,
    F_ROSTER,
    F_STAFF,
    F_UNIT_ROWS,
    ID1,
    ID4,
    ID10,
    ID11,
    PA,
    PB,
    PD,
    PE,
    RUN_DATE,
    SHARED_ACCOUNT,
    U1,
)

from fundwatch import state
from fundwatch.pipeline import iter_findings

A36 = f"湘财社指〔2020〕36号|{U1}|{PA}"
KINDS = {
    "subject", "roster_entry", "project", "death_register", "staff_register", "other_payments",
    "person_payments", "decisions", "category_spending", "candidate_allocations", "matched_credits",
    "postings", "final_reports", "file", "total_mismatches", "rejected_row", "omitted",
}


def _no_float(text: str) -> float:
    raise AssertionError(f"a JSON number with a fraction in evidence: {text}")


def records(warehouse, rule_id: str, subject_key: str, kind: str) -> list[tuple[str | None, int | None, dict]]:
    rows = warehouse.execute(
        "select source_file, source_row, record_json from marts.fct_finding_evidence "
        "where rule_id = ? and subject_key = ? and evidence_kind = ? order by record_seq",
        [rule_id, subject_key, kind],
    ).fetchall()
    return [(f, r, json.loads(j, parse_float=_no_float)) for f, r, j in rows]


def test_finding_id_is_the_state_stores_id(warehouse):
    rows = warehouse.execute(
        "select distinct finding_id, rule_id, subject_type, subject_key from marts.fct_finding_evidence"
    ).fetchall()
    assert rows and all(fid == state.finding_id(r, t, k) for fid, r, t, k in rows)


def test_every_finding_has_its_own_record_and_every_kind_occurs(warehouse):
    """Each finding carries its subject's row (or the file / the rejected row) exactly once."""
    missing = warehouse.execute("""
        select f.rule_id, f.subject_key from marts.fct_findings f
        where (select count(*) from marts.fct_finding_evidence e
               where e.rule_id = f.rule_id and e.subject_type = f.subject_type and e.subject_key = f.subject_key
                 and e.evidence_kind in ('subject', 'file', 'rejected_row')) != 1
    """).fetchall()
    assert missing == []
    kinds = warehouse.execute("select distinct evidence_kind from marts.fct_finding_evidence").fetchall()
    assert {k for (k,) in kinds} == KINDS


def test_records_carry_their_file_and_row_and_json_agrees(warehouse):
    for f, r, j in warehouse.execute(
        "select source_file, source_row, record_json from marts.fct_finding_evidence"
    ).fetchall():
        rec = json.loads(j, parse_float=_no_float)
        assert (rec["source_file"], rec["source_row"]) == (f, r)


def test_money_is_2_decimal_text_and_exact(warehouse):
    ((_, _, payment),) = records(warehouse, "PAY_NO_PROJECT", "P018", "subject")
    assert payment["amount"] == BIG_AMOUNT == "98765432109876.54"
    ((_, _, project),) = records(warehouse, "PAY_LATE", "P005", "project")
    assert project["budget"] == "1000000.00" and project["standard_amount"] == "3000.00"


def test_subject_payment_beside_its_roster_entry_and_project(warehouse):
    ((f, r, paid),) = records(warehouse, "PAY_NAME_MISMATCH", "P003", "subject")
    ((rf, rr, roster),) = records(warehouse, "PAY_NAME_MISMATCH", "P003", "roster_entry")
    ((pf, pr, _),) = records(warehouse, "PAY_NAME_MISMATCH", "P003", "project")
    assert (f, r, paid["name"]) == (F_PAY, 5, "李肆")
    assert (rf, rr, roster["name"], roster["approved_amount"]) == (F_ROSTER, 4, "李四", "3000.00")
    assert (pf, pr) == (F_PROJ, 3)
    assert records(warehouse, "PAY_NOT_ON_ROSTER", "P005", "roster_entry") == []


def test_pay_deceased_shows_the_death_register_entry(warehouse):
    ((f, r, death),) = records(warehouse, "PAY_DECEASED", "P011", "death_register")
    assert (f, r, death["id_number"], death["death_date"]) == (F_DEATH, 2, ID10, "2020-06-01")


def test_pay_staff_related_shows_the_staff_register_row(warehouse):
    ((f, r, staff),) = records(warehouse, "PAY_STAFF_RELATED", "P012", "staff_register")
    assert (f, r, staff["id_number"], staff["relation"], staff["staff_id_number"]) == (F_STAFF, 2, ID11, "配偶", ID1)


def test_pay_duplicate_shows_the_earlier_payment(warehouse):
    ((f, r, other),) = records(warehouse, "PAY_DUPLICATE", "P002", "other_payments")
    assert (f, r, other["txn_ref"]) == (F_PAY, 3, "P001")


def test_pay_shared_account_lists_50_other_payments_and_counts_the_rest(warehouse):
    others = records(warehouse, "PAY_SHARED_ACCOUNT", "S001", "other_payments")
    assert [o["txn_ref"] for _, _, o in others] == [f"S{n:03d}" for n in range(2, 52)]
    assert {o["account_no"] for _, _, o in others} == {SHARED_ACCOUNT}
    assert records(warehouse, "PAY_SHARED_ACCOUNT", "S001", "omitted") == [
        (None, None, {"source_file": None, "source_row": None, "evidence_kind": "other_payments",
                      "records_listed": 50, "records_total": 51})]
    ((_, _, other),) = records(warehouse, "PAY_SHARED_ACCOUNT", "P014", "other_payments")
    assert other["txn_ref"] == "P015"


def test_roster_unpaid_shows_the_entry_and_the_persons_payments_elsewhere(warehouse):
    key = f"{PA}|{ID4}"
    ((f, r, entry),) = records(warehouse, "ROSTER_UNPAID", key, "subject")
    assert (f, r, entry["id_number"]) == (F_ROSTER, 6, ID4)
    assert records(warehouse, "ROSTER_UNPAID", key, "roster_entry") == [], "not compared with itself"
    ((pf, pr, paid),) = records(warehouse, "ROSTER_UNPAID", key, "person_payments")
    assert (pf, pr, paid["txn_ref"], paid["project_code"]) == (F_PAY, 19, "P017", "PZ-NODOC")


def test_exp_no_decision_shows_the_cited_decision_and_the_units_decisions_near_the_date(warehouse):
    v06 = records(warehouse, "EXP_NO_DECISION", "V06", "decisions")
    assert [(r, d["decision_no"], d["is_cited"]) for _, r, d in v06] == [(4, "D2", True), (3, "D1", False),
                                                                         (5, "D3", False)]
    assert {f for f, _, _ in v06} == {F_DEC}
    v07 = records(warehouse, "EXP_NO_DECISION", "V07", "decisions")
    assert [(d["decision_no"], d["is_cited"]) for _, _, d in v07] == [("D3", True), ("D1", False)]


def test_proj_over_budget_shows_spending_by_category(warehouse):
    lines = records(warehouse, "PROJ_OVER_BUDGET", PB, "category_spending")
    assert [(f, r, c["category"], c["amount"], c["record_count"], c["is_allowed"]) for f, r, c in lines] == [
        (None, None, "宣传费", "1200.00", 1, True)]
    ((_, _, project),) = records(warehouse, "PROJ_OVER_BUDGET", PB, "subject")
    assert project["budget"] == "1000.00"


def test_transfer_unmatched_shows_the_candidate_allocations(warehouse):
    c06 = records(warehouse, "TRANSFER_UNMATCHED", "C06", "candidate_allocations")
    assert [(f, r, a["project_code"], a["is_candidate"]) for f, r, a in c06] == [
        (F_ALLOC, 8, PA, True), (F_ALLOC, 9, PB, True)]
    ((_, _, other_unit),) = records(warehouse, "TRANSFER_UNMATCHED", "C10", "candidate_allocations")
    assert (other_unit["recipient_code"], other_unit["is_candidate"]) == (U1, False)
    assert records(warehouse, "TRANSFER_UNMATCHED", "C09", "candidate_allocations") == []


def test_alloc_findings_show_the_matched_credits_and_which_were_late(warehouse):
    credits = records(warehouse, "ALLOC_LATE", A36, "matched_credits")
    assert [(f, r, c["txn_ref"], c["deadline_date"], c["is_late"]) for f, r, c in credits] == [
        (F_CREDIT, 3, "C01", "2020-03-31", False), (F_CREDIT, 4, "C02", "2020-03-31", True)]
    idle = records(warehouse, "PROJ_FUNDS_IDLE", PE, "matched_credits")
    assert [c["txn_ref"] for _, _, c in idle] == ["C04"]


def test_project_findings_show_postings_and_final_reports(warehouse):
    assert [(f, p["posting_type"]) for f, _, p in records(warehouse, "PROJ_NOT_POSTED", PD, "postings")] == [
        (F_POST, "名单公示")]
    assert [(f, p["start_date"]) for f, _, p in records(warehouse, "PROJ_NOT_POSTED", PB, "postings")] == [
        (F_POST, "2020-03-02")]
    ((f, _, report),) = records(warehouse, "PROJ_REPORT_MISMATCH", PD, "final_reports")
    assert (f, report["report_no"], report["actual_spent"]) == (F_REPORT, "R4", "500.00")
    assert [c["amount"] for _, _, c in records(warehouse, "PROJ_REPORT_MISMATCH", PD, "category_spending")] == [
        "400.00"]
    assert records(warehouse, "PROJ_REPORT_MISSING", PB, "final_reports") == []


def test_file_and_row_findings_show_the_file_the_mismatches_and_the_rejected_cells(warehouse):
    ((f, r, file),) = records(warehouse, "FILE_REJECTED", "inbox/未知.xlsx", "file")
    assert (f, r, file["status"], file["reason"]) == ("inbox/未知.xlsx", None, "rejected", "表头不属于任何一类文件")
    mismatches = records(warehouse, "FILE_TOTAL_MISMATCH", F_CREDIT, "total_mismatches")
    assert sorted(m["difference"] for _, _, m in mismatches) == ["10.00", "5.50"]
    assert {(f, r) for f, r, _ in mismatches} == {(F_CREDIT, 14)}
    ((f, r, row),) = records(warehouse, "ROW_REJECTED", f"{F_UNIT_ROWS}|3", "rejected_row")
    assert (f, r, row["raw_values"]["金额（元）"]) == (F_UNIT_ROWS, 3, "abc")
    assert row["reason"] == "金额（元）：“abc”不是金额"


@pytest.mark.parametrize(("subject_key", "unit"), [
    pytest.param(f"{F_UNIT_ROWS}|3", "430103", id="row-own-code"),
    pytest.param(f"{F_UNIT_ROWS}|4", "430121", id="row-bad-code-then-folder"),
    pytest.param(f"{F_UNIT_ROWS}|5", "430102", id="row-number-cell-spaced-header"),
    pytest.param(f"{F_PAY}|40", None, id="row-no-code-no-division-folder"),
    pytest.param("长沙县/坏文件.xlsx", "430121", id="file-folder-name"),
    pytest.param("430103/其他/坏.csv", "430103", id="file-folder-code"),
    pytest.param("长沙市/长沙县/坏.csv", "430121", id="file-deepest-folder"),
    pytest.param("inbox/未知.xlsx", None, id="file-no-division"),
])
def test_file_and_row_findings_get_a_unit(warehouse, subject_key, unit):
    (found,) = warehouse.execute(
        "select distinct unit_code from marts.fct_findings where subject_type in ('file', 'row') and subject_key = ?",
        [subject_key],
    ).fetchone()
    assert found == unit


@pytest.fixture(scope="module")
def recorded(built_home):
    """The export stage's own path: the warehouse streamed into the state store."""
    summary = state.record_run(built_home.state_db, run_id="t", run_date=RUN_DATE,
                               findings=iter_findings(built_home.warehouse, batch=7))
    conn = state.connect(built_home.state_db)
    rows = {r["finding_id"]: dict(r) for r in conn.execute("select * from findings")}
    conn.close()
    return summary, rows


def test_the_state_store_holds_one_object_per_finding_kind_to_list_money_exact(warehouse, recorded):
    summary, rows = recorded
    assert summary.new == len(rows) == warehouse.execute("select count(*) from marts.fct_findings").fetchone()[0]
    for row in rows.values():
        evidence = json.loads(row["evidence"], parse_float=_no_float)
        assert evidence and set(evidence) <= KINDS
        assert all(isinstance(v, list) and v and all("source_file" in r and "source_row" in r for r in v)
                   for v in evidence.values())
    paid = json.loads(rows[state.finding_id("PAY_NO_PROJECT", "payment", "P018")]["evidence"])
    assert paid["subject"][0]["amount"] == BIG_AMOUNT
    assert Decimal(rows[state.finding_id("PAY_NO_PROJECT", "payment", "P018")]["amount_at_risk"]) == Decimal(BIG_AMOUNT)
    shared = json.loads(rows[state.finding_id("PAY_SHARED_ACCOUNT", "payment", "S001")]["evidence"])
    assert len(shared["other_payments"]) == 50 and shared["omitted"][0]["records_total"] == 51


def test_the_review_page_shows_every_kind_of_evidence(built_home, recorded):
    from fundwatch.review import create_app
    from fundwatch.review.evidence import title
    from fundwatch.review.users import add_user

    _, rows = recorded
    add_user(built_home.state_db, "evidence1", "correct-horse-9", "reviewer")
    client = create_app(built_home).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "evidence1", "password": "correct-horse-9", "csrf_token": token})
    shown: set[str] = set()
    for kind in sorted(KINDS):
        fid = next(f for f, r in rows.items() if kind in json.loads(r["evidence"]))
        resp = client.get(f"/findings/{fid}")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200, kind
        if kind == "omitted":  # not a section: the cut list says how many records it leaves out
            assert "只列出前" in html, kind
        else:
            r = rows[fid]
            assert f'id="ev-{kind}"' in html and title(r["rule_id"], r["subject_type"], kind) in html, kind
        shown.add(kind)
    assert shown == KINDS
    name_mismatch = client.get(f"/findings/{state.finding_id('PAY_NAME_MISMATCH', 'payment', 'P003')}")
    html = name_mismatch.get_data(as_text=True)
    assert 'id="comparison"' in html and "李肆" in html and "李四" in html, "paid name beside the roster name"


@pytest.fixture(scope="module")
def manifest(built_home) -> dict:
    return json.loads((built_home.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))


def test_lineage_leads_from_the_raw_sources_to_the_evidence(manifest):
    parents = manifest["parent_map"]["model.fundwatch.fct_finding_evidence"]
    for kind in ("payments", "roster_entries", "deaths", "staff_members", "decisions", "postings",
                 "final_reports", "rejected_rows", "files", "total_mismatches"):
        stg = f"model.fundwatch.stg_raw__{kind}"
        assert stg in parents, stg
        assert any(p.startswith("source.fundwatch.raw.") for p in manifest["parent_map"][stg]), stg
    assert "model.fundwatch.fct_findings" in parents


def test_exposures_name_what_each_consumer_reads(manifest):
    """The export reads exactly the marts its SQL names; the page reads no model; GX the subject marts."""
    from fundwatch.catalog import rules
    from fundwatch.pipeline import EVIDENCE_SQL

    def models(name: str) -> set[str]:
        nodes = manifest["exposures"][f"exposure.fundwatch.{name}"]["depends_on"]["nodes"]
        return {n.split(".")[-1] for n in nodes if n.startswith("model.")}

    assert models("findings_export") == set(re.findall(r"\bmarts\.(\w+)", EVIDENCE_SQL))
    assert models("review_page") == set()
    assert models("gx_suites") == {r.mart for r in rules()} | {"fct_findings"}


def test_the_next_day_reads_again_only_the_evidence_of_findings_that_changed(built_home, recorded, tmp_path):
    """The fingerprint of each finding (attributes and evidence records) is what the state stores: the
    next day a finding with the same fingerprint comes as its id and hash only, one whose stored
    fingerprint differs comes whole, and the state ends up as if every finding had come whole."""
    import shutil
    from datetime import timedelta

    _, rows = recorded
    db = tmp_path / "state.sqlite"
    shutil.copyfile(built_home.state_db, db)
    known = state.content_hashes(db)
    assert set(known) == set(rows) and all(re.fullmatch(r"[0-9a-f]{32}:[0-9a-f]{32}", h) for h in known.values())
    assert all(set(f) == {"finding_id", "content_hash"} for f in iter_findings(built_home.warehouse, known))

    stale = sorted(known)[0]
    got = list(iter_findings(built_home.warehouse, {**known, stale: "0" * 32 + ":" + "0" * 32}, batch=3))
    whole = [f for f in got if isinstance(f, state.FindingRow)]  # the row the state writes, its hash last
    assert len(got) == len(known) and len(whole) == 1 and whole[0][-1] == known[stale]
    assert whole[0][0] == stale and whole[0][12] == rows[stale]["evidence"]

    next_day = RUN_DATE + timedelta(days=1)
    state.record_run(db, run_id="t2", run_date=next_day, findings=iter_findings(built_home.warehouse, known))
    conn = state.connect(db)
    after = {r["finding_id"]: dict(r) for r in conn.execute("select * from findings")}
    history = conn.execute("select run_date, count(*), sum(amount_at_risk) from finding_history group by 1 "
                           "order by 1").fetchall()
    conn.close()
    assert after == {fid: {**r, "last_seen": next_day.isoformat()} for fid, r in rows.items()}
    assert [tuple(h) for h in history][0][1:] == tuple(history[1])[1:]


def test_a_finding_whose_evidence_is_the_same_is_recorded_without_reading_it_again(built_home, recorded, tmp_path):
    """A finding whose attributes changed but not its evidence (its sentence, its amount at risk)
    comes with its attributes only: recorded with them, its stored evidence kept. Given so where the
    state holds other evidence, the run is refused and nothing is written."""
    import shutil
    from datetime import timedelta

    _, rows = recorded
    db = tmp_path / "state.sqlite"
    shutil.copyfile(built_home.state_db, db)
    known = state.content_hashes(db)
    moved = sorted(known)[1]
    attributes, _, evidence = known[moved].partition(":")
    conn = state.connect(db)  # yesterday's sentence and fingerprint
    with conn:
        conn.execute("update finding_rows set detail = '昨天的说法', content_hash = ? where finding_id = ?",
                     ["f" * 32 + ":" + evidence, moved])
    conn.close()
    known = state.content_hashes(db)
    # As the row the state writes (state.FindingRow): its evidence None (as stored), its hash last.
    got = [f for f in iter_findings(built_home.warehouse, known) if isinstance(f, state.FindingRow)]
    assert [(f[0], f[12], f[-1]) for f in got] == [(moved, None, attributes + ":" + evidence)]
    assert got[0][11] == rows[moved]["detail"]

    # The state holding other evidence than the one the finding comes with: refused.
    refused = tmp_path / "refused.sqlite"
    shutil.copyfile(db, refused)
    conn = state.connect(refused)
    with conn:
        conn.execute("update finding_rows set content_hash = ? where finding_id = ?",
                     ["f" * 32 + ":" + "0" * 32, moved])
    conn.close()
    with pytest.raises(ValueError, match="evidence as stored"):
        state.record_run(refused, run_id="t2", run_date=RUN_DATE + timedelta(days=1),
                         findings=iter([got[0]]))

    next_day = RUN_DATE + timedelta(days=1)
    state.record_run(db, run_id="t2", run_date=next_day, findings=iter_findings(built_home.warehouse, known))
    conn = state.connect(db)
    after = {r["finding_id"]: dict(r) for r in conn.execute("select * from findings")}
    conn.close()
    assert after == {fid: {**r, "last_seen": next_day.isoformat()} for fid, r in rows.items()}


@pytest.mark.parametrize("per_read", [1, 4, 10_000])
def test_the_findings_read_range_by_range_are_the_findings_read_at_once(built_home, monkeypatch, per_read):
    """The export reads the findings with their evidence a range of ids at a time (a thread of its own
    reads the next range while the state writes): the same rows, in the state's key order, whatever the
    ranges; and so for the few whose stored fingerprint differs."""
    import threading

    from fundwatch import pipeline

    monkeypatch.setattr(pipeline, "EVIDENCE_READ_FINDINGS", 10_000_000)  # one range: the whole read
    monkeypatch.setattr(pipeline, "EVIDENCE_READ_RANGES", 1)
    whole = list(iter_findings(built_home.warehouse))
    known = {f[0]: f[-1] for f in whole}
    stale = dict.fromkeys(sorted(known)[::5], "0" * 32 + ":" + "0" * 32)
    few = [f for f in whole if f[0] in stale]
    monkeypatch.setattr(pipeline, "EVIDENCE_READ_FINDINGS", per_read)
    assert len(pipeline._id_ranges(sorted(known))) == -(-len(known) // per_read)
    got = list(iter_findings(built_home.warehouse, batch=3))
    assert len(got) == len(whole) > 20 and got == whole and [f[0] for f in got] == sorted(known)
    assert [f for f in iter_findings(built_home.warehouse, {**known, **stale}, batch=2)
            if isinstance(f, state.FindingRow)] == few

    # Left after the first row (the state refused the run): the reading thread ends, nothing hangs.
    rows = iter_findings(built_home.warehouse, batch=1)
    next(rows)
    rows.close()
    assert not [t for t in threading.enumerate() if t.name == "fw-findings-read"]


def test_the_findings_are_read_in_ranges_of_at_most_50000_and_at_least_four_ranges_of_5000():
    from bisect import bisect_left

    from fundwatch.pipeline import _id_ranges

    for n, ranges in ((146, 1), (9_999, 1), (10_000, 2), (37_871, 4), (200_000, 4), (381_739, 8)):
        ids = [f"{i:016x}" for i in range(0, n * 7919, 7919)]
        got = _id_ranges(ids)
        assert len(got) == ranges and got[0][0] is None and got[-1][1] is None
        assert all(a[1] == b[0] for a, b in zip(got, got[1:], strict=False))
        cuts = [0, *(bisect_left(ids, hi) for _, hi in got[:-1]), n]
        sizes = [b - a for a, b in zip(cuts, cuts[1:], strict=False)]
        assert sum(sizes) == n and max(sizes) - min(sizes) <= 1


def test_a_read_that_fails_fails_the_export(built_home):
    """An error of DuckDB's in the reading thread is raised where the findings are read."""
    import duckdb

    from fundwatch.pipeline import EVIDENCE_SQL, _read

    none = EVIDENCE_SQL.format(only="and false", only_evidence="and false")
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        with pytest.raises(duckdb.CatalogException, match="no_such_mart"):
            list(_read(con, [none, none.replace("marts.fct_findings", "marts.no_such_mart")], {}, 5))
