"""fundwatch.state: the findings store that survives warehouse rebuilds and re-runs."""

from __future__ import annotations

import random
import sqlite3
import threading
import tracemalloc
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest

from fundwatch import state

D1, D2, D3 = date(2021, 4, 28), date(2021, 4, 29), date(2021, 4, 30)


def finding(rule_id="PAY_LATE", key="TX001", amount="100.00", **extra):
    base = {
        "rule_id": rule_id, "rule_name": "超期发放", "severity": "error", "subject_type": "payment",
        "subject_key": key, "project_code": "P2020-001", "unit_code": "430121",
        "amount_at_risk": Decimal(amount), "source_file": "changsha/pay.xlsx", "source_row": 7,
        "detail": "应在2020-12-31前发放，实际2021-01-05发放。",
        "evidence": {"subject": [{"source_file": "changsha/pay.xlsx", "source_row": 7,
                                  "id_number": "430102199001011234", "amount": Decimal(amount)}]},
    }
    base.update(extra)
    return base


@pytest.fixture
def db(tmp_path):
    return tmp_path / "home" / "state.sqlite"


def open_ids(db):
    return {r["finding_id"]: r for r in state.export_rows(db)}


def row(db, fid):
    conn = state.connect(db)
    try:
        return dict(conn.execute("SELECT * FROM findings WHERE finding_id = ?", (fid,)).fetchone())
    finally:
        conn.close()


def test_finding_id_is_sha256_prefix_of_rule_subject_key():
    import hashlib
    expected = hashlib.sha256(b"PAY_LATE|payment|TX001").hexdigest()[:16]
    assert state.finding_id("PAY_LATE", "payment", "TX001") == expected
    assert len(expected) == 16


def test_connect_creates_schema_in_wal_mode(db):
    conn = state.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    assert {"runs", "findings", "finding_history", "decisions", "users", "audit_log"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    conn.close()


def test_export_rows_have_the_rules_md_columns_in_order_with_decimal_amounts(db):
    state.record_run(db, run_id="r1", run_date=D1, findings=[finding(amount="1200.5")])
    [r] = state.export_rows(db)
    assert list(r) == ["finding_id", "rule_id", "rule_name", "severity", "subject_type", "subject_key",
                       "project_code", "unit_code", "amount_at_risk", "source_file", "source_row",
                       "detail", "first_seen", "status"]
    assert r["amount_at_risk"] == Decimal("1200.50") and str(r["amount_at_risk"]) == "1200.50"
    assert r["first_seen"] == "2021-04-28" and r["status"] == "open" and r["source_row"] == 7


def test_float_amounts_are_refused(db):
    with pytest.raises(TypeError):
        state.record_run(db, run_id="r1", run_date=D1, findings=[finding(amount_at_risk=12.5)])


def test_lifecycle_new_still_open_closed_and_reopened(db):
    a, b = finding(key="TX001"), finding(key="TX002")
    fa = state.finding_id("PAY_LATE", "payment", "TX001")
    fb = state.finding_id("PAY_LATE", "payment", "TX002")

    s1 = state.record_run(db, run_id="r1", run_date=D1, findings=[a, b])
    assert (s1.new, s1.still_open, s1.closed) == (2, 0, 0)

    s2 = state.record_run(db, run_id="r2", run_date=D2, findings=[a])
    assert (s2.new, s2.still_open, s2.closed) == (0, 1, 1)
    assert set(open_ids(db)) == {fa}
    closed = row(db, fb)
    assert closed["is_open"] == 0 and closed["closed_on"] == "2021-04-29"

    s3 = state.record_run(db, run_id="r3", run_date=D3, findings=[a, b])
    assert (s3.new, s3.still_open, s3.closed) == (0, 2, 0)
    reopened = row(db, fb)
    assert reopened["is_open"] == 1 and reopened["closed_on"] is None
    assert reopened["first_seen"] == "2021-04-28", "a reopened finding keeps its first_seen"


def test_rerunning_the_same_date_changes_nothing(db):
    fs = [finding(key="TX001"), finding(rule_id="PAY_DECEASED", key="TX001")]
    s1 = state.record_run(db, run_id="r1", run_date=D1, findings=fs)
    state.add_decision(db, finding_id=state.finding_id("PAY_LATE", "payment", "TX001"),
                       action="confirmed", comment="属实", username="li")
    before = state.export_rows(db)
    s2 = state.record_run(db, run_id="r1-again", run_date=D1, findings=fs)
    assert state.export_rows(db) == before
    assert (s1.new, s1.still_open, s1.closed) == (s2.new, s2.still_open, s2.closed)
    conn = state.connect(db)
    assert conn.execute("SELECT count(*) FROM finding_history").fetchone()[0] == 2
    conn.close()


def test_earlier_date_after_later_keeps_first_seen_minimal_and_state_of_latest(db):
    a, b = finding(key="TX001", amount="10"), finding(key="TX002")
    fa = state.finding_id("PAY_LATE", "payment", "TX001")
    fb = state.finding_id("PAY_LATE", "payment", "TX002")
    state.record_run(db, run_id="r3", run_date=D3, findings=[a])
    state.record_run(db, run_id="r1", run_date=D1, findings=[finding(key="TX001", amount="99"), b])
    ra, rb = row(db, fa), row(db, fb)
    assert ra["first_seen"] == "2021-04-28" and ra["last_seen"] == "2021-04-30" and ra["is_open"] == 1
    assert ra["amount_at_risk"] == "10.00", "attributes follow the latest date the finding fired on"
    assert rb["is_open"] == 0 and rb["closed_on"] == "2021-04-30"
    assert set(open_ids(db)) == {fa}


def test_dismiss_requires_reason_and_status_follows_latest_decision(db):
    state.record_run(db, run_id="r1", run_date=D1, findings=[finding()])
    fid = state.finding_id("PAY_LATE", "payment", "TX001")
    with pytest.raises(ValueError):
        state.add_decision(db, finding_id=fid, action="dismissed", comment="  ", username="li")
    with pytest.raises(KeyError):
        state.add_decision(db, finding_id="0" * 16, action="confirmed", comment="", username="li")
    with pytest.raises(ValueError):
        state.add_decision(db, finding_id=fid, action="deleted", comment="x", username="li")
    # The status the export (and the review page) shows: state.export_rows, the production path.
    assert open_ids(db)[fid]["status"] == "open", "no decision yet"
    state.add_decision(db, finding_id=fid, action="dismissed", comment="已补发公示材料", username="li")
    assert open_ids(db)[fid]["status"] == "dismissed"
    state.add_decision(db, finding_id=fid, action="reopened", comment="", username="wang")
    assert open_ids(db)[fid]["status"] == "open", "reopened shows as open"
    state.add_decision(db, finding_id=fid, action="confirmed", comment="", username="wang")
    state.add_decision(db, finding_id=fid, action="resolved", comment="已整改", username="li")
    assert open_ids(db)[fid]["status"] == "resolved", "the latest decision wins, not the first"
    conn = state.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM decisions")
    conn.close()


def test_decisions_survive_closing_reopening_and_a_rebuilt_run(db):
    fid = state.finding_id("PAY_LATE", "payment", "TX001")
    state.record_run(db, run_id="r1", run_date=D1, findings=[finding()])
    state.add_decision(db, finding_id=fid, action="resolved", comment="已整改", username="li")
    state.record_run(db, run_id="r2", run_date=D2, findings=[])
    state.record_run(db, run_id="r3", run_date=D3, findings=[finding()])
    assert open_ids(db)[fid]["status"] == "resolved"


def test_duplicate_finding_in_one_run_is_refused_and_nothing_is_written(db):
    state.record_run(db, run_id="r1", run_date=D1, findings=[finding(key="A")])
    with pytest.raises(ValueError):
        state.record_run(db, run_id="r2", run_date=D2, findings=[finding(key="B"), finding(key="B")])
    assert [r["subject_key"] for r in state.export_rows(db)] == ["A"]


def test_readers_see_the_previous_complete_run_while_a_run_writes(db):
    state.record_run(db, run_id="r1", run_date=D1, findings=[finding(key="A")])
    writer = state.connect(db)
    reader = state.connect(db)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM finding_spans")
    writer.execute("UPDATE findings SET is_open = 0")
    t0 = threading.Event()

    def read():
        n = reader.execute("SELECT count(*) FROM findings WHERE is_open = 1").fetchone()[0]
        assert n == 1
        t0.set()

    th = threading.Thread(target=read)
    th.start()
    th.join(5)
    assert t0.is_set(), "a reader must not wait for the writer"
    writer.execute("ROLLBACK")
    writer.close()
    reader.close()


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed-{s}") for s in range(6)])
def test_any_order_of_runs_and_reruns_matches_a_from_scratch_recount(db, seed):
    """Whatever order days are recorded in (late days, corrected re-runs), the state equals the
    definition: first/last_seen = min/max firing date, open = fires on the latest date,
    closed_on = first recorded date after last_seen."""
    import random
    from datetime import timedelta

    rng = random.Random(seed)
    keys = [f"TX{i:03d}" for i in range(12)]
    days = [date(2021, 4, 1) + timedelta(days=i) for i in range(6)]
    fired: dict[date, set[str]] = {}
    amounts: dict[tuple[str, str], str] = {}  # (run date, key) -> amount fired with
    attrs: dict[str, str] = {}  # key -> its stored amount
    for step in range(14):
        day = rng.choice(days)
        # attributes (the amount here) follow the latest date a finding fired on when recorded (a date
        # recorded again without it cannot bring back older attributes: the state keeps only the amounts)
        before = {k: max((d for d, ks in fired.items() if k in ks), default=None) for k in keys}
        fired[day] = {k for k in keys if rng.random() < 0.45}
        for k in keys:
            amounts.pop((day.isoformat(), k), None)
        fs, known = [], state.content_hashes(db) if step else {}
        for k in sorted(fired[day]):
            amounts[day.isoformat(), k] = rng.choice(["1.00", "1.00", "2.50"])
            if before[k] is None or day >= before[k]:
                attrs[k] = amounts[day.isoformat(), k]
            f = finding(key=k, amount=amounts[day.isoformat(), k], content_hash=amounts[day.isoformat(), k])
            # as the daily run passes a finding the state holds with the same fingerprint: its id only
            fs.append(_as_stored(f) if known.get(_as_stored(f)["finding_id"]) == f["content_hash"] else f)
        state.record_run(db, run_id=f"r{step}", run_date=day, findings=fs)
        _check_against_definition(db, keys, fired, amounts, attrs, f"step {step}")


def _check_against_definition(db, keys, fired, amounts, attrs, where):
    latest = max(fired)
    conn = state.connect(db)
    history = {(d, k): a for d, k, a in conn.execute(
        "SELECT h.run_date, f.subject_key, h.amount_at_risk FROM finding_history h JOIN findings f USING (finding_id)")}
    got = {r["subject_key"]: dict(r) for r in conn.execute("SELECT * FROM findings")}
    spans = conn.execute("SELECT count(*) FROM finding_spans").fetchone()[0]
    conn.close()
    assert history == amounts, f"{where}: the history is every recorded date's findings and amounts"
    assert spans <= len(amounts)
    for key in keys:
        seen = sorted(d for d, ks in fired.items() if key in ks)
        if not seen:
            assert key not in got or got[key]["is_open"] == 0
            continue
        row = got[key]
        assert (row["first_seen"], row["last_seen"]) == (seen[0].isoformat(), seen[-1].isoformat()), (where, key)
        assert row["amount_at_risk"] == attrs[key], (where, key, "attributes of the latest date it fired on")
        is_open = key in fired[latest]
        assert row["is_open"] == int(is_open), (where, key)
        later = [d for d in sorted(fired) if d > seen[-1]]
        assert row["closed_on"] == (None if is_open else later[0].isoformat()), (where, key)
    assert {r["subject_key"] for r in state.export_rows(db)} == fired[latest], where


def test_state_file_is_private_to_its_owner(db):
    import stat as st
    state.connect(db).close()
    assert st.S_IMODE(db.stat().st_mode) == 0o600


def test_a_version_2_home_gains_units_for_its_people_once(tmp_path):
    """Migrations: an existing home's people become the province's (430000); applied once, recorded."""
    db = tmp_path / "state.sqlite"
    old = sqlite3.connect(db, isolation_level=None)
    old.executescript(state._SCHEMA + "PRAGMA user_version = 2;")
    old.execute("INSERT INTO users VALUES ('王审核', 'h', 'reviewer', 't', 't')")
    old.close()
    for _ in range(2):  # the second connect applies nothing
        conn = state.connect(db)
        assert [tuple(r) for r in conn.execute("SELECT username, role, unit_code FROM users")] == [
            ("王审核", "reviewer", "430000")]
        assert [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")] == [
            name for name, _ in state.MIGRATIONS]
        conn.close()
    conn = state.connect(db)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO users VALUES ('x', 'h', 'unit', '43012', 't', 't')")
    conn.execute("INSERT INTO users VALUES ('x', 'h', 'unit', '430121', 't', 't')")


def test_a_finding_listed_twice_in_different_batches_is_refused_and_nothing_is_written(db):
    state.record_run(db, run_id="r1", run_date=D1, findings=[finding(key="A")])
    twice = iter([finding(key="B"), finding(key="C"), finding(key="D"), finding(key="B")])
    with pytest.raises(ValueError, match="PAY_LATE payment B"):
        state.record_run(db, run_id="r2", run_date=D2, findings=twice, batch=2)
    assert [r["subject_key"] for r in state.export_rows(db)] == ["A"]
    assert [r["run_id"] for r in state.connect(db).execute("SELECT run_id FROM runs")] == ["r1"]


def _many_findings(n: int):
    """n distinct findings, each with about 1 kB of evidence JSON (its own string), one at a time."""
    pad = "说明" * 150
    for i in range(n):
        key = f"TX{i:09d}"
        yield {"rule_id": "PAY_LATE", "rule_name": "超期发放", "severity": "error", "subject_type": "payment",
               "subject_key": key, "project_code": "P2020-001", "unit_code": "430121",
               "amount_at_risk": f"{i % 5000}.50", "source_file": "长沙县/发放.xlsx", "source_row": i + 3,
               "detail": "超期发放。",
               "evidence_json": f'{{"subject": [{{"source_file": "长沙县/发放.xlsx", "source_row": {i + 3}, '
                                f'"txn_ref": "{key}", "amount": "{i % 5000}.50", "remark": "{pad}"}}]}}'}


def test_record_run_streams_its_findings_in_bounded_memory(db):
    """100,000 findings with evidence: record_run's peak stays far below holding them all."""
    n, sample = 100_000, 2_000
    tracemalloc.start()
    held = list(_many_findings(sample))
    per_finding = tracemalloc.get_traced_memory()[0] / sample
    del held
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    summary = state.record_run(db, run_id="big", run_date=D1, findings=_many_findings(n))
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert summary.new == n
    all_held = per_finding * n  # about 150 MB: what keeping every finding and its evidence would cost
    assert peak < all_held / 20, f"peak {peak / 1e6:.1f} MB against {all_held / 1e6:.1f} MB for all"
    conn = state.connect(db)
    assert conn.execute("SELECT count(*) FROM findings WHERE is_open = 1").fetchone()[0] == n
    conn.close()


def _as_stored(f: dict) -> dict:
    return {"finding_id": state.finding_id(f["rule_id"], f["subject_type"], f["subject_key"]),
            "content_hash": f["content_hash"]}


def _dump(db) -> dict:
    conn = state.connect(db)
    try:
        return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2")]
                for t in ("findings", "finding_history", "history_daily")}
    finally:
        conn.close()


def _lighten(fs: list[dict], known) -> list[dict]:
    """``fs`` with each finding the state holds with its fingerprint given as just its id and hash."""
    return [_as_stored(f) if known.get(_as_stored(f)["finding_id"]) == f["content_hash"] else f for f in fs]


def _daily(fs: list[dict]) -> list[tuple]:
    """The day's counts as ``pipeline.DAILY_SQL`` reads them, in no particular order."""
    counts = Counter((f["rule_id"], f["severity"], f["unit_code"], f["project_code"]) for f in fs)
    return [(*k, n) for k, n in reversed(counts.items())]


def _offering(fs: list[dict], held: state.Held, *, counted: bool = False):
    """The pipeline's form (``iter_findings``): every fingerprint offered at once (with the day's counts
    if ``counted``), then the findings the state did not record as stored."""
    others = held.offer([(_as_stored(f)["finding_id"], f["content_hash"]) for f in fs],
                        daily=_daily(fs) if counted else None)
    yield from (f for f in fs if _as_stored(f)["finding_id"] in others)


def _given(fs: list[dict], known, form: str):
    """What record_run is given: the findings, or a function of the fingerprints it reads in its own
    transaction that returns them (as stored one by one, or offered at once, with or without the
    day's counts)."""
    if form == "list":
        return _lighten(fs, known)
    if form.startswith("offered"):
        return lambda held: _offering(fs, held, counted=form.endswith("counts"))
    return lambda held: _lighten(fs, held)


@pytest.mark.parametrize("form", ["list", "function of the held fingerprints", "offered",
                                  "offered with the day's counts"])
def test_findings_given_as_stored_are_recorded_exactly_like_the_findings_themselves(tmp_path, form):
    """The daily run passes a finding whose fingerprint the state holds as just its id and hash: the
    state ends up the same as with the whole finding, in any order of dates (a late earlier day too)."""
    full, light = tmp_path / "full.sqlite", tmp_path / "light.sqlite"
    a, b = finding(key="A", content_hash="ha"), finding(key="B", amount="7.50", content_hash="hb")
    days = [(D2, [a, b]), (D3, [a]), (D1, [a, b]), (D3, [a, b])]  # D1 recorded late, D3 corrected
    for n, (day, fs) in enumerate(days):
        state.record_run(full, run_id=f"r{n}", run_date=day, findings=fs)
        state.record_run(light, run_id=f"r{n}", run_date=day, findings=_given(fs, state.content_hashes(light), form))
        assert _dump(light) == _dump(full), day
    assert state.content_hashes(light) == {_as_stored(a)["finding_id"]: "ha", _as_stored(b)["finding_id"]: "hb"}


@pytest.mark.parametrize("form", ["list", "function of the held fingerprints"])
def test_a_finding_given_as_stored_with_another_hash_is_refused_and_nothing_is_written(db, form):
    a = finding(key="A", content_hash="ha")
    state.record_run(db, run_id="r1", run_date=D1, findings=[a])
    before = _dump(db)

    def given(fs):
        return fs if form == "list" else (lambda held: fs)

    for wrong in ({**_as_stored(a), "content_hash": "changed"},
                  {"finding_id": state.finding_id("PAY_LATE", "payment", "NEW"), "content_hash": "ha"}):
        with pytest.raises(ValueError, match="not stored with that content_hash"):
            state.record_run(db, run_id="r2", run_date=D2, findings=given([wrong]))
        assert _dump(db) == before
    for twice in ([_as_stored(a), a], [a, _as_stored(a)], [_as_stored(a), _as_stored(a)]):
        with pytest.raises(ValueError, match="listed twice"):
            state.record_run(db, run_id="r2", run_date=D2, findings=given(twice))
        assert _dump(db) == before


def test_fingerprints_offered_at_once_are_recorded_as_stored_and_the_others_returned(db):
    """``Held.offer`` (the daily run's form): the findings the state holds with the offered fingerprint
    fire as stored; the others come back with the fingerprint the state holds (None: none); a finding
    offered twice, or offered and then given again, writes nothing."""
    a, b = finding(key="A", content_hash="ha"), finding(key="B", amount="7.50", content_hash="hb")
    state.record_run(db, run_id="r1", run_date=D1, findings=[a, b])
    ida, idb = _as_stored(a)["finding_id"], _as_stored(b)["finding_id"]
    new = finding(key="N", content_hash="hn")
    idn = _as_stored(new)["finding_id"]
    returned = {}

    def offering(held):
        returned.update(held.offer([(ida, "ha"), (idb, "other"), (idn, "hn")]))
        yield {**b, "content_hash": "other"}
        yield new

    summary = state.record_run(db, run_id="r2", run_date=D2, findings=offering)
    assert returned == {idb: "hb", idn: None}
    assert (summary.new, summary.still_open, summary.closed) == (1, 2, 0)
    before = _dump(db)
    for pairs, then in (([(ida, "ha"), (ida, "ha")], []), ([(ida, "ha")], [_as_stored(a)]), ([(ida, "ha")], [a])):
        def twice(held, pairs=pairs, then=then):
            held.offer(pairs)
            yield from then
        with pytest.raises(ValueError, match="listed twice"):
            state.record_run(db, run_id="r3", run_date=D3, findings=twice)
        assert _dump(db) == before


def _whole(db) -> dict:
    """What a run writes, each row whole: the findings as the view gives them (an open finding's stored
    last_seen is not kept: the view gives the latest run date), their evidence, spans and daily counts."""
    conn = state.connect(db)
    try:
        return {t: sorted((tuple(r) for r in conn.execute(f"SELECT * FROM {t}")), key=repr)
                for t in ("findings", "finding_evidence", "finding_spans", "finding_history", "history_daily")}
    finally:
        conn.close()


def test_new_dates_recorded_by_their_differences_leave_the_state_as_a_whole_recording(tmp_path):
    """A new latest date offered with the day's counts is recorded by its differences from the date
    before (only what came, went or changed is written): over 40 runs of 300 findings that come, go,
    come back, change amount, unit or evidence, some without a fingerprint, with dates recorded late
    and again in between, every table is the same, row for row, as when each finding is given whole,
    and each run's summary is what its definition says."""
    rng = random.Random(17)
    whole, diff = tmp_path / "whole.sqlite", tmp_path / "diff.sqlite"
    units = ["430121", "430102", None]
    version = {k: 0 for k in range(300)}
    day, recorded = date(2021, 4, 1), []
    for n in range(40):
        if n % 9 == 8 and recorded:
            when = rng.choice(recorded) - timedelta(days=rng.choice([0, 1]))  # again, or late
        else:
            day += timedelta(days=rng.choice([1, 1, 3]))
            when = day
        for k in rng.sample(sorted(version), 25):
            version[k] += 1  # changes amount, unit or evidence (a new fingerprint)
        fs = []
        for k in sorted(version):
            if rng.random() < 0.15 or (k >= 200 and (n < (k - 200) // 3 or when < day)):
                continue  # does not fire today (the last hundred come over time, never on a late date)
            v = version[k]
            f = finding(key=f"K{k:03d}", amount=f"{100 + v % 3}.00", unit_code=units[(k + v // 3) % 3],
                        severity=["error", "warning"][k % 2], content_hash=None if k % 50 == 0 else f"h{k}-{v}")
            f["evidence"]["subject"][0]["remark"] = f"v{v // 5}"
            fs.append(f)
        rng.shuffle(fs)
        summary = state.record_run(whole, run_id=f"r{n}", run_date=when, findings=fs)
        assert state.record_run(diff, run_id=f"r{n}", run_date=when,
                                findings=_given(fs, {}, "offered with the day's counts")) == summary
        assert _whole(diff) == _whole(whole), (n, when)
        # the summary by its definition: new = first fired on the date, closed = closed on it
        conn = state.connect(whole)
        try:
            first = dict(conn.execute("SELECT finding_id, min(run_date) FROM finding_history GROUP BY 1"))
            firing = [fid for (fid,) in conn.execute("SELECT finding_id FROM finding_history WHERE run_date = ?",
                                                     (when.isoformat(),))]
            closed = [fid for (fid,) in conn.execute("SELECT finding_id FROM findings WHERE closed_on = ?",
                                                     (when.isoformat(),))]
        finally:
            conn.close()
        new = sum(1 for fid in firing if first[fid] == when.isoformat())
        assert (summary.new, summary.still_open, summary.closed) == (new, len(firing) - new, len(closed)), n
        recorded.append(when)


def test_a_new_date_offered_with_counts_that_are_not_its_findings_or_a_finding_twice_writes_nothing(db):
    a, b = finding(key="A", content_hash="ha"), finding(key="B", content_hash="hb")
    state.record_run(db, run_id="r1", run_date=D1, findings=[a, b])
    ida = _as_stored(a)["finding_id"]
    before = _whole(db)

    def offering(pairs, daily, then=()):
        def given(held):
            held.offer(pairs, daily=daily)
            yield from then
        return given

    pairs = [(ida, "ha"), (_as_stored(b)["finding_id"], "hb")]
    for given, match in ((offering(pairs, [("PAY_LATE", "error", "430121", "P2020-001", 3)]), "counts"),
                         (offering([*pairs, (ida, "ha")], _daily([a, b, a])), "listed twice"),
                         (offering(pairs, _daily([a, b]), [a]), "listed twice"),
                         (offering(pairs, _daily([a, b]), [_as_stored(a)]), "listed twice")):
        with pytest.raises(ValueError, match=match):
            state.record_run(db, run_id="r2", run_date=D2, findings=given)
        assert _whole(db) == before


def test_the_export_fingerprint_follows_every_exported_value(db):
    def fingerprint():
        return state.export_snapshot(db)[1]

    state.record_run(db, run_id="r1", run_date=D1, findings=[finding(key="A"), finding(key="B")])
    rows, fp = state.export_snapshot(db)
    assert rows == state.export_rows(db) and len(rows) == 2 and fingerprint() == fp
    state.record_run(db, run_id="r1", run_date=D1, findings=[finding(key="A"), finding(key="B")])
    assert fingerprint() == fp  # the same day again: the same export
    seen = {fp}
    state.add_decision(db, finding_id=state.finding_id("PAY_LATE", "payment", "A"), action="confirmed",
                       comment="", username="u")
    seen.add(fingerprint())
    state.record_run(db, run_id="r2", run_date=D2, findings=[finding(key="A"), finding(key="B", detail="改")])
    seen.add(fingerprint())
    state.record_run(db, run_id="r3", run_date=D3, findings=[finding(key="A"), finding(key="B", detail="改")])
    assert fingerprint() in seen  # nothing exported changed (last_seen is not exported)
    state.record_run(db, run_id="r4", run_date=D3, findings=[finding(key="A")])
    seen.add(fingerprint())
    assert len(seen) == 4


def test_a_home_of_before_keeps_its_findings_and_gets_no_empty_pages_when_evidence_moves_apart(tmp_path):
    """Migration 0009 (evidence in a table of its own): the same rows through the view, and the
    pages of the old table given back (a backup copies the whole file)."""
    db = tmp_path / "state.sqlite"
    old = sqlite3.connect(db, isolation_level=None)
    old.executescript(state._SCHEMA + "PRAGMA user_version = 2;")
    old.execute("PRAGMA journal_mode = WAL")
    for i in range(300):
        old.execute("INSERT INTO findings (finding_id, rule_id, subject_type, subject_key, evidence, first_seen, "
                    "last_seen) VALUES (?, 'PAY_LATE', 'payment', ?, ?, '2021-04-28', '2021-04-28')",
                    (f"{i:016x}", f"TX{i}", '{"subject": [{"remark": "%s"}]}' % ("说明" * 400)))
    old.close()
    conn = state.connect(db)
    try:
        assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'findings'").fetchone()[0] == "view"
        assert tuple(conn.execute("SELECT count(*), count(evidence) FROM findings").fetchone()) == (300, 300)
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        conn.close()


def test_a_home_of_before_keeps_its_history_when_it_becomes_spans(tmp_path, monkeypatch):
    """Migration 0010: a history of one row per finding per day becomes spans of run dates with the
    same rows through the view finding_history; later runs go on from there."""
    db = tmp_path / "state.sqlite"
    monkeypatch.setattr(state, "MIGRATIONS", state.MIGRATIONS[:[m[0] for m in state.MIGRATIONS].index(
        "0010_finding_history_as_spans")])
    assert state.MIGRATIONS[-1][0] == "0009_findings_evidence_apart"
    conn = state.connect(db)
    days = ["2021-04-01", "2021-04-02", "2021-04-05", "2021-04-06", "2021-04-07"]  # runs skip days
    rows = {  # finding -> {run date: amount}: a gap, an amount that changes and comes back, an open one
        "a": {"2021-04-01": "1.00", "2021-04-02": "1.00", "2021-04-06": "1.00", "2021-04-07": "1.00"},
        "b": {"2021-04-01": "5.00", "2021-04-02": "6.00", "2021-04-05": "5.00"},
        "c": {"2021-04-07": None},
    }
    for i, d in enumerate(days):
        conn.execute("INSERT INTO runs VALUES (?, ?, 't', 't', 'complete')", (f"r{i}", d))
    for fid, per_day in rows.items():
        seen = sorted(per_day)
        is_open = int(seen[-1] == days[-1])
        closed_on = None if is_open else days[days.index(seen[-1]) + 1]
        conn.execute("INSERT INTO findings (finding_id, rule_id, subject_type, subject_key, first_seen, last_seen, "
                     "is_open, closed_on, content_hash, amount_at_risk) "
                     "VALUES (?, 'PAY_LATE', 'payment', ?, ?, ?, ?, ?, 'h', ?)",
                     (fid, fid, seen[0], seen[-1], is_open, closed_on, per_day[seen[-1]]))
        conn.executemany("INSERT INTO finding_history VALUES (?, ?, ?)", [(d, fid, a) for d, a in per_day.items()])
    conn.close()
    monkeypatch.undo()

    conn = state.connect(db)
    try:
        assert {(r[0], r[1]): r[2] for r in conn.execute("SELECT * FROM finding_history")} == {
            (d, fid): a for fid, per_day in rows.items() for d, a in per_day.items()}
        assert [tuple(r) for r in conn.execute("SELECT * FROM finding_spans ORDER BY 1, 2")] == [
            ("a", "2021-04-01", "2021-04-02", "1.00"), ("a", "2021-04-06", None, "1.00"),
            ("b", "2021-04-01", "2021-04-01", "5.00"), ("b", "2021-04-02", "2021-04-02", "6.00"),
            ("b", "2021-04-05", "2021-04-05", "5.00"), ("c", "2021-04-07", None, None)]
        assert [tuple(r) for r in conn.execute("SELECT finding_id, first_seen, last_seen, is_open, closed_on "
                                               "FROM findings ORDER BY 1")] == [
            ("a", "2021-04-01", "2021-04-07", 1, None), ("b", "2021-04-01", "2021-04-05", 0, "2021-04-06"),
            ("c", "2021-04-07", "2021-04-07", 1, None)]
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        conn.close()
    state.record_run(db, run_id="r5", run_date=date(2021, 4, 8), findings=[{"finding_id": "a", "content_hash": "h"}])
    conn = state.connect(db)
    try:
        assert [tuple(r) for r in conn.execute("SELECT * FROM finding_spans WHERE last_date IS NULL OR "
                                               "last_date >= '2021-04-06' ORDER BY 1, 2")] == [
            ("a", "2021-04-06", None, "1.00"), ("c", "2021-04-07", "2021-04-07", None)]
        assert [tuple(r) for r in conn.execute("SELECT finding_id, last_seen, is_open, closed_on FROM findings "
                                               "WHERE finding_id IN ('a', 'c') ORDER BY 1")] == [
            ("a", "2021-04-08", 1, None), ("c", "2021-04-07", 0, "2021-04-08")]
    finally:
        conn.close()


def test_a_new_state_file_opened_while_another_process_reads_it_waits_instead_of_failing(tmp_path):
    """SQLite does not apply its busy timeout to a change of journal mode: the second of two processes
    opening a new home at once got "database is locked" (seen as a racing upload failing)."""
    path = tmp_path / "state.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # another process
    other.execute("BEGIN IMMEDIATE")  # as the first process does while it writes the schema
    other.execute("CREATE TABLE scratch (x)")
    threading.Timer(0.5, lambda: other.execute("COMMIT")).start()
    conn = state.connect(path)  # waits for the reader, then sets WAL and the schema
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == state.SCHEMA_VERSION
