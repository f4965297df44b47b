"""Writes records of one kind into one inbox file, with the messiness of source-files.md.

A :class:`TableWriter` holds one output file (xlsx through xlsxwriter, or CSV in UTF-8, UTF-8 with BOM
or GB18030). It returns the row number a person sees for every record it writes, so that the
expected findings can name ``source_file``/``source_row``. Messiness is drawn from the writer's own
``random.Random`` so the bytes depend on the seed only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from fundwatch.generator.ids import id_is_valid, to_15
from fundwatch.generator.schema import KINDS, TOTAL_COLUMNS
from ingestion.kinds import Column

FORMATS = ("xlsx", "csv-utf8", "csv-bom", "csv-gb18030")
_ENCODINGS = {"csv-utf8": "utf-8", "csv-bom": "utf-8-sig", "csv-gb18030": "gb18030"}
_FW_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
# Fixed workbook timestamp: xlsx bytes must not depend on the wall clock.
_WORKBOOK_CREATED = datetime(2021, 1, 4, 9, 0, 0)
_EXCEL_DIGITS = 15  # a number cell keeps 15 significant digits: only shorter accounts may be numbers

DATE_STYLES = ("iso", "slash", "dot", "cn", "compact")
MONEY_STYLES = ("plain2", "plain", "comma", "yuan", "yen", "fullwidth")
_BRACKETS = (("[", "]"), ("【", "】"), ("(", ")"), ("（", "）"))

Cell = str | tuple[str, object]


def fmt_date(d: date | None, style: str) -> Cell:
    if d is None:
        return ""
    if style == "cell":
        return ("d", d)
    if style == "iso":
        return d.isoformat()
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if style == "dot":
        return f"{d.year}.{d.month}.{d.day}"
    if style == "cn":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def fmt_money(m: Decimal | None, style: str) -> Cell:
    if m is None:
        return ""
    if style == "cell":
        return ("n", float(m))
    if style == "plain2":
        return f"{m:.2f}"
    plain = f"{m:.2f}".rstrip("0").rstrip(".")
    if style == "plain":
        return plain
    if style == "comma":
        return f"{m:,.2f}"
    if style == "yuan":
        return plain + "元"
    if style == "yen":
        return f"￥{m:,.2f}"
    return f"{m:.2f}".translate(_FW_DIGITS)


def fmt_id(idn: str | None, style: str) -> Cell:
    if not idn:
        return ""
    if style == "lower" and idn.endswith("X"):
        return idn[:-1] + "x"
    if style == "spaces" and len(idn) == 18:
        return f"{idn[:6]} {idn[6:14]} {idn[14:]}"
    if style == "fullwidth":
        return idn.translate(_FW_DIGITS)
    if style == "old15" and idn[6:8] == "19" and id_is_valid(idn):
        return to_15(idn)
    return idn


def fmt_account(acc: str | None, style: str) -> Cell:
    if not acc:
        return ""
    if style == "spaces":
        return " ".join(acc[i : i + 4] for i in range(0, len(acc), 4))
    if style == "dashes":
        return "-".join(acc[i : i + 6] for i in range(0, len(acc), 6))
    if style == "cell" and acc[0] != "0" and len(acc) <= _EXCEL_DIGITS:
        return ("n", float(int(acc)))
    return acc


def fmt_name(name: str | None, style: str) -> Cell:
    if not name:
        return ""
    if "·" in name and style != "plain":
        return name.replace("·", {"pad": "•", "trail": "・", "inner": "･"}.get(style, "•"))
    if style == "pad" and len(name) == 2:
        return name[0] + "\u3000" + name[1]
    if style == "inner" and len(name) == 2:
        return name[0] + " " + name[1]
    if style == "trail":
        return " " + name + " "
    return name


def fmt_docno(doc: str | None, style: int) -> Cell:
    if not doc:
        return ""
    if style == 0 or "〔" not in doc:
        return doc
    op, cl = _BRACKETS[(style - 1) % len(_BRACKETS)]
    return doc.replace("〔", op).replace("〕", cl)


def fmt_code(code: str | None, style: str) -> Cell:
    if not code:
        return ""
    if style == "cell":
        return ("n", float(int(code)))
    return code


def fmt_int(v: int | None, style: str) -> Cell:
    if v is None:
        return ""
    if style == "cell":
        return ("n", float(v))
    return str(v)


def header_label(label: str, style: int) -> str:
    """Header variants that must match the same column: bracket width and surrounding spaces."""
    if style == 1:
        label = label.replace("（", "(").replace("）", ")")
    elif style == 2:
        label = f" {label} "
    elif style == 3 and "（" in label:
        label = label.replace("（", "(")  # mixed brackets: 金额(元）
    return label


@dataclass
class FileInfo:
    """What was written at one path (and its byte-identical copies)."""

    path: str
    kind: str | None
    fmt: str
    lineage: str  # the smallest relative path among the path and its copies
    copies: tuple[str, ...] = ()
    reject_reason: str | None = None
    rows: int = 0
    total_row: int | None = None
    stated_totals: dict[str, Decimal] = field(default_factory=dict)
    sha256: str = ""


class TableWriter:
    """One inbox file of one kind. ``add`` returns the visible row number of the record."""

    def __init__(
        self,
        inbox: Path,
        path: str,
        kind: str,
        fmt: str,
        rng: random.Random,
        *,
        titles: Sequence[str | None] = (),
        shuffle: bool = False,
        label_style: int = 0,
        total: str | None = None,
        total_delta: Decimal = Decimal("0"),
        mess: float = 0.1,
        copies: Sequence[str] = (),
        serial_col: bool = False,
        hidden_first_sheet: bool = False,
        notes_sheet: bool = False,
        blank_every: int = 0,
        styles: dict[str, str] | None = None,
        showcase: int = 0,
    ) -> None:
        self.inbox = inbox
        self.kind = kind
        self.fmt = fmt
        self.rng = rng
        self.info = FileInfo(path, kind, fmt, min([path, *copies]), tuple(copies))
        self.total = total
        self.total_delta = total_delta
        self.mess = mess
        self.serial_col = serial_col
        self.blank_every = blank_every
        self.special = False
        self.n = 0
        cols = list(enumerate(KINDS[kind]))
        if shuffle:
            rng.shuffle(cols)
            if not serial_col and cols[0][1].vtype == "money":
                cols.append(cols.pop(0))
        self.cols: list[tuple[int, Column]] = cols
        xlsx = fmt == "xlsx"
        date_style = "cell" if xlsx and rng.random() < 0.8 else rng.choice(DATE_STYLES)
        money_style = "cell" if xlsx and rng.random() < 0.7 else rng.choice(("plain2", "plain", "comma"))
        code_style = "cell" if xlsx and rng.random() < 0.3 else "text"
        acct_style = "cell" if xlsx and rng.random() < 0.3 else rng.choice(("plain", "plain", "spaces"))
        doc_style = rng.choice((0, 0, 1, 2, 3, 4))
        forced = styles or {}
        date_style = forced.get("date", date_style)
        money_style = forced.get("money", money_style)
        code_style = forced.get("code", code_style)
        acct_style = forced.get("account", acct_style)
        self.showcase = showcase
        self._fmts: list[Callable[[object], Cell]] = []
        self._variants: list[tuple[Callable[[object, object], Cell], tuple] | None] = []
        for _, c in cols:
            base, var = _formatters(c.vtype, xlsx, date_style, money_style, code_style, acct_style, doc_style)
            self._fmts.append(base)
            self._variants.append(var)
        self._pairs = [(f, i) for f, (i, _) in zip(self._fmts, cols, strict=True)]
        self._variant_cols = [j for j, v in enumerate(self._variants) if v is not None]
        self._tot_idx = [(j, f) for j, (i, c) in enumerate(cols) for f in TOTAL_COLUMNS.get(kind, ()) if c.name == f]
        self._sums = {f: Decimal("0") for _, f in self._tot_idx}
        self.row = 0
        self._all_text = True
        header = [header_label(c.header, label_style) for _, c in cols]
        if serial_col:
            header.insert(0, "序号")
        self.width = len(header)
        abs_path = inbox / path
        abs_path.parent.mkdir(parents=True, exist_ok=True)
        self._abs = abs_path
        if xlsx:
            self._wb = xlsxwriter.Workbook(str(abs_path), {"strings_to_numbers": False, "strings_to_urls": False})
            self._wb.set_properties({"created": _WORKBOOK_CREATED, "author": "fundwatch demo"})
            self._datefmt = self._wb.add_format({"num_format": "yyyy-mm-dd"})
            if hidden_first_sheet:
                old = self._wb.add_worksheet("旧表")
                old.write_string(0, 0, "本表已作废，请见下一工作表")
            self._ws = self._wb.add_worksheet(KIND_SHEET_NAMES.get(kind, "Sheet1"))
            if hidden_first_sheet:
                self._ws.activate()
                self._ws.set_first_sheet()
                old.hide()
            if notes_sheet:
                notes = self._wb.add_worksheet("填表说明")
                notes.write_string(0, 0, "金额单位：元；身份证号码请以文本格式填写。")
            self._csv = None
        else:
            self._fh = open(abs_path, "w", encoding=_ENCODINGS[fmt], newline="")  # noqa: SIM115
            self._csv = csv.writer(self._fh)
        for t in titles:
            self._emit([] if t is None else [t])
        self._emit(header)

    # -- low level -------------------------------------------------------------------------------
    def _emit(self, cells: Sequence[Cell]) -> None:
        self.row += 1
        if self._csv is not None:
            # CSV formatters only make text; typed cells come from planted overrides alone.
            self._csv.writerow(cells if self._all_text else [c if isinstance(c, str) else _cell_text(c) for c in cells])
            return
        r = self.row - 1
        ws = self._ws
        for j, c in enumerate(cells):
            if isinstance(c, str):
                if c != "":
                    ws.write_string(r, j, c)
            elif c[0] == "d":
                ws.write_datetime(r, j, datetime.combine(c[1], datetime.min.time()), self._datefmt)
            else:
                ws.write_number(r, j, c[1])

    def blank(self) -> None:
        """A blank row (ignored by readers, but it counts for row numbers)."""
        self._emit([""] * self.width if self._csv is not None and self.rng.random() < 0.5 else [])

    # -- records ---------------------------------------------------------------------------------
    def add(self, rec: tuple, override: dict[str, object] | None = None, special: bool = False) -> int:
        """Write one record; ``override`` replaces cells by raw text (planted unreadable values).
        ``special`` rows (rejected or key-conflicting) suppress the 合计 line of this file."""
        if self.blank_every and self.n and self.n % self.blank_every == 0:
            self.blank()
        self.n += 1
        cols = self.cols
        cells = [f(rec[i]) for f, i in self._pairs]
        rng = self.rng
        if self.mess and rng.random() < self.mess and self._variant_cols:
            j = self._variant_cols[int(rng.random() * len(self._variant_cols))]
            fn, choices = self._variants[j]  # type: ignore[misc]
            cells[j] = fn(rec[cols[j][0]], choices[int(rng.random() * len(choices))])
        if self.n <= self.showcase:
            # The first rows of a showcase file walk through every variant of every column.
            for j in self._variant_cols:
                fn, choices = self._variants[j]  # type: ignore[misc]
                cells[j] = fn(rec[cols[j][0]], choices[self.n % len(choices)])
        if override:
            self._all_text = False
            for j, (_, c) in enumerate(cols):
                if c.name in override:
                    cells[j] = override[c.name]
        if override or special:
            self.special = True
        else:
            for j, f in self._tot_idx:
                v = rec[cols[j][0]]
                if v is not None:
                    self._sums[f] += v
        if self.serial_col:
            cells.insert(0, str(self.n))
        self._emit(cells)
        self._all_text = True
        return self.row

    def close(self) -> FileInfo:
        info = self.info
        info.rows = self.n
        if self.total and self._tot_idx and not self.special:
            cells: list[Cell] = [""] * self.width
            cells[0] = "合计" if self.rng.random() < 0.7 else "总计"
            off = 1 if self.serial_col else 0
            for n, (j, f) in enumerate(self._tot_idx):
                stated = self._sums[f] + (self.total_delta if n == 0 else Decimal("0"))
                info.stated_totals[f] = stated
                cells[j + off] = fmt_money(stated, "cell" if self._csv is None else "comma")
            if self.rng.random() < 0.3:
                self.blank()
            self._emit(cells)
            info.total_row = self.row
        if self._csv is not None:
            self._fh.close()
        else:
            self._wb.close()
        data = self._abs.read_bytes()
        info.sha256 = hashlib.sha256(data).hexdigest()
        for cp in info.copies:
            dst = self.inbox / cp
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
        return info


KIND_SHEET_NAMES = {
    "allocations": "资金分配表",
    "credits": "到账明细",
    "projects": "项目汇总",
    "roster": "名单",
    "payments": "发放明细",
    "expenditures": "支出明细",
    "postings": "公示",
    "final_reports": "终期报告",
    "decisions": "决策记录",
    "deaths": "死亡人员",
    "staff": "名册",
}


def _cell_text(c: tuple[str, object]) -> str:
    kind, v = c
    if kind == "d":
        return v.isoformat()  # type: ignore[union-attr]
    return repr(v)


def _formatters(
    type_: str,
    xlsx: bool,
    date_style: str,
    money_style: str,
    code_style: str,
    acct_style: str,
    doc_style: int,
) -> tuple[Callable[[object], Cell], tuple[Callable[..., Cell], tuple] | None]:
    """(base formatter for the file, (variant formatter, its styles) or None) for one column type."""
    if type_ == "date":
        styles = DATE_STYLES + (("cell",) if xlsx else ())
        return _memo(lambda v: fmt_date(v, date_style)), (fmt_date, styles)
    if type_ == "money":
        styles = MONEY_STYLES + (("cell",) if xlsx else ())
        return _memo(lambda v: fmt_money(v, money_style)), (fmt_money, styles)
    if type_ == "id":
        return _plain, (fmt_id, ("lower", "spaces", "fullwidth", "old15", "old15"))
    if type_ == "account":
        base = _plain if acct_style == "plain" else (lambda v: fmt_account(v, acct_style))
        return base, (fmt_account, ("spaces", "dashes") + (("cell",) if xlsx else ()))
    if type_ == "name":
        return _plain, (fmt_name, ("pad", "inner", "trail"))
    if type_ == "code":
        base = _plain if code_style == "text" else _memo(lambda v: fmt_code(v, code_style))
        return base, ((fmt_code, ("cell",)) if xlsx else None)
    if type_ == "docno":
        return _memo(lambda v: fmt_docno(v, doc_style)), (fmt_docno, (0, 1, 2, 3, 4))
    if type_ == "int":
        return (lambda v: fmt_int(v, "cell" if xlsx else "text")), None
    return _plain, None


def _plain(v: object) -> Cell:
    return "" if v is None else v  # type: ignore[return-value]


def _memo(fn: Callable[[object], Cell]) -> Callable[[object], Cell]:
    """Dates and amounts repeat a lot: format each distinct value once per file."""
    cache: dict[object, Cell] = {}

    def cached(v: object) -> Cell:
        try:
            return cache[v]
        except KeyError:
            out = cache[v] = fn(v)
            return out

    return cached


def write_raw_file(inbox: Path, path: str, data: bytes, reason: str | None, kind: str | None = None) -> FileInfo:
    """A file written byte for byte (rejected files: unknown header, unsupported extension)."""
    dst = inbox / path
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)
    return FileInfo(
        path, kind, path.rsplit(".", 1)[-1], path, (), reason, 0, None, {}, hashlib.sha256(data).hexdigest()
    )


def csv_bytes(rows: Sequence[Sequence[str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    for r in rows:
        w.writerow(r)
    return buf.getvalue().encode(encoding)
