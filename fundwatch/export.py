"""The findings export of rules.md: ``findings.csv`` (UTF-8 with BOM) and ``findings.xlsx``.

Both files hold the same columns, one row per current finding. They are spreadsheet-safe: a text cell
that would start with ``=``, ``+``, ``-``, ``@``, tab or carriage return is written so that Excel
shows it as text and never evaluates it: it gets a leading apostrophe in both files (the OWASP
advice), and in the xlsx every text is a string cell, which Excel never evaluates anyway. Both files
therefore hold identical values.
Files are written to a temporary name and renamed, so a reader never sees half an export.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import os
import re
import struct
import sys
import traceback
import zipfile
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate, chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from isal import isal_zlib as _deflate  # zlib's interface, ISA-L's deflate: ~3x faster at level 1

from fundwatch.state import EXPORT_COLUMNS, EXPORT_PART, ExportParts, export_row, money

XLSX_MAX_ROWS = 1_048_576 - 1  # one sheet's rows, less the header
XLSX_MAX_TEXT = 32_767  # Excel's longest cell text, in UTF-16 units (xlsxwriter cuts longer ones)
XLSX_DEFLATE_LEVEL = 1  # the sheet XML is repetitive: level 1 is 3x faster than 6 for a 20% larger file
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_XLSX_COLUMNS = tuple(chr(ord("A") + i) for i in range(len(EXPORT_COLUMNS)))  # A..N
_XLSX_WIDTHS = {"finding_id": 18, "rule_name": 22, "subject_key": 34, "source_file": 40, "detail": 70}
# What an xlsx text cannot hold as it is (xlsxwriter's escapes): the control characters XML cannot
# hold (as _xHHHH_, Excel's escape), the two non-characters, and a literal _xHHHH_ (escaped in turn).
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_EXCEL_ESCAPE = re.compile(r"(_x[0-9a-fA-F]{4}_)")


def safe_text(value: object) -> str:
    """A cell's text that no spreadsheet will evaluate as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_DANGEROUS) else text


def _safe_texts(values: list) -> list[str]:
    """``safe_text`` of each value (a column of a block: the call per cell costs more than the test)."""
    return [("'" + v if v.startswith(_DANGEROUS) else v) if type(v) is str else safe_text(v) for v in values]


def unguard(text: str | None) -> str:
    """The value ``safe_text`` guarded: a reader of the export (compare, simulate) undoes it with this."""
    text = text or ""
    return text[1:] if text.startswith("'") and text[1:].startswith(_DANGEROUS) else text


def write_csv(rows: Sequence[dict], path: Path, columns: list[dict[str, list]] | None = None) -> Path:
    """``columns``: ``_columns(rows)`` when the caller has it already."""
    blocks = columns if columns is not None else _columns(rows)
    _write_csv(path, len(blocks), blocks.__getitem__, None, {})
    return path


def _write_csv(path: Path, count: int, block: Callable[[int], dict[str, list]], digests: list[str] | None,
               reuse: Mapping[str, list[int]]) -> list[list[int]]:
    """findings.csv of ``count`` blocks of rows: a block whose digest the file there holds already
    (``reuse``: its offset and length) copied from it, every other one written from ``block(i)``; each
    block's offset and length in the new file."""
    tmp = path.with_suffix(".csv.tmp")
    table = []
    with tmp.open("wb") as fh, _opened(path if reuse else None) as old:
        fh.write(_CSV_HEADER)
        for i in range(count):
            at = reuse.get(digests[i]) if digests else None
            data = _read_at(old, at[0], at[1]) if at else _csv_lines(block(i))
            table.append([fh.tell(), len(data)])
            fh.write(data)
    os.replace(tmp, path)
    return table


def _csv_lines(block: dict[str, list]) -> bytes:
    buf = io.StringIO()
    cells = [_csv_column(name, block[name]) for name in EXPORT_COLUMNS]
    csv.writer(buf).writerows(zip(*cells, strict=True))
    return buf.getvalue().encode("utf-8")


def _csv_header() -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerow(EXPORT_COLUMNS)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # UTF-8 with BOM, so that Excel shows the Chinese


_CSV_HEADER = _csv_header()


@contextlib.contextmanager
def _opened(path: Path | None) -> Iterator[BinaryIO | None]:
    """The file an earlier export wrote there, open to copy parts from (None: nothing to copy)."""
    if path is None:
        yield None
        return
    with path.open("rb") as fh:
        yield fh


def _read_at(fh: BinaryIO | None, offset: int, length: int) -> bytes:
    assert fh is not None
    fh.seek(offset)
    data = fh.read(length)
    if len(data) != length:
        raise OSError(f"{fh.name}: shorter than its stamp says")
    return data


def _blocks(rows: Sequence[dict], size: int = EXPORT_PART) -> Iterator[Sequence[dict]]:
    """The rows a block at a time: both files are built a column at a time within a block."""
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


_NOT_TEXT = ("amount_at_risk", "source_row")  # the columns written as numbers; every other is text


def _columns(rows: Sequence[dict]) -> list[dict[str, list]]:
    """Each block of the rows (``_blocks``) as its columns: the values of amount_at_risk and source_row,
    every other column as its guarded texts (``safe_text``); built once for both files."""
    if isinstance(rows, ExportRows):
        return rows.columns()
    return [_block((name, [row.get(name) for row in part]) for name in EXPORT_COLUMNS) for part in _blocks(rows)]


def _block(columns: Iterable[tuple[str, list]]) -> dict[str, list]:
    """A block of rows as both files take it, from its (name, values) columns: amount_at_risk and
    source_row as they are, every other column as its guarded texts (``safe_text``)."""
    return {name: values if name in _NOT_TEXT else _safe_texts(values) for name, values in columns}


class ExportRows(Sequence[dict]):
    """The export's rows as ``state.export_parts`` reads them (tuples, in parts, each with its digest):
    a sequence of the dicts ``state.export_rows`` gives, each built only when asked for, whose
    ``columns()`` (what ``_columns`` makes of the dicts, a block per part) come straight from the
    tuples. At the 10M bench's 381,739 findings the dicts and their columns took 1.8 s of the export
    stage (2026-12-07). With the parts' ``digests``, ``write_export`` takes the parts the files it
    wrote before hold already from those files.

    A part read as None (its digest was known: ``reusable``) is not at hand; when one is asked for
    after all, ``reread()`` reads every part again (``state.export_parts``), which must give the same
    fingerprint (else the state changed since: RuntimeError, the export is not written)."""

    def __init__(self, read: ExportParts, reread: Callable[[], ExportParts] | None = None) -> None:
        if any(n < 1 for n in read.sizes) or any(p is not None and len(p) != n for p, n in zip(
                read.parts, read.sizes, strict=True)):
            raise ValueError("a part holds at least one row, as many as its size says")
        if len(read.digests) != len(read.parts):
            raise ValueError("one digest per part")
        self._read, self._reread, self._parts, self.digests = read, reread, read.parts, read.digests
        self._starts = list(accumulate(read.sizes, initial=0))
        self._n = self._starts[-1]

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n))]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        k = bisect_right(self._starts, index) - 1
        return export_row(self._part(k)[index - self._starts[k]])

    def has_amounts(self) -> bool:
        """Whether some row has an amount (the workbook's styles then hold the money format)."""
        return self._read.has_amounts

    def _part(self, k: int) -> list[tuple]:
        part = self._parts[k]
        if part is None:
            again = self._reread() if self._reread is not None else None
            if again is None or again.fingerprint != self._read.fingerprint:
                raise RuntimeError("导出期间问题清单已变化，请重新运行"
                                   "（the findings changed while being exported: run again）")
            self._parts = again.parts
            part = self._parts[k]
            assert part is not None
        return part

    def columns(self, which: Iterable[int] | None = None) -> list[dict[str, list]]:
        """``_columns`` of these rows: a block per part (those of ``which``, else all), a column per
        name (the amount a Decimal), each column taken from the tuples without a Python step per cell."""
        getters = [(name, itemgetter(k)) for k, name in enumerate(EXPORT_COLUMNS)]
        parts = [self._part(k) for k in (range(len(self._parts)) if which is None else which)]
        return [_block((name, list(map(money, map(get, part))) if name == "amount_at_risk" else list(map(get, part)))
                       for name, get in getters)
                for part in parts]


def _csv_column(name: str, values: list) -> list[str]:
    """A column of a block as CSV cells (a text column comes guarded already: ``_columns``)."""
    if name == "amount_at_risk":
        return ["" if v is None else f"{Decimal(v):.2f}" for v in values]
    if name == "source_row":
        return ["" if v is None else str(int(v)) for v in values]
    return values


def write_xlsx(rows: Sequence[dict], path: Path, *, sheet_title: str = "问题清单",
               columns: list[dict[str, list]] | None = None) -> Path:
    """The same table as the CSV; amounts as numbers with 2 decimals, every text a string cell.

    xlsxwriter writes the workbook's frame (styles, widths, frozen header, autofilter, properties,
    one sheet per ``XLSX_MAX_ROWS``) with the header row only; the rows go straight into each
    sheet's ``<sheetData>`` (``_rows_xml``), at a small fraction of xlsxwriter's per-cell cost.
    ``columns``: ``_columns(rows)`` when the caller has it already (used when the rows fit one sheet).
    """
    chunks = _sheet_chunks(rows)
    frame = _xlsx_frame([len(c) for c in chunks], sheet_title, _has_amounts(rows))
    blocks = (len(columns), columns.__getitem__) if columns is not None and len(chunks) == 1 else None
    _write_xlsx(path, rows, frame, blocks, None, {}, 0)
    return path


def _sheet_chunks(rows: Sequence[dict]) -> list[Sequence[dict]]:
    return ([rows] if len(rows) <= XLSX_MAX_ROWS else
            [rows[i:i + XLSX_MAX_ROWS] for i in range(0, len(rows), XLSX_MAX_ROWS)])


def _has_amounts(rows: Sequence[dict]) -> bool:
    if isinstance(rows, ExportRows):
        return rows.has_amounts()
    return any(r.get("amount_at_risk") not in (None, "") for r in rows)


def _write_xlsx(path: Path, rows: Sequence[dict], frame: tuple[bytes, int],
                blocks: tuple[int, Callable[[int], dict[str, list]]] | None, digests: list[str] | None,
                reuse: Mapping[str, list[int]], reuse_start: int) -> dict | None:
    """findings.xlsx from its ``frame`` (``_xlsx_frame``: the workbook without rows, the money style).
    With ``blocks`` (the rows fit one sheet; their number and ``get(i)``, the columns of block i;
    ``digests``: one per block), the sheet's rows are those blocks, each deflated on its own (ending on
    a byte boundary, so that deflated blocks join into one stream): a block whose digest the workbook
    there holds already (``reuse``: its place from ``reuse_start``, length, CRC-32 and size) is copied
    from it as deflated, and the blocks' places in the new file are returned (the stamp keeps them).
    Without, the rows of each sheet in blocks of ``EXPORT_PART`` (``_columns``)."""
    chunks = _sheet_chunks(rows)
    frame_bytes, money_xf = frame
    if blocks is not None and len(chunks) == 1:
        sheets = {"xl/worksheets/sheet1.xml": (len(rows), *blocks)}
    else:
        digests, reuse = None, {}
        sheets = {}
        for n, chunk in enumerate(chunks, start=1):
            cols = _columns(chunk)
            sheets[f"xl/worksheets/sheet{n}.xml"] = (len(chunk), len(cols), cols.__getitem__)
    table: list[list[int]] = []
    sheet_start = 0
    tmp = path.with_suffix(".xlsx.tmp")
    try:
        with zipfile.ZipFile(io.BytesIO(frame_bytes)) as src, tmp.open("wb") as out, \
                _opened(path if reuse else None) as old:
            z = _Zip(out)
            for info in src.infolist():  # the frame's parts in its order, dated 1980-01-01 as Excel does
                data = src.read(info)
                if info.filename not in sheets:
                    z.entry(info.filename).add(data)
                    continue
                n_rows, count, get = sheets[info.filename]
                head, tail = _split_sheet(data.decode("utf-8"), n_rows)
                entry = z.entry(info.filename)
                entry.add(head.encode("utf-8"))
                sheet_start = entry.data_start
                for i in range(count):
                    at = reuse.get(digests[i]) if digests else None
                    if at:
                        off, length, crc, size = at
                        table.append(entry.add_deflated(_read_at(old, reuse_start + off, length), crc, size))
                    else:
                        table.append(entry.add(_rows_xml(get(i), money_xf).encode("utf-8")))
                entry.add(tail.encode("utf-8"))
            z.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if digests is None:
        return None
    return {"money_xf": money_xf, "xml_start": sheet_start, "xml": table}


def _xlsx_frame(sheet_rows: list[int], sheet_title: str, amounts: bool) -> tuple[bytes, int]:
    """The workbook without its rows (written by xlsxwriter), and the style index of the money format
    (in the styles if some row has an amount)."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False,
                                   "strings_to_urls": False, "strings_to_numbers": False})
    wb.set_properties({"title": "fundwatch findings", "comments": "fundwatch 问题清单导出"})
    head = wb.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1})
    money = wb.add_format({"num_format": "#,##0.00"})
    # Style indices as xlsxwriter numbers them when it writes every cell (the header, then the first
    # amount): the money format is in the styles, as then, although no cell of the frame uses it.
    head._get_xf_index()
    money_xf = money._get_xf_index() if amounts else 0
    for n, count in enumerate(sheet_rows, start=1):
        ws = wb.add_worksheet(sheet_title if n == 1 else f"{sheet_title}{n}")
        ws.freeze_panes(1, 0)
        for col, name in enumerate(EXPORT_COLUMNS):
            ws.set_column(col, col, _XLSX_WIDTHS.get(name, 14))
            ws.write_string(0, col, name, head)
        ws.autofilter(0, 0, max(count, 1), len(EXPORT_COLUMNS) - 1)
    wb.close()
    return buf.getvalue(), money_xf


def _split_sheet(xml: str, rows: int) -> tuple[str, str]:
    """A frame sheet's XML before and after the place of its rows (after the header row), with the
    dimension the rows give it."""
    head, end, tail = xml.partition("</sheetData>")
    dimension = f'<dimension ref="A1:{_XLSX_COLUMNS[-1]}{rows + 1}"/>'
    head, found = re.subn(r'<dimension ref="[^"]*"/>', dimension, head, count=1)
    if not end or found != 1 or "</sheetData>" in tail:
        raise RuntimeError("unexpected worksheet XML from xlsxwriter (its version changed?)")
    return head, end + tail


def _rows_xml(block: dict[str, list], money_xf: int) -> str:
    """The ``<row>`` elements of a block of rows (``_columns``), built a column at a time. Neither a
    row nor a cell says where it is (the ``r`` attributes are optional: a row follows the one
    before, a cell the one before it, an empty cell is ``<c/>``), so that a block's XML, and its
    deflated bytes, are the same wherever the block lies in the sheet."""
    size = len(block[EXPORT_COLUMNS[0]])
    cells = [_xlsx_column(name, block[name], money_xf) for name in EXPORT_COLUMNS]
    return "".join(chain.from_iterable(zip(repeat("<row>", size), *cells, repeat("</row>", size), strict=True)))


def _xlsx_column(name: str, values: list, money_xf: int) -> list[str]:
    """One column's cells of a block of rows, ``<c/>`` for an empty cell: amounts with the money
    style, source_row an integer, every other value an inline string (guarded already: ``_columns``)."""
    if name == "amount_at_risk":  # float(Decimal) is the correctly rounded double, as xlsxwriter's
        return [_EMPTY if v is None or v == "" else f'<c s="{money_xf}"><v>{float(v):.16G}</v></c>' for v in values]
    if name == "source_row":
        return [_EMPTY if v is None or v == "" else f"<c><v>{int(v):.16G}</v></c>" for v in values]
    texts = values  # "" only for an empty cell
    if not _plain("".join(texts)) or max(map(len, texts), default=0) > XLSX_MAX_TEXT // 2:
        return [f'<c t="inlineStr"><is>{_inline_text(t)}</is></c>' if t else _EMPTY for t in texts]
    # The common case, no text needing an escape: only leading or trailing whitespace to preserve.
    return [(f'<c t="inlineStr"><is><t>{t}</t></is></c>' if t.strip() == t else
             f'<c t="inlineStr"><is><t xml:space="preserve">{t}</t></is></c>') if t else _EMPTY
            for t in texts]


_EMPTY = "<c/>"


def _plain(text: str) -> bool:
    """Whether the text needs no escape in an inline string (quick tests first: most texts are plain)."""
    if "&" in text or "<" in text or ">" in text or "_x" in text:
        return False
    return text.isprintable() or not _NOT_IN_XML.search(text)


def _inline_text(text: str) -> str:
    """The ``<t>`` of an inline string as xlsxwriter writes it: cut to Excel's 32,767 UTF-16 units;
    control characters XML cannot hold as ``_xHHHH_`` (and a literal ``_xHHHH_`` as
    ``_x005F_xHHHH_``, so that Excel reads back the text); ``&<>`` escaped; leading or trailing
    whitespace preserved."""
    if len(text) > XLSX_MAX_TEXT // 2 and len(text.encode("utf-16-le")) // 2 > XLSX_MAX_TEXT:
        text = _utf16_prefix(text, XLSX_MAX_TEXT)
    text = _EXCEL_ESCAPE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<t xml:space="preserve">{text}</t>' if text.strip() != text else f"<t>{text}</t>"


def _utf16_prefix(text: str, units: int) -> str:
    """The longest start of ``text`` within ``units`` UTF-16 units, never half a character."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return text[:i]
    return text


class _Zip:
    """A zip file written front to back: every entry deflated (level ``XLSX_DEFLATE_LEVEL``, ISA-L) in
    segments that each end on a byte boundary, so that a segment deflated before (in an earlier
    workbook) joins the stream as it is. Entries are dated 1980-01-01, as Excel and xlsxwriter date
    a workbook's parts; no entry may reach 4 GiB (a sheet holds at most ~1M rows)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.entries = out, []

    def entry(self, name: str) -> _Entry:
        """A new entry (the one before is closed)."""
        if self.entries:
            self.entries[-1].close()
        self.entries.append(_Entry(self.out, name))
        return self.entries[-1]

    def close(self) -> None:
        """The last entry closed, then the central directory."""
        if self.entries:
            self.entries[-1].close()
        start = self.out.tell()
        for e in self.entries:
            self.out.write(e.central_record())
        size, n = self.out.tell() - start, len(self.entries)
        self.out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, size, start, 0))


class _Entry:
    """One entry of a ``_Zip``: its local header (written again with the sizes and CRC-32 at ``close``)."""

    def __init__(self, out: BinaryIO, name: str) -> None:
        self.out, self.name = out, name.encode("utf-8")
        self.offset = out.tell()
        out.write(self._header(0, 0, 0))
        self.data_start = out.tell()
        self.crc = self.size = self.compressed = 0
        self.closed = False

    def _header(self, crc: int, compressed: int, size: int) -> bytes:
        return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, compressed, size,
                           len(self.name), 0) + self.name

    def add(self, data: bytes) -> list[int]:
        """Deflate ``data`` as a segment of its own; its offset in the entry's data, length, CRC-32 and size."""
        c = _deflate.compressobj(XLSX_DEFLATE_LEVEL, _deflate.DEFLATED, -15)
        segment = c.compress(data) + c.flush(_deflate.Z_SYNC_FLUSH)
        return self.add_deflated(segment, _deflate.crc32(data), len(data))

    def add_deflated(self, segment: bytes, crc: int, size: int) -> list[int]:
        """A segment as ``add`` deflates it (here, or in an earlier file): its data's CRC-32 and size."""
        at = self.out.tell() - self.data_start
        self.out.write(segment)
        self.crc = crc32_combine(self.crc, crc, size)
        self.size += size
        return [at, len(segment), crc, size]

    def close(self) -> None:
        if self.closed:
            return
        self.out.write(b"\x03\x00")  # the last block of the stream: empty, final
        end = self.out.tell()
        self.compressed = end - self.data_start
        if max(self.compressed, self.size) >= 0xFFFFFFFF:
            raise RuntimeError("an xlsx part of 4 GiB or more")
        self.out.seek(self.offset)
        self.out.write(self._header(self.crc, self.compressed, self.size))
        self.out.seek(end)
        self.closed = True

    def central_record(self) -> bytes:
        return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, self.crc, self.compressed,
                           self.size, len(self.name), 0, 0, 0, 0, 0, self.offset) + self.name


_ZEROS: list[list[int]] = []  # _ZEROS[k]: how 2**k zero bytes change a CRC-32 register (GF(2) matrices)


def _zeros(k: int) -> list[int]:
    if not _ZEROS:
        op = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
        for _ in range(3):
            op = [_gf2_times(op, v) for v in op]  # squared: two, four, eight zero bits (one byte)
        _ZEROS.append(op)
    while len(_ZEROS) <= k:
        _ZEROS.append([_gf2_times(_ZEROS[-1], v) for v in _ZEROS[-1]])
    return _ZEROS[k]


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A+B from those of A and B and the length of B (zlib's crc32_combine, which
    Python's zlib does not offer): crc1 as if len2 zero bytes had followed A, by the operators for
    2**k zero bytes (``_ZEROS``), then crc2 added."""
    k = 0
    while len2 > 0:
        if len2 & 1:
            crc1 = _gf2_times(_zeros(k), crc1)
        len2 >>= 1
        k += 1
    return crc1 ^ crc2


@dataclass(frozen=True)
class _Previous:
    """The parts of the export in a folder, as its stamp lists them (each by its rows' digest): where
    each block's lines are in findings.csv (offset, length), and its deflated rows in findings.xlsx
    (offset from ``xml_start``, length, CRC-32, size), written with the money style ``money_xf``."""

    csv: dict[str, list[int]]
    xml: dict[str, list[int]]
    xml_start: int
    money_xf: int


def _previous(out_dir: Path) -> _Previous | None:
    """What the export in ``out_dir`` offers to the next: its parts, if this code wrote it and its
    files are as written (size and modification time: ``is_current``'s test)."""
    paths = (out_dir / "findings.csv", out_dir / "findings.xlsx")
    try:
        stamp = json.loads((out_dir / STAMP).read_text(encoding="utf-8"))
        parts = stamp.get("parts")
        if not parts or {k: stamp[k] for k in ("code", "files")} != {
                k: v for k, v in _stamp("", paths).items() if k != "rows"}:
            return None
        digests = parts["digests"]
        return _Previous(csv=dict(zip(digests, parts["csv"], strict=True)),
                         xml=dict(zip(digests, parts["xml"], strict=True)),
                         xml_start=int(parts["xml_start"]), money_xf=int(parts["money_xf"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reusable(out_dir: Path) -> frozenset[str]:
    """The digests of the parts that the export in ``out_dir`` holds and the next may copy
    (``state.export_parts`` then reads only the others' rows)."""
    previous = _previous(out_dir)
    return frozenset(previous.csv.keys() & previous.xml.keys()) if previous else frozenset()


def write_export(rows: Sequence[dict], out_dir: Path, fingerprint: str | None = None) -> tuple[Path, Path]:
    """Write findings.csv and findings.xlsx into ``out_dir``; returns both paths. With the rows'
    ``fingerprint`` (``state.export_snapshot``), a stamp beside them lets ``is_current`` say the
    next time that they hold the same rows.

    Rows from ``state.export_parts`` (``ExportRows`` with digests) are written a part at a time, and
    the stamp says where each part is in both files: the next export copies the parts whose rows are
    the same from these files (the CSV's lines, the sheet's deflated rows) and builds only the others.
    At the 10M bench's 381,739 findings, a day that changes some parts rewrites a few blocks of XML
    instead of all of them (README, Measurements)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = out_dir / STAMP
    digests = rows.digests if isinstance(rows, ExportRows) and fingerprint and len(rows) <= XLSX_MAX_ROWS else None
    previous = _previous(out_dir) if digests is not None else None
    stamp.unlink(missing_ok=True)
    frame = _xlsx_frame([len(c) for c in _sheet_chunks(rows)], "问题清单", _has_amounts(rows))
    csv_path, xlsx_path = out_dir / "findings.csv", out_dir / "findings.xlsx"
    csv_reuse: Mapping[str, list[int]] = previous.csv if previous else {}
    xml_reuse: Mapping[str, list[int]] = previous.xml if previous and previous.money_xf == frame[1] else {}
    if digests is not None:
        assert isinstance(rows, ExportRows)
        count = len(digests)
        needed = [i for i, d in enumerate(digests) if d not in csv_reuse or d not in xml_reuse]
        built = dict(zip(needed, rows.columns(needed), strict=True))
        new_rows = sum(len(built[i]["rule_id"]) for i in needed)
    else:
        columns = _columns(rows)  # both files' cells from the same columns, guarded once
        count, built, new_rows = len(columns), dict(enumerate(columns)), len(rows)

    def write_csv_file() -> list[list[int]]:
        return _write_csv(csv_path, count, built.__getitem__, digests, csv_reuse)

    wait = _start(write_csv_file, csv_path) if new_rows >= BESIDE_MIN_ROWS else None
    csv_table = write_csv_file() if wait is None else None
    try:
        xml = _write_xlsx(xlsx_path, rows, frame, (count, built.__getitem__), digests, xml_reuse,
                          previous.xml_start if previous else 0)
    finally:
        if wait is not None:
            csv_table = wait()  # also when the xlsx failed: nothing goes on writing after this returns
    paths = (csv_path, xlsx_path)
    if fingerprint:
        parts = None if digests is None or xml is None else {"digests": digests, "csv": csv_table, **xml}
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(json.dumps({**_stamp(fingerprint, paths), "parts": parts}), encoding="utf-8")
        os.replace(tmp, stamp)
    return paths


# From this many rows to write on, the CSV is written by a child process while this one writes the xlsx
# (both single-threaded Python; the child is forked, so it has the columns without a copy): at 380,000
# findings the CSV takes ~2.3 s of the ~8 s the two files took one after the other.
BESIDE_MIN_ROWS = 20_000


def _start(write: Callable[[], list], path: Path) -> Callable[[], list] | None:
    """``write()`` (which writes ``path``) started in a forked child; returns the function that waits
    for it and returns what ``write`` returned (through a file beside ``path``), raising if the child
    failed (its traceback is on stderr). None where this process cannot fork (the caller then writes
    it itself). ``os.fork`` itself, not multiprocessing: a daemonic worker (Celery's prefork pool) may
    not start multiprocessing children."""
    if not hasattr(os, "fork"):
        return None
    result = path.with_name(f".{path.name}.{os.getpid()}.result")
    sys.stdout.flush()  # nothing buffered before the fork is written twice
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: write, say why not, and end without the parent's exit handlers
        code = 1
        try:
            result.write_text(json.dumps(write()), encoding="utf-8")
            code = 0
        except BaseException:  # noqa: BLE001 - reported on stderr, the parent raises
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)

    def wait() -> list:
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        try:
            if code != 0:
                raise RuntimeError(f"写出 {path.name} 的子进程失败（退出码 {code}）/ writing {path.name} failed")
            return json.loads(result.read_text(encoding="utf-8"))
        finally:
            result.unlink(missing_ok=True)

    return wait


def refresh_export(rows: Sequence[dict], out_dir: Path, fingerprint: str) -> tuple[Path, Path, bool]:
    """Both files of ``rows`` in ``out_dir``, written unless they hold these very rows already
    (``is_current``: a day whose export is the day before's rewrites nothing); the paths, and whether
    they were written."""
    if is_current(out_dir, fingerprint):
        return out_dir / "findings.csv", out_dir / "findings.xlsx", False
    return *write_export(rows, out_dir, fingerprint), True


STAMP = ".findings.export.json"  # beside the export: what it holds (fingerprint, the files as written, their parts)


@functools.cache
def _code() -> str:
    """The code's hash: this module (how the files are written) and ``fundwatch.state`` (how the rows
    are read, what a part's digest stands for), as this process loaded them."""
    from fundwatch import state

    return hashlib.sha256(Path(__file__).read_bytes() + b"\0" + Path(state.__file__).read_bytes()).hexdigest()


def _stamp(fingerprint: str, paths: Sequence[Path]) -> dict:
    """The rows' fingerprint, the code's (``_code``) and each file as it was written."""
    code = _code()
    files = {}
    for p in paths:
        st = p.stat()
        files[p.name] = [st.st_size, st.st_mtime_ns]
    return {"rows": fingerprint, "code": code, "files": files}


def is_current(out_dir: Path, fingerprint: str) -> bool:
    """Whether ``out_dir`` holds the export of rows with this fingerprint, written by this code, its
    files untouched since (size and modification time): then writing it again would change nothing."""
    paths = (out_dir / "findings.csv", out_dir / "findings.xlsx")
    try:
        stamp = json.loads((out_dir / STAMP).read_text(encoding="utf-8"))
        return {k: stamp[k] for k in ("rows", "code", "files")} == _stamp(fingerprint, paths)
    except (OSError, ValueError, KeyError, TypeError):
        return False
