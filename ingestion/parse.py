"""From a reader's rows to typed records: header recognition, row normalisation, the 合计 line.

Decisions (决定及理由):

- 表头只在前 6 行中查找（表头上方最多 5 行标题/空行）。一行包含某一类文件的全部必填列即视为该类的
  表头；同时满足两类及以上的，整个文件拒收（无法判断类型）。找不到表头的，理由中写出最接近的
  类型和缺少的必填列。
- 同一个列名（按去空格、全半角括号统一后的写法）在表头中出现两次的，整个文件拒收，因为无法判断
  用哪一列。
- 合计行：最后一个非空行，其第一个非空单元格（去掉空格后）以“合计”或“总计”开头。金额列中填了值
  且能读出的，与其上方已载入行之和比较；合计行中无法读出的值不作比较。不是最后一行的“合计”行
  按数据行处理（通常因缺必填值被拒收，理由会提示合计行只能放在最后）。
- xlsx 第一个可见工作表为空：整个文件拒收（不去读后面的工作表，规范只认第一个可见工作表）。
- 表头以下没有任何数据行的文件照常“载入”，载入 0 行。
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from ingestion import normalise as nz
from ingestion.kinds import KINDS, Kind, VType, header_key
from ingestion.readers import FileRejected, Row

HEADER_SCAN_ROWS = 6  # the header row, below up to 5 title/blank rows

NORMALISERS: dict[VType, Callable[[object], object]] = {
    VType.TEXT: nz.norm_text, VType.DOCNO: nz.norm_docno, VType.DATE: nz.norm_date,
    VType.MONEY: nz.norm_money, VType.INT: nz.norm_int, VType.ID: nz.norm_id,
    VType.ACCOUNT: nz.norm_account, VType.NAME: nz.norm_name, VType.CODE: nz.norm_code,
}
# Values that repeat a lot (dates, amounts, codes) are normalised once per file and column.
_CACHED = frozenset({VType.TEXT, VType.DOCNO, VType.DATE, VType.MONEY, VType.INT, VType.CODE})
_CACHE_MAX = 20_000
_TOTAL = re.compile(r"^(合计|总计)")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Header:
    kind: Kind
    row: int
    positions: dict[str, int]  # raw column name -> cell index (present columns only)
    labels: list[str]  # header cell texts, for raw_values


@dataclass
class TotalMismatch:
    source_row: int
    column_name: str
    stated_total: Decimal
    computed_total: Decimal


@dataclass
class Rejected:
    source_row: int
    reason: str
    raw_values: str


@dataclass
class ParseStats:
    data_rows: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    mismatches: list[TotalMismatch] = field(default_factory=list)


def _cell_blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _row_blank(cells: list[object]) -> bool:
    try:
        return not "".join(cells).strip()  # type: ignore[arg-type]  # all text (CSV): one C call
    except TypeError:
        return all(_cell_blank(v) for v in cells)


def find_header(cells: list[object], row: int) -> Header | None:
    """The kind whose required headers this row holds, or None; ambiguous rows are rejected."""
    keys = [header_key(v) for v in cells]
    present = set(keys)
    matches = [k for k in KINDS if k.required_headers <= present]
    if not matches:
        return None
    if len(matches) > 1:
        names = "、".join(f"“{k.label}”" for k in matches)
        raise FileRejected(f"第{row}行的表头同时符合{names}，无法判断文件类型；请每个文件只放一类数据")
    kind = matches[0]
    positions: dict[str, int] = {}
    for col in kind.columns:
        hk = header_key(col.header)
        idx = [i for i, k in enumerate(keys) if k == hk]
        if len(idx) > 1:
            cols = "、".join(_col_letter(i) for i in idx)
            raise FileRejected(f"表头（第{row}行）中“{col.header}”出现了{len(idx)}次（第{cols}列），"
                               "无法判断用哪一列；请删去多余的一列")
        if idx:
            positions[col.name] = idx[0]
    labels = ["" if _cell_blank(v) else str(v).strip() for v in cells]
    return Header(kind, row, positions, labels)


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _unrecognised(first_rows: list[list[object]]) -> FileRejected:
    best: tuple[int, Kind, set[str]] | None = None
    for cells in first_rows:
        present = {header_key(v) for v in cells}
        for k in KINDS:
            hit = len(k.required_headers & present)
            if hit >= 2 and (best is None or hit > best[0]):
                best = (hit, k, set(k.required_headers - present))
    msg = f"前{HEADER_SCAN_ROWS}行中找不到可识别的表头，无法判断文件类型"
    if best:
        hk = {header_key(c.header): c.header for c in best[1].columns}
        missing = "、".join(f"“{hk[m]}”" for m in sorted(best[2], key=list(hk).index))
        msg += f"；最接近“{best[1].label}”，但缺少必填列 {missing}"
    return FileRejected(msg + "；请核对表头（表头上方最多 5 行标题）")


def _json_cell(v: object) -> object:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Decimal):
        return str(v)
    return v


def raw_values_json(header: Header, cells: list[object]) -> str:
    """The row's non-empty cells under their header text (extra columns included)."""
    out: dict[str, object] = {}
    for i, v in enumerate(cells):
        if _cell_blank(v):
            continue
        label = header.labels[i] if i < len(header.labels) and header.labels[i] else _col_letter(i) + "列"
        out[label] = _json_cell(v)
    return json.dumps(out, ensure_ascii=False)


class _Memo(dict):
    """Per-file, per-column cache of a normaliser's outcome (value or BadValue) by cell text."""

    def __init__(self, fn: Callable[[object], object]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, raw: str) -> object:
        try:
            v = self.fn(raw)
        except nz.BadValue as exc:
            v = exc
        if len(self) >= _CACHE_MAX:
            self.clear()
        self[raw] = v
        return v


def _outcome(fn: Callable[[object], object], memo: _Memo | None) -> Callable[[object], object]:
    """The normaliser as a function returning the value or the BadValue (not raising it)."""

    def run(raw: object) -> object:
        if memo is not None and type(raw) is str:
            return memo[raw]
        try:
            return fn(raw)
        except nz.BadValue as exc:
            return exc

    return run


class RowParser:
    """Normalises the data rows of one file of a known kind."""

    def __init__(self, header: Header) -> None:
        self.header = header
        self.kind = header.kind
        self._plan: list[tuple[int | None, Callable[[object], object]]] = []
        for col in self.kind.columns:
            fn = NORMALISERS[col.vtype]
            memo = _Memo(fn) if col.vtype in _CACHED else None
            self._plan.append((header.positions.get(col.name), _outcome(fn, memo)))
        self._required = [i for i, c in enumerate(self.kind.columns) if c.required]
        present = [p for p, _ in self._plan if p is not None]
        self._width = max(present) + 1 if present else 0

    def parse(self, cells: list[object]) -> tuple[tuple | None, str | None]:
        """(values in raw-column order, None) or (None, Chinese reason)."""
        if len(cells) < self._width:
            cells = [*cells, *([None] * (self._width - len(cells)))]
        values = [None if pos is None else run(cells[pos]) for pos, run in self._plan]
        if any(type(v) is nz.BadValue for v in values) or any(values[i] is None for i in self._required):
            return None, self._reason(cells, values)
        return tuple(values), None

    def _reason(self, cells: list[object], values: list[object]) -> str:
        problems: list[str] = []
        for col, (pos, _), val in zip(self.kind.columns, self._plan, values, strict=True):
            if isinstance(val, nz.BadValue):
                raw = cells[pos] if pos is not None else None
                if isinstance(raw, float):  # a number cell, shown as Excel shows it
                    raw = format(raw, ".0f") if raw.is_integer() and abs(raw) >= 1e15 else repr(raw)
                shown = nz.mask_value(col.vtype, raw)
                problems.append(f"列“{col.header}”的值“{shown}”无法读取：{val}")
            elif val is None and col.required:
                problems.append(f"缺少必填列“{col.header}”" if pos is None else f"必填列“{col.header}”为空")
        first = next((v for v in cells if not _cell_blank(v)), "")
        if isinstance(first, str) and _TOTAL.match(_WS.sub("", first)):
            problems.append("（“合计/总计”行只能放在最后一行）")
        return "；".join(problems)


def parse_rows(rows: Iterator[Row], on_header: Callable[[Header], None],
               on_valid: Callable[[int, tuple], None],
               on_rejected: Callable[[Rejected], None]) -> tuple[Header, ParseStats]:
    """Recognise the header (``on_header``), then feed every data row to ``on_valid`` or
    ``on_rejected``; returns the header and the counts and 合计 mismatches."""
    first_rows: list[list[object]] = []
    header: Header | None = None
    for row_no, cells in rows:
        if row_no > HEADER_SCAN_ROWS:
            break
        first_rows.append(cells)
        header = find_header(cells, row_no)
        if header:
            break
    if header is None:
        raise _unrecognised(first_rows)
    on_header(header)

    parser = RowParser(header)
    stats = ParseStats()
    money = [(c, header.positions[c.name], i) for i, c in enumerate(header.kind.columns)
             if c.vtype is VType.MONEY and c.name in header.positions]
    sums = {c.name: Decimal(0) for c, _, _ in money}
    pending: tuple[int, list[object]] | None = None

    def handle(row_no: int, cells: list[object]) -> None:
        stats.data_rows += 1
        values, reason = parser.parse(cells)
        if values is None:
            stats.rows_rejected += 1
            on_rejected(Rejected(row_no, reason or "", raw_values_json(header, cells)))
            return
        stats.rows_valid += 1
        for c, _, i in money:
            v = values[i]
            if v is not None:
                sums[c.name] += v  # type: ignore[operator]
        on_valid(row_no, values)

    for row_no, cells in rows:
        if _row_blank(cells):
            continue
        if pending is not None:
            handle(*pending)
        pending = (row_no, cells)
    if pending is not None:
        row_no, cells = pending
        first = next((v for v in cells if not _cell_blank(v)), "")
        if isinstance(first, str) and _TOTAL.match(_WS.sub("", first)):
            for c, pos, _ in money:
                raw = cells[pos] if pos < len(cells) else None
                try:
                    stated = nz.norm_money(raw)
                except nz.BadValue:
                    continue  # an unreadable stated total is not compared (see module docstring)
                if stated is not None and stated != sums[c.name]:
                    stats.mismatches.append(TotalMismatch(row_no, c.header, stated, sums[c.name]))
        else:
            handle(row_no, cells)
    return header, stats
