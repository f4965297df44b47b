"""End to end in real headless Chromium: sign in, filter, open a finding, decide, export; a county
clerk's 报送 (template, upload with a mistake, the reason, the annotated copy, the corrected file).

Needs Debian's ``chromium`` (/usr/bin/chromium) and the ``playwright`` Python package (no
``playwright install``). Screenshots go to ``test-artifacts/review/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import threading
from pathlib import Path

import pytest
from openpyxl import load_workbook
from review_data import CHANGSHA_XIAN, ID_LIU, PASSWORD, PAY_LATE, fid, person_name
from werkzeug.serving import make_server

from fundwatch import state
from fundwatch.paths import REPO_ROOT
from fundwatch.review import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "review"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright==1.65.2")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is missing: apt-get install -y chromium", allow_module_level=True)


@contextlib.contextmanager
def serving(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def live_url(app):
    with serving(app) as url:
        yield url


@pytest.fixture
def page():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN",
                                      accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        try:
            yield pg
        finally:
            context.close()
            browser.close()


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_reviewer_signs_in_filters_opens_decides_and_exports(live_url, page, home):
    pg = page
    pg.goto(live_url + "/")
    assert "/login" in pg.url, "an unsigned visitor lands on the sign-in form"
    shot(pg, "01-login")
    pg.fill("input[name=username]", "reviewer1")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button:has-text('登录')")
    pg.wait_for_selector("#queue")
    assert pg.locator("#queue tbody tr").count() == 4
    assert ID_LIU not in pg.content(), "ID numbers are masked in the queue"
    shot(pg, "02-queue")

    pg.select_option("#f-rule", "PAY_LATE")
    pg.click("#apply-filters")
    pg.wait_for_url("**rule=PAY_LATE**")
    rows = pg.locator("#queue tbody tr")
    assert rows.count() == 1 and "超期发放" in rows.first.inner_text()
    shot(pg, "03-filtered")

    pg.click("#queue a.finding-link")
    pg.wait_for_selector("#evidence")
    body = pg.inner_text("body")
    assert "严格按照规定时间发放" in body and "430121********1236" in body and ID_LIU not in body
    shot(pg, "04-finding")

    pg.check("input[value=dismissed]")
    pg.click("#decide")
    assert "驳回必须填写理由" in pg.inner_text("#error")
    pg.check("input[value=confirmed]")
    pg.fill("textarea[name=comment]", "经核实，确属超期发放。")
    pg.click("#decide")
    pg.wait_for_selector("text=已记录")
    assert pg.inner_text("#status") == "已确认"
    assert "reviewer1" in pg.inner_text("#decisions")
    shot(pg, "05-decided")

    pg.goto(live_url + "/?rule=PAY_LATE")
    with pg.expect_download() as dl:
        pg.click("#export")
    target = ARTIFACTS / "queue.xlsx"
    shutil.copy(dl.value.path(), target)
    ws = load_workbook(target).worksheets[0]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    assert [(r["finding_id"], r["status"]) for r in rows] == [(fid(PAY_LATE), "confirmed")]
    statuses = {r["finding_id"]: r["status"] for r in state.export_rows(home.state_db)}
    assert statuses[fid(PAY_LATE)] == "confirmed", "the decision shows in the pipeline's export too"


def test_auditor_unmasks_one_finding_in_the_browser(live_url, page):
    pg = page
    pg.goto(live_url + "/findings/" + fid(PAY_LATE))
    pg.fill("input[name=username]", "auditor1")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button:has-text('登录')")
    pg.wait_for_selector("#evidence")
    assert pg.locator("#decide-form").count() == 0, "an auditor gets no decision form"
    pg.fill("input[name=reason]", "核对身份信息")
    pg.click("#unmask")
    pg.wait_for_selector("text=本次查看已记入审计日志")
    assert ID_LIU in pg.inner_text("#evidence")
    shot(pg, "06-unmasked")


def download(pg, selector: str, filename: str):
    """Click a download link; the file must come with ``filename``; returns it opened by openpyxl."""
    with pg.expect_download() as dl:
        pg.click(selector)
    assert dl.value.suggested_filename == filename
    dl.value.save_as(ARTIFACTS / filename)
    return load_workbook(ARTIFACTS / filename)


def test_county_clerk_downloads_the_template_uploads_a_mistake_fixes_it_and_sends_it_again(page, scope_home,
                                                                                           monkeypatch):
    monkeypatch.delenv("FUNDWATCH_INBOX", raising=False)
    app = create_app(scope_home)
    with serving(app) as url:
        pg = page
        pg.goto(url + "/uploads")
        pg.fill("input[name=username]", person_name("unit", CHANGSHA_XIAN))
        pg.fill("input[name=password]", PASSWORD)
        pg.click("button:has-text('登录')")
        pg.wait_for_selector("#upload-form")
        shot(pg, "11-uploads")

        wb = download(pg, "#template-roster", "上报名单报送模板.xlsx")  # as a clerk downloads it
        ws = wb.worksheets[0]
        header = [c.value for c in ws[1]]
        people = [("张　三", "430121199001011237", "1200.00"), ("李四", "43012119850315003X", "一千")]
        for r, (name, pid, amount) in enumerate(people, start=2):  # typed like a clerk, the second wrongly
            for col, value in (("项目编码", "P2020-CSX-01"), ("姓名", name), ("公民身份号码", pid),
                               ("核定金额（元）", amount), ("上报单位代码", CHANGSHA_XIAN)):
                ws.cell(r, header.index(col) + 1, value)
        first = ARTIFACTS / "上报名单.xlsx"
        wb.save(first)

        pg.set_input_files("#upload-file", str(first))
        pg.click("#upload-submit")
        pg.wait_for_selector("#verdict")
        verdict = pg.inner_text("#verdict")
        assert "识别为“上报名单”" in verdict and "可载入 1 行" in verdict and "拒收 1 行" in verdict
        problems = pg.inner_text("#problems")
        assert "3" in problems and "核定金额（元）" in problems and "一千" in problems
        shot(pg, "12-report")

        annotated = download(pg, "#annotated", "上报名单（检查标注）.xlsx")
        ws = annotated.worksheets[0]
        header = [c.value for c in ws[1]]
        assert "核定金额（元）" in ws.cell(3, header.index("问题说明") + 1).value
        assert ws.cell(3, header.index("核定金额（元）") + 1).fill.fgColor.rgb.endswith("FFC7CE")
        ws.cell(3, header.index("核定金额（元）") + 1).value = "1000.00"  # the fix
        fixed = ARTIFACTS / "上报名单（已修改）.xlsx"
        annotated.save(fixed)
        data = io.BytesIO(fixed.read_bytes())

        pg.set_input_files("#upload-file", files=[{"name": "上报名单.xlsx", "mimeType": "application/octet-stream",
                                                   "buffer": data.getvalue()}])
        pg.click("#upload-submit")
        pg.wait_for_selector("#verdict")
        verdict = pg.inner_text("#verdict")
        assert "可载入 2 行" in verdict and "拒收" not in verdict
        assert "本次为更正版本" in pg.inner_text("#report")
        shot(pg, "13-corrected")
        placed = scope_home.inbox / "430121" / "上报名单.xlsx"
        assert placed.read_bytes() == data.getvalue()
