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
import hashlib
import io
import json
import os
import re
import sys
import traceback
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path

from fundwatch.state import EXPORT_COLUMNS, EXPORT_PART, export_row, money

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
    """``columns``: ``_columns(rows)`` when the caller has it already (``write_export``)."""
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerow(EXPORT_COLUMNS)
        for block in columns if columns is not None else _columns(rows):  # a block's lines, then one write
            buf = io.StringIO()
            cells = [_csv_column(name, block[name]) for name in EXPORT_COLUMNS]
            csv.writer(buf).writerows(zip(*cells, strict=True))
            fh.write(buf.getvalue())
    os.replace(tmp, path)
    return path


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
    """The export's rows as ``state.export_parts`` reads them (tuples, in parts of ``EXPORT_PART``): a
    sequence of the dicts ``state.export_rows`` gives, each built only when asked for, whose
    ``columns()`` (what ``_columns`` makes of the dicts) come straight from the tuples. At the 10M
    bench's 381,739 findings the dicts and their columns took 1.8 s of the export stage (2026-12-07)."""

    def __init__(self, parts: list[list[tuple]]) -> None:
        if any(len(part) != EXPORT_PART for part in parts[:-1]):
            raise ValueError(f"every part but the last holds {EXPORT_PART} rows")
        self._parts = parts
        self._n = sum(map(len, parts))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n))]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        return export_row(self._parts[index // EXPORT_PART][index % EXPORT_PART])

    def columns(self) -> list[dict[str, list]]:
        """``_columns`` of these rows: a block per part, a column per name (the amount a Decimal), each
        column taken from the tuples without a Python step per cell."""
        getters = [(name, itemgetter(k)) for k, name in enumerate(EXPORT_COLUMNS)]
        return [_block((name, list(map(money, map(get, part))) if name == "amount_at_risk" else list(map(get, part)))
                       for name, get in getters)
                for part in self._parts]


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
    sheet's ``<sheetData>``, as xlsxwriter's constant-memory mode writes them (``_sheet_rows``), at
    a small fraction of its per-cell cost. ``columns``: ``_columns(rows)`` when the caller has it
    already (used when the rows fit one sheet).
    """
    tmp = path.with_suffix(".xlsx.tmp")
    chunks = ([rows] if len(rows) <= XLSX_MAX_ROWS else
              [rows[i:i + XLSX_MAX_ROWS] for i in range(0, len(rows), XLSX_MAX_ROWS)])
    blocks = [columns if columns is not None and len(chunks) == 1 else _columns(chunk) for chunk in chunks]
    amounts = any(v not in (None, "") for sheet in blocks for block in sheet for v in block["amount_at_risk"])
    frame, money_xf = _xlsx_frame([len(c) for c in chunks], sheet_title, amounts)
    sheets = {f"xl/worksheets/sheet{n}.xml": (len(chunk), b)
              for n, (chunk, b) in enumerate(zip(chunks, blocks, strict=True), start=1)}
    try:
        with zipfile.ZipFile(io.BytesIO(frame)) as src, \
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=XLSX_DEFLATE_LEVEL) as out:
            for info in src.infolist():  # the frame's parts in its order, dated 1980-01-01 as Excel does
                if info.filename not in sheets:
                    out.writestr(zipfile.ZipInfo(info.filename), src.read(info), zipfile.ZIP_DEFLATED,
                                 XLSX_DEFLATE_LEVEL)
                    continue
                n_rows, sheet_blocks = sheets[info.filename]
                head, tail = _split_sheet(src.read(info).decode("utf-8"), n_rows)
                with out.open(info.filename, "w") as fh:
                    fh.write(head.encode("utf-8"))
                    for xml in _sheet_rows(sheet_blocks, money_xf):
                        fh.write(xml.encode("utf-8"))
                    fh.write(tail.encode("utf-8"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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


def _sheet_rows(blocks: list[dict[str, list]], money_xf: int) -> Iterator[str]:
    """The ``<row>`` elements of a sheet's rows (``_columns``; sheet row 2 onwards), a block of rows per
    string, built a column at a time."""
    first = 2
    for block in blocks:
        size = len(block[EXPORT_COLUMNS[0]])
        numbers = [str(r) for r in range(first, first + size)]
        cells = [_xlsx_column(name, letter, block[name], numbers, money_xf)
                 for name, letter in zip(EXPORT_COLUMNS, _XLSX_COLUMNS, strict=True)]
        starts = [f'<row r="{r}">' for r in numbers]
        yield "".join(chain.from_iterable(zip(starts, *cells, repeat("</row>", size), strict=True)))
        first += size


def _xlsx_column(name: str, letter: str, values: list, numbers: list[str], money_xf: int) -> list[str]:
    """One column's cells of a block of rows (their sheet row numbers ``numbers``), "" for an empty
    cell: amounts with the money style, source_row an integer, every other value an inline string
    (guarded already: ``_columns``)."""
    at = f'<c r="{letter}'
    if name == "amount_at_risk":  # float(Decimal) is the correctly rounded double, as xlsxwriter's
        return ["" if v is None or v == "" else f'{at}{r}" s="{money_xf}"><v>{float(v):.16G}</v></c>'
                for r, v in zip(numbers, values, strict=True)]
    if name == "source_row":
        return ["" if v is None or v == "" else f'{at}{r}"><v>{int(v):.16G}</v></c>'
                for r, v in zip(numbers, values, strict=True)]
    texts = values  # "" only for an empty cell
    if not _plain("".join(texts)) or max(map(len, texts), default=0) > XLSX_MAX_TEXT // 2:
        return [f'{at}{r}" t="inlineStr"><is>{_inline_text(t)}</is></c>' if t else ""
                for r, t in zip(numbers, texts, strict=True)]
    # The common case, no text needing an escape: only leading or trailing whitespace to preserve.
    return [(f'{at}{r}" t="inlineStr"><is><t>{t}</t></is></c>' if t.strip() == t else
             f'{at}{r}" t="inlineStr"><is><t xml:space="preserve">{t}</t></is></c>') if t else ""
            for r, t in zip(numbers, texts, strict=True)]


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


def write_export(rows: Sequence[dict], out_dir: Path, fingerprint: str | None = None) -> tuple[Path, Path]:
    """Write findings.csv and findings.xlsx into ``out_dir``; returns both paths. With the rows'
    ``fingerprint`` (``state.export_snapshot``), a stamp beside them lets ``is_current`` say the
    next time that they hold the same rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = out_dir / STAMP
    stamp.unlink(missing_ok=True)
    columns = _columns(rows)  # both files' cells from the same columns, guarded once
    csv_path = out_dir / "findings.csv"
    wait = _start(write_csv, rows, csv_path, columns) if len(rows) >= BESIDE_MIN_ROWS else None
    if wait is None:
        write_csv(rows, csv_path, columns)
    try:
        xlsx_path = write_xlsx(rows, out_dir / "findings.xlsx", columns=columns)
    finally:
        if wait is not None:
            wait()  # also when the xlsx failed: nothing goes on writing after this returns
    paths = (csv_path, xlsx_path)
    if fingerprint:
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(json.dumps(_stamp(fingerprint, paths)), encoding="utf-8")
        os.replace(tmp, stamp)
    return paths


# From this many rows on, the CSV is written by a child process while this one writes the xlsx (both
# single-threaded Python; the child is forked, so it has the columns without a copy): at 380,000
# findings the CSV takes ~2.3 s of the ~8 s the two files took one after the other.
BESIDE_MIN_ROWS = 20_000


def _start(write: Callable[[Sequence[dict], Path, list], Path], rows: Sequence[dict], path: Path,
           columns: list) -> Callable[[], Path] | None:
    """``write(rows, path, columns)`` started in a forked child; returns the function that waits for it
    and returns ``path``, raising if the child failed (its traceback is on stderr). None where this
    process cannot fork (the caller then writes it itself). ``os.fork`` itself, not multiprocessing:
    a daemonic worker (Celery's prefork pool) may not start multiprocessing children."""
    if not hasattr(os, "fork"):
        return None
    sys.stdout.flush()  # nothing buffered before the fork is written twice
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: write, say why not, and end without the parent's exit handlers
        code = 1
        try:
            write(rows, path, columns)
            code = 0
        except BaseException:  # noqa: BLE001 - reported on stderr, the parent raises
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)

    def wait() -> Path:
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if code != 0:
            raise RuntimeError(f"写出 {path.name} 的子进程失败（退出码 {code}）/ writing {path.name} failed")
        return path

    return wait


def refresh_export(rows: Sequence[dict], out_dir: Path, fingerprint: str) -> tuple[Path, Path, bool]:
    """Both files of ``rows`` in ``out_dir``, written unless they hold these very rows already
    (``is_current``: a day whose export is the day before's rewrites nothing); the paths, and whether
    they were written."""
    if is_current(out_dir, fingerprint):
        return out_dir / "findings.csv", out_dir / "findings.xlsx", False
    return *write_export(rows, out_dir, fingerprint), True


STAMP = ".findings.export.json"  # beside the export: what it holds (fingerprint, and the files as written)


def _stamp(fingerprint: str, paths: Sequence[Path]) -> dict:
    """The rows' fingerprint, this module's own (how they are written) and each file as it was written."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
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
        return json.loads((out_dir / STAMP).read_text(encoding="utf-8")) == _stamp(fingerprint, paths)
    except (OSError, ValueError):
        return False
