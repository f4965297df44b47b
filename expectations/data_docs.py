"""Make the GX Data Docs readable on the office's network, which has no internet.

GX's pages load Bootstrap, jQuery and bootstrap-table from public CDNs and its logo from a cloud
bucket. The office opens the docs from a file share or the static docs server, offline, so after
every build the pages are rewritten to use copies shipped with the project
(``expectations/data_docs_assets/``: Bootstrap 4.3.1, jQuery 3.7.1, bootstrap-table 1.19.1, all
MIT-licensed, headers kept), the remote scripts nothing here needs (vega charts, date picker) are
dropped, and Chinese text gets a CJK font stack.
"""

from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal
from html import escape
from pathlib import Path

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
    ".fw-overview td:nth-child(-n+6),.fw-overview th{white-space:nowrap}"
    ".fw-fail{color:#a71d2a;font-weight:bold} .fw-pass{color:#1e7e34}</style>"
)
_OVERVIEW = re.compile(r"<section class=\"fw-overview\".*?</section>", re.S)


def add_overview(docs_dir: Path, run_label: str, rows: list[dict]) -> None:
    """Put a Chinese overview of this run's rules at the top of the Data Docs index.

    ``rows``: one per rule with rule_id, rule_name, severity, requirement, suite, failing,
    amount_at_risk (str, 元), sample (masked labels). Each rule links to its suite's page of this run.
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
        sample = "；".join(escape(x) for x in r["sample"][:3])
        body.append(
            f"<tr><td>{escape(r['rule_id'])}</td><td>{name_html}</td>"
            f"<td>{'错误' if r['severity'] == 'error' else '警告'}</td>"
            f"<td class=\"{'fw-pass' if ok else 'fw-fail'}\">{'通过' if ok else '未通过'}</td>"
            f"<td style=\"text-align:right\">{r['failing']:,}</td>"
            f"<td style=\"text-align:right\">{Decimal(r['amount_at_risk']):,.2f}</td>"
            f"<td>{escape(r['requirement'])}</td><td><small>{sample}</small></td></tr>"
        )
    failing = sum(1 for r in rows if r["failing"])
    section = (
        f'<section class="fw-overview"><h4>规则校验总览 Rule overview — {escape(run_label)}</h4>'
        f"<p>{len(rows)} 条规则，{failing} 条未通过。点击规则名称查看该检查组本次运行的明细与脱敏样本。"
        "Each rule links to its suite's page of this run; samples are masked.</p>"
        '<table class="table table-sm table-bordered"><thead><tr><th>规则编号</th><th>规则名称</th>'
        "<th>严重程度</th><th>结果</th><th>违规对象数</th><th>涉及金额（元）</th><th>省级要求</th>"
        "<th>样本（已脱敏）</th></tr></thead><tbody>" + "".join(body) + "</tbody></table></section>"
    )
    html = _OVERVIEW.sub("", html)
    html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + section, html, count=1)
    index.write_text(html, encoding="utf-8")


def localise(docs_dir: Path) -> int:
    """Rewrite every HTML page under ``docs_dir`` to work offline; returns the pages rewritten."""
    vendor = docs_dir / VENDOR
    vendor.mkdir(parents=True, exist_ok=True)
    for asset in ASSETS.iterdir():
        if asset.is_file():
            shutil.copyfile(asset, vendor / asset.name)
    n = 0
    for page in docs_dir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        rel = Path(os.path.relpath(vendor, page.parent)).as_posix()
        for name, pattern in _LOCAL.items():
            html = pattern.sub(f"{rel}/{name}", html)
        html = _INTEGRITY.sub("", html)
        html = _REMOTE_TAG.sub("", html)
        html = _REMOTE_IMG.sub("", html)
        if _CJK_CSS not in html:
            html = html.replace("</head>", _CJK_CSS + "</head>", 1)
        page.write_text(html, encoding="utf-8")
        n += 1
    return n
