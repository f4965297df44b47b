"""Blueprint ``rectify``: rectification (整改) of confirmed findings, its documents and the digest.

Pages: the 整改 queue (``/rectifications``: open rectifications in scope, overdue first), the form
on a finding's page (``POST /findings/<fid>/rectification``), document downloads (整改通知书 per
unit, 整改台账 of the person's scope), attachment downloads, the daily digest (``/digest``).
API: ``POST /api/findings/<fid>/rectification`` (JSON, or multipart with files ``attachments``).

Rights and scope come from ``access`` like every page: a finding out of scope is 404 exactly like a
missing one (``access.finding_in_scope_or_404`` first), then ``fundwatch.rectification.act``
decides role (403), input (400) and state (409) with a Chinese message. The domain rules live in
``fundwatch.rectification``, the documents in ``fundwatch.documents``, the digest in
``fundwatch.digest``; this module only maps requests to them.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for

from fundwatch import attachments, digest, divisions, documents, rectification, scope
from fundwatch.review import access

bp = Blueprint("rectify", __name__)
#: A step's request may hold its files at their size limit, plus the form fields and multipart framing
#: (``$FUNDWATCH_ATTACHMENT_MAX_MB`` is read when the service starts).
MAX_REQUEST = attachments.MAX_FILES * attachments.max_bytes() + 64 * 1024


def receives_attachments(view):
    """Mark a view that receives attachments: its request may be up to MAX_REQUEST (``access.load_person``)."""
    view.max_content_length = MAX_REQUEST
    return view


def actor() -> rectification.Actor:
    p = access.person()
    return rectification.Actor(p.name, p.role, p.unit)


def panel(conn, fid: str) -> dict:
    """What the finding page needs to show the rectification and the form of who may act now."""
    rect = rectification.get(conn, fid)
    return {"rect": rect, "rect_actions": rectification.allowed_actions(actor(), rect),
            "RECT_STATE_LABELS": rectification.STATE_LABELS, "RECT_ACTION_LABELS": rectification.ACTION_LABELS,
            "association": divisions.association_name, "attachment_count": attachments.MAX_FILES,
            "attachment_mb": round(attachments.max_bytes() / 1024 / 1024, 1)}


def _files() -> list[attachments.Upload]:
    limit = attachments.max_bytes()
    out = []
    for fs in request.files.getlist("attachments"):
        if not fs or not fs.filename:
            continue
        data = fs.stream.read(limit + 1)  # one byte more than allowed is enough to refuse it
        out.append(attachments.Upload(fs.filename, data))
    return out


def _step(fid: str, body: dict, files: list[attachments.Upload]) -> dict:
    """Take the step; RectificationError becomes its HTTP answer (Chinese message)."""
    action, comment, due = body.get("action"), body.get("comment"), body.get("due")
    for name, value in (("action", action), ("comment", comment), ("due", due)):
        if value is not None and not isinstance(value, str):
            abort(400, description=f"{name} 应为文本。")
    try:
        return rectification.act(access.db(), current_app.config["HOME"].attachments_dir, finding_id=fid,
                                 actor=actor(), action=action or "", comment=comment, due=due or None, files=files)
    except rectification.RectificationError as exc:
        abort(exc.status, description=exc.message)


@bp.post("/api/findings/<fid>/rectification")
@receives_attachments
def api_step(fid: str):
    access.finding_in_scope_or_404(fid)
    if request.mimetype == "multipart/form-data":
        body, files = request.form.to_dict(), _files()
    else:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, description="请求体应为 JSON 对象（Content-Type: application/json），"
                                   "或带附件的 multipart/form-data。")
        files = []
    r = _step(fid, body, files)
    return jsonify(rectification.as_api(r)), 201, {"Location": url_for("api.finding", fid=fid)}


@bp.post("/findings/<fid>/rectification")
@receives_attachments
def page_step(fid: str):
    from fundwatch.review.finding import render_finding

    access.finding_in_scope_or_404(fid)
    try:
        rectification.act(access.db(), current_app.config["HOME"].attachments_dir, finding_id=fid, actor=actor(),
                          action=request.form.get("action") or "", comment=request.form.get("comment"),
                          due=request.form.get("due") or None, files=_files())
    except rectification.RectificationError as exc:
        if exc.status == 404:
            abort(404, description=exc.message)
        return render_finding(fid, error=exc.message, status=exc.status)
    flash(f"已记录：{rectification.ACTION_LABELS[request.form['action']]}。")
    return redirect(url_for("finding.page", fid=fid) + "#rectification")


@bp.get("/rectifications")
def queue():
    p = access.person()
    conn = access.db()
    rows = rectification.in_scope(conn, p.unit, include_verified=request.args.get("all") == "1")
    units = sorted({r["unit_code"] for r in rows if r["unit_code"] and r["state"] != "verified"})
    return render_template(
        "rectifications.html", rows=rows, units=units, run_date=rectification.latest_run_date(conn),
        show_all=request.args.get("all") == "1", association=divisions.association_name)


def _download(body: bytes, mime: str, filename: str) -> Response:
    # RFC 6266/5987: an ASCII fallback and the UTF-8 name.
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(body, mimetype=mime, headers={"Content-Disposition": disposition})


@bp.get("/rectifications/notice/<unit>.docx")
def notice(unit: str):
    p = access.person()
    if not scope.is_unit_code(unit) or not access.in_scope(unit):
        abort(404, description=documents.NO_SUCH_UNIT)
    issuer = p.unit if p.unit != unit and scope.level(p.unit) is not scope.Level.county else scope.PROVINCE
    try:
        body = documents.notice_docx(access.db(), unit, viewer_unit=p.unit, issuer_unit=issuer)
    except rectification.NotFound as exc:
        abort(404, description=exc.message)
    access.audit("rectification_notice", None, unit)
    return _download(body, documents.DOCX_MIME, f"整改通知书-{divisions.place_name(unit)}.docx")


@bp.get("/rectifications/ledger.xlsx")
def ledger():
    p = access.person()
    unit = request.args.get("unit") or None
    try:
        body = documents.ledger_xlsx(access.db(), p.unit, unit=unit)
    except rectification.NotFound as exc:
        abort(404, description=exc.message)
    access.audit("rectification_ledger", None, unit or p.unit)
    return _download(body, documents.XLSX_MIME, f"整改台账-{divisions.place_name(unit or p.unit)}.xlsx")


@bp.get("/rectifications/attachments/<int:attachment_id>")
@bp.get("/api/rectifications/attachments/<int:attachment_id>", endpoint="api_attachment")  # the same, for API tokens
def attachment(attachment_id: int):
    rec = rectification.attachment(access.db(), access.person().unit, attachment_id)
    if rec is None:
        abort(404, description="没有这个附件。")
    path = attachments.path_of(current_app.config["HOME"].attachments_dir, rec["sha256"])
    if not path.is_file():
        abort(404, description="附件文件缺失，请联系管理员。")
    return _download(path.read_bytes(), rec["media_type"], rec["original_name"])


@bp.get("/digest")
def digest_page():
    p = access.person()
    day = request.args.get("date") or None
    run_date, rows = digest.for_viewer(access.db(), p.unit, day)
    dates = [r[0] for r in access.db().execute("SELECT DISTINCT run_date FROM digests ORDER BY run_date DESC LIMIT 30")]
    return render_template("digest.html", run_date=run_date, digests=rows, dates=dates,
                           association=divisions.association_name)
