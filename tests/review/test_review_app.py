"""HTTP tests of the review page: every role, every action, and the refusals."""

from __future__ import annotations

import hashlib
import io
import re
import stat
import subprocess
import sys

import pytest
from openpyxl import load_workbook
from review_data import (
    ACCOUNT_LIU,
    ACCOUNT_SHARED,
    DAY2,
    DAY2_FINDINGS,
    FILE_BAD,
    ID_LIU,
    OVER_BUDGET,
    PASSWORD,
    PAY_LATE,
    ROSTER_SHORT,
    csrf_of,
    fid,
    login,
)

from fundwatch import state
from fundwatch.review import queue_export
from fundwatch.review.users import set_password

MASKED_ID = "430121********1236"


def post(client, url, **form):
    form.setdefault("csrf_token", csrf_of(client))
    return client.post(url, data=form)


def shown_ids(html: str) -> list[str]:
    """Finding ids linked from a page, in order (a link carries the queue's filters after ``?``)."""
    return re.findall(r'/findings/([0-9a-f]{16})[?"]', html)


def audit_rows(home, action=None):
    conn = state.connect(home.state_db)
    try:
        sql = "SELECT username, action, finding_id, detail FROM audit_log"
        rows = [dict(r) for r in conn.execute(sql + " ORDER BY id")]
    finally:
        conn.close()
    return [r for r in rows if action is None or r["action"] == action]


def decisions(home, finding_id):
    conn = state.connect(home.state_db)
    try:
        return [dict(r) for r in conn.execute(
            "SELECT action, comment, username FROM decisions WHERE finding_id = ? ORDER BY id",
            (finding_id,))]
    finally:
        conn.close()


# ------------------------------------------------------------------ sign-in and refusals

@pytest.mark.parametrize("path", [
    pytest.param("/", id="queue"),
    pytest.param(f"/findings/{fid(PAY_LATE)}", id="finding"),
    pytest.param("/export.xlsx", id="export"),
    pytest.param("/docs/dbt/index.html", id="dbt-docs"),
    pytest.param("/docs/gx/index.html", id="gx-docs"),
    pytest.param("/admin/audit", id="audit"),
])
def test_pages_send_an_unsigned_visitor_to_the_sign_in_form(app, home, path):
    (home.dbt_docs_dir / "index.html").write_text("<html>dbt docs secret</html>", encoding="utf-8")
    resp = app.test_client().get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")
    assert b"secret" not in resp.data and ID_LIU.encode() not in resp.data


@pytest.mark.parametrize(("method", "path"), [
    pytest.param("GET", "/api/findings", id="api-list"),
    pytest.param("GET", f"/api/findings/{fid(PAY_LATE)}", id="api-one"),
    pytest.param("POST", f"/findings/{fid(PAY_LATE)}/decide", id="decide"),
    pytest.param("POST", f"/findings/{fid(PAY_LATE)}/unmask", id="unmask"),
    pytest.param("POST", "/logout", id="logout"),
])
def test_api_and_actions_answer_401_without_sign_in(app, method, path):
    resp = app.test_client().open(path, method=method, data={"action": "confirmed"})
    assert resp.status_code == 401
    assert ID_LIU.encode() not in resp.data


def test_stylesheet_is_the_only_thing_served_without_sign_in(app):
    resp = app.test_client().get("/static/style.css")
    assert resp.status_code == 200 and b"font-family" in resp.data


def test_sign_in_with_wrong_password_is_refused_and_logged(app, home):
    client = app.test_client()
    resp = login(client, "reviewer1", "wrong-password")
    assert resp.status_code == 401 and "用户名或密码错误" in resp.get_data(as_text=True)
    resp = login(client, "nobody", PASSWORD)
    assert resp.status_code == 401
    assert [r["username"] for r in audit_rows(home, "login_failed")] == ["reviewer1", "nobody"]
    assert client.get("/").status_code == 302, "still signed out"


def test_sign_in_without_csrf_token_is_refused(app):
    client = app.test_client()
    client.get("/login")
    resp = client.post("/login", data={"username": "reviewer1", "password": PASSWORD})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(app):
    client = app.test_client()
    page = client.get(f"/findings/{fid(PAY_LATE)}")
    assert page.status_code == 302
    client.get(page.headers["Location"])
    resp = client.post("/login", data={"username": "auditor1", "password": PASSWORD,
                                       "csrf_token": csrf_of(client), "next": f"/findings/{fid(PAY_LATE)}"})
    assert resp.headers["Location"] == f"/findings/{fid(PAY_LATE)}"
    other = app.test_client()
    other.get("/login")
    resp = other.post("/login", data={"username": "auditor1", "password": PASSWORD,
                                      "csrf_token": csrf_of(other), "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/"


def test_sign_out_needs_csrf_and_ends_the_session(as_role):
    client = as_role("reviewer")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    assert post(client, "/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_changed_password_or_removed_user_ends_open_sessions(as_role, home):
    client = as_role("reviewer")
    assert client.get("/").status_code == 200
    set_password(home.state_db, "reviewer1", "another-password-1")
    assert client.get("/").status_code == 302


def test_session_cookie_is_http_only_and_holds_only_a_random_id_kept_hashed(app, home):
    client = app.test_client()
    resp = login(client, "reviewer1")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    sid = cookie.split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sid), "only a random id: no user name, role or token"
    store = home.review_sessions_db
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    raw = b"".join(p.read_bytes() for p in home.root.glob("review_sessions.sqlite*"))
    assert sid.encode() not in raw, "the server keeps only the id's hash"
    assert hashlib.sha256(sid.encode()).hexdigest().encode() in raw


# ------------------------------------------------------------------ the queue

@pytest.mark.parametrize("role", ["reviewer", "auditor", "admin"])
def test_every_role_sees_the_queue_new_findings_first_and_masked(as_role, role):
    html = as_role(role).get("/").get_data(as_text=True)
    order = [m for m in shown_ids(html)]
    assert order[:2] == [fid(OVER_BUDGET), fid(FILE_BAD)], "findings first seen on the latest run come first"
    assert set(order) == {fid(f) for f in DAY2_FINDINGS}
    assert fid(ACCOUNT_SHARED) not in order, "a finding that no longer fires leaves the queue"
    assert ID_LIU not in html and MASKED_ID in html
    assert "18,500.50" in html, "total amount at risk"
    assert 'id="stat-count">4<' in html


@pytest.mark.parametrize(("query", "api_query", "expected"), [
    pytest.param("rule=PAY_LATE", "rule_id=PAY_LATE", [PAY_LATE], id="rule"),
    pytest.param("severity=error", "severity=error", [PAY_LATE, ROSTER_SHORT, FILE_BAD, OVER_BUDGET],
                 id="severity-error"),
    pytest.param("severity=warning", "severity=warning", [], id="severity-warning"),
    pytest.param("prefecture=430100", "unit_code=430100", [PAY_LATE, ROSTER_SHORT], id="prefecture-changsha"),
    pytest.param("prefecture=433100", "unit_code=433100", [FILE_BAD], id="prefecture-xiangxi"),
    pytest.param("county=430202", "unit_code=430202", [OVER_BUDGET], id="county-hetang"),
    pytest.param("project=JQZX-2020-430121", "q=JQZX-2020-430121", [PAY_LATE, ROSTER_SHORT], id="project"),
    pytest.param("status=open", "status=open", [PAY_LATE, ROSTER_SHORT, FILE_BAD, OVER_BUDGET], id="status-open"),
    pytest.param("status=confirmed", "status=confirmed", [], id="status-confirmed"),
    pytest.param("prefecture=430100&severity=error&rule=ROSTER_PUBLICITY_SHORT",
                 "unit_code=430100&severity=error&rule_id=ROSTER_PUBLICITY_SHORT", [ROSTER_SHORT], id="combined"),
])
def test_queue_filters(as_role, query, api_query, expected):
    client = as_role("auditor")
    html = client.get(f"/?{query}").get_data(as_text=True)
    shown = set(shown_ids(html))
    assert shown == {fid(f) for f in expected}
    api = client.get(f"/api/findings?{api_query}").get_json()
    assert {f["finding_id"] for f in api["findings"]} == {fid(f) for f in expected}
    assert api["total"] == len(expected)


def test_status_filter_follows_decisions(as_role):
    client = as_role("reviewer")
    post(client, f"/findings/{fid(PAY_LATE)}/decide", action="confirmed", comment="属实")
    api = client.get("/api/findings?status=confirmed").get_json()
    assert [f["finding_id"] for f in api["findings"]] == [fid(PAY_LATE)]
    assert api["findings"][0]["status"] == "confirmed"


def test_bad_filter_values_are_ignored_with_a_notice(as_role):
    html = as_role("reviewer").get("/?severity=fatal&county=abc").get_data(as_text=True)
    assert "未知的严重程度" in html and "单位代码应为6位数字" in html
    assert len(set(shown_ids(html))) == 4


def test_queue_shows_totals_per_rule_and_area_and_a_chart(as_role):
    html = as_role("reviewer").get("/").get_data(as_text=True)
    per_rule = html[html.index('id="per-rule"'):html.index("</table>", html.index('id="per-rule"'))]
    assert "项目超预算" in per_rule and "12,500.50" in per_rule
    area = html[html.index('id="per-area"'):]
    assert "长沙市" in area and "长沙县" in area and "6,000.00" in area
    assert "湘西土家族苗族自治州" in area and "吉首市" in area
    chart = html[html.index('id="chart"'):]
    assert "<svg" in chart and "04-29" in chart and "04-30" in chart
    assert "多人共用一个账户（PAY_SHARED_ACCOUNT）" in chart, "history keeps the closed finding's day"
    assert "<script" not in html, "plain page: no JavaScript, no CDN"
    assert not re.search(r'(src|href)="(https?:)?//', html), "nothing loaded from elsewhere"


# ------------------------------------------------------------------ one finding

def test_finding_page_shows_requirement_detail_evidence_masked_and_dbt_link(as_role, home):
    (home.dbt_docs_dir / "index.html").write_text("<html>dbt</html>", encoding="utf-8")
    html = as_role("reviewer").get(f"/findings/{fid(PAY_LATE)}").get_data(as_text=True)
    assert "严格按照规定时间发放" in html, "the requirement from the rule catalogue"
    assert "应在2020-12-31（发放截止日期）前发放" in html
    assert "长沙县/2020金秋助学发放明细.xlsx 第 8 行" in html
    assert "上报名单中的对应条目" in html and "项目文本" in html and "长沙县2020年金秋助学" in html
    assert "长沙县/名单.xlsx 第 5 行" in html, "each evidence record with its file and row"
    assert ID_LIU not in html and ACCOUNT_LIU not in html
    assert MASKED_ID in html and "***************8901" in html
    assert "/docs/dbt/index.html#!/model/model.fundwatch.payments" in html
    assert 'name="action" value="dismissed"' in html


def test_unknown_finding_is_404(as_role):
    assert as_role("reviewer").get("/findings/0000000000000000").status_code == 404


def test_detail_text_is_masked_too(as_role):
    html = as_role("reviewer").get(f"/findings/{fid(ROSTER_SHORT)}").get_data(as_text=True)
    assert ID_LIU not in html and MASKED_ID in html


# ------------------------------------------------------------------ decisions

@pytest.mark.parametrize(("role", "action", "comment", "status"), [
    pytest.param("reviewer", "confirmed", "经核实属实", "confirmed", id="reviewer-confirms"),
    pytest.param("reviewer", "dismissed", "系银行退票后重发，非超期", "dismissed", id="reviewer-dismisses"),
    pytest.param("reviewer", "resolved", "已追回", "resolved", id="reviewer-resolves"),
    pytest.param("admin", "confirmed", "", "confirmed", id="admin-confirms"),
])
def test_deciders_decide_under_their_own_name(as_role, home, role, action, comment, status):
    client = as_role(role)
    resp = post(client, f"/findings/{fid(PAY_LATE)}/decide", action=action, comment=comment)
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已记录" in page
    assert decisions(home, fid(PAY_LATE)) == [{"action": action, "comment": comment, "username": f"{role}1"}]
    assert {r["finding_id"]: r["status"] for r in state.export_rows(home.state_db)}[fid(PAY_LATE)] == status


def test_dismiss_without_reason_is_refused(as_role, home):
    client = as_role("reviewer")
    resp = post(client, f"/findings/{fid(PAY_LATE)}/decide", action="dismissed", comment="   ")
    assert resp.status_code == 400 and "驳回必须填写理由" in resp.get_data(as_text=True)
    assert decisions(home, fid(PAY_LATE)) == []


def test_decision_without_csrf_is_refused(as_role, home):
    client = as_role("reviewer")
    resp = client.post(f"/findings/{fid(PAY_LATE)}/decide", data={"action": "confirmed"})
    assert resp.status_code == 400
    resp = client.post(f"/findings/{fid(PAY_LATE)}/decide",
                       data={"action": "confirmed", "csrf_token": "forged"})
    assert resp.status_code == 400
    assert decisions(home, fid(PAY_LATE)) == []


def test_auditor_is_read_only(as_role, home):
    client = as_role("auditor")
    resp = post(client, f"/findings/{fid(PAY_LATE)}/decide", action="confirmed", comment="x")
    assert resp.status_code == 403
    assert decisions(home, fid(PAY_LATE)) == []
    assert 'id="decide-form"' not in client.get(f"/findings/{fid(PAY_LATE)}").get_data(as_text=True)


def test_unknown_action_is_refused(as_role, home):
    resp = post(as_role("reviewer"), f"/findings/{fid(PAY_LATE)}/decide", action="deleted", comment="x")
    assert resp.status_code == 400 and decisions(home, fid(PAY_LATE)) == []


def test_history_is_append_only_and_reopen_returns_to_open(as_role, home):
    client = as_role("reviewer")
    url = f"/findings/{fid(PAY_LATE)}/decide"
    post(client, url, action="dismissed", comment="理由一")
    post(client, url, action="reopened", comment="")
    html = client.get(f"/findings/{fid(PAY_LATE)}").get_data(as_text=True)
    assert "理由一" in html and "重新打开" in html
    assert [d["action"] for d in decisions(home, fid(PAY_LATE))] == ["dismissed", "reopened"]
    assert {r["finding_id"]: r["status"] for r in state.export_rows(home.state_db)}[fid(PAY_LATE)] == "open"


def test_decisions_survive_a_rerun_of_the_same_day(as_role, home):
    client = as_role("reviewer")
    post(client, f"/findings/{fid(PAY_LATE)}/decide", action="confirmed", comment="属实")
    state.record_run(home.state_db, run_id="manual__rerun", run_date=DAY2, findings=DAY2_FINDINGS)
    html = client.get("/?status=confirmed").get_data(as_text=True)
    assert set(shown_ids(html)) == {fid(PAY_LATE)}


# ------------------------------------------------------------------ unmasking

@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditor_and_admin_may_unmask_one_finding_and_it_is_logged(as_role, home, role):
    client = as_role(role)
    resp = post(client, f"/findings/{fid(PAY_LATE)}/unmask", reason="核对身份")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and ID_LIU in html and ACCOUNT_LIU in html
    assert resp.headers["Cache-Control"] == "no-store"
    assert [(r["username"], r["finding_id"], r["detail"]) for r in audit_rows(home, "unmask")] == [
        (f"{role}1", fid(PAY_LATE), "核对身份")]
    assert ID_LIU not in client.get(f"/findings/{fid(PAY_LATE)}").get_data(as_text=True), "one request only"


def test_reviewer_may_not_unmask(as_role, home):
    resp = post(as_role("reviewer"), f"/findings/{fid(PAY_LATE)}/unmask", reason="看看")
    assert resp.status_code == 403 and ID_LIU not in resp.get_data(as_text=True)
    assert audit_rows(home, "unmask") == []


def test_unmask_needs_a_reason_and_csrf(as_role, home):
    client = as_role("auditor")
    resp = post(client, f"/findings/{fid(PAY_LATE)}/unmask", reason="")
    assert resp.status_code == 400 and ID_LIU not in resp.get_data(as_text=True)
    resp = client.post(f"/findings/{fid(PAY_LATE)}/unmask", data={"reason": "x"})
    assert resp.status_code == 400 and ID_LIU not in resp.get_data(as_text=True)
    assert audit_rows(home, "unmask") == []


# ------------------------------------------------------------------ export

def read_xlsx(data: bytes) -> tuple[list[dict], object]:
    """The office's download: title, filter line, then the Chinese header row (row 3) and its rows."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    header = [c.value for c in ws[3]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=4)]
    return [r for r in rows if r["问题编号"]], ws


@pytest.mark.parametrize("role", ["reviewer", "auditor", "admin"])
def test_export_downloads_the_filtered_queue_as_xlsx(as_role, home, role):
    resp = as_role(role).get("/export.xlsx?prefecture=430100")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in resp.headers["Content-Disposition"]
    rows, ws = read_xlsx(resp.data)
    assert [c.value for c in ws[3]] == list(queue_export.HEADERS)
    assert "问题编号" in queue_export.HEADERS and "处理人" in queue_export.HEADERS
    assert {r["问题编号"] for r in rows} == {fid(PAY_LATE), fid(ROSTER_SHORT)}
    assert all(r["处理状态"] == "待处理" and r["首次发现"] == "2021-04-29" for r in rows)
    assert all(r["责任单位"] == "长沙市 · 长沙县" for r in rows), "unit names, not codes"
    assert {r["涉及金额（元）"] for r in rows} == {3000}
    assert ID_LIU.encode() not in resp.data
    assert any(r["对象"] == f"名单人员：JQZX-2020-430121|{MASKED_ID}" for r in rows)
    assert [r["action"] for r in audit_rows(home, "export")] == ["export"]


def test_export_says_the_filter_carries_the_latest_decision_and_is_laid_out_to_print(as_role):
    client = as_role("reviewer")
    post(client, f"/findings/{fid(PAY_LATE)}/decide", action="dismissed", comment="先驳回")
    post(client, f"/findings/{fid(PAY_LATE)}/decide", action="confirmed", comment="经核实，确属超期发放")
    rows, ws = read_xlsx(client.get("/export.xlsx?rule=PAY_LATE&status=all").data)
    assert "导出人 reviewer1" in ws["A1"].value
    assert ws["A2"].value.startswith("筛选条件：规则：超期发放（PAY_LATE）；状态：全部；共 1 条")
    (row,) = rows
    assert (row["处理状态"], row["处理人"], row["处理意见"]) == ("已确认", "reviewer1", "经核实，确属超期发放")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", row["处理时间"])
    assert row["规则"] == "超期发放（PAY_LATE）" and row["说明"].startswith("应在2020-12-31")
    # printing: A4 landscape, one page wide, title and header on every page, header frozen
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage and (ws.page_setup.fitToWidth or 1) == 1  # OOXML default 1
    assert ws.page_setup.fitToHeight == 0, "as many pages tall as it needs"
    assert ws.print_title_rows == "$1:$3" and ws.freeze_panes == "A4"
    assert ws.auto_filter.ref.startswith("A3:")
    total = [r for r in ws.iter_rows(min_row=4, values_only=True) if r[0] == "合计"]
    assert total and total[0][list(queue_export.HEADERS).index("涉及金额（元）")] == 3000


def test_queue_export_is_not_the_contract_export(as_role, home):
    """The pipeline's findings.xlsx (rules.md) keeps its English columns; the office's download is apart."""
    from fundwatch.export import write_xlsx
    path = write_xlsx(state.export_rows(home.state_db), home.root / "findings.xlsx")
    assert [c.value for c in load_workbook(path).worksheets[0][1]] == list(state.EXPORT_COLUMNS)


def test_export_is_formula_safe(as_role):
    rows, ws = read_xlsx(as_role("reviewer").get("/export.xlsx?rule=FILE_REJECTED").data)
    assert len(rows) == 1
    cells = {c.value: c for c in ws[4]}
    assert cells["'" + FILE_BAD["detail"]].data_type == "s", "stored as text, never as a formula"
    assert rows[0]["来源（文件 · 行）"] is None
    assert not any(isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@")) for c in ws[4])


# ------------------------------------------------------------------ docs, API, admin

def test_built_docs_are_served_after_sign_in(as_role, home):
    (home.dbt_docs_dir / "index.html").write_text("<html>dbt docs</html>", encoding="utf-8")
    (home.dbt_docs_dir / "manifest.json").write_text("{}", encoding="utf-8")
    client = as_role("auditor")
    assert client.get("/docs/dbt/").data == b"<html>dbt docs</html>"
    assert client.get("/docs/dbt/manifest.json").status_code == 200
    assert client.get("/docs/dbt/../state.sqlite").status_code == 404
    resp = client.get("/docs/gx/index.html")
    assert resp.status_code == 404 and "GX 数据文档尚未生成" in resp.get_data(as_text=True)


ARCHIVED_PAGE = "validations/fundwatch_payments/fundwatch-2021-01-04/20210103T220000.000000Z/warehouse-payments.html"


def test_an_archived_run_page_is_served_at_the_url_it_had(as_role, home):
    """Runs older than the Data Docs index move to HOME/gx/archive (expectations.run_archive): their
    pages answer at the same /docs/gx/ URL; a page still in the live site wins over an archived copy."""
    (home.gx_docs_dir / "index.html").write_text("<html>gx index</html>", encoding="utf-8")
    archived = home.gx_docs_archive_dir / ARCHIVED_PAGE
    archived.parent.mkdir(parents=True)
    archived.write_text("<html>run of 2021-01-04</html>", encoding="utf-8")
    client = as_role("auditor")
    assert client.get(f"/docs/gx/{ARCHIVED_PAGE}").data == b"<html>run of 2021-01-04</html>"
    live = home.gx_docs_dir / ARCHIVED_PAGE  # a re-run of that date, not archived yet
    live.parent.mkdir(parents=True)
    live.write_text("<html>re-run of 2021-01-04</html>", encoding="utf-8")
    assert client.get(f"/docs/gx/{ARCHIVED_PAGE}").data == b"<html>re-run of 2021-01-04</html>"
    assert client.get("/docs/gx/../archive/docs/" + ARCHIVED_PAGE).status_code == 404
    assert client.get("/docs/dbt/" + ARCHIVED_PAGE).status_code == 404  # the archive is GX's only


def test_api_is_masked_and_read_only(as_role):
    client = as_role("admin")
    one = client.get(f"/api/findings/{fid(PAY_LATE)}")
    assert one.status_code == 200 and ID_LIU not in one.get_data(as_text=True)
    assert one.get_json()["evidence"]["subject"][0]["id_number"] == MASKED_ID
    assert client.get("/api/findings/ffffffffffffffff").status_code == 404
    assert client.post("/api/findings", data={"csrf_token": csrf_of(client)}).status_code == 405


def test_audit_page_is_for_admins_only(as_role):
    assert as_role("reviewer").get("/admin/audit").status_code == 403
    assert as_role("auditor").get("/admin/audit").status_code == 403
    html = as_role("admin").get("/admin/audit").get_data(as_text=True)
    assert "auditor1" in html and "登录" in html


def test_pages_forbid_framing_and_inline_script(as_role):
    resp = as_role("reviewer").get("/")
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'none'" in resp.headers["Content-Security-Policy"]


# ------------------------------------------------------------------ beside the DAG

def test_page_keeps_serving_the_last_complete_run_while_a_run_writes(app, as_role, home):
    app.config["STATE_BUSY_TIMEOUT_MS"] = 300
    client = as_role("reviewer")
    writer = state.connect(home.state_db)
    writer.execute("BEGIN IMMEDIATE")  # what record_run holds while it writes a run
    writer.execute("UPDATE findings SET is_open = 0")
    try:
        resp = client.get("/")  # a read that waited for the writer would answer 503 after 300 ms
        assert resp.status_code == 200, "reading never waits for the run"
        html = resp.get_data(as_text=True)
        assert len(set(shown_ids(html))) == 4, "the previous complete run"
        resp = post(client, f"/findings/{fid(PAY_LATE)}/decide", action="confirmed", comment="属实")
        assert resp.status_code == 503 and "请稍等几秒后重试" in resp.get_data(as_text=True)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert post(client, f"/findings/{fid(PAY_LATE)}/decide", action="confirmed", comment="属实").status_code == 302


def test_review_page_never_loads_the_warehouse_driver():
    code = ("import sys, fundwatch.review, fundwatch.review.app; "
            "sys.exit('duckdb' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_queue_pages_through_many_findings(as_role, home):
    many = [dict(PAY_LATE, subject_key=f"TX-MANY-{i:03d}") for i in range(120)]
    state.record_run(home.state_db, run_id="many", run_date=DAY2, findings=[*DAY2_FINDINGS, *many])
    client = as_role("auditor")
    pages = [set(shown_ids(client.get(f"/?page={n}").get_data(as_text=True)))
             for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [50, 50, 24]
    assert set.union(*pages) == {fid(f) for f in [*DAY2_FINDINGS, *many]}
    assert "第 3 / 3 页" in client.get("/?page=99").get_data(as_text=True)


def test_chart_follows_the_filters_and_groups_small_rules(as_role, home):
    client = as_role("reviewer")
    chart = client.get("/?rule=PAY_LATE").get_data(as_text=True).split('id="chart"')[1]
    assert "超期发放（PAY_LATE）" in chart and "PROJ_OVER_BUDGET" not in chart
    many_rules = [dict(PAY_LATE, rule_id=f"X_RULE_{i}", rule_name=f"规则{i}") for i in range(10)]
    state.record_run(home.state_db, run_id="more", run_date=DAY2, findings=[*DAY2_FINDINGS, *many_rules])
    chart = client.get("/").get_data(as_text=True).split('id="chart"')[1]
    assert "其他规则（" in chart and chart.count("<li>") == 9, "eight rules by name, the rest grouped"


def test_repeated_wrong_passwords_pause_that_account(app, home):
    client = app.test_client()
    for _ in range(5):
        assert login(client, "reviewer1", "wrong-password").status_code == 401
    resp = login(client, "reviewer1", PASSWORD)
    assert resp.status_code == 429 and "分钟后再试" in resp.get_data(as_text=True)
    assert login(app.test_client(), "auditor1").status_code == 302, "other accounts are unaffected"
    assert [r["username"] for r in audit_rows(home, "login_blocked")] == ["reviewer1"]
