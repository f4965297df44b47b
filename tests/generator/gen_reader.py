"""A small, independent reader of inbox files for the generator's own tests (source-files.md)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import openpyxl

from fundwatch.generator.ids import upgrade_15
from fundwatch.generator.schema import KINDS

_FW = str.maketrans("０１２３４５６７８９（）", "0123456789()")
_DATE_RE = re.compile(r"^(\d{4})\D(\d{1,2})\D(\d{1,2})日?$")


def read_cells(path: Path) -> list[list[object]]:
    """All rows of the first visible sheet (xlsx) or of the CSV (UTF-8, BOM or GB18030)."""
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=False, data_only=True)
        ws = next(s for s in wb.worksheets if s.sheet_state == "visible")
        return [list(r) for r in ws.iter_rows(values_only=True)]
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""))]


def norm_label(v: object) -> str:
    return "" if v is None else str(v).strip().translate(_FW).replace(" ", "")


def required_labels(kind: str) -> set[str]:
    return {norm_label(c.header) for c in KINDS[kind] if c.required}


def find_header(rows: list[list[object]]) -> tuple[int, list[str]] | None:
    """(0-based index, kinds) of the first row within the top 6 that matches at least one kind."""
    for i, row in enumerate(rows[:6]):
        labels = {norm_label(c) for c in row}
        kinds = [k for k in KINDS if required_labels(k) <= labels]
        if kinds:
            return i, kinds
    return None


def to_date(v: object) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    s = norm_label(v)
    if re.fullmatch(r"\d{8}", s):
        s = f"{s[:4]}-{s[4:6]}-{s[6:]}"
    m = _DATE_RE.match(s)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def to_money(v: object) -> Decimal | None:
    if isinstance(v, int | float):
        return Decimal(repr(v)).quantize(Decimal("0.01"))
    s = norm_label(v).replace("￥", "").replace("元", "").replace(",", "")
    try:
        return Decimal(s).quantize(Decimal("0.01")) if s else None
    except InvalidOperation:
        return None


def to_id(v: object) -> str:
    s = norm_label(v).replace("\u3000", "").upper()
    return upgrade_15(s) if len(s) == 15 and s.isdigit() else s


def to_code(v: object) -> str:
    if isinstance(v, float):
        return str(int(v)).zfill(6)
    return norm_label(v)


def to_account(v: object) -> str:
    if isinstance(v, float):
        digits = str(int(v))
        return digits if len(digits) <= 15 else ""  # Excel keeps 15 digits: longer ones lost some
    return re.sub(r"[\s-]", "", str(v or ""))


def to_name(v: object) -> str:
    s = re.sub(r"[\s\u3000]", "", str(v or ""))
    return re.sub("[•・･]", "·", s)


def records(path: Path, kind: str) -> list[tuple[int, dict[str, object] | None]]:
    """(visible row number, values by field or None when a required value is unreadable)."""
    rows = read_cells(path)
    found = find_header(rows)
    assert found is not None, path
    h, _ = found
    pos = {norm_label(c): j for j, c in enumerate(rows[h])}
    out: list[tuple[int, dict[str, object] | None]] = []
    for i, row in enumerate(rows[h + 1 :], start=h + 2):
        cells = [c for c in row if c not in (None, "")]
        if not cells:
            continue
        if str(cells[0]).strip().startswith(("合计", "总计")):
            continue
        rec: dict[str, object] | None = {}
        for c in KINDS[kind]:
            raw = row[pos[norm_label(c.header)]] if pos[norm_label(c.header)] < len(row) else None
            conv = {
                "date": to_date,
                "money": to_money,
                "id": to_id,
                "code": to_code,
                "account": to_account,
                "name": to_name,
            }.get(c.vtype, lambda x: None if x in (None, "") else str(x).strip())
            val = conv(raw)
            if c.required and val in (None, ""):
                rec = None
                break
            rec[c.name] = val
        out.append((i, rec))
    return out
