"""The GX suites over the marts: counts, amounts, masked samples, Data Docs, broken checks."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from expectations.validate import BrokenCheckError, validate_marts
from fundwatch.catalog import SUITES, rules

RUN_DATE = date(2021, 4, 30)
pytestmark = pytest.mark.slow  # GX runs: a few seconds each


def test_every_rule_has_a_result_with_counts_amounts_and_masked_sample(validated, planted):
    _, outcome = validated
    got = {r.rule_id: r for r in outcome.rules}
    assert set(got) == {r.rule_id for r in rules()}
    assert got["PAY_NOT_ON_ROSTER"].failing == 2
    assert got["PAY_NOT_ON_ROSTER"].amount_at_risk == Decimal("3500.50")
    assert got["PAY_DECEASED"].failing == 1
    assert got["PAY_LATE"].failing == 0 and got["PAY_LATE"].success
    # the roster subject key holds an ID number: the sample shows the mart's masked label, the amount
    # and the subject's source file and row
    sample = got["ROSTER_UNPAID"].sample
    assert sample == ("JQZX-430102|430102********123X：¥4000.00（a.xlsx 第3行）",)
    assert got["FILE_REJECTED"].sample == ("长沙/坏文件.xlsx：¥0.00",)  # the key already is the file
    assert {r.rule_id for r in outcome.failing_rules} == {rid for rid, _, _ in planted}


def test_every_rule_is_one_bounded_check(validated):
    """One expectation per rule, BASIC results: the sample is bounded whatever fails."""
    from expectations.suites import RESULT_FORMAT, SAMPLE_SIZE, ExpectRuleNotToFire, build_suite

    assert RESULT_FORMAT == {"result_format": "BASIC", "partial_unexpected_count": SAMPLE_SIZE}
    built = [e for suite in SUITES for e in build_suite(suite).expectations]
    assert len(built) == len(rules())
    assert all(isinstance(e, ExpectRuleNotToFire) for e in built)
    assert sorted(e.meta["rule_id"] for e in built) == sorted(r.rule_id for r in rules())


def test_the_sample_is_the_smallest_labels_whatever_the_scan_order(tmp_path, build_marts):
    """25 failing payments stored largest key first: the sample is the 20 smallest labels, in order — the
    same every run, never the first rows a (parallel) scan happens to meet."""
    from expectations.suites import SAMPLE_SIZE
    from fundwatch.paths import Home

    home = Home(tmp_path / "h").ensure()
    keys = [f"TX{i:04d}" for i in range(1, 26)]
    build_marts(home.warehouse, [("PAY_NOT_ON_ROSTER", k, Decimal("1.00")) for k in keys])
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create or replace table marts.payments as select * from marts.payments order by subject_key desc")
    got = {r.rule_id: r for r in validate_marts(home, RUN_DATE).rules}["PAY_NOT_ON_ROSTER"]
    assert got.failing == 25
    assert got.sample == tuple(f"{k}：¥1.00（a.xlsx 第3行）" for k in keys[:SAMPLE_SIZE])


def test_amounts_at_risk_are_exact_to_the_cent_beyond_float_precision(tmp_path, build_marts):
    """Two amounts whose sum a binary float cannot hold to the cent (GX turns DECIMAL sums into floats;
    the suites sum integer 分 instead)."""
    from fundwatch.paths import Home

    home = Home(tmp_path / "h").ensure()
    big = [
        ("PAY_OVER_STANDARD", "TX0001", Decimal("98765432109876.54")),
        ("PAY_OVER_STANDARD", "TX0002", Decimal("0.01")),
    ]
    build_marts(home.warehouse, big)
    got = {r.rule_id: r for r in validate_marts(home, RUN_DATE).rules}
    assert got["PAY_OVER_STANDARD"].amount_at_risk == Decimal("98765432109876.55")
    assert float(Decimal("98765432109876.54")) + 0.01 != 98765432109876.55  # what a float sum would give


def test_data_docs_are_built_with_the_chinese_rule_names(validated):
    marts_home, outcome = validated
    assert outcome.docs_index.exists()
    pages = "".join(p.read_text(encoding="utf-8") for p in marts_home.gx_docs_dir.rglob("*.html"))
    assert "名单外发放" in pages
    for suite in SUITES:
        assert f"fundwatch_{suite}" in pages
    assert "19900307" not in pages  # the ID number never appears unmasked
    index = (marts_home.gx_docs_dir / "index.html").read_text(encoding="utf-8")
    assert "规则校验总览" in index and "名单外发放" in index and "未通过" in index
    assert 'href="validations/fundwatch_payments/fundwatch-2021-04-30/' in index
    assert "2 个违规对象，风险金额 ¥3,500.50" in pages  # count and amount of a rule, on its suite page


def test_row_totals_are_per_mart_not_the_suite_batch(validated):
    """The funds suite validates allocations and transfers in one batch: each rule's row total is its own
    mart's (2 allocations, 3 transfers), never the 5 rows of the batch."""
    marts_home, outcome = validated
    got = {r.rule_id: r for r in outcome.rules}
    assert (got["ALLOC_SHORT"].mart, got["ALLOC_SHORT"].mart_rows) == ("allocations", 2)
    assert (got["TRANSFER_UNMATCHED"].mart, got["TRANSFER_UNMATCHED"].mart_rows) == ("transfers", 3)
    assert got["PAY_NOT_ON_ROSTER"].mart_rows == 3
    (page,) = (marts_home.gx_docs_dir / "validations" / "fundwatch_funds").rglob("*.html")
    html = page.read_text(encoding="utf-8")
    assert "of 2 total rows" in html and "of 3 total rows" in html and "of 5 total rows" not in html
    index = (marts_home.gx_docs_dir / "index.html").read_text(encoding="utf-8")
    assert "marts.allocations</a> 2 行" in index and "marts.transfers</a> 3 行" in index


def test_rows_where_no_rule_fires_count_in_their_mart_and_an_empty_mart_counts_none(tmp_path, build_marts):
    """The batch holds the subjects where a rule fires and each mart's number of rows apart: a mart whose
    rows all pass still has them all checked, an empty one none (and passes)."""
    from fundwatch.paths import Home

    home = Home(tmp_path / "h").ensure()
    build_marts(home.warehouse, [])  # one passing row in every mart
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("delete from marts.payments")
        con.execute("insert into marts.roster_entries (subject_key, subject_label) "
                    "select 'ok-' || i, 'ok-' || i from range(4) t(i)")
    got = {r.rule_id: r for r in validate_marts(home, RUN_DATE).rules}
    assert all(r.failing == 0 and r.success and r.amount_at_risk == 0 for r in got.values())
    assert got["PAY_NOT_ON_ROSTER"].mart_rows == 0
    assert got["ROSTER_UNPAID"].mart_rows == got["ROSTER_PUBLICITY_SHORT"].mart_rows == 5
    assert got["ALLOC_SHORT"].mart_rows == got["TRANSFER_UNMATCHED"].mart_rows == 1


def test_samples_link_to_their_mart_in_the_dbt_docs_and_name_their_source_row(validated):
    marts_home, _ = validated
    index = (marts_home.gx_docs_dir / "index.html").read_text(encoding="utf-8")
    link = "../dbt/index.html#!/model/model.fundwatch.payments"
    assert f'href="{link}" title="marts.payments（数据模型文档）">TX0001：¥3000.00（a.xlsx 第3行）</a>' in index
    # the link leads from HOME/docs/gx/ to the dbt docs page HOME/docs/dbt/index.html
    target = (marts_home.gx_docs_dir / link.split("#")[0]).resolve()
    assert target == (marts_home.dbt_docs_dir / "index.html").resolve()


def test_data_docs_show_run_times_in_shanghai(validated):
    """The 06:00 run of 2021-04-30 (Asia/Shanghai) is 22:00 UTC the day before: no page may show that."""
    marts_home, _ = validated
    pages = {p: p.read_text(encoding="utf-8") for p in marts_home.gx_docs_dir.rglob("*.html")}
    index = pages[marts_home.gx_docs_dir / "index.html"]
    assert "'run_time': '2021-04-30 06:00:00 北京时间'" in index
    for page, html in pages.items():
        assert "2021-04-29" not in html, page
        assert not re.search(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z| UTC)\b", html), page


def test_a_run_at_23_30_utc_is_shown_on_the_next_shanghai_day():
    from expectations.data_docs import shanghai_times

    html = ('<td>2021-04-29T23:30:00Z</td><td>2021-04-29 23:30:00 UTC</td><td>20210429T233000.123456Z</td>'
            '<a href="validations/s/r/20210429T233000.000000Z/x.html">')
    assert shanghai_times(html) == (
        "<td>2021-04-30 07:30:00 北京时间</td><td>2021-04-30 07:30:00 北京时间</td>"
        "<td>2021-04-30 07:30:00 北京时间</td>"
        '<a href="validations/s/r/20210429T233000.000000Z/x.html">'  # folder names stay as GX wrote them
    )


def test_the_outcome_carries_gx_timings(validated):
    _, outcome = validated
    assert set(outcome.timings) == {"gx_import_s", "gx_setup_s", "gx_validate_s", "gx_docs_s"}
    assert all(v > 0 for v in outcome.timings.values())


def test_the_data_docs_index_keeps_earlier_runs(tmp_path, build_marts):
    from fundwatch.paths import Home

    home = Home(tmp_path / "h").ensure()
    build_marts(home.warehouse)
    validate_marts(home, date(2021, 4, 29))
    earlier = {p: p.stat().st_mtime_ns for p in home.gx_docs_dir.glob("validations/*/fundwatch-2021-04-29/*/*.html")}
    validate_marts(home, RUN_DATE)
    index = (home.gx_docs_dir / "index.html").read_text(encoding="utf-8")
    assert "fundwatch-2021-04-29" in index and "fundwatch-2021-04-30" in index
    # the earlier run's pages are already offline: the next run leaves them as they are
    assert len(earlier) == len(SUITES)
    assert {p: p.stat().st_mtime_ns for p in earlier} == earlier


def test_the_data_docs_index_lists_the_runs_of_the_last_days_only(tmp_path, build_marts, monkeypatch):
    """GX reads every result its index lists, and lists every stored result's key, on every run: the
    index lists the runs of the last FUNDWATCH_DOCS_INDEX_DAYS days (here 2; a quarter by default) and
    the stores hold only those; an older run's results and pages are in the archive, and its date can
    be validated again."""
    from expectations.run_archive import archive_old_runs, results_dir
    from fundwatch.paths import Home

    monkeypatch.setenv("FUNDWATCH_DOCS_INDEX_DAYS", "2")  # read by the validation process
    home = Home(tmp_path / "h").ensure()
    build_marts(home.warehouse)
    for day in (27, 28, 29):
        validate_marts(home, date(2021, 4, day))
    index = (home.gx_docs_dir / "index.html").read_text(encoding="utf-8")
    assert "fundwatch-2021-04-29" in index and "fundwatch-2021-04-28" in index
    assert "fundwatch-2021-04-27" not in index

    def runs(folder):
        return sorted({p.parent.parent.name for p in folder.glob("*/*/*/*") if p.is_file()})

    # what GX walks each run: the runs its index lists, however many days were run before
    assert runs(results_dir(home)) == runs(home.gx_docs_dir / "validations") == [
        "fundwatch-2021-04-28", "fundwatch-2021-04-29"]
    old_results = list((home.gx_archive_dir / "validations").glob("*/fundwatch-2021-04-27/*/*.json"))
    old_pages = list((home.gx_docs_archive_dir / "validations").glob("*/fundwatch-2021-04-27/*/*.html"))
    assert len(old_results) == len(old_pages) == len(SUITES)
    assert all("北京时间" in p.read_text(encoding="utf-8") for p in old_pages)  # localised before it moved

    before = {p: p.stat().st_mtime_ns for p in old_results}
    validate_marts(home, date(2021, 4, 27))  # an archived date again: GX writes its result anew
    assert runs(results_dir(home)) == ["fundwatch-2021-04-27", "fundwatch-2021-04-28", "fundwatch-2021-04-29"]
    assert "fundwatch-2021-04-27" in (home.gx_docs_dir / "index.html").read_text(encoding="utf-8")  # overview
    assert archive_old_runs(home, 2, "fundwatch-2021-04-30") == 1  # what the next day's run does
    assert {p: p.stat().st_mtime_ns for p in old_results}.keys() == before.keys()
    assert all(p.stat().st_mtime_ns > before[p] for p in old_results), "the re-run's results replace the old"
    assert runs(results_dir(home)) == ["fundwatch-2021-04-28", "fundwatch-2021-04-29"]


def test_localising_a_localised_page_changes_nothing(validated):
    """Why a run may skip the pages an earlier run localised: the rewrite is idempotent on real pages."""
    import os
    from pathlib import Path

    from expectations.data_docs import VENDOR, localised

    marts_home, _ = validated
    pages = list(marts_home.gx_docs_dir.rglob("*.html"))
    assert len(pages) == len(SUITES) + 1
    for page in pages:
        html = page.read_text(encoding="utf-8")
        vendor = Path(os.path.relpath(marts_home.gx_docs_dir / VENDOR, page.parent)).as_posix()
        assert "北京时间" in html and f"{vendor}/jquery.min.js" in html, page
        assert localised(html, vendor) == html, page


def test_the_warehouse_lock_is_released_after_validation(validated):
    marts_home, _ = validated
    with duckdb.connect(str(marts_home.warehouse)) as con:  # a writer can open it again
        con.execute("create table marts.after_gx as select 1 as x")


def test_a_check_that_errors_fails_the_run_loudly(marts_home):
    with duckdb.connect(str(marts_home.warehouse)) as con:
        con.execute("alter table marts.payments drop column rule_pay_late")
    with pytest.raises(BrokenCheckError, match="PAY_LATE"):
        validate_marts(marts_home, RUN_DATE)


def test_suites_and_findings_that_disagree_fail_the_run(tmp_path, build_marts):
    from fundwatch.paths import Home

    home = Home(tmp_path / "h").ensure()
    build_marts(home.warehouse, findings_offset=1)  # fct_findings lost one finding
    with pytest.raises(BrokenCheckError, match="PAY_NOT_ON_ROSTER"):
        validate_marts(home, RUN_DATE)


def test_data_docs_open_offline(validated):
    """The office network has no internet: no page may load a script or stylesheet from outside."""
    import re

    marts_home, _ = validated
    pages = list(marts_home.gx_docs_dir.rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html), page.name
        assert "static/vendor/bootstrap.min.css" in html
        assert "footer{display:none;}" in html  # GX's newsletter footer is not shown
    assert (marts_home.gx_docs_dir / "static" / "vendor" / "jquery.min.js").exists()
