"""CSV through DuckDB's reader: the same rows, values, reasons and row numbers as the Python reader
(:mod:`ingestion.csv_reader` + :mod:`ingestion.parse`), several times faster.

DuckDB reads the file once, line by line, in parallel C++ (one column, no quoting; empty lines
kept, in order, so a line's position is its number), into a temporary table. That holds only for a
file whose records each sit on one line and whose lines all end alike; any other file — a quoted
cell spanning lines, a lone CR, LF and CR LF lines mixed, a line longer than the cell limit, bytes
that are not text, no header in the first rows — goes to the Python reader whole (:func:`prepare`
returns None), which then words the file's reason.

For a file that qualifies:

- SQL splits each line into its cells as the ``csv`` module does: a line without quotes at its
  commas, a line of plain fields (each without quotes, or wholly quoted with ``""`` inside) at the
  commas outside its quoted fields, which are then unquoted; the rare other line with a quote (one
  inside a field, text after a closing quote) is split by the ``csv`` module itself;
- the header is found by :func:`ingestion.parse.read_header` on the first lines, as always;
- every cell is normalised in SQL (:mod:`ingestion.normalise_sql`); a row whose every value SQL is
  sure of, with every required value present, is written to ``raw_history`` by SQL;
- every other row (a value SQL is not sure of, a refused value, a missing required value, a row
  wider than the header, an Excel error text, a blank row) goes through
  :class:`ingestion.parse.DataRows`, the code the Python reader uses, which decides it and words its
  reason; so does the 合计 line.

A GB18030 file is first re-encoded to UTF-8 (DuckDB reads UTF-8), in the warehouse's temporary
folder; a file that changes while read is left for the next run, as with the Python reader.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.csv_reader import csv_encoding, open_quote_line
from ingestion.kinds import VType
from ingestion.normalise_sql import create_macros, select
from ingestion.parse import (
    HEADER_SCAN_ROWS,
    DataRows,
    Header,
    ParseStats,
    Rejected,
    is_total_line,
    read_header,
    row_text,
)
from ingestion.readers import CHUNK, FileChanged, FileRejected, FileScan, Limits

# preserve_insertion_order is one setting for every connection of the database: held true by one
# thread at a time while it numbers a file's lines (ingestion.load records two files at once).
_ORDERED = threading.Lock()

# DuckDB's filter pushdown would move the test of ``sure`` (_write_rows) below the projections that
# compute each normalising step once, writing each step's SQL again into the filter (a cell's unquoting
# some ten times over): at 1M payments the inserts took 5.9 s of two threads' time with it, 5.0 without.
# disabled_optimizers is one setting for every connection of the database, so it is off while any
# thread inserts (counted), on again after the last: the other thread's queries meanwhile (a file's
# first lines, its count) run without it, as fast at these sizes. The count is the process's: a
# process loads one warehouse at a time (ingestion.load). The optimizer changes how a query runs,
# never what it gives.
_PUSHDOWN = threading.Lock()
_inserting = 0


@contextmanager
def _without_filter_pushdown(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    global _inserting
    with _PUSHDOWN:
        if not _inserting:
            con.execute("SET disabled_optimizers = 'filter_pushdown'")
        _inserting += 1
    try:
        yield
    finally:
        with _PUSHDOWN:
            _inserting -= 1
            if not _inserting:
                con.execute("RESET disabled_optimizers")


# Below this size the Python reader is quicker (DuckDB's fixed cost per file is some 20-30 ms).
MIN_BYTES = 256 * 1024


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# A line of plain fields: each either without quotes or wholly quoted ("" inside). The csv module
# splits such a line as CELLS and unquoted() do (tests/ingestion/test_ingest_csv_duckdb.py).
_FIELD = '"(?:[^"]|"")*"|[^,"]*'
PLAIN = f"(?:{_FIELD})(?:,(?:{_FIELD}))*"
# The fields of such a line ``l``: the commas inside quoted fields (those after an odd number of quotes)
# stand in as RS, which no line holds (readers.FileScan.plain_lines), and the line is split at the others.
CELLS = """string_split(CASE WHEN NOT contains(l, '"') THEN l ELSE array_to_string(list_transform(string_split(l, '"'),
    lambda part, i: CASE WHEN i % 2 = 0 THEN replace(part, ',', chr(30)) ELSE part END), '"') END, ',')"""


def unquoted(field: str) -> str:
    """SQL: the cell of a field of CELLS (a quoted one unquoted, its commas back)."""
    return (f"""CASE WHEN starts_with({field}, '"') THEN replace(replace({field}[2:-2], '""', '"'), chr(30), ',')"""
            f" ELSE {field} END")


def _cells(line: str | None) -> list[str]:
    """A one-line record's cells exactly as the ``csv`` module reads them."""
    if not line:
        return []
    if '"' not in line:
        return line.split(",")
    return next(csv.reader([line]), [])


def _utf8_copy(path: Path, scan: FileScan, folder: Path) -> Path | None:
    """A UTF-8 copy of a GB18030 file (hashed on the way), or None if it does not decode."""
    dec = codecs.getincrementaldecoder("gb18030")()
    h = hashlib.sha256()
    fd, name = tempfile.mkstemp(suffix=".csv", dir=folder)
    out = Path(name)
    try:
        with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                dst.write(dec.decode(chunk).encode("utf-8"))
            dst.write(dec.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError:
        out.unlink(missing_ok=True)
        return None
    if h.hexdigest() != scan.sha256:
        out.unlink(missing_ok=True)
        raise FileChanged(str(path))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def temp_folder(con: duckdb.DuckDBPyConnection) -> Path:
    """The connection's temporary folder (the warehouse's ``.tmp``), created if missing."""
    setting = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]  # type: ignore[index]
    folder = Path(setting or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Prepared:
    """A CSV DuckDB has read (a temporary table on the connection) and whose header is known; nothing
    is written yet. :meth:`write` writes it inside the caller's transaction; :meth:`close` drops it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, header: Header, odd: dict[int, str]) -> None:
        self.con, self.header, self.odd = con, header, odd

    def write(self, sha: str, on_header: Callable[[Header], None], on_valid: Callable[[int, tuple], None],
              on_rejected: Callable[[Rejected], None], on_written: Callable[[int], None],
              table: Callable[[], str]) -> tuple[Header, ParseStats]:
        """After ``on_header``, the rows SQL is sure of straight into ``table()`` (``on_written`` is
        told how many), the others through ``on_valid``/``on_rejected``."""
        on_header(self.header)
        return _write_rows(self.con, self.header, self.odd, sha, on_valid, on_rejected, on_written, table)

    def close(self) -> None:
        _drop(self.con)


def _drop(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP VIEW IF EXISTS fw_csv_lines")
    con.execute("DROP TABLE IF EXISTS fw_csv_text")


def prepare(con: duckdb.DuckDBPyConnection, path: Path, scan: FileScan, limits: Limits) -> Prepared | None:
    """Read one CSV with DuckDB, outside any transaction (a file DuckDB refuses then costs nothing but
    the try). None when the file must go through the Python reader; :class:`FileChanged` when its
    bytes changed while read."""
    if scan.size < MIN_BYTES or not scan.plain_lines or scan.has_nul:
        return None
    try:
        encoding = csv_encoding(path, scan)
    except FileRejected:
        return None
    source = path
    if encoding == "gb18030":
        copy = _utf8_copy(path, scan, temp_folder(con))
        if copy is None:
            return None
        source = copy
    prepared = None
    try:
        odd = _read_lines(con, source, limits)
        if odd is not None:
            if encoding != "gb18030" and _sha256(path) != scan.sha256:
                raise FileChanged(str(path))
            first = con.execute("SELECT n, l FROM fw_csv_lines WHERE n <= ? ORDER BY n", [HEADER_SCAN_ROWS]).fetchall()
            try:
                prepared = Prepared(con, read_header(iter([(n, _cells(line)) for n, line in first])), odd)
            except FileRejected:
                pass  # the Python reader words why
            else:
                create_macros(con)
    finally:
        if source != path:
            source.unlink(missing_ok=True)
        if prepared is None:
            _drop(con)
    return prepared


def _read_lines(con: duckdb.DuckDBPyConnection, source: Path, limits: Limits) -> dict[int, str] | None:
    """``fw_csv_lines`` (n, l): the file's lines by number (an empty one NULL), a view of ``fw_csv_text``.
    Returns the lines with a quote that are not plain fields, by number; None when the file must go to
    the Python reader."""
    with _ORDERED:
        ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]  # type: ignore[index]
        con.execute("SET preserve_insertion_order = true")  # a line's place in the scan is its number
        try:
            con.execute("""CREATE OR REPLACE TEMP TABLE fw_csv_text AS
                SELECT l FROM read_csv(?, columns = {'l': 'VARCHAR'}, header = false, delim = '\x1e', quote = '',
                                       escape = '', auto_detect = false, strict_mode = false)""", [str(source)])
        except duckdb.Error:
            return None  # a line beyond DuckDB's line size, or anything else it refuses
        finally:
            con.execute(f"SET preserve_insertion_order = {'true' if ordered else 'false'}")
    # The table holds the lines in the file's order, so a line's rowid is its number less one (never
    # updated or deleted from); numbering them with row_number() OVER () cost as much as the read.
    con.execute("CREATE OR REPLACE TEMP VIEW fw_csv_lines AS\n"
                "SELECT CAST(rowid + 1 AS INTEGER) AS n, l FROM fw_csv_text")
    lines, longest = con.execute("SELECT count(l), max(strlen(l)) FROM fw_csv_lines").fetchone()  # type: ignore[misc]
    if not lines:
        return None
    if longest > limits.max_csv_field and con.execute(  # bytes; the limit counts characters
            "SELECT max(length(l)) FROM fw_csv_lines").fetchone()[0] > limits.max_csv_field:  # type: ignore[index]
        return None
    odd = dict(con.execute(f"""SELECT n, l FROM fw_csv_lines
        WHERE contains(l, '"') AND NOT regexp_full_match(l, {_q(PLAIN)})""").fetchall())
    if any(open_quote_line([line], n) is not None for n, line in odd.items()):
        return None  # a quoted cell runs into the next line: the Python reader numbers such records
    return odd


# The data lines of a file: after the header row, not the 合计 line (last), not empty or commas alone.
_DATA_LINES = "n > {header} AND n <> {last} AND l IS NOT NULL AND ltrim(l, ',') <> ''"


def _write_rows(con: duckdb.DuckDBPyConnection, header: Header, odd: dict[int, str], sha: str,
                on_valid: Callable[[int, tuple], None], on_rejected: Callable[[Rejected], None],
                on_written: Callable[[int], None], table: Callable[[], str]) -> tuple[Header, ParseStats]:
    data = DataRows(header, on_valid, on_rejected, csv=True)
    total = _total_line(con, header.row)
    last = total[0] if total else -1
    # A line of commas alone is a blank row (every cell empty), which the Python path passes over as it
    # does an empty line: not a data line.
    data_lines = _DATA_LINES.format(header=header.row, last=last)
    lines = f"""SELECT n, l, contains(l, '"') AS q, {CELLS} AS cells FROM fw_csv_lines WHERE {data_lines}"""
    # Lines with a quote that are not plain fields: split by the csv module.
    split = {n: _cells(line) for n, line in odd.items() if n > header.row and n != last}
    if split:
        con.register("fw_csv_odd", pa.table({
            "n": pa.array(list(split), pa.int32()), "l": pa.array([odd[n] for n in split], pa.string()),
            "cells": pa.array(list(split.values()), pa.list_(pa.string()))}))
        lines += " AND n NOT IN (SELECT n FROM fw_csv_odd) UNION ALL SELECT n, l, false, cells FROM fw_csv_odd"
    kind = header.kind
    present = {f"v{i}": c for i, c in enumerate(kind.columns) if c.name in header.positions}
    fields = ", ".join(f"cells[{header.positions[c.name] + 1}] AS {p}_f" for p, c in present.items())
    cells = ", ".join(f"CASE WHEN q THEN {unquoted(p + '_f')} ELSE {p}_f END AS {p}_s" for p in present)
    source = f"SELECT n, l, w, {cells} FROM (SELECT n, l, q, len(cells) AS w, {fields} FROM ({lines}))"
    # A blank row is never sure: a required column is always present, and empty.
    sure = " AND ".join(
        [f"w <= {data.width}", "NOT contains(l, '#')"] + [f"{p}_ok" for p in present]
        + [f"{p}_v IS NOT NULL" for p, c in present.items() if c.required])
    # One pass: a row SQL is sure of is written as it is; every other data line is found below (the
    # lines not written) and goes to the Python normalisers. Nothing written is deleted again: a
    # delete in the transaction makes DuckDB log every row it appended to the WAL and write them
    # again at the checkpoint, instead of writing the new row groups straight to the file (at 10M
    # payments a 2.5 GB WAL and a 10 s checkpoint).
    values = ", ".join(f"{p}_v" if p in present else "NULL" for p in (f"v{i}" for i in range(len(kind.columns))))
    target = table()
    normalised = select(source, {p: c.vtype for p, c in present.items()}, "n, l, w")
    try:
        with _without_filter_pushdown(con):
            con.execute(f"INSERT INTO {target} SELECT ?, n, {values} FROM ({normalised}) WHERE {sure}", [sha])
    finally:
        if split:
            con.unregister("fw_csv_odd")
    money = [p for p, c in present.items() if c.vtype is VType.MONEY]
    got = con.execute(f"""SELECT (SELECT count(*) FROM fw_csv_lines WHERE {data_lines}), count(*)
        {"".join(f", sum({present[p].name})" for p in money)} FROM {target} WHERE file_sha256 = ?""",
                      [sha]).fetchone()
    assert got is not None
    data.stats.data_rows += got[1]
    data.stats.rows_valid += got[1]
    on_written(got[1])
    for p, total_sum in zip(money, got[2:], strict=True):
        if total_sum is not None:
            data.sums[present[p].name] += total_sum
    others = [] if got[0] == got[1] else con.execute(f"""SELECT n, l FROM fw_csv_lines WHERE {data_lines}
        AND n NOT IN (SELECT source_row FROM {target} WHERE file_sha256 = ?) ORDER BY n""", [sha]).fetchall()
    for n, line in others:
        cells = row_text(_cells(line), True)[0]
        if cells is not None:  # a blank row
            data.handle(n, cells)
    if total is not None:
        data.last(*total)
    return header, data.stats


def _total_line(con: duckdb.DuckDBPyConnection, header_row: int) -> tuple[int, list[object]] | None:
    """(row, cells) of the last non-blank row when it is a 合计 line (looked for from the end, 100 lines
    at a time: a range of n reads only the row groups that hold it)."""
    high = con.execute("SELECT max(n) FROM fw_csv_lines").fetchone()[0]  # type: ignore[index]
    while high > header_row:
        low = max(high - 100, header_row)
        for n, line in con.execute("""SELECT n, l FROM fw_csv_lines WHERE n > ? AND n <= ? AND l IS NOT NULL
                ORDER BY n DESC""", [low, high]).fetchall():
            cells = row_text(_cells(line), True)[0]
            if cells is not None:
                return (n, cells) if is_total_line(cells) else None
        high = low
    return None
