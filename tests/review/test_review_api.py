"""The JSON API of interface.md: every route, status code and permission; tokens; OpenAPI."""

from __future__ import annotations

import hashlib
import re

import pytest
from review_data import (
    ACCOUNT_LIU,
    ACCOUNT_SHARED,
    DAY2,
    DAY2_FINDINGS,
    FILE_BAD,
    ID_LIU,
    OVER_BUDGET,
    PAY_LATE,
    ROSTER_SHORT,
    csrf_of,
    fid,
)

from fundwatch import state
from fundwatch.review import tokens, users_command
from fundwatch.review.openapi import SPEC

MASKED_ID = "430121********1236"


@pytest.fixture
def api(app):
    return app.test_client()


# ------------------------------------------------------------------ GET /api/findings

def test_list_has_total_and_the_export_columns_plus_unit_name_and_rectification(api, token_of):
    body = api.get("/api/findings", headers=token_of("auditor1")).get_json()
    assert body["total"] == len(DAY2_FINDINGS) == len(body["findings"])
    one = next(f for f in body["findings"] if f["finding_id"] == fid(PAY_LATE))
    assert list(one)[:len(state.EXPORT_COLUMNS)] == list(state.EXPORT_COLUMNS)
    assert one["amount_at_risk"] == "3000.00" and isinstance(one["amount_at_risk"], str)
    assert one["first_seen"] == "2021-04-29" and one["status"] == "open"
    assert one["unit_code"] == "430121" and one["unit_name"] == "长沙市 · 长沙县"
    assert one["rectification"] is None
    assert one["source_row"] == 8


def test_list_is_utf8_json_with_money_as_strings(api, token_of):
    resp = api.get("/api/findings?rule_id=PROJ_OVER_BUDGET", headers=token_of("auditor1"))
    assert resp.content_type == "application/json"
    assert "项目超预算".encode() in resp.data, "UTF-8, not \\u escapes"
    assert b'"amount_at_risk":"12500.50"' in resp.data.replace(b" ", b"")


def test_list_is_masked(api, token_of):
    text = api.get("/api/findings", headers=token_of("admin1")).get_data(as_text=True)
    assert ID_LIU not in text and MASKED_ID in text


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param("status=open", DAY2_FINDINGS, id="status"),
    pytest.param("rule_id=PAY_LATE", [PAY_LATE], id="rule"),
    pytest.param("unit_code=430100", [PAY_LATE, ROSTER_SHORT], id="unit-prefecture"),
    pytest.param("unit_code=430121", [PAY_LATE, ROSTER_SHORT], id="unit-county"),
    pytest.param("unit_code=430202", [OVER_BUDGET], id="unit-other-county"),
    pytest.param("severity=warning", [], id="severity"),
    pytest.param("q=JQZX-2020", [PAY_LATE, ROSTER_SHORT], id="q-project-prefix"),
    pytest.param("q=TX20210105", [PAY_LATE], id="q-txn-ref-prefix"),
    pytest.param("q=刘建国", [PAY_LATE], id="q-name-in-evidence"),
    pytest.param(f"q={ID_LIU}", [PAY_LATE], id="q-id-number-whole"),
    pytest.param(f"q={ACCOUNT_LIU}", [PAY_LATE], id="q-account-whole"),
    pytest.param("q=湘财社指〔2020〕36号", [PAY_LATE], id="q-doc-no"),
    pytest.param(f"q={ID_LIU[:10]}", [], id="q-id-prefix-finds-nothing"),
    pytest.param(f"q=JQZX-2020-430121|{ID_LIU[:8]}", [], id="q-roster-key-prefix-finds-nothing"),
    pytest.param("q=刘建", [], id="q-part-of-a-name-finds-nothing"),
    pytest.param("q=%25", [], id="q-like-wildcard-is-literal"),
    pytest.param("page=2", [], id="past-the-last-page-is-empty"),
])
def test_list_filters(api, token_of, query, expected):
    body = api.get(f"/api/findings?{query}", headers=token_of("reviewer1")).get_json()
    assert {f["finding_id"] for f in body["findings"]} == {fid(f) for f in expected}
    if "page" not in query:
        assert body["total"] == len(expected)


@pytest.mark.parametrize("query", [
    "page=99999999999999999999999", "page=0", "page=-1", "page=abc", "page=1.5", "page=１",
    "status=closed", "severity=fatal", "unit_code=4301", "q=" + "x" * 101,
])
def test_list_refuses_bad_arguments_with_400_in_chinese(api, token_of, query):
    resp = api.get(f"/api/findings?{query}", headers=token_of("reviewer1"))
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["status"] == 400 and re.search(r"[\u4e00-\u9fff]", body["message"])


def test_list_pages_through_many_findings(api, home, token_of):
    many = [dict(PAY_LATE, subject_key=f"TX-MANY-{i:03d}") for i in range(60)]
    state.record_run(home.state_db, run_id="many", run_date=DAY2,
                     findings=[*DAY2_FINDINGS, *many])
    auth = token_of("reviewer1")
    pages = [api.get(f"/api/findings?page={n}", headers=auth).get_json() for n in (1, 2, 3)]
    assert [len(p["findings"]) for p in pages] == [50, 14, 0]
    assert {p["total"] for p in pages} == {64}


# ------------------------------------------------------------------ GET /api/findings/<id>

def test_one_finding_with_evidence_masked_and_decisions_oldest_first(api, home, token_of):
    state.add_decision(home.state_db, finding_id=fid(PAY_LATE), action="dismissed", comment="第一次",
                       username="reviewer1")
    state.add_decision(home.state_db, finding_id=fid(PAY_LATE), action="reopened", comment="第二次",
                       username="admin1")
    resp = api.get(f"/api/findings/{fid(PAY_LATE)}", headers=token_of("auditor1"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["evidence"]["subject"][0]["id_number"] == MASKED_ID
    assert body["evidence"]["matched_credits"][0]["doc_no"] == "湘财社指〔2020〕36号"
    assert ID_LIU not in resp.get_data(as_text=True) and ACCOUNT_LIU not in resp.get_data(as_text=True)
    assert [d["comment"] for d in body["decisions"]] == ["第一次", "第二次"]
    assert body["status"] == "open" and body["is_open"] is True and body["last_seen"] == "2021-04-30"


def test_closed_finding_is_still_readable(api, token_of):
    body = api.get(f"/api/findings/{fid(ACCOUNT_SHARED)}", headers=token_of("auditor1")).get_json()
    assert body["is_open"] is False and body["closed_on"] == "2021-04-30"


def test_unknown_finding_is_404_in_json(api, token_of):
    resp = api.get("/api/findings/ffffffffffffffff", headers=token_of("auditor1"))
    assert resp.status_code == 404 and resp.get_json()["message"] == "没有这个问题编号。"


# ------------------------------------------------------------------ POST /api/findings/<id>/decisions

@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_deciders_record_a_decision_201(api, home, token_of, role):
    resp = api.post(f"/api/findings/{fid(PAY_LATE)}/decisions", headers=token_of(f"{role}1"),
                    json={"action": "confirmed", "comment": "经核实属实"})
    assert resp.status_code == 201
    body = resp.get_json()
    assert (body["action"], body["comment"], body["username"]) == ("confirmed", "经核实属实", f"{role}1")
    assert resp.headers["Location"].endswith(f"/api/findings/{fid(PAY_LATE)}")
    assert {r["finding_id"]: r["status"] for r in state.export_rows(home.state_db)}[fid(PAY_LATE)] == "confirmed"


@pytest.mark.parametrize("role", ["auditor", "unit"])
def test_roles_that_may_not_decide_get_403(api, home, token_of, role):
    from fundwatch.review.users import add_user
    add_user(home.state_db, "unit1", "unit-password-1", "unit", unit="430121")
    resp = api.post(f"/api/findings/{fid(PAY_LATE)}/decisions", headers=token_of(f"{role}1"),
                    json={"action": "confirmed"})
    assert resp.status_code == 403 and "无权" in resp.get_json()["message"]
    assert state.export_rows(home.state_db)[0]["status"] == "open"


@pytest.mark.parametrize(("body", "message"), [
    pytest.param({"action": "dismissed"}, "理由", id="dismiss-without-comment"),
    pytest.param({"action": "dismissed", "comment": "  "}, "理由", id="dismiss-blank-comment"),
    pytest.param({"action": "deleted"}, "action", id="unknown-action"),
    pytest.param({"comment": "x"}, "action", id="no-action"),
    pytest.param({"action": "confirmed", "comment": 5}, "comment", id="comment-not-text"),
    pytest.param({"action": "confirmed", "comment": "x" * 2001}, "comment", id="comment-too-long"),
    pytest.param(["confirmed"], "JSON 对象", id="not-an-object"),
])
def test_bad_decisions_are_400(api, home, token_of, body, message):
    resp = api.post(f"/api/findings/{fid(PAY_LATE)}/decisions", headers=token_of("reviewer1"), json=body)
    assert resp.status_code == 400 and message in resp.get_json()["message"]
    conn = state.connect(home.state_db)
    assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
    conn.close()


def test_decision_body_must_be_json(api, token_of):
    resp = api.post(f"/api/findings/{fid(PAY_LATE)}/decisions", headers=token_of("reviewer1"),
                    data="action=confirmed", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and "JSON" in resp.get_json()["message"]


def test_decision_on_unknown_finding_is_404(api, token_of):
    resp = api.post("/api/findings/ffffffffffffffff/decisions", headers=token_of("reviewer1"),
                    json={"action": "confirmed"})
    assert resp.status_code == 404


# ------------------------------------------------------------------ POST /api/findings/<id>/unmask

def test_auditor_unmasks_through_the_api_with_a_logged_reason(api, home, token_of):
    resp = api.post(f"/api/findings/{fid(PAY_LATE)}/unmask", headers=token_of("auditor1"),
                    json={"reason": "核对身份"})
    assert resp.status_code == 200
    assert resp.get_json()["evidence"]["subject"][0]["id_number"] == ID_LIU
    conn = state.connect(home.state_db)
    rows = conn.execute("SELECT username, finding_id, detail FROM audit_log WHERE action = 'unmask'").fetchall()
    conn.close()
    assert [tuple(r) for r in rows] == [("auditor1", fid(PAY_LATE), "核对身份")]


def test_unmask_needs_the_right_and_a_reason(api, token_of):
    url = f"/api/findings/{fid(PAY_LATE)}/unmask"
    assert api.post(url, headers=token_of("reviewer1"), json={"reason": "看看"}).status_code == 403
    resp = api.post(url, headers=token_of("auditor1"), json={"reason": " "})
    assert resp.status_code == 400 and ID_LIU not in resp.get_data(as_text=True)


# ------------------------------------------------------------------ authentication

@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/findings"), ("GET", f"/api/findings/{fid(PAY_LATE)}"),
    ("POST", f"/api/findings/{fid(PAY_LATE)}/decisions"), ("POST", f"/api/findings/{fid(PAY_LATE)}/unmask"),
    ("GET", "/api/openapi.json"),
])
@pytest.mark.parametrize("auth", [None, "Bearer fw_not-a-token", "Basic cmV2aWV3ZXIxOng=", "Bearer "])
def test_every_api_route_answers_401_without_a_valid_sign_in(api, method, path, auth):
    headers = {"Authorization": auth} if auth else {}
    resp = api.open(path, method=method, headers=headers, json={"action": "confirmed"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert ID_LIU not in resp.get_data(as_text=True)


def test_revoked_token_and_removed_person_lose_access(api, home, token_of):
    auth = token_of("reviewer1")
    assert api.get("/api/findings", headers=auth).status_code == 200
    assert tokens.revoke(home.state_db, username="reviewer1") == 1
    assert api.get("/api/findings", headers=auth).status_code == 401
    auth = token_of("auditor1")
    from fundwatch.review.users import add_user, remove_user
    remove_user(home.state_db, "auditor1")
    assert api.get("/api/findings", headers=auth).status_code == 401
    add_user(home.state_db, "auditor1", "another-password-1", "auditor")
    assert api.get("/api/findings", headers=auth).status_code == 401, "a new person of that name gets no old token"


def test_bearer_is_accepted_on_the_api_only(app, token_of):
    auth = token_of("admin1")
    client = app.test_client()
    assert client.get("/api/findings", headers=auth).status_code == 200
    for path in ("/", "/export.xlsx", f"/findings/{fid(PAY_LATE)}", "/admin/audit"):
        resp = client.get(path, headers=auth)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path
    resp = client.post(f"/findings/{fid(PAY_LATE)}/decide", headers=auth, data={"action": "confirmed"})
    assert resp.status_code in (400, 401)


def test_session_writes_need_csrf_bearer_writes_do_not(as_role, api, token_of, home):
    client = as_role("reviewer")
    url = f"/api/findings/{fid(PAY_LATE)}/decisions"
    assert client.get("/api/findings").status_code == 200, "the browser session reads the API too"
    resp = client.post(url, json={"action": "confirmed"})
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["message"]
    assert client.post(url, json={"action": "confirmed"}, headers={"X-CSRF-Token": csrf_of(client)}).status_code == 201
    assert api.post(url, json={"action": "resolved"}, headers=token_of("reviewer1")).status_code == 201


def test_bearer_token_of_a_person_cannot_ride_a_cookie_session(as_role, token_of):
    client = as_role("auditor")  # signed in as auditor; the header names a reviewer's token
    resp = client.post(f"/api/findings/{fid(PAY_LATE)}/decisions", headers=token_of("reviewer1"),
                       json={"action": "confirmed"})
    assert resp.status_code == 201 and resp.get_json()["username"] == "reviewer1", "the token decides who acts"


def test_wrong_method_is_405_in_json(api, token_of):
    resp = api.delete("/api/findings", headers=token_of("admin1"))
    assert resp.status_code == 405 and re.search(r"[\u4e00-\u9fff]", resp.get_json()["message"])


# ------------------------------------------------------------------ tokens on the command line

def test_users_token_prints_once_stores_hashed_lists_and_revokes(home, monkeypatch, capsys, app):
    assert users_command(home, ["token", "reviewer1"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("fw_") and len(token) >= 40 and "shown once" in out.err
    raw = b"".join(p.read_bytes() for p in home.root.glob("state.sqlite*"))
    assert token.encode() not in raw and hashlib.sha256(token.encode()).hexdigest().encode() in raw
    assert app.test_client().get("/api/findings", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert users_command(home, ["tokens"]) == 0
    listing = capsys.readouterr().out
    assert "#1\treviewer1" in listing and "active" in listing and token not in listing
    assert users_command(home, ["revoke-token", "--id", "1"]) == 0
    capsys.readouterr()
    assert users_command(home, ["tokens", "reviewer1"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert app.test_client().get("/api/findings", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert users_command(home, ["revoke-token", "reviewer1"]) == 1, "nothing left to revoke"
    assert users_command(home, ["token", "ghost"]) == 1


# ------------------------------------------------------------------ OpenAPI

def _openapi_paths_of(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: "{finding_id}" if m[1] == "fid" else f"{{{m[1]}}}",
                          rule.rule)
            out |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return out


def test_openapi_describes_exactly_the_api_routes(app, api, token_of):
    served = api.get("/api/openapi.json", headers=token_of("auditor1")).get_json()
    assert served == SPEC and served["openapi"] == "3.1.0"
    described = {(p, m) for p, ops in SPEC["paths"].items() for m in ops}
    assert described == _openapi_paths_of(app)
    for path, ops in SPEC["paths"].items():
        for op in ops.values():
            assert "401" in op["responses"], path
            if "{finding_id}" in path:
                assert "404" in op["responses"], path


def test_openapi_refs_resolve():
    text = str(SPEC)
    for ref in set(re.findall(r"#/components/(\w+)/(\w+)", text)):
        assert ref[1] in SPEC["components"][ref[0]], ref


def test_file_findings_have_no_unit_name_when_they_have_no_unit(api, home, token_of):
    state.record_run(home.state_db, run_id="nounit", run_date=DAY2,
                     findings=[*DAY2_FINDINGS, dict(FILE_BAD, subject_key="x.csv", unit_code=None)])
    body = api.get("/api/findings?rule_id=FILE_REJECTED", headers=token_of("admin1")).get_json()
    assert {f["unit_name"] for f in body["findings"]} == {"湘西土家族苗族自治州 · 吉首市", None}
