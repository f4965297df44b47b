"""`fundwatch simulate`: deliveries in a realistic order, and a short month that keeps its promises.

The 3-day simulation runs the pipeline in-process (no Airflow; GX and the docs left out to keep it
fast) on a small province, with the reviewer's decisions on day 1.
"""

from __future__ import annotations

import csv
import sqlite3
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from fundwatch import pipeline
from fundwatch.paths import Home
from fundwatch.simulate import (
    DECIDED_BY,
    KIND_ORDER,
    ManifestFile,
    SimulationError,
    flatness,
    plan_deliveries,
    read_export,
    simulate_month,
    stage_seconds_from_log,
)

START = date(2021, 4, 1)
DAYS = 3

FILES = [
    ManifestFile("银行到账/2020年05月到账明细.csv", "credits", "data"),
    ManifestFile("银行到账/2020年04月到账明细.xlsx", "credits", "data"),
    ManifestFile("外部数据/民政/2020年死亡人员信息比对数据.csv", "deaths", "data"),
    ManifestFile("补报材料/2020年补充发放明细.xlsx", "payments", "data"),
    ManifestFile("长沙市/发放/长沙市2020年补助资金发放明细.xlsx", "payments", "data"),
    ManifestFile("省财政厅/备份/37号文附件（副本）.csv", "allocations", "duplicate"),
    ManifestFile("省财政厅/湘财社指〔2020〕36号 资金分配表.xlsx", "allocations", "data"),
    ManifestFile("项目文本/2020年其他项目汇总表.csv", "projects", "data"),
    ManifestFile("长沙市/名单/长沙市2020年补助对象上报名单汇总.csv", "roster", "data"),
    ManifestFile("其他材料/公示照片扫描件.pdf", "", "rejected"),
    ManifestFile("长沙市/三重一大/长沙市计生协集体决策记录.xlsx", "decisions", "data"),
    ManifestFile("长沙市/支出/长沙市2020年项目支出明细.csv", "expenditures", "data"),
]


@pytest.mark.parametrize("days", [pytest.param(1, id="one-day"), pytest.param(4, id="four-days"),
                                  pytest.param(12, id="a-file-a-day"), pytest.param(30, id="more-days-than-files")])
def test_deliveries_follow_the_paperwork_and_send_each_file_once(days):
    plan = plan_deliveries(FILES, days)
    order = [p for day in plan for p in day]
    assert len(plan) == days
    assert sorted(order) == sorted(f.path for f in FILES)
    assert order == [p for day in plan_deliveries(list(reversed(FILES)), days) for p in day]  # deterministic
    pos = {p: i for i, p in enumerate(order)}
    assert order[0] == "省财政厅/湘财社指〔2020〕36号 资金分配表.xlsx"  # the allocation document opens the year
    assert pos["省财政厅/备份/37号文附件（副本）.csv"] < pos["项目文本/2020年其他项目汇总表.csv"]
    assert pos["银行到账/2020年04月到账明细.xlsx"] < pos["银行到账/2020年05月到账明细.csv"]  # month by month
    paid = pos["长沙市/发放/长沙市2020年补助资金发放明细.xlsx"]
    assert pos["长沙市/名单/长沙市2020年补助对象上报名单汇总.csv"] < paid < pos["补报材料/2020年补充发放明细.xlsx"]
    assert pos["长沙市/支出/长沙市2020年项目支出明细.csv"] < pos["长沙市/三重一大/长沙市计生协集体决策记录.xlsx"]
    assert order[-1] == "外部数据/民政/2020年死亡人员信息比对数据.csv"  # registers come last
    if days >= len(FILES):
        assert all(len(day) <= 1 for day in plan)
    else:
        assert all(day for day in plan)  # something arrives every day


def test_kind_order_names_every_kind_of_the_raw_layer():
    assert set(KIND_ORDER) == {"allocations", "credits", "projects", "roster", "payments", "expenditures",
                               "postings", "final_reports", "decisions", "deaths", "staff"}


def test_stage_seconds_are_read_from_the_airflow_log():
    log = (
        "2026-11-29T20:56:49Z [info     ] [ingest] 载入完成：新载入 71 个 (1.4 s) [fundwatch.pipeline] loc=x\n"
        "2026-11-29T20:56:59Z [info     ] [dbt_build] dbt build 完成：113 条问题线索（as of 2021-04-30） (9.4 s) "
        "[fundwatch.pipeline] loc=x\n"
        "2026-11-29T20:57:00Z [info     ] [export] 导出 113 条 (0.1 s) [fundwatch.pipeline] loc=x\n"
        "2026-11-29T20:57:09Z [info     ] [export] 导出 113 条 (0.3 s) [fundwatch.pipeline] loc=x\n"
    )
    assert stage_seconds_from_log(log) == {"ingest": 1.4, "dbt_build": 9.4, "export": 0.3}


@pytest.mark.parametrize(("seconds", "want_slope", "want_ratio"), [
    pytest.param([40.0] * 30, 0.0, 1.0, id="flat"),
    pytest.param([40.0 + d for d in range(30)], 1.0, 67 / 42, id="one-second-more-each-day"),
])
def test_flatness_is_the_least_squares_slope_and_the_last_over_first_ratio(seconds, want_slope, want_ratio):
    s, ratio = flatness(seconds)
    assert s == pytest.approx(want_slope)
    assert ratio == pytest.approx(want_ratio)


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("simhome"))
    lines: list[str] = []
    results = simulate_month(home, days=DAYS, payments=200, start=START, through_airflow=False,
                             progress=lines.append, decision_day=1, skip_stages=("validate", "docs"))
    return home, results, lines


def _export(home: Home, day: int) -> list[dict[str, str]]:
    return read_export(home.root / "simulate" / "exports" / f"2021-04-0{day}.csv")


@pytest.mark.slow
def test_every_day_runs_and_keeps_every_invariant(month):
    _home, results, lines = month
    assert [r.run_date for r in results] == [date(2021, 4, 1), date(2021, 4, 2), date(2021, 4, 3)]
    assert [r.status for r in results] == ["success"] * DAYS
    assert [p for r in results for p in r.problems] == []
    assert results[-1].files_in_inbox == 78 and sum(r.files_delivered for r in results) == 78
    assert results[0].rows_loaded < results[1].rows_loaded < results[2].rows_loaded  # the inbox grows
    assert any("last5/first5" in line for line in lines)


@pytest.mark.slow
def test_a_finding_keeps_its_id_and_first_seen_from_day_to_day(month):
    home, _results, _lines = month
    first_seen: dict[str, str] = {}
    for day in range(1, DAYS + 1):
        rows = _export(home, day)
        ids = [r["finding_id"] for r in rows]
        assert len(ids) == len(set(ids)), f"duplicate finding_id on day {day}"
        for r in rows:
            assert r["first_seen"] == first_seen.setdefault(r["finding_id"], r["first_seen"])
    assert len(first_seen) > len(_export(home, DAYS))  # some findings closed on the way: still checked


@pytest.mark.slow
def test_state_store_holds_each_finding_once_and_one_history_row_per_day(month):
    home, results, _lines = month
    with sqlite3.connect(home.state_db) as conn:
        n, distinct = conn.execute("SELECT count(*), count(DISTINCT finding_id) FROM findings").fetchone()
        per_day = dict(conn.execute("SELECT run_date, count(*) FROM finding_history GROUP BY run_date"))
    assert n == distinct
    assert per_day == {r.run_date.isoformat(): r.findings for r in results}


def test_recording_the_last_day_again_adds_no_history(month):
    home, results, _lines = month
    run_date = results[-1].run_date
    res = pipeline.run_day(home, home.root / "simulate" / "inbox", f"simulate__{run_date}", run_date,
                           home.root / "again", stages=("export",))["export"]
    assert res.detail["findings"] == results[-1].findings
    with sqlite3.connect(home.state_db) as conn:
        total = conn.execute("SELECT count(*) FROM finding_history").fetchone()[0]
    assert total == sum(r.findings for r in results)


def test_the_reviewers_decisions_carry_over_to_the_next_days_exports(month):
    home, results, _lines = month
    with sqlite3.connect(home.state_db) as conn:
        decided = dict(conn.execute("SELECT finding_id, action FROM decisions WHERE username = ?", (DECIDED_BY,)))
        reason = conn.execute("SELECT comment FROM decisions WHERE action = 'dismissed'").fetchone()[0]
    assert sorted(decided.values()) == ["confirmed", "dismissed", "resolved"]
    assert reason  # a dismissal carries its reason
    for day in (2, 3):
        status = {r["finding_id"]: r["status"] for r in _export(home, day)}
        carried = {fid: status[fid] for fid in decided if fid in status}
        assert carried, f"no decided finding is still listed on day {day}"
        assert carried == {fid: decided[fid] for fid in carried}
        assert set(status.values()) - set(decided.values()) <= {"open"}
    assert results[1].decisions_checked > 0


def test_the_curve_is_written_as_csv_and_svg(month):
    home, _results, _lines = month
    sim = home.root / "simulate"
    with (sim / "curve.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run_date"] for r in rows] == ["2021-04-01", "2021-04-02", "2021-04-03"]
    assert all(float(r["total_s"]) > 0 for r in rows)
    svg = ET.parse(sim / "curve.svg").getroot()
    assert svg.tag.endswith("svg") and len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 3


def test_a_second_simulation_in_the_same_home_is_refused(month):
    home, _results, _lines = month
    with pytest.raises(SimulationError, match="new home"):
        simulate_month(home, days=1, through_airflow=False)
