"""The annotated copy a clerk downloads, fixes and sends again (always xlsx, also for a CSV).

The first sheet holds the file's rows at the row numbers the report names (the row a person sees:
title rows and header included; for a CSV its line number), read by the ingestion's own readers.
A 问题说明 column is added after the last column: on each rejected row its reason, on a 合计
line that disagrees the stated and computed totals. The cells a reason names are filled red (a 合计
cell orange). ID, account, code and text columns stay text cells, so digits survive the round
trip; a value that starts with ``=`` is a string cell, never a formula.

The second sheet, 检查结果, is the summary: file, kind, result, counts, the whole-file reason, and
every problem by row. The daily run reads the first visible sheet only and ignores the extra
问题说明 column, so the fixed file can be sent back as it is.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import xlsxwriter

from fundwatch.uploads.report import LOADED, Report, header_row, read_rows
from ingestion.kinds import KINDS_BY_TABLE, VType, header_key
from ingestion.parse import HEADER_SCAN_ROWS
from ingestion.readers import FileRejected, Row

PROBLEM_HEADER = "问题说明"
SUMMARY_SHEET = "检查结果"
BAD_FILL, TOTAL_FILL, NOTE_FILL = "#FFC7CE", "#FFEB9C", "#FDE9E7"
_TEXT_TYPES = {VType.TEXT, VType.DOCNO, VType.ID, VType.ACCOUNT, VType.NAME, VType.CODE}


def annotated_xlsx(path: Path, relpath: str, report: Report, *, title: str, meta: dict[str, str]) -> bytes:
    """The annotated workbook of the upload kept at ``path`` (named ``relpath``) with its ``report``.

    ``meta``: label -> value lines for the summary sheet (报送人, 报送时间 ...).
    """
    try:
        width = max((len(cells) for _, cells in read_rows(path, relpath)), default=0)
    except FileRejected:
        width = 0  # not a readable table at all: the summary says why
    with tempfile.TemporaryDirectory(prefix="fundwatch-annotate-") as tmp:
        out = Path(tmp) / "annotated.xlsx"
        wb = xlsxwriter.Workbook(str(out), {"constant_memory": True, "tmpdir": tmp, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
        wb.set_properties({"title": title, "comments": "fundwatch 报送检查标注"})
        fmt = _Formats(wb)
        kind = KINDS_BY_TABLE.get(report.kind or "")
        if width:
            ws = wb.add_worksheet(kind.label if kind else "数据")
            with contextlib.suppress(FileRejected):  # a CSV may break further down: keep what was read
                _data_sheet(ws, fmt, read_rows(path, relpath), width, report)
        _summary_sheet(wb.add_worksheet(SUMMARY_SHEET), fmt, relpath, report, meta)
        wb.close()
        return out.read_bytes()


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.text = wb.add_format({"num_format": "@"})
        self.bad_text = wb.add_format({"num_format": "@", "bg_color": BAD_FILL, "font_color": "#9C0006"})
        self.date = wb.add_format({"num_format": "yyyy-mm-dd"})
        self.bad_date = wb.add_format({"num_format": "yyyy-mm-dd", "bg_color": BAD_FILL, "font_color": "#9C0006"})
        self.datetime = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.bad = wb.add_format({"bg_color": BAD_FILL, "font_color": "#9C0006"})
        self.total = wb.add_format({"bg_color": TOTAL_FILL, "bold": True})
        self.note = wb.add_format({"bg_color": NOTE_FILL, "font_color": "#9C0006", "text_wrap": True,
                                   "valign": "top"})
        self.note_head = wb.add_format({"bold": True, "font_color": "#C00000", "bg_color": "#DDE6F0", "border": 1})
        self.bold = wb.add_format({"bold": True})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.head = wb.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})


def _header_columns(report: Report, rows: list[Row], head_row: int | None) -> tuple[dict[str, int], set[int]]:
    """header_key -> column index of the kind's columns, and the indices of its text columns."""
    kind = KINDS_BY_TABLE.get(report.kind or "")
    col_of: dict[str, int] = {}
    text_cols: set[int] = set()
    if kind is None or head_row is None:
        return col_of, text_cols
    cells = next((c for n, c in rows if n == head_row), [])
    wanted = {header_key(c.header): c for c in kind.columns}
    for i, v in enumerate(cells):
        col = wanted.get(header_key(v))
        if col is not None and header_key(v) not in col_of:
            col_of[header_key(v)] = i
            if col.vtype in _TEXT_TYPES:
                text_cols.add(i)
    return col_of, text_cols


def _data_sheet(ws, fmt: _Formats, rows: Iterator[Row], width: int, report: Report) -> None:
    head = list(itertools.islice(rows, HEADER_SCAN_ROWS))  # rows, not lines: blank lines are not rows
    head_row = header_row(report.kind, iter(head))
    col_of, text_cols = _header_columns(report, head, head_row)
    rows = itertools.chain(head, rows)
    problems = {p.row: p for p in report.rows_rejected}
    totals: dict[int, list] = {}
    for m in report.total_mismatches:
        totals.setdefault(m.row, []).append(m)
    note_col = width
    for i in range(width):
        ws.set_column(i, i, 22 if i in text_cols else 14, fmt.text if i in text_cols else None)
    ws.set_column(note_col, note_col, 60)
    if head_row:
        ws.freeze_panes(head_row, 0)
    for row_no, cells in rows:
        r = row_no - 1
        bad: set[int] = set()
        note = ""
        cell_fmt = None
        if row_no in problems:
            p = problems[row_no]
            bad = {col_of[k] for k in (header_key(c) for c in p.columns) if k in col_of}
            note = p.reason
        elif row_no in totals:
            bad = {col_of[header_key(m.column)] for m in totals[row_no] if header_key(m.column) in col_of}
            note = "；".join(f"合计不符：“{m.column}”合计写 {m.stated:,.2f}，上方可载入各行之和为 {m.computed:,.2f}，"
                            f"相差 {m.difference:,.2f}" for m in totals[row_no])
            cell_fmt = fmt.total
        for c, v in enumerate(cells):
            is_bad = c in bad
            _write(ws, fmt, r, c, v, text=c in text_cols, bad=is_bad, override=cell_fmt if is_bad else None)
        if row_no == head_row:
            ws.write_string(r, note_col, PROBLEM_HEADER, fmt.note_head)
        elif note:
            ws.write_string(r, note_col, note, fmt.note)


def _write(ws, fmt: _Formats, r: int, c: int, v: object, *, text: bool, bad: bool, override=None) -> None:
    if v is None or v == "":
        if bad:
            ws.write_blank(r, c, None, override or fmt.bad)
        return
    if isinstance(v, bool):
        ws.write_boolean(r, c, v, override or (fmt.bad if bad else None))
    elif isinstance(v, datetime):
        is_day = v.hour == v.minute == v.second == 0
        ws.write_datetime(r, c, v, override or (fmt.bad_date if bad else fmt.date if is_day else fmt.datetime))
    elif isinstance(v, date):
        ws.write_datetime(r, c, datetime(v.year, v.month, v.day), override or (fmt.bad_date if bad else fmt.date))
    elif isinstance(v, int | float):
        ws.write_number(r, c, v, override or (fmt.bad if bad else None))
    else:
        ws.write_string(r, c, str(v), override or (fmt.bad_text if bad else fmt.text if text else None))


def _summary_sheet(ws, fmt: _Formats, relpath: str, report: Report, meta: dict[str, str]) -> None:
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 90)
    ws.write_string(0, 0, "报送检查结果", fmt.title)
    result = ("可以载入" + (f"（{len(report.rows_rejected)} 行被拒收，其余行照常载入）" if report.rows_rejected else "")
              if report.status == LOADED else "整个文件被拒收，没有任何数据载入")
    lines = [("文件", relpath), *meta.items(), ("文件类型", report.kind_label or "未识别"), ("检查结果", result)]
    if report.reason:
        lines.append(("原因", report.reason))
    if report.status == LOADED:
        lines += [("读取数据行", str(report.rows_read)),
                  ("可载入行", str(report.rows_loaded)), ("拒收行", str(len(report.rows_rejected))),
                  ("合计不符", str(len(report.total_mismatches)))]
    lines += [("说明", n) for n in report.notes]
    r = 2
    for label, value in lines:
        ws.write_string(r, 0, label, fmt.bold)
        ws.write_string(r, 1, value, fmt.wrap)
        r += 1
    if report.rows_rejected or report.total_mismatches:
        r += 1
        ws.write_string(r, 0, "行号", fmt.head)
        ws.write_string(r, 1, "问题说明（第一个工作表中该行的“问题说明”列与标红的单元格）", fmt.head)
        items = [(p.row, p.reason) for p in report.rows_rejected]
        items += [(m.row, f"合计不符：“{m.column}”合计写 {m.stated:,.2f}，上方可载入各行之和为 {m.computed:,.2f}")
                  for m in report.total_mismatches]
        for row_no, text in sorted(items):
            r += 1
            ws.write_number(r, 0, row_no)
            ws.write_string(r, 1, text, fmt.wrap)
