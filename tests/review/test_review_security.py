"""Issue 12, review page security: sessions end on the server, sign-in is throttled per client
without locking the owner out, the audit log has the client's address and pages, errors are Chinese."""

from __future__ import annotations

import re

import pytest
from review_data import PASSWORD, PAY_LATE, csrf_of, fid, login

from fundwatch import state
from fundwatch.review import create_app, sessions, throttle

OFFICE, STRANGER = "10.1.1.10", "203.0.113.66"


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves: sessions and the throttle read it."""
    now = [1_700_000_000.0]
    monkeypatch.setattr(sessions, "clock", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += seconds
    return advance


def client_at(app, address: str):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def cookie_of(client) -> str:
    return client.get_cookie("fundwatch_session").value


def audit(home, action=None):
    conn = state.connect(home.state_db)
    try:
        rows = [dict(r) for r in conn.execute("SELECT username, action, detail, client FROM audit_log ORDER BY id")]
    finally:
        conn.close()
    return [r for r in rows if action is None or r["action"] == action]


# ------------------------------------------------------------------ sessions

def test_signing_out_ends_the_session_on_the_server(app, as_role):
    client = as_role("reviewer")
    stolen = app.test_client()
    stolen.set_cookie("fundwatch_session", cookie_of(client))
    assert stolen.get("/").status_code == 200, "the copied cookie works while the session lives"
    assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 302
    assert stolen.get("/").status_code == 302, "the old cookie is dead after sign-out"
    assert stolen.get("/api/findings").status_code == 401


def test_signing_in_starts_a_new_session_id(app):
    client = app.test_client()
    client.get("/login")
    before = cookie_of(client)
    login(client, "reviewer1")
    assert cookie_of(client) != before
    planted = app.test_client()
    planted.set_cookie("fundwatch_session", before)
    assert planted.get("/").status_code == 302, "the pre-sign-in id is not signed in"


def test_changing_ones_password_ends_every_session_of_that_person(app):
    here, there = app.test_client(), app.test_client()
    login(here, "reviewer1")
    login(there, "reviewer1")
    other = app.test_client()
    login(other, "auditor1")
    resp = here.post("/account/password", data={"csrf_token": csrf_of(here), "current": PASSWORD,
                                                  "new": "brand-new-pass-7", "repeat": "brand-new-pass-7"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert "密码已修改" in here.get("/login").get_data(as_text=True)
    assert here.get("/").status_code == 302 and there.get("/").status_code == 302
    assert other.get("/").status_code == 200, "other people stay signed in"
    assert login(app.test_client(), "reviewer1").status_code == 401
    assert login(app.test_client(), "reviewer1", "brand-new-pass-7").status_code == 302


@pytest.mark.parametrize(("form", "message"), [
    pytest.param({"current": "wrong-password", "new": "brand-new-pass-7", "repeat": "brand-new-pass-7"},
                 "当前密码不正确", id="wrong-current"),
    pytest.param({"current": PASSWORD, "new": "brand-new-pass-7", "repeat": "other-pass-77"}, "不一致",
                 id="repeat-differs"),
    pytest.param({"current": PASSWORD, "new": "short", "repeat": "short"}, "至少 8 个字符", id="too-short"),
])
def test_password_change_refusals_keep_the_session(as_role, form, message):
    client = as_role("reviewer")
    resp = client.post("/account/password", data={"csrf_token": csrf_of(client), **form})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert client.get("/").status_code == 200


def test_sessions_expire_after_idle_time_and_after_ten_hours(app, clock):
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    client = app.test_client()
    login(client, "reviewer1")
    for _ in range(5):  # active all day: each request within the idle time
        clock(idle - 120)
        assert client.get("/").status_code == 200
    clock(10 * 3600 - 5 * (idle - 120) + 1)
    assert client.get("/").status_code == 302, "ten hours after sign-in, however active"
    login(client, "reviewer1")
    clock(idle + 1)
    assert client.get("/").status_code == 302, "idle too long"


# ------------------------------------------------------------------ sign-in throttle

def test_spraying_many_names_from_one_client_is_slowed_while_the_office_signs_in(app, home, clock):
    stranger, office = client_at(app, STRANGER), client_at(app, OFFICE)
    for i in range(throttle.CLIENT_FREE):
        assert login(stranger, f"guess{i}", "Password1!").status_code == 401
    resp = login(stranger, "reviewer1", PASSWORD)
    assert resp.status_code == 429, "even the right password waits: no password is checked meanwhile"
    assert int(resp.headers["Retry-After"]) == throttle.CLIENT_FIRST_WAIT_S
    assert "分钟后再试" in resp.get_data(as_text=True)
    assert login(office, "reviewer1").status_code == 302, "the office on its own computer is not held back"
    clock(throttle.CLIENT_FIRST_WAIT_S + 1)
    assert login(stranger, "guess-again", "x").status_code == 401
    resp = login(stranger, "reviewer1", PASSWORD)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) == 2 * throttle.CLIENT_FIRST_WAIT_S, \
        "each further failure doubles the wait"
    blocked = audit(home, "login_blocked")
    assert blocked and {r["client"] for r in blocked} == {STRANGER}


def test_guessing_one_name_pauses_that_client_for_that_name_only(app, clock):
    stranger = client_at(app, STRANGER)
    for _ in range(throttle.PAIR_FREE):
        assert login(stranger, "reviewer1", "wrong-password").status_code == 401
    assert login(stranger, "reviewer1", PASSWORD).status_code == 429
    assert login(client_at(app, STRANGER), "auditor1").status_code == 302, "another name from that client"
    assert login(client_at(app, OFFICE), "reviewer1").status_code == 302, "the owner elsewhere"
    clock(throttle.PAIR_FIRST_WAIT_S + 1)
    assert login(stranger, "reviewer1", PASSWORD).status_code == 302, "waiting is enough: never locked out"


def test_waits_grow_to_the_cap_and_then_end(app, clock):
    stranger = client_at(app, STRANGER)
    waits = []
    for _ in range(throttle.PAIR_FREE + 8):
        resp = login(stranger, "reviewer1", "wrong-password")
        if resp.status_code == 429:
            waits.append(int(resp.headers["Retry-After"]))
            clock(waits[-1] + 1)
            assert login(stranger, "reviewer1", "wrong-password").status_code == 401
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]
    clock(throttle.MAX_WAIT_S + 1)
    assert login(stranger, "reviewer1", PASSWORD).status_code == 302


# ------------------------------------------------------------------ the audit log

def test_audit_log_records_the_client_address(app, home):
    login(client_at(app, OFFICE), "reviewer1")
    login(client_at(app, STRANGER), "nobody", "x")
    assert [(r["username"], r["client"]) for r in audit(home) if r["action"].startswith("login")] == [
        ("reviewer1", OFFICE), ("nobody", STRANGER)]


def test_forwarded_address_counts_only_behind_a_trusted_proxy(home):
    spoof = {"X-Forwarded-For": "198.51.100.7"}
    direct = create_app(home, trusted_proxies=0).test_client()
    direct.environ_base["REMOTE_ADDR"] = STRANGER
    direct.get("/login")
    direct.post("/login", data={"username": "a", "password": "b", "csrf_token": csrf_of(direct)}, headers=spoof)
    proxied = create_app(home, trusted_proxies=1).test_client()
    proxied.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    proxied.get("/login")
    proxied.post("/login", data={"username": "c", "password": "d", "csrf_token": csrf_of(proxied)}, headers=spoof)
    assert [r["client"] for r in audit(home, "login_failed")] == [STRANGER, "198.51.100.7"]


def test_a_flood_of_failed_sign_ins_cannot_hide_an_unmasking(as_role, home):
    auditor = as_role("auditor")
    auditor.post(f"/findings/{fid(PAY_LATE)}/unmask", data={"csrf_token": csrf_of(auditor), "reason": "核对身份"})
    conn = state.connect(home.state_db)
    with state.transaction(conn):
        conn.executemany("INSERT INTO audit_log (at, username, action, detail, client) VALUES (?, ?, ?, ?, ?)",
                         [(state.now_shanghai(), f"spray{i}", "login_failed", "", STRANGER) for i in range(5000)])
    conn.close()
    admin = as_role("admin")
    first = admin.get("/admin/audit").get_data(as_text=True)
    assert first.count("<tr><td class=\"nowrap\">") == 100, "one page of 100"
    assert "第 1 / 51 页" in first and "核对身份" not in first
    only = admin.get("/admin/audit?action=unmask").get_data(as_text=True)
    assert "核对身份" in only and "auditor1" in only and "spray" not in only and "共 1 条" in only
    last = admin.get("/admin/audit?page=99999999999999999999").get_data(as_text=True)
    assert "第 51 / 51 页" in last and "核对身份" in last


# ------------------------------------------------------------------ errors in Chinese

def _chinese(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]{2,}", text))


ENGLISH = ("The requested URL", "The method is not allowed", "Request Entity Too Large", "Bad Request",
           "Internal Server Error", "Forbidden", "Unauthorized", "Not Found")


@pytest.fixture
def failing_app(home):
    app = create_app(home)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom():
        raise RuntimeError("a bug")
    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/boom", "api_boom", boom)
    return app


@pytest.mark.parametrize("api", [False, True], ids=["page", "api"])
def test_every_error_answers_in_chinese(failing_app, api):
    client = failing_app.test_client()
    login(client, "auditor1")
    prefix = "/api" if api else ""
    token = {"X-CSRF-Token": csrf_of(client)}
    answers = {
        400: client.post(f"{prefix}/findings/{fid(PAY_LATE)}/{'decisions' if api else 'decide'}"),  # no CSRF
        403: client.post(f"{prefix}/findings/{fid(PAY_LATE)}/{'decisions' if api else 'decide'}", headers=token,
                         **({"json": {"action": "confirmed"}} if api else {"data": {"action": "confirmed"}})),
        404: client.get(f"{prefix}/findings/ffffffffffffffff"),
        405: client.delete(f"{prefix}/findings/{fid(PAY_LATE)}"),
        413: client.post(f"{prefix}/findings/{fid(PAY_LATE)}/unmask", headers=token,
                         data={"reason": "x" * 100_000}),
        500: client.get(f"{prefix}/boom"),
    }
    for code, resp in answers.items():
        assert resp.status_code == code, (code, resp.get_data(as_text=True)[:200])
        text = resp.get_data(as_text=True)
        if api:
            assert resp.is_json and _chinese(resp.get_json()["message"]), code
        else:
            assert "<html" in text and _chinese(text), code
        assert not any(e in text for e in ENGLISH), (code, text[:300])
        assert "a bug" not in text and "Traceback" not in text


def test_429_and_401_answer_in_chinese(app):
    resp = app.test_client().get("/api/findings")
    assert resp.status_code == 401 and _chinese(resp.get_json()["message"])
    stranger = client_at(app, STRANGER)
    for _ in range(throttle.PAIR_FREE):
        login(stranger, "reviewer1", "wrong")
    resp = login(stranger, "reviewer1", "wrong")
    assert resp.status_code == 429 and _chinese(resp.get_data(as_text=True))


def test_huge_page_numbers_never_answer_500(as_role):
    client = as_role("reviewer")
    assert client.get("/?page=" + "9" * 40).status_code == 200
    assert client.get("/?page=" + "9" * 5000).status_code == 200
    resp = client.get("/api/findings?page=" + "9" * 40)
    assert resp.status_code == 400 and "page" in resp.get_json()["message"]
    assert client.get("/api/findings?page=1000000").get_json()["findings"] == []
