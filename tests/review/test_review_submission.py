"""报送 on the review service: the upload page and POST /api/uploads, annotated copies, templates, rights."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from review_data import CHANGSHA_XIAN, csrf_of, login, person_name

from fundwatch import state
from fundwatch.review import create_app, tokens
from fundwatch.review.submission import MAX_REQUEST

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "uploads"))
from upload_files import filled_template, headers, valid_rows  # noqa: E402

CLERK = person_name("unit", CHANGSHA_XIAN)


@pytest.fixture
def app(scope_home, monkeypatch):
    monkeypatch.delenv("FUNDWATCH_INBOX", raising=False)
    app = create_app(scope_home)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def clerk(app):
    c = app.test_client()
    assert login(c, CLERK).status_code == 302
    return c


def bearer(home, name: str) -> dict:
    return {"Authorization": f"Bearer {tokens.create(home.state_db, name)[1]}"}


def payments_with_mistakes() -> bytes:
    rows = valid_rows("payments", 3)
    rows[1][7] = "一千二"  # row 3: 金额 unreadable
    rows.append(["合计", None, None, None, None, None, None, 1.0, None, None, None])  # row 5
    return filled_template("payments", rows, CHANGSHA_XIAN)


def test_api_answers_the_report_of_interface_md(app, scope_home):
    resp = app.test_client().post("/api/uploads", headers=bearer(scope_home, CLERK),
                                  content_type="multipart/form-data",
                                  data={"file": (io.BytesIO(payments_with_mistakes()), "发放明细.xlsx"),
                                        "path": "2020/第二批"})
    assert resp.status_code == 201 and resp.headers["Location"].endswith(f"/api/uploads/{resp.get_json()['id']}")
    body = resp.get_json()
    assert {"kind", "rows_read", "rows_loaded", "rows_rejected", "total_mismatches", "status"} <= body.keys()
    assert (body["status"], body["kind"], body["kind_label"]) == ("loaded", "payments", "发放明细")
    assert (body["rows_read"], body["rows_loaded"]) == (3, 2)
    assert [(r["row"], r["columns"]) for r in body["rows_rejected"]] == [(3, ["金额（元）"])]
    assert "一千二" in body["rows_rejected"][0]["reason"]
    assert body["total_mismatches"] == [{"row": 5, "column": "金额（元）", "stated": "1.00",
                                         "computed": "2405.00", "difference": "2404.00"}]
    assert body["placed"] and body["inbox_path"] == "430121/2020/第二批/发放明细.xlsx"
    assert (scope_home.inbox / body["inbox_path"]).exists()
    again = app.test_client().get(f"/api/uploads/{body['id']}", headers=bearer(scope_home, CLERK)).get_json()
    assert again == body
    assert not scope_home.warehouse.exists(), "the upload check never opens the warehouse"


def test_api_refuses_without_a_file_and_answers_a_whole_file_rejection(app, scope_home):
    c, auth = app.test_client(), bearer(scope_home, CLERK)
    resp = c.post("/api/uploads", headers=auth, content_type="multipart/form-data", data={})
    assert resp.status_code == 400 and "file" in resp.get_json()["message"]
    resp = c.post("/api/uploads", headers=auth, content_type="multipart/form-data",
                  data={"file": (io.BytesIO(b"%PDF-1.7 ..."), "名单.xlsx")})
    body = resp.get_json()
    assert resp.status_code == 201 and body["status"] == "rejected" and not body["placed"]
    assert "PDF" in body["reason"] and body["rows_rejected"] == [] and body["kind"] is None


def test_uploads_may_be_large_up_to_the_limit_then_413_in_chinese(app, scope_home):
    from fundwatch.uploads.bench import payments_xlsx

    data = payments_xlsx(3_000)
    assert len(data) > 100 * 1024  # well above the 64 KB every other request is held to
    resp = app.test_client().post("/api/uploads", headers=bearer(scope_home, CLERK),
                                  content_type="multipart/form-data", data={"file": (io.BytesIO(data), "大文件.xlsx")})
    assert resp.status_code == 201 and resp.get_json()["rows_read"] == 3_000
    big = b"a" * (MAX_REQUEST + 1)
    resp = app.test_client().post("/api/uploads", headers=bearer(scope_home, CLERK),
                                  content_type="multipart/form-data", data={"file": (io.BytesIO(big), "x.csv")})
    assert resp.status_code == 413 and re.search(r"[\u4e00-\u9fff]", resp.get_json()["message"])
    assert app.test_client().post("/login", data={"username": "x" * 70 * 1024}).status_code == 413, \
        "other routes keep their 64 KB"


def test_the_page_form_needs_csrf(clerk):
    resp = clerk.post("/uploads", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(payments_with_mistakes()), "p.xlsx")})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)


def test_clerk_uploads_sees_the_reasons_downloads_annotated_fixes_and_corrects(clerk, scope_home):
    resp = clerk.post("/uploads", content_type="multipart/form-data", data={
        "csrf_token": csrf_of(clerk), "file": (io.BytesIO(payments_with_mistakes()), "发放明细.xlsx")})
    assert resp.status_code == 303
    page = clerk.get(resp.headers["Location"]).get_data(as_text=True)
    assert "可以载入：识别为“发放明细”，读取 3 行，可载入 2 行，拒收 1 行" in page and "合计不符" in page
    assert "一千二" in page and 'id="annotated"' in page and 'id="upload-form"' in page
    link = re.search(r'href="([^"]+annotated\.xlsx)"', page).group(1)
    download = clerk.get(link)
    assert download.headers["Content-Disposition"].startswith("attachment")
    wb = load_workbook(io.BytesIO(download.data))
    ws = wb.worksheets[0]
    note = [c.value for c in ws[1]].index("问题说明") + 1
    assert "金额（元）" in ws.cell(3, note).value
    ws.cell(3, [c.value for c in ws[1]].index("金额（元）") + 1).value = 1200  # the clerk fixes the cell
    ws.delete_rows(5)  # and drops the wrong 合计 line
    fixed = io.BytesIO()
    wb.save(fixed)
    resp = clerk.post("/uploads", content_type="multipart/form-data", data={
        "csrf_token": csrf_of(clerk), "file": (io.BytesIO(fixed.getvalue()), "发放明细.xlsx")})
    page = clerk.get(resp.headers["Location"]).get_data(as_text=True)
    assert "可以载入：识别为“发放明细”，读取 3 行，可载入 3 行。" in page and "更正版本" in page
    assert (scope_home.inbox / "430121" / "发放明细.xlsx").read_bytes() == fixed.getvalue()


def test_annotated_downloads_by_auditors_are_logged_reviewers_may_not(app, scope_home):
    up = app.test_client().post("/api/uploads", headers=bearer(scope_home, CLERK), content_type="multipart/form-data",
                                data={"file": (io.BytesIO(payments_with_mistakes()), "p.xlsx")}).get_json()
    url = f"/api/uploads/{up['id']}/annotated.xlsx"
    assert app.test_client().get(url, headers=bearer(scope_home, CLERK)).status_code == 200
    assert app.test_client().get(url, headers=bearer(scope_home, "auditor_430000")).status_code == 200
    assert app.test_client().get(url, headers=bearer(scope_home, "reviewer_430000")).status_code == 403
    conn = state.connect(scope_home.state_db)
    logged = [tuple(r) for r in conn.execute("SELECT username, action FROM audit_log WHERE action = 'upload_download'")]
    conn.close()
    assert logged == [("auditor_430000", "upload_download")]


def test_template_download(clerk):
    resp = clerk.get("/templates/roster.xlsx")
    assert resp.status_code == 200 and "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    assert [c.value for c in ws[1]] == headers("roster")
    page = clerk.get("/uploads").get_data(as_text=True)
    assert page.count('id="template-') == 11
