"""The queue's xlsx download for the office: Chinese headers, unit names, the latest decision, the
filter used as a title line, laid out to print (A4 landscape, fit to the page width, the title and
header rows repeated on every page, header frozen, page numbers).

This is not the contract export of rules.md (``fundwatch.export``: ``findings.csv``/``findings.xlsx``
with the English column names), which stays as it is. Formula safety is the same: every text is a
string cell and one that starts like a formula gets an apostrophe (``export.safe_text``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from fundwatch import masking, state
from fundwatch.export import XLSX_MAX_ROWS, safe_text
from fundwatch.review import data, display

# (header, width in characters, how the cell is made from a queue row with its latest decision)
COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6), ("问题编号", 18), ("首次发现", 11), ("规则", 24), ("严重程度", 8), ("责任单位", 20),
    ("项目编码", 20), ("对象", 30), ("涉及金额（元）", 14), ("说明", 50), ("来源（文件 · 行）", 36),
    ("处理状态", 9), ("处理人", 10), ("处理意见", 30), ("处理时间", 18),
)
HEADERS = tuple(h for h, _w in COLUMNS)
HEADER_ROW = 2  # 0-based: row 0 the title, row 1 the filter, row 2 the headers
SHEET = "问题清单"


def cells(n: int, r: dict) -> list[object]:
    """One queue row as the export's cells (personal numbers masked; amounts as Decimal)."""
    subject = masking.mask_subject_key(r["subject_type"], r["subject_key"])
    source = r.get("source_file") or ""
    if source and r.get("source_row") is not None:
        source = f"{source} 第 {r['source_row']} 行"
    return [
        n, r["finding_id"], r.get("first_seen") or "", f"{r.get('rule_name') or ''}（{r['rule_id']}）",
        data.SEVERITY_LABELS.get(r.get("severity") or "", r.get("severity") or ""),
        data.unit_label(r.get("unit_code")) if r.get("unit_code") else "无单位",
        r.get("project_code") or "", f"{data.SUBJECT_LABELS.get(r['subject_type'], r['subject_type'])}：{subject}",
        state.money(r.get("amount_at_risk")), display.money_sentence(masking.mask_text(r.get("detail") or "")),
        source, data.STATUS_LABELS.get(r.get("status") or "", r.get("status") or ""),
        r.get("decided_by") or "", r.get("decision_comment") or "", (r.get("decided_at") or "").replace("T", " "),
    ]


def write(rows: Sequence[dict], path: Path, *, title: str, filter_text: str) -> Path:
    """Write the office's workbook of ``rows`` (``data.queue_rows(..., with_decision=True)``)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False, "strings_to_numbers": False})
    wb.set_properties({"title": title, "comments": filter_text})
    fmt = {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "filter": wb.add_format({"font_size": 10, "font_color": "#444444"}),
        "head": wb.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1, "text_wrap": True,
                               "valign": "vcenter", "align": "center"}),
        "text": wb.add_format({"valign": "top", "border": 1, "border_color": "#C8CED6"}),
        "wrap": wb.add_format({"valign": "top", "text_wrap": True, "border": 1, "border_color": "#C8CED6"}),
        "money": wb.add_format({"valign": "top", "num_format": "#,##0.00", "border": 1,
                                "border_color": "#C8CED6"}),
        "total": wb.add_format({"bold": True, "num_format": "#,##0.00", "top": 2}),
        "total_label": wb.add_format({"bold": True, "top": 2}),
    }
    wrapped = {"规则", "责任单位", "对象", "说明", "来源（文件 · 行）", "处理意见"}
    chunks = [rows[i:i + XLSX_MAX_ROWS - 4] for i in range(0, len(rows), XLSX_MAX_ROWS - 4)] or [rows]
    total = sum((state.money(r.get("amount_at_risk")) or Decimal(0) for r in rows), Decimal(0))
    for part, chunk in enumerate(chunks, start=1):
        ws = wb.add_worksheet(SHEET if part == 1 else f"{SHEET}{part}")
        for col, (_h, width) in enumerate(COLUMNS):
            ws.set_column(col, col, width)
        ws.write_string(0, 0, title, fmt["title"])
        ws.write_string(1, 0, f"筛选条件：{filter_text}；共 {len(rows)} 条，涉及金额 {display.yuan(total)}",
                        fmt["filter"])
        for col, header in enumerate(HEADERS):
            ws.write_string(HEADER_ROW, col, header, fmt["head"])
        first = (part - 1) * (XLSX_MAX_ROWS - 4)
        for i, r in enumerate(chunk):
            row = HEADER_ROW + 1 + i
            for col, value in enumerate(cells(first + i + 1, r)):
                if isinstance(value, Decimal):
                    ws.write_number(row, col, float(value), fmt["money"])
                elif isinstance(value, int):
                    ws.write_number(row, col, value, fmt["text"])
                elif value:
                    ws.write_string(row, col, safe_text(value), fmt["wrap" if HEADERS[col] in wrapped else "text"])
        if part == len(chunks):
            last = HEADER_ROW + 1 + len(chunk)
            ws.write_string(last, 0, "合计", fmt["total_label"])
            ws.write_number(last, HEADERS.index("涉及金额（元）"), float(total), fmt["total"])
        # Printing: A4 landscape, every column on one page's width, title and headers on every page.
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0, HEADER_ROW)
        ws.freeze_panes(HEADER_ROW + 1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.set_footer("&C第 &P 页，共 &N 页")
        ws.autofilter(HEADER_ROW, 0, HEADER_ROW + max(len(chunk), 1), len(HEADERS) - 1)
    wb.close()
    return path
