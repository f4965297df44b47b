"""Blueprint ``submission``: 报送 — the upload page, ``POST /api/uploads``, annotated copies, templates, history.

Rights (``access.RIGHTS``): ``upload`` — role ``unit`` only (a city or county association's clerk
sends its own files into its own inbox folder; the province's office and reviewers do not upload in
a unit's name). ``download_upload`` (the annotated copy holds the file's full personal data) — the
units' clerks, auditors and admins. Everyone signed in sees the upload history and reports
(reasons mask personal numbers) and downloads templates. Scope: an upload of a unit outside the
person's scope answers 404 like one that does not exist (``fundwatch.scope`` through ``store``).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for

from fundwatch.paths import Home
from fundwatch.review import access
from fundwatch.uploads import guard

# The upload machinery (``fundwatch.uploads.store`` and friends: the ingestion, which checks a file
# in a scratch DuckDB) is imported inside the views, when first used: the review service starts
# without the DuckDB driver and never opens the warehouse.

bp = Blueprint("submission", __name__)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HISTORY_LIMIT = 200
#: The request may hold the file (MAX_BYTES) plus the form's other fields and multipart framing.
MAX_REQUEST = guard.MAX_BYTES + 64 * 1024


def _home() -> Home:
    return current_app.config["HOME"]


def receives_files(view):
    """Mark a view that receives a file: its request may be up to MAX_REQUEST (``access.load_person``)."""
    view.max_content_length = MAX_REQUEST
    return view


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(data, mimetype=XLSX_MIME, headers={
        "Content-Disposition": f"attachment; filename=download.xlsx; filename*=UTF-8''{quote(filename)}"})


def _upload_or_404(upload_id: int):
    from fundwatch.uploads import store

    up = store.get(access.db(), upload_id, access.person().unit)
    if up is None:
        abort(404, description="没有这条报送记录。")
    return up


def _receive():
    from fundwatch.uploads.submit import receive

    f = request.files.get("file")
    if f is None or not f.filename:
        abort(400, description="请选择要报送的文件（表单字段 file）。")
    data = f.stream.read(guard.MAX_BYTES + 1)
    p = access.person()
    return receive(_home(), username=p.name, unit_code=p.unit, data=data, filename=f.filename,
                           path=(request.form.get("path") or "").strip() or None)


def upload_json(up) -> dict:
    out = {"id": up.id, **up.report.to_json(), "file_name": up.file_name, "inbox_path": up.inbox_path,
           "placed": up.placed, "sha256": up.sha256, "size_bytes": up.size_bytes, "unit_code": up.unit_code,
           "username": up.username, "uploaded_at": up.uploaded_at,
           "annotated_url": url_for("submission.api_annotated", upload_id=up.id)}
    return out


# ---------------------------------------------------------------- pages
@bp.get("/uploads")
def index():
    from fundwatch.uploads import store
    from ingestion.kinds import KINDS

    p = access.person()
    return render_template("uploads.html", uploads=store.history(access.db(), p.unit, HISTORY_LIMIT),
                           kinds=KINDS, limit=HISTORY_LIMIT, max_mb=guard.MAX_BYTES // 1024 // 1024,
                           unit_folder=guard.unit_folder(p.unit), path="")


@bp.post("/uploads")
@receives_files
@access.require("upload")
def submit():
    up = _receive()
    return redirect(url_for("submission.detail", upload_id=up.id), code=303)


@bp.get("/uploads/<int:upload_id>")
def detail(upload_id: int):
    up = _upload_or_404(upload_id)
    sub = "/".join((up.inbox_path or "").split("/")[1:-1])
    return render_template("upload.html", up=up, may_download=access.can("download_upload"), path=sub)


def _annotated(upload_id: int) -> Response:
    from fundwatch.uploads import store
    from fundwatch.uploads.annotate import annotated_xlsx

    up = _upload_or_404(upload_id)
    if not access.can("download_upload"):
        abort(403, description="当前角色无权下载报送文件（含个人信息）。")
    if access.person().role != "unit":
        access.audit("upload_download", None, f"upload {up.id} {up.inbox_path or up.file_name}")
    data = annotated_xlsx(store.kept_path(_home(), up.sha256, up.file_type), up.inbox_path or up.file_name,
                          up.report, title=f"{up.file_name} 检查标注",
                          meta={"报送人": up.username, "报送时间": up.uploaded_at.replace("T", " ")})
    stem = up.file_name.rsplit(".", 1)[0]
    return _xlsx(data, f"{stem}（检查标注）.xlsx")


@bp.get("/uploads/<int:upload_id>/annotated.xlsx")
def annotated(upload_id: int):
    return _annotated(upload_id)


@bp.get("/templates/<kind>.xlsx")
def template(kind: str):
    from fundwatch.uploads import templates

    try:
        k = templates.kind_of(kind)
    except KeyError:
        abort(404, description="没有这类报送模板。")
    data = templates.template_xlsx(k.table, access.person().unit, templates.known_projects(_home()))
    return _xlsx(data, templates.template_filename(k))


# ---------------------------------------------------------------- JSON
@bp.post("/api/uploads")
@receives_files
@access.require("upload")
def api_upload():
    up = _receive()
    resp = jsonify(upload_json(up))
    resp.status_code = 201
    resp.headers["Location"] = url_for("submission.api_detail", upload_id=up.id)
    return resp


@bp.get("/api/uploads")
def api_history():
    from fundwatch.uploads import store

    rows = store.history(access.db(), access.person().unit, HISTORY_LIMIT)
    return jsonify(total=len(rows), uploads=[upload_json(u) for u in rows])


@bp.get("/api/uploads/<int:upload_id>")
def api_detail(upload_id: int):
    return jsonify(upload_json(_upload_or_404(upload_id)))


@bp.get("/api/uploads/<int:upload_id>/annotated.xlsx")
def api_annotated(upload_id: int):
    return _annotated(upload_id)
