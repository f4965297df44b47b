"""The findings export of rules.md: ``findings.csv`` (UTF-8 with BOM) and ``findings.xlsx``.

Both files hold the same columns, one row per current finding. They are spreadsheet-safe: a text cell
that would start with ``=``, ``+``, ``-``, ``@``, tab or carriage return is written so that Excel
shows it as text and never evaluates it: it gets a leading apostrophe in both files (the OWASP
advice), and in the xlsx every text is a string cell, which Excel never evaluates anyway. Both files
therefore hold identical values.
Files are written to a temporary name and renamed, so a reader never sees half an export.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from fundwatch.state import EXPORT_COLUMNS

XLSX_MAX_ROWS = 1_048_576 - 1  # one sheet's rows, less the header
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> str:
    """A cell's text that no spreadsheet will evaluate as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_DANGEROUS) else text


def unguard(text: str | None) -> str:
    """The value ``safe_text`` guarded: a reader of the export (compare, simulate) undoes it with this."""
    text = text or ""
    return text[1:] if text.startswith("'") and text[1:].startswith(_DANGEROUS) else text


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if column == "amount_at_risk":
        return f"{Decimal(value):.2f}"
    if column == "source_row":
        return str(int(value))  # type: ignore[call-overload]
    return safe_text(value)


def write_csv(rows: Sequence[dict], path: Path) -> Path:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(EXPORT_COLUMNS)
        for row in rows:
            w.writerow([_cell(c, row.get(c)) for c in EXPORT_COLUMNS])
    os.replace(tmp, path)
    return path


def write_xlsx(rows: Sequence[dict], path: Path, *, sheet_title: str = "问题清单") -> Path:
    """The same table as the CSV; amounts as numbers with 2 decimals, every text a string cell."""
    import xlsxwriter

    tmp = path.with_suffix(".xlsx.tmp")
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
    wb.set_properties({"title": "fundwatch findings", "comments": "fundwatch 问题清单导出"})
    head = wb.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1})
    money = wb.add_format({"num_format": "#,##0.00"})
    chunks = [rows[i:i + XLSX_MAX_ROWS] for i in range(0, len(rows), XLSX_MAX_ROWS)] or [rows]
    for n, chunk in enumerate(chunks, start=1):
        ws = wb.add_worksheet(sheet_title if n == 1 else f"{sheet_title}{n}")
        ws.freeze_panes(1, 0)
        widths = {"finding_id": 18, "rule_name": 22, "subject_key": 34, "source_file": 40, "detail": 70}
        for col, name in enumerate(EXPORT_COLUMNS):
            ws.set_column(col, col, widths.get(name, 14))
            ws.write_string(0, col, name, head)
        for r, row in enumerate(chunk, start=1):
            for col, name in enumerate(EXPORT_COLUMNS):
                value = row.get(name)
                if value is None or value == "":
                    continue
                if name == "amount_at_risk":
                    ws.write_number(r, col, float(Decimal(value)), money)
                elif name == "source_row":
                    ws.write_number(r, col, int(value))
                else:  # a string cell is never evaluated; the apostrophe keeps it safe once copied out
                    ws.write_string(r, col, safe_text(value))
        ws.autofilter(0, 0, max(len(chunk), 1), len(EXPORT_COLUMNS) - 1)
    wb.close()
    os.replace(tmp, path)
    return path


def write_export(rows: Sequence[dict], out_dir: Path) -> tuple[Path, Path]:
    """Write findings.csv and findings.xlsx into ``out_dir``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_csv(rows, out_dir / "findings.csv"), write_xlsx(rows, out_dir / "findings.xlsx")
