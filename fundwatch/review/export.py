"""The queue as an .xlsx download (formula-safe, personal data masked)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal

import xlsxwriter

from fundwatch.state import EXPORT_COLUMNS

# A text cell starting with one of these could be evaluated by a spreadsheet (CSV/formula injection).
RISKY_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

COLUMN_NOTES = {
    "finding_id": "问题编号（同一规则、同一对象跨日期不变）",
    "rule_id": "规则编号",
    "rule_name": "规则名称",
    "severity": "严重程度：error 错误 / warning 警告",
    "subject_type": "对象类型",
    "subject_key": "对象标识（身份证号码已脱敏）",
    "project_code": "项目编码",
    "unit_code": "责任单位代码",
    "amount_at_risk": "涉及金额（元，2位小数）",
    "source_file": "来源文件",
    "source_row": "来源行号",
    "detail": "说明：应为……，实际……",
    "first_seen": "首次发现日期",
    "status": "处理状态：open 待处理 / confirmed 已确认 / dismissed 已驳回 / resolved 已整改",
}


def queue_xlsx(rows: Iterable[dict], filters_text: str, generated_at: str) -> bytes:
    """Workbook with sheet 'findings' (the rules.md export columns) and sheet '说明'.

    Every text cell is written as a string; one starting with = + - @ tab or CR also gets
    Excel's quote prefix, so Excel shows it as text and never evaluates it, even after editing.
    """
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                   "strings_to_numbers": False, "strings_to_urls": False})
    head = wb.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1})
    quoted = wb.add_format({"quote_prefix": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    ws = wb.add_worksheet("findings")
    for c, name in enumerate(EXPORT_COLUMNS):
        ws.write_string(0, c, name, head)
    n = 0
    for n, row in enumerate(rows, start=1):
        for c, name in enumerate(EXPORT_COLUMNS):
            value = row.get(name)
            if value is None or value == "":
                ws.write_blank(n, c, None)
            elif isinstance(value, Decimal):
                # A 2-place amount below 10^13 is represented exactly enough for display and sums.
                ws.write_number(n, c, float(value), money)
            elif isinstance(value, int) and not isinstance(value, bool):
                ws.write_number(n, c, value)
            else:
                text = str(value)
                ws.write_string(n, c, text, quoted if text.startswith(RISKY_PREFIXES) else None)
    ws.autofilter(0, 0, max(n, 1), len(EXPORT_COLUMNS) - 1)
    ws.freeze_panes(1, 0)
    for c, width in enumerate((18, 22, 22, 9, 13, 30, 14, 10, 14, 36, 9, 60, 12, 11)):
        ws.set_column(c, c, width)

    info = wb.add_worksheet("说明")
    info.set_column(0, 0, 18)
    info.set_column(1, 1, 80)
    lines = [("导出时间", generated_at), ("筛选条件", filters_text or "全部"), ("问题条数", str(n)),
             ("", ""), ("列名", "含义")] + list(COLUMN_NOTES.items())
    for r, (a, b) in enumerate(lines):
        info.write_string(r, 0, a, quoted if a.startswith(RISKY_PREFIXES) else None)
        info.write_string(r, 1, b, quoted if b.startswith(RISKY_PREFIXES) else None)
    wb.close()
    return buf.getvalue()
