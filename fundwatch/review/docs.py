"""Blueprint ``docs``: the built dbt docs and GX Data Docs, for province-level people only.

Both sites hold every unit's data (row counts per mart, masked samples of every rule, model SQL),
so they cannot be cut to a 市州 or county: anyone whose unit is not the province gets 404, as if
they did not exist, and the page shows them no link to them.

The pages of GX runs older than the Data Docs index live in the archive (``Home.gx_docs_archive_dir``,
``expectations.run_archive``) and are served at the URL they had under ``/docs/gx/``; their links to
the index and the shared assets resolve against the live site.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory
from werkzeug.security import safe_join

from fundwatch.review import access

bp = Blueprint("docs", __name__, url_prefix="/docs")


@bp.get("/<any(dbt, gx):kind>/")
def index(kind: str):
    return file(kind, "index.html")


@bp.get("/<any(dbt, gx):kind>/<path:filename>")
def file(kind: str, filename: str):
    access.require_full_scope()
    home = current_app.config["HOME"]
    root = home.dbt_docs_dir if kind == "dbt" else home.gx_docs_dir
    if not (root / "index.html").exists():
        abort(404, description=("dbt 模型文档" if kind == "dbt" else "GX 数据文档")
              + "尚未生成：每日运行完成后自动生成。")
    if kind == "gx" and not _is_file(root, filename) and _is_file(home.gx_docs_archive_dir, filename):
        root = home.gx_docs_archive_dir  # an archived run's page, at the URL it had
    return send_from_directory(Path(root), filename)


def _is_file(root: Path, filename: str) -> bool:
    path = safe_join(str(root), filename)
    return path is not None and Path(path).is_file()
