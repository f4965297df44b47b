"""Rectification on the review service: the JSON API of rectification.md, the finding page's form,
the 整改 queue, documents, attachments and the digest page (scope of every route: test_review_scope)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import docx
import pytest
from openpyxl import load_workbook
from review_data import DAY2_FINDINGS, ID_LIU, OVER_BUDGET, PASSWORD, PAY_LATE, ROSTER_SHORT, csrf_of, fid, login

from fundwatch import attachments, digest, rectification, state
from fundwatch.review.users import add_user

DATA = Path(__file__).resolve().parent.parent / "fundwatch" / "data"
PDF, PNG = (DATA / "receipt.pdf").read_bytes(), (DATA / "receipt.png").read_bytes()
LATE = fid(PAY_LATE)  # 长沙县 (430121), error


@pytest.fixture
def people(home):
    add_user(home.state_db, "clerk430121", PASSWORD, "unit", unit="430121")
    add_user(home.state_db, "clerk430100", PASSWORD, "unit", unit="430100")
    add_user(home.state_db, "reviewer430200", PASSWORD, "reviewer", unit="430200")
    return home


@pytest.fixture
def bearer(people, token_of):
    return token_of


@pytest.fixture
def api(app, people):
    return app.test_client()


def confirm(api, headers, finding_id=LATE, **extra):
    return api.post(f"/api/findings/{finding_id}/decisions", headers=headers,
                    json={"action": "confirmed", "comment": "属实", **extra})


def step(api, headers, action, finding_id=LATE, **body):
    return api.post(f"/api/findings/{finding_id}/rectification", headers=headers, json={"action": action, **body})


def today():
    return rectification.today()


# ---------------------------------------------------------------------------- API
def test_confirming_opens_and_the_api_shows_it(api, bearer):
    rev = bearer("reviewer1")
    assert api.get(f"/api/findings/{LATE}", headers=rev).get_json()["rectification"] is None
    resp = confirm(api, rev, due=(today() + timedelta(days=10)).isoformat())
    assert resp.status_code == 201
    assert resp.get_json()["rectification"]["due"] == (today() + timedelta(days=10)).isoformat()
    one = api.get(f"/api/findings/{LATE}", headers=rev).get_json()["rectification"]
    assert {k: one[k] for k in ("state", "overdue", "data_fixed")} == {
        "state": "notified", "overdue": False, "data_fixed": False}
    assert [s["action"] for s in one["steps"]] == ["notify"] and one["steps"][0]["username"] == "reviewer1"
    listed = {f["finding_id"]: f["rectification"] for f in api.get("/api/findings", headers=rev).get_json()["findings"]}
    assert listed[LATE]["state"] == "notified" and "steps" not in listed[LATE]
    assert listed[fid(OVER_BUDGET)] is None


def test_a_bad_due_date_on_confirmation(api, bearer):
    rev = bearer("reviewer1")
    resp = confirm(api, rev, due="2021-02-30")
    assert resp.status_code == 400 and "不是有效日期" in resp.get_json()["message"]
    resp = api.post(f"/api/findings/{LATE}/decisions", headers=rev,
                    json={"action": "resolved", "comment": "", "due": today().isoformat()})
    assert resp.status_code == 400 and "确认" in resp.get_json()["message"]
    assert api.get(f"/api/findings/{LATE}", headers=rev).get_json()["decisions"] == []


def test_the_loop_through_the_api(api, bearer):
    rev, clerk = bearer("reviewer1"), bearer("clerk430121")
    confirm(api, rev)
    resp = step(api, clerk, "respond", comment="已追回并重新按期发放")
    assert resp.status_code == 201 and resp.get_json()["state"] == "responded"
    assert resp.headers["Location"].endswith(f"/api/findings/{LATE}")
    resp = step(api, rev, "return", comment="缺银行回单", due=(today() + timedelta(days=7)).isoformat())
    assert resp.get_json()["state"] == "returned"
    assert step(api, clerk, "respond", comment="补充回单").get_json()["state"] == "responded"
    body = step(api, rev, "verify", comment="核查无误").get_json()
    assert body["state"] == "verified" and [s["action"] for s in body["steps"]] == [
        "notify", "respond", "return", "respond", "verify"]
    assert step(api, rev, "reopen", comment="复查发现仍有问题").get_json()["state"] == "notified"


@pytest.mark.parametrize(("who", "action", "body", "status", "message"), [
    ("clerk430121", "verify", {}, 403, "只有审核人员"),
    ("clerk430100", "respond", {"comment": "x"}, 403, "所属单位"),      # the 市州 sees it, does not answer
    ("auditor1", "return", {"comment": "x", "due": "2099-01-01"}, 403, "只有审核人员"),
    ("reviewer1", "verify", {}, 409, "整改当前状态为“已下发”"),
    ("reviewer1", "close", {}, 400, "未知的整改操作"),
    ("clerk430121", "respond", {"comment": ""}, 400, "整改说明"),
    ("reviewer430200", "verify", {}, 404, "没有这个问题编号"),          # another branch: like no such finding
])
def test_refusals_are_chinese_with_their_status(api, bearer, who, action, body, status, message):
    confirm(api, bearer("reviewer1"))
    resp = step(api, bearer(who), action, **body)
    assert resp.status_code == status and message in resp.get_json()["message"], resp.get_json()


def test_before_confirmation_there_is_nothing_to_answer(api, bearer):
    resp = step(api, bearer("clerk430121"), "respond", comment="x")
    assert resp.status_code == 409 and "尚未确认" in resp.get_json()["message"]


def test_json_body_is_checked(api, bearer):
    confirm(api, bearer("reviewer1"))
    resp = api.post(f"/api/findings/{LATE}/rectification", headers=bearer("clerk430121"), data="respond")
    assert resp.status_code == 400 and "JSON" in resp.get_json()["message"]
    assert step(api, bearer("clerk430121"), "respond", comment=["x"]).status_code == 400


def _multipart(api, headers, files, action="respond", comment="见附件"):
    return api.post(f"/api/findings/{LATE}/rectification", headers=headers, content_type="multipart/form-data",
                    data={"action": action, "comment": comment,
                          "attachments": [(io.BytesIO(data), name) for name, data in files]})


def test_attachments_through_the_api(api, bearer, people):
    confirm(api, bearer("reviewer1"))
    clerk = bearer("clerk430121")
    resp = _multipart(api, clerk, [("回单.png", PDF)])     # a PDF renamed .png
    assert resp.status_code == 400 and "内容是PDF 文件" in resp.get_json()["message"]
    big = PDF + b"%" + b"0" * (1024 * 1024)  # a real PDF with 1 MB of comment: far above the 64 KB of other routes
    resp = _multipart(api, clerk, [("整改说明.pdf", big), ("回单.png", PNG)])
    assert resp.status_code == 201, resp.get_json()
    got = resp.get_json()["steps"][-1]["attachments"]
    assert [(a["name"], a["media_type"], a["size_bytes"]) for a in got] == [
        ("整改说明.pdf", "application/pdf", len(big)), ("回单.png", "image/png", len(PNG))]
    dl = api.get(f"/api/rectifications/attachments/{got[0]['id']}", headers=clerk)
    assert dl.status_code == 200 and dl.data == big and dl.mimetype == "application/pdf"
    other = api.get(f"/api/rectifications/attachments/{got[0]['id']}", headers=bearer("reviewer430200"))
    assert other.status_code == 404


def test_attachment_size_limit_is_the_configured_one(api, bearer, monkeypatch):
    confirm(api, bearer("reviewer1"))
    monkeypatch.setenv(attachments.ENV_MAX_MB, "0.005")
    resp = _multipart(api, bearer("clerk430121"), [("整改说明.pdf", PDF)])
    assert resp.status_code == 400 and "超过大小上限" in resp.get_json()["message"]


# ---------------------------------------------------------------------------- pages
def signed_in(app, name):
    c = app.test_client()
    assert login(c, name).status_code == 302
    return c


def test_the_finding_page_shows_the_form_to_who_may_act(app, people, as_role):
    rev = as_role("reviewer")
    page = rev.get(f"/findings/{LATE}").get_data(as_text=True)
    assert 'id="decide-due"' in page and 'id="rectification"' not in page
    due = (today() + timedelta(days=12)).isoformat()
    resp = rev.post(f"/findings/{LATE}/decide", data={"csrf_token": csrf_of(rev), "action": "confirmed",
                                                       "comment": "", "due": due})
    assert resp.status_code == 302
    page = rev.get(f"/findings/{LATE}").get_data(as_text=True)
    assert 'id="rectification"' in page and f'id="rect-due">{due}<' in page
    assert 'id="rect-form"' not in page, "nothing for the reviewer to do until the unit answers"
    clerk = signed_in(app, "clerk430121")
    page = clerk.get(f"/findings/{LATE}").get_data(as_text=True)
    assert 'id="rect-form"' in page and 'value="respond"' in page and 'id="decide-form"' not in page
    assert 'id="rect-form"' not in signed_in(app, "clerk430100").get(f"/findings/{LATE}").get_data(as_text=True)
    assert 'id="rect-form"' not in as_role("auditor").get(f"/findings/{LATE}").get_data(as_text=True)

    resp = clerk.post(f"/findings/{LATE}/rectification", content_type="multipart/form-data", data={
        "csrf_token": csrf_of(clerk), "action": "respond", "comment": f"已追回（{ID_LIU}）",
        "attachments": [(io.BytesIO(PDF), "银行回单.pdf")]})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#rectification")
    page = rev.get(f"/findings/{LATE}").get_data(as_text=True)
    assert 'value="verify"' in page and 'value="return"' in page and ID_LIU not in page
    aid = rectification.get(state.connect(people.state_db), LATE)["steps"][-1]["attachments"][0]["id"]
    dl = clerk.get(f"/rectifications/attachments/{aid}")
    assert dl.status_code == 200 and dl.data == PDF and dl.mimetype == "application/pdf"
    assert "filename*=UTF-8''%E9%93%B6%E8%A1%8C%E5%9B%9E%E5%8D%95.pdf" in dl.headers["Content-Disposition"]
    # A refused step re-renders the page with the reason and its status.
    resp = rev.post(f"/findings/{LATE}/rectification", data={"csrf_token": csrf_of(rev), "action": "return",
                                                              "comment": "缺回单"})
    assert resp.status_code == 400 and "新的整改时限" in resp.get_data(as_text=True)


def test_queue_overdue_first_documents_and_digest(app, people, as_role, bearer, api):
    rev = bearer("reviewer1")
    confirm(api, rev, finding_id=LATE, due=(today() + timedelta(days=60)).isoformat())
    confirm(api, rev, finding_id=fid(ROSTER_SHORT), due=(today() + timedelta(days=5)).isoformat())
    confirm(api, rev, finding_id=fid(OVER_BUDGET))
    later = today() + timedelta(days=40)  # ROSTER_SHORT and OVER_BUDGET are overdue; OVER_BUDGET stops firing
    state.record_run(people.state_db, run_id="later", run_date=later,
                     findings=[f for f in DAY2_FINDINGS if f is not OVER_BUDGET])
    clerk = signed_in(app, "clerk430121")
    text = clerk.get("/rectifications").get_data(as_text=True)
    assert text.index(fid(ROSTER_SHORT)) < text.index(LATE), "overdue first"
    assert fid(OVER_BUDGET) not in text, "株洲's is out of 长沙县's scope"
    assert "已逾期 35 天" in text
    province = as_role("reviewer").get("/rectifications").get_data(as_text=True)
    assert "数据已整改，待核销" in province and 'href="/rectifications/notice/430202.docx"' in province

    notice = clerk.get("/rectifications/notice/430121.docx")
    assert notice.status_code == 200 and notice.mimetype == "application/vnd.openxmlformats-officedocument." \
                                                            "wordprocessingml.document"
    d = docx.Document(io.BytesIO(notice.data))
    assert d.paragraphs[2].text == "长沙市长沙县计划生育协会：" and len(d.tables[0].rows) == 1 + 2 + 1
    assert clerk.get("/rectifications/notice/430202.docx").status_code == 404
    ws = load_workbook(io.BytesIO(clerk.get("/rectifications/ledger.xlsx").data)).worksheets[0]
    assert ws.max_row == 1 + 2

    digest.after_run(people, later)
    page = clerk.get("/digest").get_data(as_text=True)
    assert 'id="digest-430121"' in page and 'id="digest-430000"' not in page and "整改逾期（1 条）" in page
