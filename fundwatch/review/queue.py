"""Blueprint ``queue``: the findings queue (counts, chart, area table), bulk decisions, the xlsx download.

Everything here is read through ``access.filters``, so every count, row and chart bar is inside
the person's scope. The queue opens on 待处理 (``status=all`` is the explicit 全部); the filters
travel in the query string of every link (to a finding, back from it, after a decision).

Bulk decisions (``POST /bulk-decide``): the findings ticked, those of this page, or every finding
matching the filters; each is recorded as its own append-only decision with its own audit entry,
all in one transaction. A ticked id that does not exist or is out of scope refuses the whole
request with 404 (nothing is recorded), exactly as one finding out of scope would.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from fundwatch import masking, scope, state
from fundwatch.review import access, charts, data, queue_export

bp = Blueprint("queue", __name__)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BULK_ACTIONS = ("confirmed", "dismissed")
BULK_MAX = 5000  # findings in one bulk decision (a larger set: narrow the filters first)


def filter_options(flt: data.Filters) -> dict:
    """Choices of the filter form: rules, and only the 市州 and counties the person may see."""
    unit = access.person().unit
    by_prefecture = data.counties_by_prefecture()
    counties = [(p, [c for c in by_prefecture[p.code] if scope.covers(unit, c.code)]) for p in data.prefectures()]
    return {
        "rules": sorted(data.rule_catalog().values(), key=lambda r: r.rule_id),
        "prefectures": [p for p in data.prefectures() if scope.covers(unit, p.code)],
        "counties": [(p, cs) for p, cs in counties
                     if cs and (not flt.prefecture or p.code == flt.prefecture)],
        "projects": data.projects(access.db(), unit),
    }


def render_queue(flt: data.Filters, *, error: str | None = None, status: int = 200,
                 bulk: dict | None = None):
    conn = access.db()
    summ = data.summary(conn, flt)
    pages = max(1, -(-summ["count"] // data.PAGE_SIZE))
    flt.page = min(flt.page, pages)
    rows = data.queue_rows(conn, flt, offset=(flt.page - 1) * data.PAGE_SIZE)
    for r in rows:
        r["subject_display"] = masking.mask_subject_key(r["subject_type"], r["subject_key"])
        r["detail"] = masking.mask_text(r["detail"])
    history = data.history_by_day(conn, flt)
    names = {k: v.rule_name for k, v in data.rule_catalog().items()}
    shown = data.STATUS_LABELS[flt.status] if flt.status else "全部"
    chart = charts.stacked_bars(history.dates, history.counts, names, totals=history.totals,
                                line_label="当日存在的问题（不论处理状态）")
    body = render_template(
        "queue.html", flt=flt, rows=rows, summary=summ, pages=pages, run=data.latest_run(conn),
        chart=chart, chart_status=shown, options=filter_options(flt), error=error, bulk=bulk or {},
        filter_text=flt.describe(), qs=lambda **kw: urlencode(flt.args(**kw)), NO_UNIT=data.NO_UNIT,
        area_label=data.area_label,
    )
    return body, status


@bp.get("/")
def index():
    return render_queue(access.filters(request.args))


@bp.post("/bulk-decide")
@access.require("decide")
def bulk_decide():
    flt = access.filters(request.args)
    form = request.form
    action, comment, target = form.get("action") or "", (form.get("comment") or "").strip()[:2000], form.get("target")
    kept = {"action": action, "comment": comment}
    if action not in BULK_ACTIONS:
        return render_queue(flt, error="批量处理：请选择确认或驳回。", status=400, bulk=kept)
    if not comment:
        return render_queue(flt, error="批量处理须填写理由（每条问题记录同一理由）。", status=400, bulk=kept)
    conn = access.db()
    if target == "filter":
        total = data.count(conn, flt)
        if str(total) != (form.get("expected") or ""):
            return render_queue(flt, error=f"筛选结果已变化（现为 {total} 条），请核对后再提交。", status=409,
                                bulk=kept)
        if total > BULK_MAX:
            return render_queue(flt, error=f"一次最多批量处理 {BULK_MAX} 条，请缩小筛选范围。", status=400,
                                bulk=kept)
        ids = [r["finding_id"] for r in data.queue_rows(conn, flt, limit=None)]
    else:
        ids = list(dict.fromkeys(form.getlist("page_fid" if target == "page" else "fid")))[:BULK_MAX]
        for fid in ids:
            access.finding_in_scope_or_404(fid)  # one out of scope refuses the whole request
    if not ids:
        return render_queue(flt, error="批量处理：请先勾选要处理的问题。", status=400, bulk=kept)
    label = data.ACTION_LABELS[action]
    detail = f"批量{label}（共 {len(ids)} 条）：{comment}"
    name = access.person().name
    with state.transaction(conn):
        for fid in ids:
            state.insert_decision(conn, finding_id=fid, action=action, comment=comment, username=name)
        access.audit_within(conn, "bulk_decide", [(fid, detail) for fid in ids])
    flash(f"已批量{label} {len(ids)} 条问题，每条各记一条处理记录。")
    return redirect(url_for("queue.index") + "?" + urlencode(flt.args(page="")))


@bp.get("/export.xlsx")
def export_xlsx():
    flt = access.filters(request.args)
    rows = data.queue_rows(access.db(), flt, limit=None, with_decision=True)
    filter_text = flt.describe()
    now = state.now_shanghai().replace("T", " ")[:16]
    title = f"项目资金监督问题清单（导出于 {now}，导出人 {access.person().name}）"
    with tempfile.TemporaryDirectory(prefix="fundwatch-export-") as tmp:
        body = queue_export.write(rows, Path(tmp) / "queue.xlsx", title=title, filter_text=filter_text).read_bytes()
    access.audit("export", None, f"{len(rows)} rows; {filter_text}")
    stamp = state.now_shanghai()[:10].replace("-", "")
    disposition = f'attachment; filename="fundwatch-queue-{stamp}.xlsx"'
    return Response(body, mimetype=XLSX_MIME, headers={"Content-Disposition": disposition})

