"""The office's workflow on the review page (issue 14): the queue opens on 待处理, filters travel
with every link and decision, "处理并下一条", a refusal keeps what was chosen, the 无单位 filter, the
area table's links, the chart following every filter, search, and bulk decisions."""

from __future__ import annotations

import html as htmllib
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from review_data import (
    DAY2,
    DAY2_FINDINGS,
    FILE_BAD,
    ID_LIU,
    OVER_BUDGET,
    PASSWORD,
    PAY_LATE,
    ROSTER_SHORT,
    _f,
    csrf_of,
    fid,
    login,
)

from fundwatch import state
from fundwatch.review import create_app, display, evidence

NO_UNIT = _f("FILE_REJECTED", "文件无法识别或读取", "error", "file", "无处可归/台账.csv", None, None, "0.00",
             "文件应能识别和读取，但未能载入。", source_file=None, source_row=None)


def ids(html: str) -> list[str]:
    """Finding ids linked from the queue table, in order."""
    table = html[html.index('id="queue"'):html.index("</table>", html.index('id="queue"'))]
    return list(dict.fromkeys(re.findall(r'/findings/([0-9a-f]{16})\?', table)))


def decisions(home) -> list[tuple]:
    conn = state.connect(home.state_db)
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT finding_id, action, comment, username FROM decisions ORDER BY id")]
    finally:
        conn.close()


def audit(home, action: str) -> list[tuple]:
    conn = state.connect(home.state_db)
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT username, finding_id, detail FROM audit_log WHERE action = ? ORDER BY id", (action,))]
    finally:
        conn.close()


def post(client, url, **form):
    form.setdefault("csrf_token", csrf_of(client))
    return client.post(url, data=form)


def query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(location).query)


# ------------------------------------------------------------------ the queue opens on 待处理


def test_queue_opens_on_open_findings_and_all_is_a_choice(as_role):
    client = as_role("reviewer")
    post(client, f"/findings/{fid(PAY_LATE)}/decide", action="confirmed", comment="属实")
    html = client.get("/").get_data(as_text=True)
    assert fid(PAY_LATE) not in ids(html), "a decided finding is not 待处理"
    assert set(ids(html)) == {fid(f) for f in DAY2_FINDINGS} - {fid(PAY_LATE)}
    assert '<option value="open" selected>' in html and "状态：待处理" in html
    tiles = dict(re.findall(r'class="stat st-(\w+)[^"]*"><a [^>]*><span class="n">(\d+)<', html))
    assert tiles == {"open": "3", "confirmed": "1", "dismissed": "0", "resolved": "0"}, "each tile its own status"
    everything = client.get("/?status=all").get_data(as_text=True)
    assert set(ids(everything)) == {fid(f) for f in DAY2_FINDINGS}
    assert '<option value="all" selected>' in everything and "状态：全部" in everything
    assert "status=all" in everything.split('id="queue"')[1], "links keep the explicit 全部"


# ------------------------------------------------------------------ filters travel with the finding


def test_links_breadcrumb_and_decisions_keep_the_filters(as_role):
    client = as_role("reviewer")
    html = client.get("/?severity=error&prefecture=430100").get_data(as_text=True)
    link = re.search(r'href="(/findings/[0-9a-f]{16}\?[^"]+)"', html).group(1)
    assert query(htmllib.unescape(link)) == {"severity": ["error"], "prefecture": ["430100"], "status": ["open"]}
    page = client.get(htmllib.unescape(link)).get_data(as_text=True)
    crumb = htmllib.unescape(re.search(r'href="([^"]+)" id="back-to-queue"', page).group(1))
    assert query(crumb)["severity"] == ["error"] and query(crumb)["prefecture"] == ["430100"]
    assert "市州：长沙市（全市）" in page and "本级" not in page.split('id="crumbs"')[1].split("</nav>")[0]
    form = htmllib.unescape(re.search(r'action="([^"]+)" class="decide"', page).group(1))
    assert query(form)["severity"] == ["error"]
    resp = client.post(form, data={"csrf_token": csrf_of(client), "action": "confirmed", "comment": ""})
    assert resp.status_code == 302 and query(resp.headers["Location"])["prefecture"] == ["430100"]


def test_decide_and_next_opens_the_next_finding_of_the_same_filtered_queue(as_role, home):
    client = as_role("reviewer")
    qs = "severity=error&status=open"
    order = ids(client.get(f"/?{qs}").get_data(as_text=True))
    assert len(order) == 4
    opened = []
    url = f"/findings/{order[0]}?{qs}"
    for _ in order:
        opened.append(url.split("/findings/")[1].split("?")[0])
        resp = client.post(url.split("?")[0] + "/decide?" + qs,
                           data={"csrf_token": csrf_of(client), "action": "confirmed", "next": "1"})
        assert resp.status_code == 302
        url = resp.headers["Location"]
        assert query(url)["severity"] == ["error"] and query(url)["status"] == ["open"]
    assert opened == order, "each next is the following finding of the filtered queue"
    assert urlparse(url).path == "/", "after the last one, back to the (now empty) filtered queue"
    page = client.get(url).get_data(as_text=True)
    assert "当前筛选结果中已没有下一条" in page and ids(page) == []
    assert [d[0] for d in decisions(home)] == order


def test_next_skips_to_the_following_finding_without_deciding(as_role):
    client = as_role("reviewer")
    order = ids(client.get("/?status=all").get_data(as_text=True))
    page = client.get(f"/findings/{order[1]}?status=all").get_data(as_text=True)
    assert "第 2 / 4 条" in page
    skip = htmllib.unescape(re.search(r'href="([^"]+)" id="skip-next"', page).group(1))
    assert skip.startswith(f"/findings/{order[2]}?") and "status=all" in skip
    last = client.get(f"/findings/{order[3]}?status=all").get_data(as_text=True)
    assert 'id="skip-next"' not in last


def test_a_refusal_keeps_the_choice_and_the_text(as_role, home):
    client = as_role("reviewer")
    resp = post(client, f"/findings/{fid(PAY_LATE)}/decide?rule=PAY_LATE", action="dismissed", comment=" ",
                next="1")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "驳回必须填写理由" in page
    assert re.search(r'value="dismissed" checked', page), "the dismissal stays chosen"
    resp = client.post(f"/findings/{fid(PAY_LATE)}/decide?rule=PAY_LATE",
                       data={"csrf_token": csrf_of(client), "comment": "还没选结果"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "还没选结果</textarea>" in page, "the text stays"
    assert "rule=PAY_LATE" in page.split('class="decide"')[0].rsplit("<form", 1)[1], "and the filters"
    assert decisions(home) == []


# ------------------------------------------------------------------ units, areas, chart


@pytest.fixture
def with_no_unit(home):
    state.record_run(home.state_db, run_id="more", run_date=DAY2, findings=[*DAY2_FINDINGS, NO_UNIT])
    return home


def test_the_no_unit_filter_and_the_area_table_links(as_role, with_no_unit):
    client = as_role("auditor")
    none = client.get("/?prefecture=none").get_data(as_text=True)
    assert ids(none) == [fid(NO_UNIT)] and "市州：无单位" in none
    assert ">无单位</span>" in none, "the queue says a finding has no unit"
    html = client.get("/").get_data(as_text=True)
    area = html[html.index('id="per-area"'):]
    # each linked row of the table: (query, label, its count)
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", area, flags=re.S):
        link = re.search(r'<a href="\?([^"]+)">([^<]+)</a>', tr)
        if link:
            rows.append((link.group(1), link.group(2), re.search(r'class="num">(\d+)<', tr).group(1)))
    assert len(rows) == area.count('<a href="?'), "every link of the area table is checked"
    seen = set()
    for href, label, n in rows:
        shown = ids(client.get("/?" + htmllib.unescape(href)).get_data(as_text=True))
        assert len(shown) == int(n), (label, href)
        seen |= set(shown)
    assert seen == {fid(f) for f in [*DAY2_FINDINGS, NO_UNIT]}
    labels = [label for _h, label, _n in rows]
    assert "无单位" in labels and "长沙市（全市）" in labels


def test_a_prefecture_is_named_as_the_whole_prefecture(as_role):
    html = as_role("reviewer").get("/?prefecture=430100").get_data(as_text=True)
    assert '<option value="430100" selected>长沙市（全市）</option>' in html
    assert "市州：长沙市（全市）" in html and "市州本级" not in html.split('id="filter-text"')[1].split("</p>")[0]


def chart_rules(html: str) -> set[str]:
    chart = html[html.index('id="chart"'):]
    return set(re.findall(r"<rect [^>]*><title>[\d-]+ [^<]*（([A-Z_]+)）：\d+</title>", chart))


def test_the_chart_follows_every_filter_including_status_and_search(as_role):
    client = as_role("reviewer")
    post(client, f"/findings/{fid(PAY_LATE)}/decide", action="confirmed", comment="属实")
    assert "PAY_LATE" not in chart_rules(client.get("/").get_data(as_text=True)), "待处理 by default"
    assert chart_rules(client.get("/?status=confirmed").get_data(as_text=True)) == {"PAY_LATE"}
    assert chart_rules(client.get("/?status=all&q=刘建国").get_data(as_text=True)) == {"PAY_LATE"}
    assert chart_rules(client.get("/?status=open&q=刘建国").get_data(as_text=True)) == set()
    every = client.get("/?status=all").get_data(as_text=True)
    assert "PAY_LATE" in chart_rules(every) and "PAY_SHARED_ACCOUNT" in chart_rules(every)


def test_the_chart_draws_the_trend_of_all_findings_per_day(as_role):
    html = as_role("reviewer").get("/?status=confirmed").get_data(as_text=True)
    chart = html[html.index('id="chart"'):]
    assert chart.count('class="trend-dot"') == 2, "one point per run date"
    # both days: 3 findings fired on 04-29 and 4 on 04-30, whatever their status
    assert re.search(r"2021-04-29 当日存在的问题（不论处理状态）：3<", chart)
    assert re.search(r"2021-04-30 当日存在的问题（不论处理状态）：4<", chart)
    assert 'class="axis">' in chart and "font-size" not in chart.split("</svg>")[0], "size set by CSS (13 px)"


# ------------------------------------------------------------------ search (reviewcore's q, one place)


@pytest.mark.parametrize(("q", "expected"), [
    pytest.param("刘建国", [PAY_LATE], id="name"),
    pytest.param(ID_LIU, [PAY_LATE], id="id-number"),
    pytest.param("TX2021", [PAY_LATE], id="txn-ref-prefix"),
    pytest.param("SHJT-2020", [OVER_BUDGET], id="project-prefix"),
    pytest.param(ID_LIU[:8], [], id="id-prefix-finds-nothing"),
])
def test_search_on_the_page_is_the_api_search(as_role, q, expected):
    client = as_role("reviewer")
    page = set(ids(client.get(f"/?status=all&q={q}").get_data(as_text=True)))
    api = {f["finding_id"] for f in client.get(f"/api/findings?q={q}").get_json()["findings"]}
    assert page == api == {fid(f) for f in expected}


def test_search_a_real_run_by_doc_no_name_and_id_number(real_run):
    app = create_app(real_run)
    client = app.test_client()
    assert login(client, "auditor1", PASSWORD).status_code == 302
    conn = state.connect(real_run.state_db)
    try:
        doc = conn.execute("SELECT subject_key FROM findings WHERE rule_id = 'ALLOC_LATE'").fetchone()[0]
        pay = dict(conn.execute("SELECT finding_id, evidence FROM findings WHERE rule_id = 'PAY_DECEASED'").fetchone())
    finally:
        conn.close()
    doc_no = doc.split("|")[0]
    found = ids(client.get(f"/?status=all&q={doc_no}").get_data(as_text=True))
    assert state.finding_id("ALLOC_LATE", "allocation", doc) in found
    person = evidence.first(__import__("json").loads(pay["evidence"]), "subject")
    for q in (person["name"], person["id_number"], person["txn_ref"]):
        assert pay["finding_id"] in ids(client.get(f"/?status=all&q={q}").get_data(as_text=True)), q


# ------------------------------------------------------------------ bulk decisions


def bulk(client, query_string="status=open", **form):
    form.setdefault("csrf_token", csrf_of(client))
    return client.post(f"/bulk-decide?{query_string}", data=form)


def test_bulk_confirm_of_ticked_findings_records_one_decision_and_audit_entry_each(as_role, home):
    client = as_role("reviewer")
    ticked = [fid(PAY_LATE), fid(ROSTER_SHORT)]
    resp = bulk(client, "rule=&severity=error", action="confirmed", comment="批量核实属实", target="selected",
                fid=ticked)
    assert resp.status_code == 302 and query(resp.headers["Location"])["severity"] == ["error"]
    assert decisions(home) == [(f, "confirmed", "批量核实属实", "reviewer1") for f in ticked]
    assert audit(home, "bulk_decide") == [("reviewer1", f, "批量确认（共 2 条）：批量核实属实") for f in ticked]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已批量确认 2 条问题" in page
    assert {r["finding_id"]: r["status"] for r in state.export_rows(home.state_db)}[fid(PAY_LATE)] == "confirmed"


def test_bulk_over_this_page_and_over_the_whole_filter(as_role, home):
    client = as_role("reviewer")
    shown = ids(client.get("/?severity=error").get_data(as_text=True))
    assert bulk(client, "severity=error", action="dismissed", comment="非问题", target="page",
                page_fid=shown).status_code == 302
    assert [d[0] for d in decisions(home)] == shown and {d[1] for d in decisions(home)} == {"dismissed"}
    stale = bulk(client, "status=all", action="confirmed", comment="全部属实", target="filter", expected="3")
    assert stale.status_code == 409 and "筛选结果已变化（现为 4 条）" in stale.get_data(as_text=True)
    assert len(decisions(home)) == 4, "a stale count records nothing"
    assert bulk(client, "status=all", action="confirmed", comment="全部属实", target="filter",
                expected="4").status_code == 302
    assert [d[1] for d in decisions(home)[4:]] == ["confirmed"] * 4


@pytest.mark.parametrize(("form", "message"), [
    pytest.param({"action": "dismissed", "comment": " ", "target": "selected"}, "须填写理由", id="no-reason"),
    pytest.param({"action": "resolved", "comment": "x", "target": "selected"}, "请选择确认或驳回", id="resolve"),
    pytest.param({"action": "confirmed", "comment": "x", "target": "selected", "fid": []}, "请先勾选",
                 id="nothing-ticked"),
])
def test_bulk_refusals_keep_the_form_and_record_nothing(as_role, home, form, message):
    client = as_role("reviewer")
    form = {"fid": [fid(PAY_LATE)], **form}
    resp = bulk(client, **form)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert decisions(home) == []


def test_bulk_needs_csrf_and_the_right_to_decide(as_role, home):
    client = as_role("reviewer")
    resp = client.post("/bulk-decide", data={"action": "confirmed", "comment": "x", "target": "selected",
                                             "fid": [fid(PAY_LATE)]})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    assert bulk(client, action="confirmed", comment="x", target="selected", fid=[fid(PAY_LATE)],
                csrf_token="forged").status_code == 400
    assert bulk(as_role("auditor"), action="confirmed", comment="x", target="selected",
                fid=[fid(PAY_LATE)]).status_code == 403
    assert decisions(home) == []


def test_bulk_with_an_unknown_id_refuses_everything_with_404(as_role, home):
    client = as_role("reviewer")
    resp = bulk(client, action="confirmed", comment="x", target="selected", fid=[fid(PAY_LATE), "0" * 16])
    assert resp.status_code == 404 and decisions(home) == []


def test_the_queue_offers_bulk_only_to_deciders(as_role):
    assert 'id="bulk-form"' in as_role("reviewer").get("/").get_data(as_text=True)
    assert 'id="bulk-form"' not in as_role("auditor").get("/").get_data(as_text=True)


# ------------------------------------------------------------------ words and money


def test_kind_labels_are_the_ingestion_kinds():
    from ingestion.kinds import KINDS

    assert display.KIND_LABELS == {k.table: k.label for k in KINDS}


@pytest.mark.parametrize(("text", "shown"), [
    ("不应超过预算金额179000.00元，实际203700.00元。", "不应超过预算金额¥179,000.00，实际¥203,700.00。"),
    ("第160行“金额（元）”合计23145300.00元", "第160行“金额（元）”合计¥23,145,300.00"),
    ("应在2020-12-20前发放（433125********9814）", "应在2020-12-20前发放（433125********9814）"),
    ("交易2020082243312500000394发放，金额0.50", "交易2020082243312500000394发放，金额¥0.50"),
    ("版本1.15.1", "版本1.15.1"),
])
def test_amounts_in_sentences_read_as_money(text, shown):
    assert display.money_sentence(text) == shown


@pytest.mark.parametrize(("paid", "listed", "sentence"), [
    ("刘福方", "刘福芳", "第3个字不同"),
    ("王晓海", "黄晓梅", "第1、3个字不同"),
    ("欧阳明", "欧明", "发放姓名多出第2个字"),
    ("李明", "李小明", "发放姓名缺少名单姓名的第2个字"),
])
def test_which_characters_of_two_names_differ(paid, listed, sentence):
    f = {"rule_id": "PAY_NAME_MISMATCH", "subject_type": "payment"}
    ev = {"subject": [{"source_file": "a.csv", "source_row": 2, "name": paid}],
          "roster_entry": [{"source_file": "b.csv", "source_row": 3, "name": listed}]}
    diff = evidence.build(f, ev, masked=True).name_diff
    assert diff.sentence == sentence
    assert "".join(ch for ch, _ in diff.found)[0] == paid[0] and "*" in "".join(ch for ch, _ in diff.found)
    assert sum(d for _, d in diff.found) + sum(d for _, d in diff.expected) >= 1


def test_money_is_never_computed_through_a_float():
    assert display.yuan("98765432109876.54") == "¥98,765,432,109,876.54"
    assert display.yuan(Decimal("0.10")) == "¥0.10"


def test_file_finding_of_unknown_unit_reads_no_unit_in_the_export(as_role, with_no_unit):
    import io

    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(as_role("reviewer").get("/export.xlsx?prefecture=none").data)).worksheets[0]
    header = [c.value for c in ws[3]]
    row = dict(zip(header, (c.value for c in ws[4]), strict=True))
    assert row["问题编号"] == fid(NO_UNIT) and row["责任单位"] == "无单位"
    assert FILE_BAD["unit_code"] == "433101"
