"""CSV through DuckDB's reader: the same rows, values, reasons and row numbers as the Python reader
(:mod:`ingestion.csv_reader` + :mod:`ingestion.parse`), several times faster.

DuckDB reads the file twice, both in parallel C++: once line by line (one column, no quoting;
empty lines kept, in order, so a line's position is its number) and once as CSV (its records, in
order, one per non-empty line). That pairing holds only for a file whose records each sit on one
line, which is checked first, and DuckDB's cells are checked against the lines; any other file — a
quoted cell spanning lines, a lone CR, a line longer than the cell limit, bytes that are not text,
no header in the first rows — goes to the Python reader whole (:func:`read` returns None), which
then words the file's reason.

For a file that qualifies:

- a line of plain fields (each without quotes, or wholly quoted with ``""`` inside) is split by
  DuckDB as the ``csv`` module splits it; the rare other line with a quote is split by the ``csv``
  module itself;
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

# A line of plain fields: each either without quotes or wholly quoted ("" inside). The csv module and
# DuckDB's reader split such a line alike (tests/ingestion/test_ingest_csv_duckdb.py).
_FIELD = '"(?:[^"]|"")*"|[^,"]*'
PLAIN = f"(?:{_FIELD})(?:,(?:{_FIELD}))*"
# Its number of cells: one more than the commas outside quoted fields, which are the line's commas less
# those inside its cells (a comma inside a cell is always quoted), given the record's cells.
_COMMAS = "(strlen({0}) - strlen(replace({0}, ',', '')))"


def _width(cells: list[str]) -> str:
    joined = f"concat({', '.join(cells)})"
    return f"1 + {_COMMAS.format('l')} - {_COMMAS.format(joined)}"



def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


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
    setting = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]  # type: ignore[index]
    folder = Path(setting or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Prepared:
    """A CSV DuckDB has read (temporary tables on the connection) and whose header is known; nothing
    is written yet. :meth:`write` writes it inside the caller's transaction; :meth:`close` drops it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, header: Header) -> None:
        self.con, self.header = con, header

    def write(self, sha: str, on_header: Callable[[Header], None], on_valid: Callable[[int, tuple], None],
              on_rejected: Callable[[Rejected], None], on_written: Callable[[int], None],
              table: Callable[[], str]) -> tuple[Header, ParseStats]:
        """After ``on_header``, the rows SQL is sure of straight into ``table()`` (``on_written`` is
        told how many), the others through ``on_valid``/``on_rejected``."""
        on_header(self.header)
        return _write_rows(self.con, self.header, sha, on_valid, on_rejected, on_written, table)

    def close(self) -> None:
        _drop(self.con)


def _drop(con: duckdb.DuckDBPyConnection) -> None:
    for t in ("fw_csv_lines", "fw_csv_records"):
        con.execute(f"DROP TABLE IF EXISTS {t}")


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
        copy = _utf8_copy(path, scan, _temp_folder(con))
        if copy is None:
            return None
        source = copy
    prepared = None
    ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]  # type: ignore[index]
    con.execute("SET preserve_insertion_order = true")  # a line's place in the scan is its number
    try:
        if _read_twice(con, source, limits):
            if encoding != "gb18030" and _sha256(path) != scan.sha256:
                raise FileChanged(str(path))
            first = con.execute("SELECT n, l FROM fw_csv_lines WHERE n <= ? ORDER BY n", [HEADER_SCAN_ROWS]).fetchall()
            try:
                prepared = Prepared(con, read_header(iter([(n, _cells(line)) for n, line in first])))
            except FileRejected:
                pass  # the Python reader words why
            else:
                create_macros(con)
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if ordered else 'false'}")
        if source != path:
            source.unlink(missing_ok=True)
        if prepared is None:
            _drop(con)
    return prepared


def _read_twice(con: duckdb.DuckDBPyConnection, source: Path, limits: Limits) -> bool:
    """``fw_csv_lines`` (n, k, l) and ``fw_csv_records`` (k, c1..cW): the file's lines (k numbers
    the non-empty ones) and its records. False when the file must go to the Python reader."""
    try:
        con.execute("""CREATE OR REPLACE TEMP TABLE fw_csv_lines AS
            SELECT CAST(row_number() OVER () AS INTEGER) AS n, l
            FROM read_csv(?, columns = {'l': 'VARCHAR'}, header = false, delim = '\x1e', quote = '', escape = '',
                          auto_detect = false, strict_mode = false)""", [str(source)])
    except duckdb.Error:
        return False  # a line beyond DuckDB's line size, or anything else it refuses
    longest, lines, empty, width, odd = con.execute(f"""SELECT max(length(l)), count(l), count(*) - count(l),
            1 + max({_COMMAS.format('l')}),
            list({{'n': n, 'l': l}} ORDER BY n)
                FILTER (WHERE contains(l, '"') AND NOT regexp_full_match(l, {_q(PLAIN)}))
        FROM fw_csv_lines""").fetchone()  # type: ignore[misc]
    # k: the line's place among the non-empty lines, where DuckDB's CSV reader puts its record
    k = "CASE WHEN l IS NOT NULL THEN count(l) OVER (ORDER BY n) END" if empty else "n"
    con.execute(f"CREATE OR REPLACE TEMP TABLE fw_csv_lines AS SELECT n, l, {k} AS k FROM fw_csv_lines")
    if not lines or longest > limits.max_csv_field:
        return False
    if any(open_quote_line([o["l"]], o["n"]) is not None for o in odd or []):
        return False  # a quoted cell runs into the next line: the Python reader numbers such records
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(1, width + 1)) + "}"
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE fw_csv_records AS
            SELECT CAST(row_number() OVER () AS INTEGER) AS k, *
            FROM read_csv(?, columns = {columns}, header = false, delim = ',', quote = '"', escape = '"',
                          auto_detect = false, strict_mode = false, null_padding = true)""", [str(source)])
    except duckdb.Error:
        return False
    # One record per non-empty line, each the line's own cells (checked on the lines without quotes:
    # the same first cell and the same length).
    length = " + ".join(f"strlen(coalesce(c{i}, ''))" for i in range(1, width + 1))
    records, misplaced = con.execute(f"""SELECT (SELECT count(*) FROM fw_csv_records),
        count(*) FILTER (WHERE NOT contains(l, '"') AND (coalesce(c1, '') <> split_part(l, ',', 1)
            OR strlen(l) <> {length} + strlen(l) - strlen(replace(l, ',', ''))))
        FROM fw_csv_lines JOIN fw_csv_records USING (k)""").fetchone()  # type: ignore[misc]
    return records == lines and not misplaced


def _write_rows(con: duckdb.DuckDBPyConnection, header: Header, sha: str, on_valid: Callable[[int, tuple], None],
                on_rejected: Callable[[Rejected], None], on_written: Callable[[int], None],
                table: Callable[[], str]) -> tuple[Header, ParseStats]:
    width = len(con.execute("SELECT * FROM fw_csv_records LIMIT 0").description) - 1
    cols = [f"c{i}" for i in range(1, width + 1)]

    # Lines with a quote that are not plain fields: split by the csv module (blank rows left out).
    odd = {}
    for n, line in con.execute(f"""SELECT n, l FROM fw_csv_lines WHERE n > ? AND contains(l, '"')
            AND NOT regexp_full_match(l, {_q(PLAIN)})""", [header.row]).fetchall():
        got = row_text(_cells(line), True)[0]
        if got is not None:
            odd[n] = (line, [str(c) for c in got])
    con.register("fw_csv_odd", pa.table(
        {"n": pa.array(list(odd), pa.int32()), "l": pa.array([v[0] for v in odd.values()], pa.string()),
         "w": pa.array([len(v[1]) for v in odd.values()], pa.int64())}
        | {c: pa.array([v[1][i] if i < len(v[1]) else None for v in odd.values()], pa.string())
           for i, c in enumerate(cols)}))
    blank = f"CASE WHEN contains(l, '\"') THEN fw_empty(concat({', '.join(cols)})) ELSE fw_blank_line(l) END"
    rows = f"""SELECT n, l, {_width(cols)} AS w, {", ".join(cols)}
        FROM fw_csv_lines JOIN fw_csv_records USING (k)
        WHERE n > {header.row} AND n NOT IN (SELECT n FROM fw_csv_odd) AND NOT ({blank})
        UNION ALL SELECT n, l, w, {", ".join(cols)} FROM fw_csv_odd"""

    data = DataRows(header, on_valid, on_rejected, csv=True)
    total = _total_line(con, header.row)
    kind = header.kind
    present = {f"v{i}": c for i, c in enumerate(kind.columns) if c.name in header.positions}
    source = ("SELECT n, l, w, "
              + ", ".join(f"c{header.positions[c.name] + 1} AS {p}_s" for p, c in present.items())
              + f" FROM ({rows}) WHERE n <> {total[0] if total else -1}")
    sure = " AND ".join(
        [f"w <= {data.width}", "NOT contains(l, '#')"] + [f"{p}_ok" for p in present]
        + [f"{p}_v IS NOT NULL" for p, c in present.items() if c.required])
    # One pass: a row SQL is sure of is written as it is; any other row as a placeholder (its row
    # number negated, no values), replaced below by what the Python normalisers make of it.
    values = ", ".join(f"CASE WHEN sure THEN {p}_v END" if p in present else "NULL"
                       for p in (f"v{i}" for i in range(len(kind.columns))))
    target = table()
    normalised = select(source, {p: c.vtype for p, c in present.items()}, "n, l, w")
    try:
        con.execute(f"""INSERT INTO {target}
            SELECT ?, CASE WHEN sure THEN n ELSE -n END, {values}
            FROM (SELECT *, {sure} AS sure FROM ({normalised}))""", [sha])
    finally:
        con.unregister("fw_csv_odd")
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
        data.last(*total)
    return header, data.stats


def _total_line(con: duckdb.DuckDBPyConnection, header_row: int) -> tuple[int, list[object]] | None:
    """(row, cells) of the last non-blank row when it is a 合计 line (looked for from the end)."""
    cur = con.execute("SELECT n, l FROM fw_csv_lines WHERE n > ? AND l IS NOT NULL ORDER BY n DESC", [header_row])
    while batch := cur.fetchmany(100):
        for n, line in batch:
            cells = row_text(_cells(line), True)[0]
            if cells is not None:
                return (n, cells) if is_total_line(cells) else None
    return None
