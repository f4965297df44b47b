"""The daily digest per unit: contents by scope, stored, sent by real mail (aiosmtpd), idempotent."""

from __future__ import annotations

import os

import pytest
from fw_testdata import (
    ALL,
    CITY_OWN,
    CS_LATE,
    CS_ROSTER,
    ID_CS,
    ZZ_LATE,
    confirm,
    day,
    fid,
    free_port,
    mail_url,
    today,
)

from fundwatch import digest, notify, state


@pytest.fixture()
def quiet_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith(notify.ENV_URLS) or key == digest.ENV_PUBLIC_URL:
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.fixture()
def later(rhome, conn):
    """Day 31: CS_LATE and ZZ_LATE confirmed 31 days ago and overdue; CITY_OWN no longer fires
    (data_fixed); one new finding in 长沙县."""
    for f in (CS_LATE, ZZ_LATE, CITY_OWN):
        confirm(conn, f)
    new = dict(CS_LATE, subject_key="TX-CS-002", amount_at_risk=CS_LATE["amount_at_risk"] * 2)
    run_date = day(31)
    state.record_run(rhome.state_db, run_id="r31", run_date=run_date,
                     findings=[f for f in ALL if f is not CITY_OWN] + [new])
    return run_date, new


def _ids(d: digest.Digest) -> dict[str, set[str]]:
    return {k: {r["finding_id"] for r in v} for k, v in d.items.items()}


def test_what_each_unit_gets(conn, later):
    run_date, new = later
    by_unit = {d.unit_code: d for d in digest.build(conn, run_date)}
    assert set(by_unit) == {"430000", "430100", "430121", "430200", "430202"}
    assert _ids(by_unit["430121"]) == {"new": {fid(new)}, "overdue": {fid(CS_LATE)}, "data_fixed": set()}
    assert _ids(by_unit["430100"]) == {"new": {fid(new)}, "overdue": {fid(CS_LATE)}, "data_fixed": {fid(CITY_OWN)}}
    assert _ids(by_unit["430202"]) == _ids(by_unit["430200"]) == {
        "new": set(), "overdue": {fid(ZZ_LATE)}, "data_fixed": set()}
    assert _ids(by_unit["430000"]) == {"new": {fid(new)}, "overdue": {fid(CS_LATE), fid(ZZ_LATE)},
                                       "data_fixed": {fid(CITY_OWN)}}
    body = by_unit["430121"].body()
    assert "已逾期 1 天" in body and "6,000.00 元" in body and "长沙市长沙县计划生育协会" in body
    assert "株洲" not in body and "TX-ZZ-001" not in body, "a county's digest holds nothing of another branch"


def test_a_quiet_day_writes_only_the_provinces(conn, rhome):
    state.record_run(rhome.state_db, run_id="r1", run_date=day(1), findings=ALL)
    out = digest.build(conn, day(1))
    assert [d.unit_code for d in out] == ["430000"] and "没有新增问题线索" in out[0].body()


def test_a_long_day_lists_twenty_and_counts_all(rhome, conn):
    many = [dict(CS_LATE, subject_key=f"TX-MANY-{i:03d}") for i in range(digest.LIST_LIMIT + 5)]
    state.record_run(rhome.state_db, run_id="r1", run_date=day(1), findings=ALL + many)
    county = {d.unit_code: d for d in digest.build(conn, day(1))}["430121"]
    assert county.counts["new"] == 25 and len(county.items["new"]) == 20
    assert "新增问题线索（25 条）" in county.body() and "另有 5 条" in county.body()


def test_personal_data_is_masked(conn):
    d = {x.unit_code: x for x in digest.build(conn, today())}["430121"]
    assert fid(CS_ROSTER) in d.body() and ID_CS not in d.body() and "430121********1236" in d.body()


def test_mail_arrives_per_unit_and_only_once(rhome, later, smtp, quiet_env):
    run_date, _ = later
    controller, inbox = smtp
    quiet_env.setenv(notify.ENV_URLS, mail_url(controller.port, "office@example.org"))
    quiet_env.setenv(digest.ENV_UNIT_PREFIX + "430121", mail_url(controller.port, "changsha-county@example.org"))
    quiet_env.setenv(digest.ENV_PUBLIC_URL, "https://fundwatch.example.org/")
    report = digest.after_run(rhome, run_date)
    assert report == {"digests": 5, "sent": 2, "not_configured": 3, "failed": []}
    got = {tuple(rcpts): msg for rcpts, msg in inbox.wait(2)}
    assert set(got) == {("office@example.org",), ("changsha-county@example.org",)}
    county = got[("changsha-county@example.org",)]
    assert county["Subject"] == f"长沙市长沙县项目资金监督日报（{run_date}）：新增 1，逾期 1，待核销 0"
    text = county.get_body(("plain", "html")).get_content()
    assert "整改逾期（1 条）" in text and "https://fundwatch.example.org/" in text and ID_CS not in text
    # Stored, with the delivery recorded; the page reads them by scope.
    conn = state.connect(rhome.state_db)
    rows = {r["unit_code"]: r
            for r in conn.execute("SELECT * FROM digests WHERE run_date = ?", (run_date.isoformat(),))}
    assert rows["430121"]["delivered"] == 1 and rows["430202"]["channels"] == 0
    assert [r["unit_code"] for r in digest.for_viewer(conn, "430100")[1]] == ["430100", "430121"]
    assert [r["unit_code"] for r in digest.for_viewer(conn, "430202")[1]] == ["430202"]
    assert digest.for_viewer(conn, "430000")[1][0]["unit_code"] == "430000"
    # Re-running the stage (a re-run of the day, a retry) sends nothing already delivered.
    assert digest.after_run(rhome, run_date)["sent"] == 0
    assert len(inbox.wait(3, seconds=1)) == 2
    # What changed is sent again: a decision that withdraws the overdue one changes the county's digest.
    state.add_decision(conn, finding_id=fid(CS_LATE), action="dismissed", comment="误报", username="省审核")
    assert digest.after_run(rhome, run_date)["sent"] == 2
    assert len(inbox.wait(4)) == 4
    conn.close()


def test_a_failing_channel_fails_the_stage_after_trying_everyone(rhome, later, smtp, quiet_env):
    run_date, _ = later
    controller, inbox = smtp
    quiet_env.setenv(notify.ENV_URLS, mail_url(controller.port, "office@example.org"))
    dead = free_port()  # nothing listens there
    quiet_env.setenv(digest.ENV_UNIT_PREFIX + "430202", mail_url(dead, "hetang@example.org"))
    with pytest.raises(digest.DeliveryError, match="430202"):
        digest.after_run(rhome, run_date)
    assert [r for r, _ in inbox.wait(1)] == [["office@example.org"]], "the others were still sent"
    # Fixed configuration: the retry sends only what was not delivered.
    quiet_env.setenv(digest.ENV_UNIT_PREFIX + "430202", mail_url(controller.port, "hetang@example.org"))
    assert digest.after_run(rhome, run_date)["sent"] == 1
    assert [r for r, _ in inbox.wait(2)][1] == ["hetang@example.org"]


def test_a_unit_with_no_channel_is_written_only_when_its_record_of_delivery_must_change(rhome, later, quiet_env):
    """No channel anywhere: the digests are stored and nothing more is written (a first run has some 140
    units). A unit whose channel failed and was then taken out of the configuration is recorded as
    having none."""
    run_date, _ = later
    day = run_date.isoformat()
    dead = free_port()
    quiet_env.setenv(digest.ENV_UNIT_PREFIX + "430202", mail_url(dead, "hetang@example.org"))
    with pytest.raises(digest.DeliveryError):
        digest.after_run(rhome, run_date)
    conn = state.connect(rhome.state_db)
    try:
        assert conn.execute("SELECT channels, delivered FROM digests WHERE run_date = ? AND unit_code = '430202'",
                            (day,)).fetchone()[:] == (1, 0)
        quiet_env.delenv(digest.ENV_UNIT_PREFIX + "430202")
        before = conn.total_changes
        report = digest.send_pending(conn, day)
        assert report["not_configured"] == 5 and conn.total_changes == before + 1  # 430202's record only
        assert conn.execute("SELECT channels, delivered, sent_at FROM digests WHERE run_date = ? "
                            "AND unit_code = '430202'", (day,)).fetchone()[:] == (0, 0, None)
        before = conn.total_changes
        assert digest.send_pending(conn, day)["not_configured"] == 5
        assert conn.total_changes == before, "nothing to send and nothing to record: no write"
    finally:
        conn.close()


def test_rerun_replaces_the_days_digests(rhome, conn, later, quiet_env):
    run_date, new = later
    furong = dict(CS_LATE, subject_key="TX-FR-001", unit_code="430102")
    state.record_run(rhome.state_db, run_id="r31", run_date=run_date,
                     findings=[f for f in ALL if f is not CITY_OWN] + [new, furong])
    digest.after_run(rhome, run_date)

    def rows():
        return {r["unit_code"]: r for r in conn.execute("SELECT * FROM digests WHERE run_date = ?",
                                                        (run_date.isoformat(),))}

    assert rows()["430102"]["new_findings"] == 1 and rows()["430121"]["new_findings"] == 1
    # The day re-run after corrected files: both new findings are gone; 长沙县 keeps its overdue one.
    state.record_run(rhome.state_db, run_id="r31", run_date=run_date, findings=[f for f in ALL if f is not CITY_OWN])
    digest.after_run(rhome, run_date)
    assert "430102" not in rows()
    assert (rows()["430121"]["new_findings"], rows()["430121"]["overdue"]) == (0, 1)
