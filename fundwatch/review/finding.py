"""Blueprint ``finding``: one finding's page, its decisions, and unmasking its personal numbers.

Every route loads the finding through ``access.finding_in_scope_or_404`` first (after the role
check of ``access.require``), so a finding out of scope answers exactly like a missing one.

The queue's filters travel with the finding in the query string (``/findings/<id>?status=open&...``):
the breadcrumb leads back to the same filtered queue, a decision redirects with them, and
"处理并下一条" opens the next finding of the same filtered queue (``data.next_in_queue``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from fundwatch import masking, rectification, state
from fundwatch.review import access, data, evidence, rectify

bp = Blueprint("finding", __name__)
DECIDE_ACTIONS = state.ACTIONS


def _with_filters(url: str, flt: data.Filters, **override) -> str:
    return f"{url}?{urlencode(flt.args(**override))}"


def queue_nav(conn, flt: data.Filters, fid: str) -> dict:
    """Where the finding stands in the filtered queue: the breadcrumb back to the page it is on,
    "第 k / N 条", the next finding; and the filters as a query string for the forms."""
    position = data.position_in_queue(conn, flt, fid)
    following = data.next_in_queue(conn, flt, fid)
    page = 1 if position is None else (position - 1) // data.PAGE_SIZE + 1
    return {
        "flt": flt, "filter_qs": urlencode(flt.args()), "position": position, "total": data.count(conn, flt),
        "queue_url": _with_filters(url_for("queue.index"), flt, page=page),
        "next_url": _with_filters(url_for("finding.page", fid=following), flt) if following else None,
    }


def render_finding(fid: str, *, unmasked: bool = False, error: str | None = None, status: int = 200,
                   chosen: str = "", comment: str = ""):
    """The finding's page. ``chosen``/``comment``: what the person had put in the form (kept when
    it is shown again with an ``error``). The partials under templates/finding/ get the names below."""
    f = access.finding_in_scope_or_404(fid)
    conn = access.db()
    home = current_app.config["HOME"]
    rule = data.rule_catalog().get(f["rule_id"])
    view = evidence.build(f, f["evidence"], masked=not unmasked)
    if unmasked:
        f["subject_display"] = f["subject_key"]
    else:
        f["subject_display"] = masking.mask_subject_key(f["subject_type"], f["subject_key"])
        f["detail"] = masking.mask_text(f["detail"])
    docs_open = access.has_full_scope()  # the built docs hold every unit's data: province only
    body = render_template(
        "finding.html", f=f, rule=rule, unmasked=unmasked, error=error, view=view,
        history=data.finding_history(conn, fid), decisions=data.decisions(conn, fid),
        dbt_link=(url_for("docs.file", kind="dbt", filename="index.html")
                  + (f"#!/model/model.fundwatch.{rule.mart}" if rule and rule.mart else "")),
        dbt_built=docs_open and (home.dbt_docs_dir / "index.html").exists(),
        gx_built=docs_open and (home.gx_docs_dir / "index.html").exists(),
        chosen=chosen, comment=comment, **queue_nav(conn, access.filters(request.args), fid),
        **rectify.panel(conn, fid),
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
        return render_finding(fid, error="请选择处理结果。", status=400, comment=comment)
    if action == "dismissed" and not comment:
        return render_finding(fid, error="驳回必须填写理由。", status=400, chosen=action)
    try:
        state.add_decision(access.db(), finding_id=fid, action=action, comment=comment,
                           username=access.person().name, due=request.form.get("due") or None)
    except KeyError:
        abort(404, description=access.NOT_FOUND)
    except rectification.RectificationError as exc:
        return render_finding(fid, error=exc.message, status=exc.status, chosen=action, comment=comment)
    except ValueError as exc:
        return render_finding(fid, error=str(exc), status=400, chosen=action, comment=comment)
    flt = access.filters(request.args)
    said = f"已记录：{data.ACTION_LABELS[action]}（问题 {fid}）。"
    if request.form.get("next"):
        following = data.next_in_queue(access.db(), flt, fid)
        if following is None:
            flash(said + "当前筛选结果中已没有下一条。")
            return redirect(_with_filters(url_for("queue.index"), flt))
        flash(said)
        return redirect(_with_filters(url_for("finding.page", fid=following), flt))
    flash(said)
    return redirect(_with_filters(url_for("finding.page", fid=fid), flt))


@bp.post("/findings/<fid>/unmask")
@access.require("unmask")
def unmask(fid: str):
    access.finding_in_scope_or_404(fid)
    reason = (request.form.get("reason") or "").strip()[:500]
    if not reason:
        return render_finding(fid, error="查看完整号码须填写查看理由。", status=400)
    access.audit("unmask", fid, reason)
    return render_finding(fid, unmasked=True)
