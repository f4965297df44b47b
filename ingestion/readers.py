"""Readers: turn one inbox file into ``(row_number, cells)`` pairs, safely.

Row numbers are those a person sees: 1-based, counting title rows and the header; for CSV the
line on which the record starts. A file that cannot be read raises :class:`FileRejected` whose
message is the Chinese reason a clerk can act on, naming the real cause (a password, an empty
file, a bad byte and its line, a quote that never closes and its line …).

:mod:`ingestion.csv_reader` streams CSV; :mod:`ingestion.xlsx_reader` checks an xlsx before it is
parsed (zip bomb, size judged by the rows that hold values). This module holds what both share.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

Row = tuple[int, list[object]]


class FileRejected(Exception):
    """The whole file cannot be loaded; ``str(exc)`` is the Chinese reason."""


class FileChanged(Exception):
    """The file's bytes changed while it was being read; it is left for the next run."""


@dataclass(frozen=True)
class Limits:
    """Resource limits; a file beyond them is rejected with a reason, before it fills memory."""

    max_xlsx_bytes: int = 200 * 1024 * 1024  # compressed file
    max_xlsx_uncompressed: int = 512 * 1024 * 1024  # all zip members together
    max_zip_ratio: int = 200  # per member, above 10 MB uncompressed
    # calamine holds the whole sheet: 300k rows x 11 columns peaked at 540 MB RSS, so 500k stays
    # well under 2 GB; bigger deliveries should come as CSV, which streams.
    max_xlsx_rows: int = 500_000  # rows that hold values
    # calamine's grid spans every cell between the first and the last value: one stray value far
    # away (XFD1048576) would make it 17 billion cells; 16M empty cells are about 0.5 GB.
    max_xlsx_cells: int = 16_000_000
    max_csv_field: int = 131_072  # characters in one CSV cell


@dataclass(frozen=True)
class FileScan:
    sha256: str
    size: int
    head: bytes
    utf8: bool  # the whole file decodes as UTF-8
    has_nul: bool
    utf8_text_before_error: bool = False  # valid multi-byte UTF-8 (several CJK characters) came first
    # Every line ends in LF, or every line in CR LF (no lone CR, which the csv module also takes for a
    # line end; not both kinds: DuckDB's line reader keeps the first end it meets, and after LF lines
    # reads a CR LF as two), and no byte is RS (0x1e), the column separator of that reader
    # (ingestion.csv_duckdb).
    plain_lines: bool = False


LINE_READER_SEPARATOR = b"\x1e"


def _line_ends(chunk: bytes, cr_pending: bool, crlf: bool, bare_lf: bool) -> tuple[bool, bool, bool, bool]:
    """(plain so far, chunk ends in CR, a CR seen, a bare LF seen) after ``chunk``, the file's next
    bytes; ``cr_pending``: the chunk before ended in CR, whose LF must begin this one. Counted over
    the chunk as a numpy byte array (2–3 GB/s here; ``bytes.count`` of CR LF, a two-byte needle,
    is 1 GB/s, and regular expressions with look-around slower still)."""
    if cr_pending and not chunk.startswith(b"\n"):
        return False, False, crlf, bare_lf
    start = int(cr_pending)  # that LF ends the line before
    ends_cr = chunk.endswith(b"\r")  # its LF begins the next chunk
    a = np.frombuffer(chunk, np.uint8)
    cr = a[:-1] == 13  # a CR in the last byte is ends_cr
    crs = int(np.count_nonzero(cr))
    lf = a == 10
    pairs = int(np.count_nonzero(cr & lf[1:])) if crs else 0
    if crs:
        crlf = True
        if crs != pairs:  # a CR not followed by LF: the csv module's line end too
            return False, ends_cr, crlf, bare_lf
    crlf = crlf or ends_cr
    if not bare_lf:
        bare_lf = int(np.count_nonzero(lf[start:])) > pairs
    if (crlf and bare_lf) or LINE_READER_SEPARATOR in chunk:
        return False, ends_cr, crlf, bare_lf
    return True, ends_cr, crlf, bare_lf


CHUNK = 1024 * 1024
_UTF8_EVIDENCE = 8  # bytes beyond one per character: about 4 CJK characters decoded as UTF-8


def _complete(data: bytes) -> int:
    """Where ``data``'s last UTF-8 character that is cut off at its end begins (``len(data)`` if none is)."""
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b & 0xC0 != 0x80:  # not a continuation byte: the last character's first byte
            need = 2 if 0xC0 <= b < 0xE0 else 3 if 0xE0 <= b < 0xF0 else 4 if 0xF0 <= b < 0xF8 else 1
            return len(data) - back if need > back else len(data)
    return len(data)


class _Utf8:
    """Whether bytes fed in pieces decode as UTF-8, as Python's strict decoder says. Arrow validates
    (some 4 GB/s here, without copying the bytes or making a str; Python's decoder 0.6 GB/s); Python decides whenever
    Arrow refuses a piece, and counts the evidence of UTF-8 text before a bad byte."""

    def __init__(self) -> None:
        self.ok, self.extra, self._carry = True, 0, b""

    def feed(self, chunk: bytes) -> None:
        if not self.ok:
            return
        data = self._carry + chunk if self._carry else chunk
        cut = _complete(data)
        part, self._carry = data[:cut], data[cut:]
        try:  # the bytes as one Arrow string, not copied, then validated
            pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(struct.pack("<ii", 0, len(part))),
                                                   pa.py_buffer(part)]).validate(full=True)
            valid = True
        except pa.ArrowInvalid:
            valid = False
        if valid and self.extra >= _UTF8_EVIDENCE:
            return
        try:
            self.extra += len(part) - len(part.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self.ok = False
            good = part[:exc.start]
            self.extra += len(good) - len(good.decode("utf-8", "ignore"))

    def close(self) -> bool:
        if self._carry:  # the file ends inside a character
            self.ok = False
        return self.ok


def scan_file(path: Path) -> FileScan:
    """Hash the file and learn, in the same pass, whether it is UTF-8 and holds a NUL byte."""
    h = hashlib.sha256()
    utf8 = _Utf8()
    nul, size, head = False, 0, b""
    plain, cr_pending, crlf, bare_lf = True, False, False, False
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if not head:
                head = chunk[:8]
            h.update(chunk)
            size += len(chunk)
            if not nul and b"\x00" in chunk:
                nul = True
            if plain:
                plain, cr_pending, crlf, bare_lf = _line_ends(chunk, cr_pending, crlf, bare_lf)
            utf8.feed(chunk)
    ok = utf8.close()
    return FileScan(h.hexdigest(), size, head, ok, nul, not ok and utf8.extra >= _UTF8_EVIDENCE,
                    plain and not cr_pending)


def bad_byte_line(path: Path, encoding: str) -> int | None:
    """The first line (1-based) holding a byte sequence that is not valid in ``encoding``.

    Exact for UTF-8 and GB18030, whose multi-byte characters never contain a line feed."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                line.decode(codec)
            except UnicodeDecodeError:
                return n
    return None


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: .xls, .doc, or an encrypted .xlsx
ZIP_MAGIC = b"PK\x03\x04"
