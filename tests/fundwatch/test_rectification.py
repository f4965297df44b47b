"""fundwatch.rectification: the state machine, who may act, due dates, overdue and data_fixed, append-only."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from fw_testdata import (
    ALL,
    CITY_OWN,
    CS_LATE,
    CS_SHARED,
    DATA,
    PEOPLE,
    ZZ_LATE,
    confirm,
    day,
    drive,
    fid,
    step,
    today,
)

from fundwatch import attachments, rectification, state

# Every (state, action) pair, taken by the person whose role may take that action:
# the new state, or 409 (not possible from that state).
TRANSITIONS = [
    ("notified", "respond", "responded"),
    ("notified", "verify", 409),
    ("notified", "return", 409),
    ("notified", "reopen", 409),
    ("responded", "respond", 409),
    ("responded", "verify", "verified"),
    ("responded", "return", "returned"),
    ("responded", "reopen", 409),
    ("returned", "respond", "responded"),
    ("returned", "verify", 409),
    ("returned", "return", 409),
    ("returned", "reopen", 409),
    ("verified", "respond", 409),
    ("verified", "verify", 409),
    ("verified", "return", 409),
    ("verified", "reopen", "notified"),
]
ACTOR_OF = {"respond": "county_clerk", "verify": "province_reviewer", "return": "province_reviewer",
            "reopen": "province_reviewer"}


def _args(action: str) -> dict:
    return {"comment": "理由或说明", "due": day(20) if action == "return" else None}


@pytest.mark.parametrize(("start", "action", "expected"), TRANSITIONS, ids=lambda v: str(v))
def test_every_transition(conn, rhome, start, action, expected):
    drive(conn, rhome, CS_LATE, start)
    if isinstance(expected, int):
        with pytest.raises(rectification.Conflict) as exc:
            step(conn, rhome, CS_LATE, ACTOR_OF[action], action, **_args(action))
        assert exc.value.status == expected and "整改当前状态为" in exc.value.message
        assert rectification.get(conn, fid(CS_LATE))["state"] == start, "a refused step changes nothing"
    else:
        r = step(conn, rhome, CS_LATE, ACTOR_OF[action], action, **_args(action))
        assert r["state"] == expected
        assert r["steps"][-1]["action"] == action and r["steps"][-1]["username"] == PEOPLE[ACTOR_OF[action]].username


# Who may take which action on a finding of 长沙县 (430121), each from a state where the action is
# possible: "ok", 403 (in scope, role or unit may not) or 404 (out of scope: like no such finding).
ROLES = {
    "province_reviewer": {"respond": 403, "verify": "ok", "return": "ok", "reopen": "ok"},
    "province_admin": {"respond": 403, "verify": "ok", "return": "ok", "reopen": "ok"},
    "province_auditor": {"respond": 403, "verify": 403, "return": 403, "reopen": 403},
    "city_reviewer": {"respond": 403, "verify": "ok", "return": "ok", "reopen": "ok"},
    "county_reviewer": {"respond": 403, "verify": "ok", "return": "ok", "reopen": "ok"},
    "city_clerk": {"respond": 403, "verify": 403, "return": 403, "reopen": 403},
    "county_clerk": {"respond": "ok", "verify": 403, "return": 403, "reopen": 403},
    "other_city_reviewer": {"respond": 404, "verify": 404, "return": 404, "reopen": 404},
    "other_county_clerk": {"respond": 404, "verify": 404, "return": 404, "reopen": 404},
}
START_FOR = {"respond": "notified", "verify": "responded", "return": "responded", "reopen": "verified"}


@pytest.mark.parametrize(("who", "action"), [(w, a) for w in ROLES for a in START_FOR])
def test_every_role(conn, rhome, who, action):
    drive(conn, rhome, CS_LATE, START_FOR[action])
    expected = ROLES[who][action]
    if expected == "ok":
        assert step(conn, rhome, CS_LATE, who, action, **_args(action))["state"] != START_FOR[action]
        return
    with pytest.raises(rectification.RectificationError) as exc:
        step(conn, rhome, CS_LATE, who, action, **_args(action))
    assert exc.value.status == expected
    if expected == 404:
        assert exc.value.message == "没有这个问题编号。"


def test_scope_of_two_branches(conn, rhome):
    for f in (CS_LATE, ZZ_LATE, CITY_OWN):
        confirm(conn, f)
    # 株洲's district answers its own; 长沙's people do not see it (404), 株洲's city reviewer closes it.
    assert step(conn, rhome, ZZ_LATE, "other_county_clerk", "respond")["state"] == "responded"
    for who in ("city_reviewer", "county_clerk", "county_reviewer", "city_clerk"):
        with pytest.raises(rectification.NotFound):
            step(conn, rhome, ZZ_LATE, who, "verify")
    assert step(conn, rhome, ZZ_LATE, "other_city_reviewer", "verify")["state"] == "verified"
    # 长沙市's own finding: its clerk answers; the county's clerk does not even see it.
    assert step(conn, rhome, CITY_OWN, "city_clerk", "respond")["state"] == "responded"
    with pytest.raises(rectification.NotFound):
        step(conn, rhome, CITY_OWN, "county_clerk", "respond")
    # Lists and single reads follow the same scope.
    seen = {u: {r["finding_id"] for r in rectification.in_scope(conn, u)} for u in ("430000", "430100", "430121",
                                                                                   "430200", "430202")}
    assert seen["430000"] == {fid(CS_LATE), fid(ZZ_LATE), fid(CITY_OWN)}
    assert seen["430100"] == {fid(CS_LATE), fid(CITY_OWN)}
    assert seen["430121"] == {fid(CS_LATE)}
    assert seen["430200"] == seen["430202"] == {fid(ZZ_LATE)}
    assert rectification.get(conn, fid(ZZ_LATE), viewer_unit="430100") is None
    assert rectification.get(conn, fid(ZZ_LATE), viewer_unit="430200")["state"] == "verified"


def test_unknown_action_and_missing_input_are_400(conn, rhome):
    drive(conn, rhome, CS_LATE, "responded")
    cases = [("province_reviewer", "close", {}, "未知的整改操作"),
             ("province_reviewer", "return", {"comment": "", "due": day(5)}, "退回必须填写理由"),
             ("province_reviewer", "return", {"comment": "缺凭证", "due": None}, "新的整改时限"),
             ("province_reviewer", "return", {"comment": "缺凭证", "due": "2021-13-01"}, "不是有效日期"),
             ("province_reviewer", "return", {"comment": "缺凭证", "due": day(-1)}, "早于"),
             ("province_reviewer", "verify", {"comment": "", "due": day(5)}, "不能修改整改时限")]
    for who, action, kw, message in cases:
        with pytest.raises(rectification.BadRequest, match=message):
            step(conn, rhome, CS_LATE, who, action, **kw)
    assert rectification.get(conn, fid(CS_LATE))["state"] == "responded"


def test_a_response_needs_its_explanation(conn, rhome):
    drive(conn, rhome, CS_LATE, "notified")
    with pytest.raises(rectification.BadRequest, match="整改说明"):
        step(conn, rhome, CS_LATE, "county_clerk", "respond", comment="  ")


def test_nothing_to_do_before_confirmation(conn, rhome):
    with pytest.raises(rectification.Conflict, match="尚未确认"):
        step(conn, rhome, CS_LATE, "county_clerk", "respond")
    assert rectification.get(conn, fid(CS_LATE)) is None


# ---------------------------------------------------------------------------- due dates
def test_due_30_days_for_an_error_60_for_a_warning(conn):
    confirm(conn, CS_LATE)
    confirm(conn, CS_SHARED)
    assert rectification.get(conn, fid(CS_LATE))["due"] == day(30).isoformat()
    assert rectification.get(conn, fid(CS_SHARED))["due"] == day(60).isoformat()


def test_a_reviewer_sets_another_due_date(conn):
    confirm(conn, CS_LATE, due=day(7).isoformat())
    r = rectification.get(conn, fid(CS_LATE))
    assert r["due"] == day(7).isoformat() and r["steps"][0]["action"] == "notify"
    with pytest.raises(ValueError, match="早于"):
        confirm(conn, CS_SHARED, due=day(-1))
    decided = conn.execute("SELECT count(*) FROM decisions WHERE finding_id = ?", (fid(CS_SHARED),)).fetchone()[0]
    assert decided == 0, "a refused due date records no decision"
    with pytest.raises(ValueError, match="确认问题时"):
        state.add_decision(conn, finding_id=fid(CS_SHARED), action="dismissed", comment="误报", username="x",
                           due=day(5))


def test_respond_keeps_the_due_date_return_sets_a_new_one_reopen_restarts_it(conn, rhome):
    confirm(conn, CS_LATE, due=day(5))
    assert step(conn, rhome, CS_LATE, "county_clerk", "respond")["due"] == day(5).isoformat()
    assert step(conn, rhome, CS_LATE, "province_reviewer", "return", due=day(15))["due"] == day(15).isoformat()
    assert step(conn, rhome, CS_LATE, "county_clerk", "respond")["due"] == day(15).isoformat()
    assert step(conn, rhome, CS_LATE, "province_reviewer", "verify")["due"] == day(15).isoformat()
    assert step(conn, rhome, CS_LATE, "province_reviewer", "reopen")["due"] == day(30).isoformat()


def test_confirming_again_keeps_a_running_rectification(conn, rhome):
    drive(conn, rhome, CS_LATE, "responded")
    confirm(conn, CS_LATE)
    assert rectification.get(conn, fid(CS_LATE))["state"] == "responded"
    with pytest.raises(rectification.Conflict, match="不能修改整改时限"):
        confirm(conn, CS_LATE, due=day(3))


def test_dismissing_withdraws_and_a_new_confirmation_notifies_again(conn, rhome):
    drive(conn, rhome, CS_LATE, "responded")
    state.add_decision(conn, finding_id=fid(CS_LATE), action="dismissed", comment="误报", username="省审核")
    r = rectification.get(conn, fid(CS_LATE))
    assert r["withdrawn"] and not r["overdue"]
    assert rectification.in_scope(conn, "430000") == []
    with pytest.raises(rectification.Conflict, match="已撤回"):
        step(conn, rhome, CS_LATE, "province_reviewer", "verify")
    confirm(conn, CS_LATE, due=day(9))
    r = rectification.get(conn, fid(CS_LATE))
    assert (r["state"], r["due"], r["withdrawn"]) == ("notified", day(9).isoformat(), False)
    assert [s["action"] for s in r["steps"]] == ["notify", "respond", "notify"]


# ---------------------------------------------------------------------------- overdue / data_fixed
def test_overdue_and_data_fixed_on_recorded_runs(rhome, conn):
    confirm(conn, CS_LATE)          # due today + 30
    confirm(conn, CS_SHARED)        # due today + 60 (warning)
    due = day(30)
    # A run on the due date itself: not yet overdue.
    state.record_run(rhome.state_db, run_id="r30", run_date=due, findings=ALL)
    assert not rectification.get(conn, fid(CS_LATE))["overdue"]
    # The next run date is past it: overdue; the warning is not (60 days).
    state.record_run(rhome.state_db, run_id="r31", run_date=due + timedelta(days=1), findings=ALL)
    late, shared = rectification.get(conn, fid(CS_LATE)), rectification.get(conn, fid(CS_SHARED))
    assert (late["overdue"], late["overdue_days"], late["data_fixed"]) == (True, 1, False)
    assert not shared["overdue"]
    assert [r["finding_id"] for r in rectification.in_scope(conn, "430121")][0] == fid(CS_LATE), "overdue first"
    # A later run where CS_LATE no longer fires: data_fixed (still overdue until a reviewer closes it).
    state.record_run(rhome.state_db, run_id="r32", run_date=due + timedelta(days=2),
                     findings=[f for f in ALL if f is not CS_LATE])
    late = rectification.get(conn, fid(CS_LATE))
    assert late["data_fixed"] and late["overdue"] and late["state"] == "notified"
    # The unit need not write first: a reviewer may verify a data_fixed one from notified.
    with pytest.raises(rectification.Forbidden):
        step(conn, rhome, CS_LATE, "county_clerk", "verify")
    late = step(conn, rhome, CS_LATE, "province_reviewer", "verify", comment="数据已不再触发，核销")
    assert (late["state"], late["overdue"], late["data_fixed"]) == ("verified", False, False)
    # Without data_fixed, notified -> verified stays refused.
    with pytest.raises(rectification.Conflict):
        step(conn, rhome, CS_SHARED, "province_reviewer", "verify")


def test_summaries_for_a_list(conn, rhome):
    drive(conn, rhome, CS_LATE, "responded")
    out = rectification.summaries(conn, [fid(f) for f in ALL])
    assert set(out) == {fid(CS_LATE)}
    assert out[fid(CS_LATE)]["state"] == "responded" and "steps" not in out[fid(CS_LATE)]
    assert set(rectification.as_api(rectification.get(conn, fid(CS_LATE)))) >= {
        "state", "due", "overdue", "data_fixed", "steps"}


def test_allowed_actions_follow_the_table(conn, rhome):
    r = drive(conn, rhome, CS_LATE, "responded")
    assert rectification.allowed_actions(PEOPLE["province_reviewer"], r) == ["verify", "return"]
    assert rectification.allowed_actions(PEOPLE["county_clerk"], r) == []
    r = step(conn, rhome, CS_LATE, "province_reviewer", "return", comment="缺凭证", due=day(9))
    assert rectification.allowed_actions(PEOPLE["county_clerk"], r) == ["respond"]
    assert rectification.allowed_actions(PEOPLE["province_auditor"], r) == []


# ---------------------------------------------------------------------------- append-only, migration
def test_steps_and_attachments_are_append_only(conn, rhome):
    drive(conn, rhome, CS_LATE, "notified")
    pdf = attachments.Upload("说明.pdf", (DATA / "receipt.pdf").read_bytes())
    step(conn, rhome, CS_LATE, "county_clerk", "respond", files=[pdf])
    for sql in ("UPDATE rectification_steps SET state = 'verified'", "DELETE FROM rectification_steps",
                "UPDATE rectification_attachments SET original_name = 'x'", "DELETE FROM rectification_attachments"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    assert rectification.get(conn, fid(CS_LATE))["state"] == "responded"


def test_comments_are_masked_when_read(conn, rhome):
    drive(conn, rhome, CS_LATE, "notified")
    r = step(conn, rhome, CS_LATE, "county_clerk", "respond", comment="已退回 430121198505051236 的款项")
    assert "430121198505051236" not in str(r) and "430121********1236" in r["steps"][-1]["comment"]


def test_findings_confirmed_before_the_migration_get_their_rectification(rhome):
    conn = state.connect(rhome.state_db)
    with state.transaction(conn):  # a home of before: a confirmation without rectification tables
        conn.execute("INSERT INTO decisions (finding_id, action, comment, username, decided_at) "
                     "VALUES (?, 'confirmed', '', '老审核', '2021-05-01T09:00:00')", (fid(CS_SHARED),))
        for table in ("rectification_attachments", "rectification_steps", "digests"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DELETE FROM schema_migrations WHERE name = '0005_rectify_tables'")
        # Nor the later migrations that follow it: findings still one table.
        conn.execute("CREATE TABLE findings_before AS SELECT * FROM findings")
        conn.execute("DROP VIEW findings")
        conn.execute("DROP TABLE finding_rows")
        conn.execute("DROP TABLE finding_evidence")
        conn.execute("ALTER TABLE findings_before RENAME TO findings")
        conn.execute("DELETE FROM schema_migrations WHERE name = '0009_findings_evidence_apart'")
    conn.close()
    conn = state.connect(rhome.state_db)
    r = rectification.get(conn, fid(CS_SHARED))
    assert (r["state"], r["due"], r["steps"][0]["username"]) == ("notified", "2021-06-30", "老审核")
    assert today().isoformat() > r["due"] and r["overdue"], "judged against the latest run date"
    conn.close()
