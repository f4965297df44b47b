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
    "'PingFang SC',sans-serif;} .cooltip{display:none}</style>"
)


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
