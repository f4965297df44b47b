"""Blueprint ``queue``: the findings queue (counts, chart, area table) and its xlsx download.

Everything here is read through ``access.filters``, so every count, row and chart bar is inside
the person's scope.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request

from fundwatch import masking, scope, state
from fundwatch.export import write_xlsx
from fundwatch.review import access, charts, data

bp = Blueprint("queue", __name__)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def describe(flt: data.Filters) -> str:
    """The filters in words (shown above the queue, logged with an export)."""
    rule = data.rule_catalog().get(flt.rule) if flt.rule else None
    parts = [
        (flt.rule, lambda: f"规则：{rule.rule_name if rule else ''}（{flt.rule}）"),
        (flt.severity, lambda: f"严重程度：{data.SEVERITY_LABELS[flt.severity]}"),
        (flt.prefecture, lambda: f"市州：{data.unit_label(flt.prefecture)}"),
        (flt.county, lambda: f"县市区：{data.unit_label(flt.county)}"),
        (flt.unit, lambda: f"单位：{data.unit_label(flt.unit)}"),
        (flt.project, lambda: f"项目：{flt.project}"),
        (flt.status, lambda: f"状态：{data.STATUS_LABELS[flt.status]}"),
        (flt.q, lambda: f"搜索：{masking.mask_text(flt.q)}"),
    ]
    return "；".join(text() for value, text in parts if value)


@bp.get("/")
def index():
    flt = access.filters(request.args)
    conn = access.db()
    summ = data.summary(conn, flt)
    pages = max(1, -(-summ["count"] // data.PAGE_SIZE))
    flt.page = min(flt.page, pages)
    rows = data.queue_rows(conn, flt, offset=(flt.page - 1) * data.PAGE_SIZE)
    for r in rows:
        r["subject_display"] = masking.mask_subject_key(r["subject_type"], r["subject_key"])
        r["detail"] = masking.mask_text(r["detail"])
    dates, counts = data.history_by_day(conn, flt)
    names = {k: v.rule_name for k, v in data.rule_catalog().items()}
    return render_template(
        "queue.html", flt=flt, rows=rows, summary=summ, pages=pages, run=data.latest_run(conn),
        chart=charts.stacked_bars(dates, counts, names), options=filter_options(flt),
        filter_text=describe(flt), qs=lambda **kw: urlencode(flt.args(**kw)),
    )


@bp.get("/export.xlsx")
def export_xlsx():
    flt = access.filters(request.args)
    rows = data.queue_rows(access.db(), flt, limit=None)
    for r in rows:
        r["subject_key"] = masking.mask_subject_key(r["subject_type"], r["subject_key"])
        r["detail"] = masking.mask_text(r["detail"])
        r["amount_at_risk"] = state.money(r["amount_at_risk"])
    # The pipeline's own writer: the same columns and the same formula safety as findings.xlsx.
    with tempfile.TemporaryDirectory(prefix="fundwatch-export-") as tmp:
        body = write_xlsx(rows, Path(tmp) / "queue.xlsx").read_bytes()
    access.audit("export", None, f"{len(rows)} rows; {describe(flt) or '全部'}")
    stamp = state.now_shanghai()[:10].replace("-", "")
    disposition = f'attachment; filename="fundwatch-queue-{stamp}.xlsx"'
    return Response(body, mimetype=XLSX_MIME, headers={"Content-Disposition": disposition})
