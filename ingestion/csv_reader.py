"""CSV reader: streams one record at a time through the C ``csv`` module (which also reads
GB18030, unlike DuckDB's reader), with a bounded field size.

What it refuses, and the line it names:

- a quote that never closes (everything after it would become one cell): the line where it opened;
- a bad byte: the line that holds it, in UTF-8 (a file that is UTF-8 up to there) or GB18030;
- UTF-16, NUL bytes, an Excel workbook or an old .xls saved under a ``.csv`` name.

A record's cells come as read; rows wider than the header are the parser's business
(``ingestion.parse``), which knows the header.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ingestion.readers import (
    CHUNK,
    OLE_MAGIC,
    ZIP_MAGIC,
    FileChanged,
    FileRejected,
    FileScan,
    Limits,
    Row,
    bad_byte_line,
)

_RESAVE = "另存为“CSV UTF-8（逗号分隔）”后重新报送"


class _HashingReader(io.RawIOBase):
    """Passes bytes through and hashes them, to notice a file that changes while it is read."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = self._raw.readinto(b)
        if n:
            self.sha.update(memoryview(b)[:n])
        return n or 0


def csv_encoding(path: Path, scan: FileScan) -> str:
    """The encoding a CSV is read with, or :class:`FileRejected`."""
    if scan.head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected(f"文件是 UTF-16 编码；请{_RESAVE}")
    if scan.head.startswith(ZIP_MAGIC):
        raise FileRejected("文件内容是 Excel 工作簿（.xlsx），扩展名却是 .csv；请把扩展名改回 .xlsx，"
                           "或在 Excel 中另存为“CSV UTF-8（逗号分隔）”")
    if scan.head.startswith(OLE_MAGIC):
        raise FileRejected("文件内容是旧版 Excel（.xls）或其他 Office 文件，扩展名却是 .csv；"
                           f"请在 Excel 中打开后{_RESAVE}")
    if scan.has_nul:
        raise FileRejected("文件中含有空字符（NUL，0x00），不是正常的文本 CSV，可能已损坏；请重新导出")
    bom = scan.head.startswith(codecs.BOM_UTF8)
    if scan.utf8:
        return "utf-8-sig" if bom else "utf-8"
    if bom or scan.utf8_text_before_error:
        line = bad_byte_line(path, "utf-8")
        raise FileRejected(f"文件是 UTF-8 编码，但第{line}行有不是 UTF-8 的字节（可能文件被截断、"
                           f"或由两种编码的内容拼接而成）；请检查第{line}行后{_RESAVE}")
    return "gb18030"


class _Lines:
    """The text's lines, keeping those of the record being read (to locate an unclosed quote)."""

    def __init__(self, text: io.TextIOBase) -> None:
        self.lines: list[str] = []
        self._text = text

    def __iter__(self) -> Iterator[str]:
        for line in self._text:
            self.lines.append(line)
            yield line


def open_quote_line(lines: list[str], first: int) -> int | None:
    """The line where a quoted field opens and is still open after ``lines`` (a record starting
    at line ``first``), under the ``csv`` module's rules; None if every quote closed."""
    in_quote, at_start, opened = False, True, None
    for k, line in enumerate(lines):
        i, n = 0, len(line)
        while i < n:
            if in_quote:
                j = line.find('"', i)
                if j < 0:
                    break
                if j + 1 < n and line[j + 1] == '"':
                    i = j + 2
                    continue
                in_quote, at_start, i = False, False, j + 1
                continue
            ch = line[i]
            if ch == '"' and at_start:
                in_quote, opened = True, first + k
            else:
                at_start = ch in ",\r\n"
            i += 1
    return opened if in_quote else None


def _unclosed(line: int, last: int, limit: int | None = None) -> FileRejected:
    lost = f"第{line + 1}行" if last == line + 1 else f"第{line + 1}–{last}行"
    if limit:  # the cell outgrew the limit before the file ended
        what = f"一直到第{last}行、超过{limit}个字符仍没有结束（其后的行都被并进了这一个单元格）"
    else:
        what = "一直没有结束" + (f"，其后{lost}都会被并进这一个单元格" if last > line else "")
    return FileRejected(
        f"第{line}行的引号（\"）{what}；整个文件未载入。请检查第{line}行："
        "单元格中的引号要写成两个（\"\"），或去掉多余的引号，然后重新导出")


def iter_csv(path: Path, scan: FileScan, limits: Limits) -> Iterator[Row]:
    """Stream a CSV's records with the line number on which each starts."""
    encoding = csv_encoding(path, scan)
    csv.field_size_limit(limits.max_csv_field)
    with open(path, "rb") as raw:
        hashing = _HashingReader(raw)
        text = io.TextIOWrapper(io.BufferedReader(hashing, CHUNK), encoding=encoding, newline="")
        lines = _Lines(text)
        reader = csv.reader(lines)
        prev = 0
        last: list[str] = []
        while True:
            lines.lines = []
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                opened = open_quote_line(lines.lines, prev + 1)
                too_long = "field larger" in str(exc)
                if opened is not None:
                    raise _unclosed(opened, reader.line_num, limits.max_csv_field if too_long else None) from None
                if too_long:
                    raise FileRejected(
                        f"第{prev + 1}行起有一个单元格超过{limits.max_csv_field}个字符，文件可能已损坏；"
                        "请检查后重新导出") from None
                raise FileRejected(f"第{prev + 1}行不是合法的 CSV：{exc}") from None
            except UnicodeDecodeError:
                line = bad_byte_line(path, encoding)
                raise FileRejected(
                    f"文件按 GB18030/GBK 编码读取，但第{line}行有无法识别的字节（既不是 UTF-8 也不是 "
                    f"GB18030/GBK）；请检查第{line}行后{_RESAVE}") from None
            start, prev = prev + 1, reader.line_num
            last = lines.lines
            yield start, rec  # type: ignore[misc]
        opened = open_quote_line(last, start) if last else None
        if opened is not None:
            raise _unclosed(opened, prev)
        if hashing.sha.hexdigest() != scan.sha256:
            raise FileChanged(str(path))
