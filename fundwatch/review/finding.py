"""Blueprint ``finding``: one finding's page, its decisions, and unmasking its personal numbers.

Every route loads the finding through ``access.finding_in_scope_or_404`` first (after the role
check of ``access.require``), so a finding out of scope answers exactly like a missing one.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from fundwatch import masking, state
from fundwatch.review import access, data, display

bp = Blueprint("finding", __name__)
DECIDE_ACTIONS = state.ACTIONS


def render_finding(fid: str, *, unmasked: bool = False, error: str | None = None, status: int = 200):
    f = access.finding_in_scope_or_404(fid)
    conn = access.db()
    home = current_app.config["HOME"]
    rule = data.rule_catalog().get(f["rule_id"])
    show = (lambda v, _k: v) if unmasked else masking.mask_evidence
    comparison = [(key, label, show(found, key), show(expected, key), differs)
                  for key, label, found, expected, differs in display.comparison(f["evidence"])]
    if not unmasked:
        f["subject_display"] = masking.mask_subject_key(f["subject_type"], f["subject_key"])
        f["detail"] = masking.mask_text(f["detail"])
        f["evidence"] = masking.mask_evidence(f["evidence"])
    else:
        f["subject_display"] = f["subject_key"]
    docs_open = access.has_full_scope()  # the built docs hold every unit's data: province only
    body = render_template(
        "finding.html", f=f, rule=rule, unmasked=unmasked, error=error,
        history=data.finding_history(conn, fid), decisions=data.decisions(conn, fid),
        dbt_link=(url_for("docs.file", kind="dbt", filename="index.html")
                  + (f"#!/model/model.fundwatch.{rule.mart}" if rule and rule.mart else "")),
        dbt_built=docs_open and (home.dbt_docs_dir / "index.html").exists(),
        gx_built=docs_open and (home.gx_docs_dir / "index.html").exists(),
        evidence_items=display.evidence_items(f["evidence"]), comparison=comparison,
    )
    return body, status


@bp.get("/findings/<fid>")
def page(fid: str):
    return render_finding(fid)


@bp.post("/findings/<fid>/decide")
@access.require("decide")
def decide(fid: str):
    access.finding_in_scope_or_404(fid)
    action = request.form.get("action") or ""
    comment = (request.form.get("comment") or "").strip()[:2000]
    if action not in DECIDE_ACTIONS:
        return render_finding(fid, error="请选择处理结果。", status=400)
    if action == "dismissed" and not comment:
        return render_finding(fid, error="驳回必须填写理由。", status=400)
    try:
        state.add_decision(access.db(), finding_id=fid, action=action, comment=comment,
                           username=access.person().name)
    except KeyError:
        abort(404, description=access.NOT_FOUND)
    flash(f"已记录：{data.ACTION_LABELS[action]}。")
    return redirect(url_for("finding.page", fid=fid))


@bp.post("/findings/<fid>/unmask")
@access.require("unmask")
def unmask(fid: str):
    access.finding_in_scope_or_404(fid)
    reason = (request.form.get("reason") or "").strip()[:500]
    if not reason:
        return render_finding(fid, error="查看完整号码须填写查看理由。", status=400)
    access.audit("unmask", fid, reason)
    return render_finding(fid, unmasked=True)
