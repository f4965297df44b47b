"""From a reader's rows to typed records: header recognition, row normalisation, the 合计 line.

Decisions (决定及理由):

- 表头只在前 6 行中查找（表头上方最多 5 行标题/空行）。一行包含某一类文件的全部必填列即视为该类的
  表头；同时满足两类及以上的，整个文件拒收（无法判断类型）。找不到表头的，理由写出真正的原因：
  表头在第 7 行以下（写明在第几行）、用分号或制表符分隔、文件只有空行；否则写出最接近的类型和
  缺少的必填列。
- 同一个列名（按去空格、全半角括号统一后的写法）在表头中出现两次的，整个文件拒收，因为无法判断
  用哪一列。
- 合计行：最后一个非空行，其第一个非空单元格（去掉空格后）以“合计”或“总计”开头。金额列中填了值
  且能读出的都记下（``TotalLine``），在重建 raw 层时与“已载入行”之和比较（键冲突的两处都不算，
  同键同值的重复行照算；见 ``ingestion.rebuild``）；合计行中无法读出的值不作比较。不是最后一行的
  “合计”行按数据行处理（通常因缺必填值被拒收，理由会提示合计行只能放在最后）。
  合计行填了值的金额列，若各行金额之和达到 1 亿亿元（10^16，DECIMAL(18,2) 已放不下，差额也放不下），
  无法核对：整个文件拒收并写明该列及其和（多半是把账号等填进了金额列）；没有合计行的文件照常载入。
- CSV 中单元格比表头多的行整行拒收（多半是金额中的千分位逗号没加引号，各列已错位）；一个跨行的
  引号单元格中若有一行本身就像一整行数据（逗号数不少于必填列数减一），该行拒收并写明被并入的行号。
- 单元格是 Excel 错误值（#N/A、#DIV/0! 等，xlsx 的错误单元格或 CSV 中导出的同样文字）或没有保存
  结果的公式：该列即使是可选列，整行也拒收并写明原因（ingestion.cells）。
- xlsx 第一个可见工作表为空：整个文件拒收（不去读后面的工作表，规范只认第一个可见工作表）。
- 表头以下没有任何数据行的文件照常“载入”，载入 0 行。
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from ingestion import normalise as nz
from ingestion.cells import CellIssue, MergedBlank, col_letters, mark_errors
from ingestion.kinds import KINDS, Kind, VType, header_key
from ingestion.readers import FileRejected, Row

HEADER_SCAN_ROWS = 6  # the header row, below up to 5 title/blank rows
LATE_HEADER_ROWS = 30  # how far a header is looked for, only to name it in the reason

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
_SEPARATORS = {";": "分号（;）", "；": "分号（；）", "\t": "制表符（Tab）", "|": "竖线（|）"}


@dataclass(frozen=True)
class Header:
    kind: Kind
    row: int
    positions: dict[str, int]  # raw column name -> cell index (present columns only)
    labels: list[str]  # header cell texts, for raw_values


@dataclass
class TotalLine:
    """A readable value of a 合计 line in one money column; compared at the raw-layer rebuild."""

    source_row: int
    column_name: str  # the Chinese header
    stated_total: Decimal
    computed_total: Decimal  # the sum over this file's rows that passed the row checks


@dataclass
class Rejected:
    source_row: int
    reason: str
    raw_values: str
    column_name: str | None = None  # header of the first column at fault; None for the row as a whole


@dataclass
class ParseStats:
    data_rows: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    totals: list[TotalLine] = field(default_factory=list)


def _cell_blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


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
            cols = "、".join(col_letters(i) for i in idx)
            raise FileRejected(f"表头（第{row}行）中“{col.header}”出现了{len(idx)}次（第{cols}列），"
                               "无法判断用哪一列；请删去多余的一列")
        if idx:
            positions[col.name] = idx[0]
    labels = ["" if _cell_blank(v) else str(v).strip() for v in cells]
    return Header(kind, row, positions, labels)


def _closest(first_rows: list[list[object]]) -> tuple[int, Kind, set[str]] | None:
    best: tuple[int, Kind, set[str]] | None = None
    for cells in first_rows:
        present = {header_key(v) for v in cells}
        for k in KINDS:
            hit = len(k.required_headers & present)
            if hit >= 2 and (best is None or hit > best[0]):
                best = (hit, k, set(k.required_headers - present))
    return best


def _separator(first_rows: list[list[object]]) -> tuple[str, Kind | None] | None:
    """A separator other than the comma that splits the first rows into a kind's header."""
    for sep, name in _SEPARATORS.items():
        split = [[part for v in cells if isinstance(v, str) for part in v.split(sep)]
                 for cells in first_rows if any(isinstance(v, str) and sep in v for v in cells)]
        best = _closest(split)
        if best:
            return name, best[1] if not best[2] else None
    return None


def _late_header(row_no: int, cells: list[object], rows: Iterator[Row]) -> tuple[int, Kind] | None:
    """A header further down than allowed (only to name it in the reason)."""
    while row_no <= LATE_HEADER_ROWS:
        try:
            h = find_header(cells, row_no)
        except FileRejected:
            return None
        if h:
            return row_no, h.kind
        try:
            row_no, cells = next(rows)
        except StopIteration:
            return None
    return None


def _unrecognised(first_rows: list[list[object]], late: tuple[int, Kind] | None, more: bool) -> FileRejected:
    if late:
        row, kind = late
        return FileRejected(f"表头（“{kind.label}”）在第{row}行，上方有{row - 1}行；表头上方最多只能有5行"
                            "标题或空行，请删去多余的行后重新报送")
    if not more and all(all(_cell_blank(v) for v in cells) for cells in first_rows):
        return FileRejected("文件中没有任何内容（只有空行或空白单元格）；请确认导出是否完整后重新报送")
    sep = _separator(first_rows)
    if sep:
        name, kind = sep
        what = f"“{kind.label}”的" if kind else ""
        return FileRejected(f"文件用{name}分隔各列，不是逗号，{what}各列挤在了一个单元格里；"
                            "请另存为“CSV UTF-8（逗号分隔）”后重新报送")
    msg = f"前{HEADER_SCAN_ROWS}行中找不到可识别的表头，无法判断文件类型"
    best = _closest(first_rows)
    if best:
        hk = {header_key(c.header): c.header for c in best[1].columns}
        missing = "、".join(f"“{hk[m]}”" for m in sorted(best[2], key=list(hk).index))
        msg += f"；最接近“{best[1].label}”，但缺少必填列 {missing}"
    return FileRejected(msg + "；请核对表头（表头上方最多 5 行标题）")


def _json_cell(v: object) -> object:
    if isinstance(v, datetime | date | time):  # a time cell (08:00): calamine gives datetime.time
        return v.isoformat()
    if isinstance(v, timedelta):  # a duration cell ([h]:mm)
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Decimal | CellIssue):
        return str(v)
    return v


def raw_values_json(header: Header, cells: list[object]) -> str:
    """The row's non-empty cells under their header text (extra columns included)."""
    out: dict[str, object] = {}
    for i, v in enumerate(cells):
        if _cell_blank(v):
            continue
        label = header.labels[i] if i < len(header.labels) and header.labels[i] else col_letters(i) + "列"
        out[label] = _json_cell(v)
    return json.dumps(out, ensure_ascii=False, default=str)  # any other cell as its text, never an error


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
        if type(raw) is CellIssue:
            return nz.BadValue(raw.reason)
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

    def parse(self, cells: list[object]) -> tuple[tuple | None, str | None, str | None]:
        """(values in raw-column order, None, None) or (None, Chinese reason, header at fault)."""
        if len(cells) < self._width:
            cells = [*cells, *([None] * (self._width - len(cells)))]
        values = [None if pos is None else run(cells[pos]) for pos, run in self._plan]
        if any(type(v) is nz.BadValue for v in values) or any(values[i] is None for i in self._required):
            return None, *self._reason(cells, values)
        return tuple(values), None, None

    def _reason(self, cells: list[object], values: list[object]) -> tuple[str, str | None]:
        problems: list[str] = []
        first: str | None = None
        for col, (pos, _), val in zip(self.kind.columns, self._plan, values, strict=True):
            if isinstance(val, nz.BadValue):
                raw = cells[pos] if pos is not None else None
                if isinstance(raw, CellIssue):
                    shown = raw.shown
                else:
                    if isinstance(raw, float):  # a number cell, shown as Excel shows it
                        raw = format(raw, ".0f") if raw.is_integer() and abs(raw) >= 1e15 else repr(raw)
                    shown = nz.mask_value(col.vtype, raw)
                problems.append(f"列“{col.header}”的值“{shown}”无法读取：{val}")
            elif val is None and col.required:
                raw = cells[pos] if pos is not None else None
                if pos is None:
                    problems.append(f"缺少必填列“{col.header}”")
                elif isinstance(raw, MergedBlank):
                    problems.append(f"必填列“{col.header}”为空：该格在合并单元格 {raw.ref} 中，只有合并区域的"
                                    "第一格有值；请取消合并，在每一行填上值")
                else:
                    problems.append(f"必填列“{col.header}”为空")
            else:
                continue
            first = first or col.header
        lead = next((v for v in cells if not _cell_blank(v)), "")
        if isinstance(lead, str) and _TOTAL.match(_WS.sub("", lead)):
            problems.append("（“合计/总计”行只能放在最后一行）")
        return "；".join(problems), first


def _swallowed(header: Header, row_no: int, cells: list[object]) -> Rejected | None:
    """A quoted CSV cell spanning lines, one of which looks like a whole data row of its own."""
    commas = max(len(header.kind.required_headers) - 1, 3)
    line = row_no
    for i, v in enumerate(cells):
        parts = v.split("\n") if isinstance(v, str) else [v]
        for k, part in enumerate(parts[1:], 1):
            if isinstance(part, str) and part.count(",") >= commas:
                label = header.labels[i] if i < len(header.labels) and header.labels[i] else col_letters(i) + "列"
                end = line + len(parts) - 1
                return Rejected(row_no, (
                    f"第{line}行“{label}”单元格的引号直到第{end}行才结束，其中第{line + k}行本身像是一整行数据："
                    f"多半是第{line}行的引号没有配对，把第{line + 1}–{end}行并进了这一个单元格；本行未载入，"
                    "被并入的行也未载入。请检查引号后重新报送"), raw_values_json(header, cells), label)
        line += len(parts) - 1
    return None


def is_total_line(cells: list[object]) -> bool:
    """Whether the row's first non-blank cell starts with 合计 or 总计 (spaces ignored)."""
    lead = next((v for v in cells if not _cell_blank(v)), "")
    return isinstance(lead, str) and bool(_TOTAL.match(_WS.sub("", lead)))


class DataRows:
    """What happens to each data row below the header: rejected with its reason, or normalised and
    counted (with the money sums the 合计 line is compared with). Both CSV paths and xlsx use it.

    ``csv``: rows wider than the header are rejected (an unquoted comma shifted the columns), and
    a multi-line quoted cell that swallowed whole rows is rejected."""

    def __init__(self, header: Header, on_valid: Callable[[int, tuple], None],
                 on_rejected: Callable[[Rejected], None], *, csv: bool = False) -> None:
        self.header, self.on_valid, self.on_rejected, self.csv = header, on_valid, on_rejected, csv
        self.parser = RowParser(header)
        self.stats = ParseStats()
        self.money = [(c, header.positions[c.name], i) for i, c in enumerate(header.kind.columns)
                      if c.vtype is VType.MONEY and c.name in header.positions]
        self.sums = {c.name: Decimal(0) for c, _, _ in self.money}
        self.width = len(header.labels)

    def _reject(self, rej: Rejected) -> None:
        self.stats.rows_rejected += 1
        self.on_rejected(rej)

    def handle(self, row_no: int, cells: list[object], multiline: bool = False) -> None:
        header, stats = self.header, self.stats
        stats.data_rows += 1
        if multiline and (rej := _swallowed(header, row_no, cells)):
            self._reject(rej)
            return
        if self.csv and len(cells) > self.width:
            self._reject(Rejected(row_no, (
                f"本行有{len(cells)}个单元格，比表头（第{header.row}行，{self.width}列）多{len(cells) - self.width}个，"
                "各列已经错位：多半是某个金额或文字中的逗号没有加引号（如 1,200.00 被拆成两格）；本行未载入，"
                "请给含逗号的单元格加上引号或去掉千分位逗号后重新报送"), raw_values_json(header, cells)))
            return
        values, reason, column = self.parser.parse(cells)
        if values is None:
            self._reject(Rejected(row_no, reason or "", raw_values_json(header, cells), column))
            return
        stats.rows_valid += 1
        for c, _, i in self.money:
            v = values[i]
            if v is not None:
                self.sums[c.name] += v  # type: ignore[operator]
        self.on_valid(row_no, values)

    def last(self, row_no: int, cells: list[object], multiline: bool = False) -> None:
        """The last non-blank row: a 合计 line (its readable money values are kept), else data."""
        if not is_total_line(cells):
            self.handle(row_no, cells, multiline)
            return
        for c, pos, _ in self.money:
            raw = cells[pos] if pos < len(cells) else None
            try:
                stated = nz.norm_money(raw)
            except nz.BadValue:
                continue  # an unreadable stated total is not compared (see module docstring)
            if stated is None:
                continue
            if self.sums[c.name] >= nz.MONEY_MAX:  # DECIMAL(18,2) cannot hold it, nor the difference
                raise FileRejected(
                    f"第{row_no}行合计无法核对：“{c.header}”列各行金额之和为 {self.sums[c.name]} 元，"
                    "超出系统可记录的金额（须小于 1 亿亿元）；多半是某些行的金额填错"
                    "（如把账号或身份证号填进了金额列），请核对后重新报送")
            self.stats.totals.append(TotalLine(row_no, c.header, stated, self.sums[c.name]))


def read_header(rows: Iterator[Row]) -> Header:
    """The header among the first rows (the rows after it stay in ``rows``), or :class:`FileRejected`
    naming the real cause."""
    first_rows: list[list[object]] = []
    for row_no, cells in rows:
        if row_no > HEADER_SCAN_ROWS:
            raise _unrecognised(first_rows, _late_header(row_no, cells, rows), more=True)
        first_rows.append(cells)
        header = find_header(cells, row_no)
        if header:
            return header
    raise _unrecognised(first_rows, None, more=False)


def row_text(cells: list[object], csv: bool) -> tuple[list[object] | None, bool]:
    """(cells, multiline) of a row, or (None, False) for a blank row; error texts marked."""
    try:
        joined = "".join(cells)  # type: ignore[arg-type]  # all text (CSV): one C call
    except TypeError:  # xlsx: numbers, dates, issues (the reader marks error texts itself)
        return (None, False) if all(_cell_blank(v) for v in cells) else (cells, False)
    if not joined.strip():
        return None, False
    if "#" in joined:
        cells = mark_errors(cells)
    return cells, csv and "\n" in joined


def parse_rows(rows: Iterator[Row], on_header: Callable[[Header], None],
               on_valid: Callable[[int, tuple], None],
               on_rejected: Callable[[Rejected], None], *, csv: bool = False) -> tuple[Header, ParseStats]:
    """Recognise the header (``on_header``), then feed every data row to ``on_valid`` or
    ``on_rejected`` (:class:`DataRows`); returns the header and the counts and 合计 values."""
    header = read_header(rows)
    on_header(header)
    data = DataRows(header, on_valid, on_rejected, csv=csv)
    pending: tuple[int, list[object], bool] | None = None
    for row_no, raw in rows:
        cells, multiline = row_text(raw, csv)
        if cells is None:
            continue
        if pending is not None:
            data.handle(*pending)
        pending = (row_no, cells, multiline)
    if pending is not None:
        data.last(*pending)
    return header, data.stats
