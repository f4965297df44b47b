"""End to end in real headless Chromium: sign in, filter, open a finding, decide, export; a morning
of the office's work on a real run (twenty findings, clicks counted); a county clerk's 报送
(template, upload with a mistake, the reason, the annotated copy, the corrected file); the
rectification loop (a province reviewer confirms, a county clerk answers with an attachment, the
reviewer verifies).

Needs Debian's ``chromium`` (/usr/bin/chromium) and the ``playwright`` Python package (no
``playwright install``). Screenshots and the clicks measured go to ``test-artifacts/review/``
(git-ignored).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook
from review_data import CHANGSHA_XIAN, ID_LIU, PASSWORD, PAY_LATE, copy_state, fid, person_name
from werkzeug.serving import make_server

from fundwatch import rectification, state
from fundwatch.paths import REPO_ROOT
from fundwatch.review import create_app
from fundwatch.review.users import add_user

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "review"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
OFFICE_SCREEN = {"width": 1366, "height": 768}  # the office's laptops
MORNING = 20  # findings decided in the walk
MAX_CLICKS_PER_FINDING = 3

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright==1.65.2")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is missing: apt-get install -y chromium", allow_module_level=True)


@contextlib.contextmanager
def serving(app):
    """The app on a free local port, in a thread, for as long as the block runs."""
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
def real_home(real_run, tmp_path):
    """A copy of the real run's state (decisions made here stay here)."""
    return copy_state(real_run, tmp_path / "home")


@pytest.fixture
def real_url(real_home):
    with serving(create_app(real_home)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(browser, viewport: dict):
    context = browser.new_context(viewport=viewport, locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    return context, pg


@pytest.fixture
def page(browser):
    context, pg = new_page(browser, {"width": 1440, "height": 1000})
    yield pg
    context.close()


@pytest.fixture
def office_page(browser):
    context, pg = new_page(browser, OFFICE_SCREEN)
    yield pg
    context.close()


def shot(pg, name: str, *, full_page: bool = True) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def sign_in(pg, url: str, name: str) -> None:
    pg.goto(url)
    pg.fill("input[name=username]", name)
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button:has-text('登录')")


def test_reviewer_signs_in_filters_opens_decides_and_exports(live_url, page, home):
    pg = page
    pg.goto(live_url + "/")
    assert "/login" in pg.url, "an unsigned visitor lands on the sign-in form"
    shot(pg, "01-login")
    sign_in(pg, live_url + "/", "reviewer1")
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
    assert pg.is_checked("input[value=dismissed]"), "the choice survives the refusal"
    pg.check("input[value=confirmed]")
    pg.fill("textarea[name=comment]", "经核实，确属超期发放。")
    pg.click("#decide")
    pg.wait_for_selector("text=已记录")
    assert pg.inner_text("#status") == "已确认"
    assert "reviewer1" in pg.inner_text("#decisions")
    assert "rule=PAY_LATE" in pg.url, "the filters survive the decision"
    shot(pg, "05-decided")

    pg.goto(live_url + "/?rule=PAY_LATE&status=all")
    with pg.expect_download() as dl:
        pg.click("#export")
    target = ARTIFACTS / "queue.xlsx"
    shutil.copy(dl.value.path(), target)
    ws = load_workbook(target).worksheets[0]
    header = [c.value for c in ws[3]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=4)]
    rows = [r for r in rows if r["问题编号"]]
    assert [(r["问题编号"], r["处理状态"], r["处理人"]) for r in rows] == [(fid(PAY_LATE), "已确认", "reviewer1")]
    statuses = {r["finding_id"]: r["status"] for r in state.export_rows(home.state_db)}
    assert statuses[fid(PAY_LATE)] == "confirmed", "the decision shows in the pipeline's export too"


def test_auditor_unmasks_one_finding_in_the_browser(live_url, page):
    pg = page
    sign_in(pg, live_url + "/findings/" + fid(PAY_LATE), "auditor1")
    pg.wait_for_selector("#evidence")
    assert pg.locator("#decide-form").count() == 0, "an auditor gets no decision form"
    pg.fill("input[name=reason]", "核对身份信息")
    pg.click("#unmask")
    pg.wait_for_selector("text=本次查看已记入审计日志")
    assert ID_LIU in pg.inner_text("#evidence")
    shot(pg, "06-unmasked")


# ------------------------------------------------------------------ a morning on a real run


class Clicks:
    """Clicks (and fills) per finding, as the office would make them."""

    def __init__(self, pg) -> None:
        self.pg, self.per_finding, self.current = pg, [], None

    def start(self, label: str) -> None:
        self.current = {"finding": label, "clicks": 0, "typed": 0}
        self.per_finding.append(self.current)

    def click(self, selector: str, *, navigates: bool = False) -> None:
        self.current["clicks"] += 1
        if navigates:
            with self.pg.expect_navigation():
                self.pg.click(selector)
        else:
            self.pg.click(selector)

    def type(self, selector: str, text: str) -> None:
        self.current["typed"] += 1
        self.pg.fill(selector, text)


def in_viewport(pg, selector: str) -> bool:
    box = pg.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= OFFICE_SCREEN["height"] \
        and box["x"] + box["width"] <= OFFICE_SCREEN["width"]


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def test_a_morning_filter_open_decide_next_twenty_findings(real_url, real_home, office_page):
    pg = office_page
    sign_in(pg, real_url + "/", "reviewer1")
    pg.wait_for_selector("#queue")
    assert pg.input_value("#f-status") == "open", "the queue opens on 待处理"
    assert "状态：待处理" in pg.inner_text("#filter-text")
    assert_chart_text_is_readable(pg)
    shot(pg, "20-morning-queue")

    pg.select_option("#f-severity", "error")  # the morning's filter: errors first
    pg.click("#apply-filters")
    pg.wait_for_url("**severity=error**")
    before = int(pg.inner_text("#stat-count"))
    assert before > MORNING

    clicks = Clicks(pg)
    clicks.start("first")
    clicks.click("#queue a.finding-link", navigates=True)
    seen: list[str] = []
    for n in range(MORNING):
        fid_now = pg.url.split("/findings/")[1].split("?")[0]
        assert fid_now not in seen, "every step opens a finding not decided yet"
        seen.append(fid_now)
        clicks.current["finding"] = fid_now
        assert query(pg.url)["severity"] == ["error"] and query(pg.url)["status"] == ["open"], "filters survive"
        assert "severity=error" in pg.get_attribute("#back-to-queue", "href"), "the breadcrumb keeps them"
        assert in_viewport(pg, "#decide-form"), f"decision form off screen at 1366×768 ({n + 1}: {fid_now})"
        assert pg.inner_text("#queue-pos").startswith("第 1 / "), "decided findings leave the 待处理 queue"
        if n == 0:
            shot(pg, "21-morning-finding", full_page=False)
        if n % 5 == 4:  # one in five is dismissed: a reason is typed
            clicks.click("input[value=dismissed]")
            clicks.type("textarea[name=comment]", "经核实系数据录入错误，已更正。")
        else:
            clicks.click("input[value=confirmed]")
        clicks.click("#decide-next", navigates=True)
        pg.wait_for_selector("text=已记录")
        if n < MORNING - 1:
            clicks.start("next")

    per_finding = [c["clicks"] for c in clicks.per_finding]
    (ARTIFACTS / "morning-clicks.json").write_text(json.dumps(
        {"findings": len(per_finding), "clicks_per_finding": per_finding,
         "mean": sum(per_finding) / len(per_finding), "max": max(per_finding),
         "typed_per_finding": [c["typed"] for c in clicks.per_finding]}, ensure_ascii=False, indent=1))
    print(f"\nclicks per finding over {len(per_finding)} findings: {per_finding} "
          f"(mean {sum(per_finding) / len(per_finding):.2f}, max {max(per_finding)})")
    assert len(per_finding) == MORNING and max(per_finding) <= MAX_CLICKS_PER_FINDING

    conn = state.connect(real_home.state_db)
    try:
        recorded = [tuple(r) for r in conn.execute(
            "SELECT finding_id, action, username FROM decisions ORDER BY id")]
    finally:
        conn.close()
    assert [r[0] for r in recorded] == seen, "each finding decided once, in the queue's order"
    assert [r[1] for r in recorded] == ["dismissed" if n % 5 == 4 else "confirmed" for n in range(MORNING)]
    assert {r[2] for r in recorded} == {"reviewer1"}

    # A refusal keeps what was chosen; the back button and the breadcrumb keep the filters.
    pg.click("input[value=dismissed]")
    pg.click("#decide-next")
    pg.wait_for_selector("#error")
    assert pg.is_checked("input[value=dismissed]") and "驳回必须填写理由" in pg.inner_text("#error")
    assert in_viewport(pg, "#decide-form"), "the form stays on the first screen with the error"
    pg.go_back()
    assert query(pg.url)["severity"] == ["error"]
    pg.click("#back-to-queue")
    pg.wait_for_selector("#queue")
    assert pg.input_value("#f-severity") == "error" and pg.input_value("#f-status") == "open"
    assert int(pg.inner_text("#stat-count")) == before - MORNING
    shot(pg, "22-morning-done")


def assert_chart_text_is_readable(pg) -> None:
    """Every text of the chart and its legend renders at 12 px or more (the SVG is never scaled down)."""
    sizes = pg.evaluate("""() => {
        const svg = document.querySelector('#chart svg.chart');
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        const texts = [...svg.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
        const legend = [...document.querySelectorAll('#chart ul.legend li')].map(
            li => parseFloat(getComputedStyle(li).fontSize));
        return {texts, legend, trend: svg.querySelectorAll('polyline.trend').length};
    }""")
    assert sizes["texts"] and min(sizes["texts"]) >= 12, sizes["texts"]
    assert sizes["legend"] and min(sizes["legend"]) >= 12, sizes["legend"]
    assert sizes["trend"] == 1, "the trend line over the days"


def test_bulk_confirm_of_the_whole_filtered_queue_in_the_browser(real_url, real_home, office_page):
    pg = office_page
    sign_in(pg, real_url + "/?rule=PAY_SHARED_ACCOUNT", "reviewer1")
    pg.wait_for_selector("#bulk-form")
    matching = int(pg.inner_text("#stat-count"))
    assert matching >= 2
    pg.select_option("#bulk-action", "confirmed")
    pg.fill("#bulk-comment", "同一账户多人领取，已逐一核实。")
    pg.click("#bulk-filter")
    pg.wait_for_selector(f"text=已批量确认 {matching} 条问题")
    assert "rule=PAY_SHARED_ACCOUNT" in pg.url and int(pg.inner_text("#stat-count")) == 0
    conn = state.connect(real_home.state_db)
    try:
        rows = conn.execute("SELECT count(*), count(DISTINCT finding_id) FROM decisions").fetchone()
    finally:
        conn.close()
    assert tuple(rows) == (matching, matching), "one decision per finding"
    assert re.search(r"已批量确认", pg.content())


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


def test_confirm_answer_with_an_attachment_verify(live_url, browser, page, home):
    add_user(home.state_db, "长沙县填报", PASSWORD, "unit", unit="430121")
    receipt = REPO_ROOT / "tests" / "fundwatch" / "data" / "receipt.pdf"
    finding_url = f"{live_url}/findings/{fid(PAY_LATE)}"
    reviewer = page
    sign_in(reviewer, live_url + "/login", "reviewer1")
    reviewer.wait_for_selector("nav")
    reviewer.goto(finding_url)
    reviewer.check("input[value=confirmed]")
    reviewer.fill("#decide-due", "2099-12-31")
    reviewer.click("#decide")
    reviewer.wait_for_selector("#rectification")
    assert reviewer.inner_text("#rect-state") == "已下发" and reviewer.inner_text("#rect-due") == "2099-12-31"
    assert reviewer.locator("#rect-form").count() == 0, "the unit answers first"
    shot(reviewer, "21-rectification-notified")

    clerk_context, clerk = new_page(browser, {"width": 1440, "height": 1000})
    try:
        sign_in(clerk, live_url + "/login", "长沙县填报")
        clerk.wait_for_selector("nav")
        clerk.click("#nav-rectifications")
        clerk.wait_for_selector("#rectifications")
        rows = clerk.locator("#rectifications tbody tr")
        assert rows.count() == 1 and "超期发放" in rows.first.inner_text() and "已下发" in rows.first.inner_text()
        shot(clerk, "22-rectification-unit-queue")
        rows.first.locator("a").first.click()
        clerk.wait_for_selector("#rect-form")
        assert clerk.locator("#decide-form").count() == 0
        clerk.set_input_files("#rect-files", str(receipt))
        clerk.click("#rect-submit")
        assert "请填写整改说明" in clerk.inner_text("#error"), "an empty answer is refused with its reason"
        clerk.fill("#rect-form textarea[name=comment]", "已于4月20日补发并取得银行回单，见附件。")
        clerk.set_input_files("#rect-files", str(receipt))
        clerk.click("#rect-submit")
        clerk.wait_for_selector("text=已记录：整改反馈")
        assert clerk.inner_text("#rect-state") == "已反馈"
        assert "receipt.pdf" in clerk.inner_text("#rect-steps")
        shot(clerk, "23-rectification-responded")
    finally:
        clerk_context.close()

    reviewer.goto(finding_url)
    with reviewer.expect_download() as dl:
        reviewer.click("#rect-steps a.attachment")
    assert Path(dl.value.path()).read_bytes() == receipt.read_bytes() and dl.value.suggested_filename == "receipt.pdf"
    reviewer.check("#rect-form input[value=verify]")
    reviewer.fill("#rect-form textarea[name=comment]", "核查回单无误，予以销号。")
    reviewer.click("#rect-submit")
    reviewer.wait_for_selector("text=已记录：核查销号")
    assert reviewer.inner_text("#rect-state") == "已销号"
    assert [s["action"] for s in rectification.get(state.connect(home.state_db), fid(PAY_LATE))["steps"]] == [
        "notify", "respond", "verify"]
    shot(reviewer, "24-rectification-verified")
