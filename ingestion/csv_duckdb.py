"""CSV through DuckDB's reader: the same rows, values, reasons and row numbers as the Python reader
(:mod:`ingestion.csv_reader` + :mod:`ingestion.parse`), several times faster.

DuckDB reads the file line by line (its CSV reader with one column and no quoting: empty lines kept,
in order, so a line's position is its number). This holds only for a file whose records each sit on
one line, which is checked first; any other file — a quoted cell spanning lines, a lone CR, a line
longer than the cell limit, bytes that are not text, no header in the first rows — goes to the
Python reader whole (:func:`read` returns None), which then words the file's reason.

For a file that qualifies:

- a line without a quote is split at its commas in SQL (the ``csv`` module does exactly that); the
  few lines with quotes are split by the ``csv`` module itself;
- the header is found by :func:`ingestion.parse.read_header` on the first lines, as always;
- every cell is normalised in SQL (:mod:`ingestion.normalise_sql`); a row whose every value SQL is
  sure of, with every required value present, is written to ``raw_history`` by SQL;
- every other row (a value SQL is not sure of, a refused value, a missing required value, a row
  wider than the header, an Excel error text) goes through :class:`ingestion.parse.DataRows`, the
  code the Python reader uses, which decides it and words its reason; so does the 合计 line.

A GB18030 file is first re-encoded to UTF-8 (DuckDB reads UTF-8), in the warehouse's temporary
folder; a file that changes while read is left for the next run, as with the Python reader.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import tempfile
from collections.abc import Callable
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

# Below this size the Python reader is quicker (DuckDB's fixed cost per file is some 20-30 ms).
MIN_BYTES = 256 * 1024

_LINES = """CREATE OR REPLACE TEMP TABLE fw_csv_lines AS
    SELECT CAST(row_number() OVER () AS INTEGER) AS n, l
    FROM read_csv(?, columns = {'l': 'VARCHAR'}, header = false, delim = '\x1e', quote = '', escape = '',
                  auto_detect = false, strict_mode = false)"""


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


def _temp_folder(con: duckdb.DuckDBPyConnection) -> Path:
    folder = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0] or tempfile.gettempdir())  # type: ignore[index]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read(con: duckdb.DuckDBPyConnection, path: Path, scan: FileScan, limits: Limits, sha: str,
         on_header: Callable[[Header], None], on_valid: Callable[[int, tuple], None],
         on_rejected: Callable[[Rejected], None], on_written: Callable[[int], None],
         table: Callable[[], str]) -> tuple[Header, ParseStats] | None:
    """Read one CSV into ``raw_history`` (inside the caller's transaction): after ``on_header``, the
    rows SQL is sure of straight into ``table()`` (``on_written`` is told how many), the others
    through ``on_valid``/``on_rejected``. Returns None, having written nothing, when the file must
    go through the Python reader."""
    if scan.size < MIN_BYTES or not scan.plain_lines or scan.has_nul:
        return None
    try:
        encoding = csv_encoding(path, scan)
    except FileRejected:
        return None
    source = path
    if encoding == "gb18030":
        copy = _utf8_copy(path, scan, _temp_folder(con))
        if copy is None:
            return None
        source = copy
    try:
        try:
            con.execute(_LINES, [str(source)])
        except duckdb.Error:
            return None  # a line beyond DuckDB's line size, or anything else it refuses
        if encoding != "gb18030" and _sha256(path) != scan.sha256:
            raise FileChanged(str(path))
    finally:
        if source != path:
            source.unlink(missing_ok=True)
    try:
        return _read_lines(con, limits, sha, on_header, on_valid, on_rejected, on_written, table)
    finally:
        con.execute("DROP TABLE IF EXISTS fw_csv_lines")


def _read_lines(con: duckdb.DuckDBPyConnection, limits: Limits, sha: str, on_header: Callable[[Header], None],
                on_valid: Callable[[int, tuple], None], on_rejected: Callable[[Rejected], None],
                on_written: Callable[[int], None], table: Callable[[], str]) -> tuple[Header, ParseStats] | None:
    longest = con.execute("SELECT max(length(l)) FROM fw_csv_lines").fetchone()[0]  # type: ignore[index]
    if longest is not None and longest > limits.max_csv_field:
        return None
    quoted = dict(con.execute("""SELECT n, l FROM fw_csv_lines WHERE contains(l, '"') ORDER BY n""").fetchall())
    if any(open_quote_line([line], n) is not None for n, line in quoted.items()):
        return None  # a quoted cell runs into the next line: the Python reader numbers such records
    first = con.execute("SELECT n, l FROM fw_csv_lines WHERE n <= ? ORDER BY n", [HEADER_SCAN_ROWS]).fetchall()
    try:
        header = read_header(iter([(n, _cells(line)) for n, line in first]))
    except FileRejected:
        return None
    on_header(header)
    create_macros(con)

    # The lines with quotes, split by the csv module (blank rows left out, as parse_rows does).
    split = {n: row_text(_cells(line), True)[0] for n, line in quoted.items() if n > header.row}
    split = {n: cells for n, cells in split.items() if cells is not None}
    con.register("fw_csv_quoted", pa.table({
        "n": pa.array(list(split), pa.int32()), "l": pa.array([quoted[n] for n in split], pa.string()),
        "cells": pa.array([[str(c) for c in cells] for cells in split.values()], pa.list_(pa.string()))}))
    rows = f"""SELECT n, l, string_split(l, ',') AS cells FROM fw_csv_lines
        WHERE n > {header.row} AND NOT contains(l, '"') AND NOT fw_blank_line(l)
        UNION ALL SELECT n, l, cells FROM fw_csv_quoted"""
    data = DataRows(header, on_valid, on_rejected, csv=True)
    last = con.execute(f"SELECT n, l FROM ({rows}) ORDER BY n DESC LIMIT 1").fetchone()
    total = last if last is not None and is_total_line(_cells(last[1])) else None
    kind = header.kind
    present = {f"c{i}": c for i, c in enumerate(kind.columns) if c.name in header.positions}
    source = ("SELECT n, l, len(cells) AS w, "
              + ", ".join(f"cells[{header.positions[c.name] + 1}] AS {p}_s" for p, c in present.items())
              + f" FROM ({rows}) WHERE n <> {total[0] if total else -1}")
    sure = " AND ".join(
        [f"w <= {data.width}", "NOT contains(l, '#')"] + [f"{p}_ok" for p in present]
        + [f"{p}_v IS NOT NULL" for p, c in present.items() if c.required])
    # One pass: a row SQL is sure of is written as it is; any other row as a placeholder (its row
    # number negated, no values), replaced below by what the Python normalisers make of it.
    values = ", ".join(f"CASE WHEN sure THEN {p}_v END" if p in present else "NULL"
                       for p in (f"c{i}" for i in range(len(kind.columns))))
    target = table()
    con.execute(f"""INSERT INTO {target}
        SELECT ?, CASE WHEN sure THEN n ELSE -n END, {values}
        FROM (SELECT *, {sure} AS sure FROM ({select(source, {p: c.vtype for p, c in present.items()}, "n, l, w")}))""",
                [sha])
    con.unregister("fw_csv_quoted")
    money = [p for p, c in present.items() if c.vtype is VType.MONEY]
    got = con.execute(f"""SELECT count(*) FILTER (WHERE source_row > 0), count(*) FILTER (WHERE source_row < 0)
        {"".join(f", sum({present[p].name}) FILTER (WHERE source_row > 0)" for p in money)}
        FROM {target} WHERE file_sha256 = ?""", [sha]).fetchone()
    assert got is not None
    data.stats.data_rows += got[0]
    data.stats.rows_valid += got[0]
    on_written(got[0])
    for p, total_sum in zip(money, got[2:], strict=True):
        if total_sum is not None:
            data.sums[present[p].name] += total_sum
    if got[1]:
        others = con.execute(f"""SELECT n, l FROM fw_csv_lines SEMI JOIN (
            SELECT -source_row AS n FROM {target} WHERE file_sha256 = ? AND source_row < 0) USING (n)
            ORDER BY n""", [sha]).fetchall()
        con.execute(f"DELETE FROM {target} WHERE file_sha256 = ? AND source_row < 0", [sha])
        for n, line in others:
            data.handle(n, row_text(_cells(line), True)[0])  # type: ignore[arg-type]
    if total is not None:
        data.last(total[0], row_text(_cells(total[1]), True)[0])  # type: ignore[arg-type]
    return header, data.stats
