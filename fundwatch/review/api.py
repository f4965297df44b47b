"""Blueprint ``api``: the review service's JSON API (interface.md "The review service's JSON API").

Signed in by the session cookie (writes then need ``X-CSRF-Token``) or ``Authorization: Bearer``
(``fundwatch users token NAME``). Rights and scope come from ``access`` like every page: a finding
out of scope is 404 exactly like a missing one. JSON in UTF-8, money as strings with 2 decimals,
dates ISO. Personal numbers are masked unless ``POST .../unmask`` (auditor, admin: logged reason).
The description of every route is ``fundwatch.review.openapi`` (served at ``/api/openapi.json``).
"""

from __future__ import annotations

import sqlite3

from flask import Blueprint, abort, jsonify, request, url_for

from fundwatch import masking, rectification, scope, state
from fundwatch.review import access, data, openapi

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_COMMENT = 2000


def rectification_of(conn: sqlite3.Connection, finding_id: str, *, steps: bool = False) -> dict | None:
    """The finding's rectification as the API shows it (rectification.md), None when it has none:
    ``state``, ``due``, ``overdue``, ``data_fixed`` ... and, with ``steps``, its steps (oldest
    first). Callers have checked scope."""
    return rectification.as_api(rectification.get(conn, finding_id), with_steps=steps)


def finding_json(f: dict, *, unmasked: bool = False) -> dict:
    """A finding as the API shows it: the export's columns, ``unit_name`` and ``rectification``."""
    out = {c: f.get(c) for c in state.EXPORT_COLUMNS}
    out["amount_at_risk"] = state.money_text(f.get("amount_at_risk"))
    if not unmasked:
        out["subject_key"] = masking.mask_subject_key(out["subject_type"], out["subject_key"])
        out["detail"] = masking.mask_text(out["detail"])
    out["unit_name"] = data.unit_label(f.get("unit_code")) if f.get("unit_code") else None
    out["rectification"] = rectification_of(access.db(), f["finding_id"])
    return out


def finding_detail(f: dict, *, unmasked: bool = False) -> dict:
    out = finding_json(f, unmasked=unmasked)
    out.update(last_seen=f.get("last_seen"), is_open=bool(f.get("is_open")), closed_on=f.get("closed_on"))
    out["evidence"] = f["evidence"] if unmasked else masking.mask_evidence(f["evidence"])
    out["decisions"] = data.decisions(access.db(), f["finding_id"], newest_first=False)
    out["rectification"] = rectification_of(access.db(), f["finding_id"], steps=True)
    return out


def _bad(message: str):
    abort(400, description=message)


def list_filters(args) -> data.Filters:
    """The list's query arguments, checked (400 with a Chinese message), inside the person's scope."""
    status, severity = args.get("status", ""), args.get("severity", "")
    unit, rule, q = args.get("unit_code", ""), args.get("rule_id", ""), args.get("q", "").strip()
    if status and status not in data.STATUS_LABELS:
        _bad(f"status 应为 {'、'.join(data.STATUS_LABELS)} 之一。")
    if severity and severity not in data.SEVERITY_LABELS:
        _bad(f"severity 应为 {'、'.join(data.SEVERITY_LABELS)} 之一。")
    if unit and not scope.is_unit_code(unit):
        _bad("unit_code 应为 6 位数字的行政区划代码。")
    if len(rule) > 64 or len(q) > data.MAX_Q:
        _bad(f"rule_id 最多 64 个字符，q 最多 {data.MAX_Q} 个字符。")
    raw_page = args.get("page", "1") or "1"
    if not (raw_page.isascii() and raw_page.isdigit() and len(raw_page) <= 7 and 1 <= int(raw_page) <= data.MAX_PAGE):
        _bad(f"page 应为 1 至 {data.MAX_PAGE} 之间的整数。")
    return data.Filters(scope_unit=access.person().unit, rule=rule, severity=severity, unit=unit,
                        status=status, q=q, page=int(raw_page))


@bp.get("/findings")
def findings():
    flt = list_filters(request.args)
    conn = access.db()
    rows = data.queue_rows(conn, flt, offset=(flt.page - 1) * data.PAGE_SIZE)
    return jsonify(total=data.count(conn, flt), page=flt.page, page_size=data.PAGE_SIZE,
                   findings=[finding_json(r) for r in rows])


@bp.get("/findings/<fid>")
def finding(fid: str):
    return jsonify(finding_detail(access.finding_in_scope_or_404(fid)))


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        _bad("请求体应为 JSON 对象（Content-Type: application/json）。")
    return body


@bp.post("/findings/<fid>/decisions")
@access.require("decide")
def decide(fid: str):
    access.finding_in_scope_or_404(fid)
    body = _json_body()
    action, comment = body.get("action"), body.get("comment") or ""
    if action not in state.ACTIONS:
        _bad(f"action 应为 {'、'.join(state.ACTIONS)} 之一。")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        _bad(f"comment 应为不超过 {MAX_COMMENT} 个字符的文本。")
    if action == "dismissed" and not comment.strip():
        _bad("驳回（dismissed）必须填写理由（comment）。")
    due = body.get("due")
    if due is not None and not isinstance(due, str):
        _bad("due 应为 YYYY-MM-DD 格式的日期文本（仅在确认时给出，作为整改时限）。")
    try:
        decision_id = state.add_decision(access.db(), finding_id=fid, action=action, comment=comment,
                                         username=access.person().name, due=due or None)
    except KeyError:
        abort(404, description=access.NOT_FOUND)
    except rectification.RectificationError as exc:
        abort(exc.status, description=exc.message)
    except ValueError as exc:
        _bad(str(exc))
    row = access.db().execute("SELECT id, finding_id, action, comment, username, decided_at FROM decisions "
                              "WHERE id = ?", (decision_id,)).fetchone()
    out = dict(row)
    out["rectification"] = rectification_of(access.db(), fid)
    return jsonify(out), 201, {"Location": url_for("api.finding", fid=fid)}


@bp.post("/findings/<fid>/unmask")
@access.require("unmask")
def unmask(fid: str):
    f = access.finding_in_scope_or_404(fid)
    reason = _json_body().get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        _bad("查看完整号码须填写查看理由（reason，不超过 500 个字符）。")
    access.audit("unmask", fid, reason.strip())
    return jsonify(finding_detail(f, unmasked=True))


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi.SPEC)
