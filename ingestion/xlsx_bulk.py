"""xlsx rows normalised column by column and written by DuckDB in bulk: the same rows, values, reasons
and row numbers as the row-by-row path (:func:`ingestion.parse.parse_rows` over
:func:`ingestion.xlsx_reader.iter_xlsx`) at about half its CPU time per row (the bench's 100,000
payments: 1.0 s against 2.0 s beside calamine's parse and the survey, 1.0 s either way).

calamine parses the sheet as always and the header is found by :func:`ingestion.parse.read_header`
on the first rows as :meth:`~ingestion.xlsx_reader.XlsxSheet.fix` gives them. Below the header the
rows go in chunks. Each column of the kind is normalised at once by the normaliser of
:mod:`ingestion.normalise` itself, called once per distinct cell (a number cell and a text are
different cells, so are 1, 1.0 and True), or by the normaliser's own first test applied to the whole
column (every cell a text: 公民身份号码 all 18 digits or X, 银行账号 all digits, 姓名 without space
or dot, text stripped). A row whose every value is read, with every required value present, is
written by DuckDB from a file of the values' text (one line a row, typed columns); every other row
goes through :class:`ingestion.parse.DataRows`, the code of the row-by-row path, which decides it
and words its reason. So do the last non-blank row (the 合计 line or not), a row around which the
grid hides something (merged ranges, error cells, formulas without a result), and a row with a
cell that :meth:`~ingestion.xlsx_reader.XlsxSheet.fix` or :func:`ingestion.parse.row_text` may
change (a float of 1e15 or more, whose exact digits the sheet XML may hold; a text holding ``#``,
perhaps an Excel error value) or whose value holds a character of the file's own (line end, the
separators, NUL).

No Arrow and no SQL normalisers: a process's first pyarrow array imports pandas (some 0.3 s), and
per distinct value the Python normaliser is quicker than SQL per cell (calamine's cells passed as
text lists and normalised by ``normalise_sql`` cost some 9 µs a row here, this 4-5 µs).
``tests/ingestion/test_ingest_xlsx_bulk.py`` holds both paths equal.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import compress, islice
from pathlib import Path

import duckdb

from ingestion import normalise as nz
from ingestion.csv_duckdb import temp_folder
from ingestion.kinds import Column, VType
from ingestion.parse import NORMALISERS, DataRows, Header, ParseStats, Rejected, parse_rows, read_header, row_text
from ingestion.xlsx_reader import XlsxSheet

# Below this many rows the row-by-row path is as quick (measured: equal at 300 and 1,000 rows, a third slower at 3,000).
MIN_ROWS = 1_000
CHUNK_ROWS = 25_000  # rows held as Python objects at a time (two chunks while DuckDB writes one)
_EXACT_LIMIT = 1e15  # from here on a float may stand for exact digits the sheet XML holds

# The values file: one line per row, "n<US>text<US>text...", NULL written as <GS>. A value holding
# one of these characters (or CR, or NUL) is not written there: its row goes the row-by-row way.
_US, _NULL = "\x1f", "\x1d"
_AWKWARD = "\x00\n\r\x1d\x1f"
_MAX_LINE = 2_097_152  # DuckDB's default max_line_size (bytes)
_ID18_COLUMN = re.compile(r"[0-9]{17}[0-9X](?:\n[0-9]{17}[0-9X])*")  # normalise._ID18_FAST, joined by \n
_LEFT = object()  # a cell whose row is left to the row-by-row path
_MARKED = "#"  # a text holding it may be an Excel error value, which row_text and fix() mark
_SQL_TYPE = {VType.DATE: "DATE", VType.MONEY: "DECIMAL(18, 2)", VType.INT: "INTEGER"}


def write(con: duckdb.DuckDBPyConnection, sheet: XlsxSheet, sha: str, on_header: Callable[[Header], None],
          on_valid: Callable[[int, tuple], None], on_rejected: Callable[[Rejected], None],
          on_written: Callable[[int], None], table: Callable[[], str]) -> tuple[Header, ParseStats]:
    """The sheet's rows into ``table()`` (after ``on_header``): the rows of read values by DuckDB
    (``on_written`` is told how many), the others through ``on_valid``/``on_rejected``."""
    rows = sheet.raw_rows()
    if sheet.height < MIN_ROWS:
        return parse_rows(((n, sheet.fix(n, r)) for n, r in rows), on_header, on_valid, on_rejected)
    header = read_header((n, sheet.fix(n, r)) for n, r in rows)
    on_header(header)
    data = DataRows(header, on_valid, on_rejected)
    fd, name = tempfile.mkstemp(suffix=".txt", dir=temp_folder(con))
    os.close(fd)
    try:
        _Chunks(con, sheet, data, sha, Path(name), table()).run(rows, on_written)
    finally:
        Path(name).unlink(missing_ok=True)
    return header, data.stats


# ---------------------------------------------------------------- one column at once
def _text(value: object) -> str:
    """How DuckDB's reader gets a normalised value back exactly (None: NULL)."""
    if value is None:
        return _NULL
    if type(value) is str:
        return value
    if type(value) is date:
        return value.isoformat()
    return str(value)  # Decimal (2 places, plain digits), int


def _outcome(cell: object, fn: Callable[[object], object]) -> tuple[object, object]:
    """(value, its text) of one cell, or (_LEFT, _LEFT) when its row is left to the row-by-row path."""
    if type(cell) is str:
        if _MARKED in cell:
            return _LEFT, _LEFT
    elif type(cell) is float and not -_EXACT_LIMIT < cell < _EXACT_LIMIT:
        return _LEFT, _LEFT  # fix() may read its exact digits
    try:
        value = fn(cell)
    except nz.BadValue:
        return _LEFT, _LEFT
    text = _text(value)
    if value is not None and _awkward(text):
        return _LEFT, _LEFT
    return value, text


def _awkward(s: str) -> bool:
    return any(ch in s for ch in _AWKWARD)


def _nullable(cells: list[str]) -> list[str]:
    return [v or _NULL for v in cells] if "" in cells else cells


def _shortcut(cells: list[str], joined: str, vtype: VType) -> list[str] | None:
    """The texts of a column of texts (no ``#``, no awkward character) that the normaliser's own first
    test returns as they are, or None."""
    if vtype is VType.TEXT:  # norm_text: v.strip() or None
        return _nullable(list(map(str.strip, cells)))
    if vtype is VType.NAME and not nz._NAME_FIX.search(joined):  # norm_name: v when no space or dot
        return _nullable(cells)
    if vtype is VType.ACCOUNT and joined.isascii() and joined.encode().isdigit():  # norm_account: v when all digits
        return _nullable(cells)
    if vtype is VType.ID and _ID18_COLUMN.fullmatch("\n".join(cells)):  # norm_id: v when 17 digits, 0-9 or X
        return cells  # (no cell holds \n: the line ends are the joins)
    return None


class _Column:
    """One column of a chunk normalised: per row the text of its value, the rows left to the
    row-by-row path, and (money) the values."""

    def __init__(self, cells: list[object], col: Column) -> None:
        self.texts: list[str]
        self.left: list[int] = []
        self.keys: list[object] = cells
        self.values: dict[object, object] = {}
        try:  # every cell a text (calamine's are plain str): one C call, no set of types
            joined = "".join(cells)  # type: ignore[arg-type]
        except TypeError:
            if len(set(map(type, cells))) > 1:
                self.keys = list(zip(map(type, cells), cells, strict=True))  # 1, 1.0 and True are different cells
        else:
            if col.vtype is not VType.MONEY and _MARKED not in joined and not _awkward(joined):
                texts = _shortcut(cells, joined, col.vtype)  # type: ignore[arg-type]
                if texts is not None:
                    self.texts = texts
                    if col.required and _NULL in texts:
                        self.left = [i for i, t in enumerate(texts) if t is _NULL]
                    return
        fn = NORMALISERS[col.vtype]
        table: dict[object, object] = {}
        for key in set(self.keys):
            cell = key[1] if type(key) is tuple else key  # type: ignore[index]
            value, text = _outcome(cell, fn)
            if type(cell) is float and cell == 0:  # 0.0 and -0.0 are one key: both must read alike
                other, _ = _outcome(-cell, fn)
                if type(other) is not type(value) or other != value:
                    value = text = _LEFT
            table[key] = text
            self.values[key] = value
        self.texts = list(map(table.__getitem__, self.keys))  # type: ignore[arg-type]
        left = {k for k, t in table.items() if t is _LEFT or (col.required and t is _NULL)}
        if left:
            self.left = [i for i, k in enumerate(self.keys) if k in left]

    def total(self, keep: list[bool] | None) -> Decimal:
        """The sum of the money values of the rows kept."""
        keys = self.keys if keep is None else compress(self.keys, keep)
        return sum(filter(None, map(self.values.__getitem__, keys)), Decimal(0))  # None: empty; 0 adds nothing


# ---------------------------------------------------------------- the chunks
class _Chunks:
    """Writes the rows below the header chunk by chunk: the rows of read values by DuckDB, the others
    by ``data``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sheet: XlsxSheet, data: DataRows, sha: str, path: Path,
                 target: str) -> None:
        self.con, self.sheet, self.data, self.sha, self.path = con, sheet, data, sha, path
        kind, positions = data.header.kind, data.header.positions
        self.present = [(f"v{i}", c, positions[c.name]) for i, c in enumerate(kind.columns) if c.name in positions]
        self.width = max(pos for _, _, pos in self.present) + 1
        self.special = sheet.special_rows()
        columns = "{'n': 'INTEGER', " + ", ".join(
            f"'{p}': '{_SQL_TYPE.get(c.vtype, 'VARCHAR')}'" for p, c, _ in self.present) + "}"
        names = {p for p, _, _ in self.present}
        self.insert = (f"INSERT INTO {target} SELECT ?, n, "
                       + ", ".join(p if p in names else "NULL" for p in (f"v{i}" for i in range(len(kind.columns))))
                       + f""" FROM read_csv(?, columns = {columns}, header = false, delim = '\x1f', quote = '',
                            escape = '', nullstr = '\x1d', new_line = '\\n', auto_detect = false,
                            max_line_size = ?)""")

    def run(self, rows: Iterator[tuple[int, list[object]]], on_written: Callable[[int], None]) -> None:
        """All rows below the header. While DuckDB writes a chunk (in a thread: it lets go of the GIL),
        the next one is normalised; the connection is used by one thread at a time."""
        data, fix = self.data, self.sheet.fix
        pending: tuple[int, list[object]] | None = None  # the last non-blank row so far: the 合计 line?
        with ThreadPoolExecutor(max_workers=1) as pool:
            writing: _Batch | None = None
            while chunk := list(islice(rows, CHUNK_ROWS)):
                # The chunk's last non-blank row waits: a later one makes it a data row, else it is the last.
                last, earlier = len(chunk), None
                while last:
                    last -= 1
                    cells = row_text(fix(*chunk[last]), False)[0]
                    if cells is not None:
                        earlier, pending = pending, (chunk[last][0], cells)
                        break
                batch = self._batch(chunk[0][0], [r for _, r in chunk[:last]]) if last else None
                self._settle(writing, on_written)
                writing = None
                if earlier is not None:
                    data.handle(*earlier)
                if batch is not None:
                    writing = batch
                    if batch.written:
                        self.path.write_bytes(batch.text)
                        batch.inserted = pool.submit(self._insert, len(batch.text))
            self._settle(writing, on_written)
        if pending is not None:
            data.last(*pending)

    def _insert(self, size: int) -> int:
        got = self.con.execute(self.insert, [self.sha, str(self.path), max(_MAX_LINE, size + 1)]).fetchone()
        assert got is not None
        return got[0]

    def _batch(self, first: int, grid: list[list[object]]) -> _Batch:
        """Rows ``first``, ``first + 1`` ... (none of them the last non-blank row) normalised."""
        count, width = len(grid), self.width
        left: set[int] = {n - first for n in self.special if first <= n < first + count}
        cells = grid
        if min(map(len, grid)) < width:  # calamine's rows are as wide as the sheet: not seen
            left.update(i for i, r in enumerate(grid) if len(r) < width)
            cells = [r if len(r) >= width else r + [None] * (width - len(r)) for r in grid]
        columns = [_Column([r[pos] for r in cells], c) for _, c, pos in self.present]
        for column in columns:
            left.update(column.left)
        keep = None if not left else [i not in left for i in range(count)]
        numbers = map(str, range(first, first + count))
        texts = [column.texts for column in columns]
        if keep is not None:
            numbers = compress(numbers, keep)
            texts = [list(compress(t, keep)) for t in texts]
        batch = _Batch(first, grid, sorted(left), count - len(left))
        if batch.written:
            batch.text = "\n".join(map(_US.join, zip(numbers, *texts, strict=True))).encode("utf-8")
            lines, fields = batch.text.count(b"\n"), batch.text.count(b"\x1f")  # bytes: quicker than the text
            assert lines == batch.written - 1 and fields == batch.written * len(texts)
            batch.sums = {c.name: column.total(keep)
                          for column, (_, c, _) in zip(columns, self.present, strict=True) if c.vtype is VType.MONEY}
        return batch

    def _settle(self, batch: _Batch | None, on_written: Callable[[int], None]) -> None:
        """Once DuckDB has written the batch: count it, then the rows left to the row-by-row path."""
        if batch is None:
            return
        data = self.data
        if batch.inserted is not None:
            assert batch.inserted.result() == batch.written
            data.stats.data_rows += batch.written
            data.stats.rows_valid += batch.written
            for name, total in batch.sums.items():
                data.sums[name] += total
        on_written(batch.written)
        fix = self.sheet.fix
        for i in batch.left:
            row = row_text(fix(batch.first + i, batch.grid[i]), False)[0]
            if row is not None:
                data.handle(batch.first + i, row)


@dataclass
class _Batch:
    """A chunk normalised: the rows DuckDB writes (their text), and those left to the row-by-row path."""

    first: int
    grid: list[list[object]]
    left: list[int]
    written: int
    text: bytes = b""
    sums: dict[str, Decimal] = field(default_factory=dict)
    inserted: Future[int] | None = None
