"""Make the GX Data Docs readable on the office's network, which has no internet.

GX's pages load Bootstrap, jQuery and bootstrap-table from public CDNs and its logo from a cloud
bucket. The office opens the docs from a file share or the static docs server, offline, so after
every build the pages are rewritten to use copies shipped with the project
(``expectations/data_docs_assets/``: Bootstrap 4.3.1, jQuery 3.7.1, bootstrap-table 1.19.1, all
MIT-licensed, headers kept), the remote scripts nothing here needs (vega charts, date picker) are
dropped, Chinese text gets a CJK font stack, and the times GX writes in UTC are shown in
Asia/Shanghai (a 06:00 run would otherwise show the previous day).

The overview at the top of the index is this project's own: per rule its result, the rows of its
mart (each mart counted apart), the masked sample with each subject's source file and row, and a link
to the mart's page in the dbt docs (``../dbt/index.html``: both sites sit side by side under
``HOME/docs/``, and the review page serves them as ``/docs/dbt/`` and ``/docs/gx/``).
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

ASSETS = Path(__file__).with_name("data_docs_assets")
VENDOR = "static/vendor"

_LOCAL = {
    "bootstrap.min.css": re.compile(r"https://maxcdn\.bootstrapcdn\.com/bootstrap/4\.3\.1/css/bootstrap\.min\.css"),
    "bootstrap-table.min.css": re.compile(r"https://unpkg\.com/bootstrap-table@1\.19\.1/dist/bootstrap-table\.min\.css"),
    "jquery.min.js": re.compile(r"https://code\.jquery\.com/jquery-3\.7\.1\.min\.js"),
    "bootstrap.bundle.min.js": re.compile(r"https://stackpath\.bootstrapcdn\.com/bootstrap/4\.3\.1/js/bootstrap\.min\.js"),
    "bootstrap-table.min.js": re.compile(r"https://unpkg\.com/bootstrap-table@1\.19\.1/dist/bootstrap-table\.min\.js"),
}
# Any other element that would reach the internet: dropped (the page works without them).
_REMOTE_TAG = re.compile(r"<(script|link)\b[^>]*(?:src|href)=\"https?://[^\"]*\"[^>]*>(?:\s*</script>)?", re.S)
_REMOTE_IMG = re.compile(r"<img\b[^>]*src=\"https?://[^\"]*\"[^>]*>", re.S)
_INTEGRITY = re.compile(r"\s(?:integrity|crossorigin)=\"[^\"]*\"")
_CJK_CSS = (
    "<style>body,.table,.card{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',"
    "'PingFang SC',sans-serif;} .cooltip{display:none}"
    # Font Awesome is not shipped: the pass/fail icons become characters.
    ".fa-times::before{content:'\\2718';} .fa-check-circle::before,.fa-check::before{content:'\\2714';}"
    ".fa-times,.fa-check-circle,.fa-check{font-style:normal;font-weight:bold;}"
    # GX's footer advertises its newsletter (an internet link a clerk has no use for): hidden.
    "footer{display:none;}"
    ".fw-overview{margin:1rem 2rem;} .fw-overview td,.fw-overview th{padding:.3rem .5rem;font-size:.9rem;}"
    ".fw-overview td:nth-child(-n+7),.fw-overview th{white-space:nowrap} .fw-overview ul{margin:0;padding-left:1rem}"
    ".fw-fail{color:#a71d2a;font-weight:bold} .fw-pass{color:#1e7e34}</style>"
)
_OVERVIEW = re.compile(r"<section class=\"fw-overview\".*?</section>", re.S)
SHANGHAI = ZoneInfo("Asia/Shanghai")
DBT_DOCS = "../dbt/index.html"  # the dbt docs page, relative to the Data Docs index
# GX's UTC times: "2021-04-29 22:00:00 UTC" (index), "2021-04-29T22:00:00Z" (run pages) and the
# compact batch markers "20210429T220000.123456Z" (not inside a path: those name folders).
_UTC_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z| UTC|\+00:00)")
_UTC_COMPACT = re.compile(r"(?<![/\w])(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z(?![/\w])")


def shanghai_times(html: str) -> str:
    """Every UTC time GX wrote, as Asia/Shanghai wall time (``2021-04-30 06:00:00 北京时间``)."""

    def one(m: re.Match) -> str:
        utc = datetime(*(int(g) for g in m.groups()), tzinfo=UTC)
        return utc.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S 北京时间")

    return _UTC_COMPACT.sub(one, _UTC_TIME.sub(one, html))


def dbt_model_link(mart: str) -> str:
    """The mart's page in the dbt docs, from the Data Docs index."""
    return f"{DBT_DOCS}#!/model/model.fundwatch.{mart}"


def add_overview(docs_dir: Path, run_label: str, rows: list[dict]) -> None:
    """Put a Chinese overview of this run's rules at the top of the Data Docs index.

    ``rows``: one per rule with rule_id, rule_name, severity, requirement, suite, mart, mart_rows
    (rows of that mart), failing, amount_at_risk (str, 元), sample (masked labels, each ending in its
    source file and row). Each rule links to its suite's page of this run, each sample to its mart's
    page in the dbt docs.
    """
    index = docs_dir / "index.html"
    html = index.read_text(encoding="utf-8")
    pages = {}
    for page in docs_dir.glob(f"validations/*/{run_label}/*/*.html"):
        pages[page.parts[-4]] = page.relative_to(docs_dir).as_posix()
    body = []
    for r in rows:
        ok = r["failing"] == 0
        link = pages.get(f"fundwatch_{r['suite']}")
        name = escape(r["rule_name"])
        name_html = f'<a href="{escape(link)}">{name}</a>' if link else name
        model = escape(dbt_model_link(r["mart"]))
        mart = escape(f"marts.{r['mart']}")
        sample = "".join(
            f'<li><a class="fw-sample" href="{model}" title="{mart}（数据模型文档）">{escape(x)}</a></li>'
            for x in r["sample"][:3]
        )
        body.append(
            f"<tr><td>{escape(r['rule_id'])}</td><td>{name_html}</td>"
            f"<td>{'错误' if r['severity'] == 'error' else '警告'}</td>"
            f"<td class=\"{'fw-pass' if ok else 'fw-fail'}\">{'通过' if ok else '未通过'}</td>"
            f"<td style=\"text-align:right\">{r['failing']:,}</td>"
            f"<td style=\"text-align:right\">{r['mart_rows']:,}</td>"
            f"<td style=\"text-align:right\">{Decimal(r['amount_at_risk']):,.2f}</td>"
            f"<td>{escape(r['requirement'])}</td>"
            f'<td><a href="{model}">{mart}</a>{f"<ul><small>{sample}</small></ul>" if sample else ""}</td></tr>'
        )
    failing = sum(1 for r in rows if r["failing"])
    marts = {r["mart"]: r["mart_rows"] for r in rows}
    totals = "，".join(
        f'<a href="{escape(dbt_model_link(m))}">marts.{escape(m)}</a> {n:,} 行' for m, n in sorted(marts.items())
    )
    section = (
        f'<section class="fw-overview"><h4>规则校验总览 Rule overview — {escape(run_label)}</h4>'
        f"<p>{len(rows)} 条规则，{failing} 条未通过。点击规则名称查看该检查组本次运行的明细与脱敏样本；"
        "样本末尾是该对象的来源文件和行号，点击样本或集市表名打开数据模型文档。"
        "Each rule links to its suite's page of this run; samples are masked, end in their source file and "
        "row, and link to their mart in the dbt docs.</p>"
        f'<p class="fw-marts">各集市表行数（每表单独计数）/ rows per mart: {totals}</p>'
        '<table class="table table-sm table-bordered"><thead><tr><th>规则编号</th><th>规则名称</th>'
        "<th>严重程度</th><th>结果</th><th>违规对象数</th><th>检查对象数（该集市表行数）</th>"
        "<th>涉及金额（元）</th><th>省级要求</th>"
        "<th>集市表与样本（已脱敏）</th></tr></thead><tbody>" + "".join(body) + "</tbody></table></section>"
    )
    html = _OVERVIEW.sub("", html)
    html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + section, html, count=1)
    index.write_text(html, encoding="utf-8")


def localise(docs_dir: Path) -> int:
    """Rewrite every HTML page under ``docs_dir`` that is not yet localised to work offline; returns
    the pages rewritten.

    A page that carries the CJK style block was rewritten by an earlier run and is left as it is: the
    rewrite is idempotent (a second pass changes nothing, ``test_validate``) and GX writes its pages
    without the block, so what this run built (its suites' pages, the index) is rewritten and the
    pages of earlier runs are not rewritten again each day.
    """
    vendor = docs_dir / VENDOR
    vendor.mkdir(parents=True, exist_ok=True)
    for asset in ASSETS.iterdir():
        if asset.is_file():
            shutil.copyfile(asset, vendor / asset.name)
    n = 0
    for page in docs_dir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        if _CJK_CSS in html:
            continue
        page.write_text(localised(html, Path(os.path.relpath(vendor, page.parent)).as_posix()), encoding="utf-8")
        n += 1
    return n


def localised(html: str, vendor: str) -> str:
    """One page made to work offline; ``vendor``: the shipped assets' folder relative to the page."""
    for name, pattern in _LOCAL.items():
        html = pattern.sub(f"{vendor}/{name}", html)
    html = _INTEGRITY.sub("", html)
    html = _REMOTE_TAG.sub("", html)
    html = _REMOTE_IMG.sub("", html)
    html = shanghai_times(html)
    if _CJK_CSS not in html:
        html = html.replace("</head>", _CJK_CSS + "</head>", 1)
    return html
