"""What a reader may put in a row besides plain values: cells whose meaning the grid alone loses.

- :class:`CellIssue` — a cell that holds no readable value for a real reason: an Excel error
  value (``#N/A``, ``#DIV/0!`` …, also written as text in a CSV) or a formula whose result the
  file does not store. Any column holding one rejects the row with that reason (an optional
  column too: README "Reading files").
- :class:`MergedBlank` — an empty cell inside a merged range (only the range's first cell holds
  the value). It is blank; a required column blank for this reason says so.
- :class:`NumberText` — the exact digits of a long integer number cell, read from the sheet XML;
  it is text, but the ID normaliser knows it came from a number cell.
"""

from __future__ import annotations

#: Excel's (and WPS's) error values, as a cell shows them and a CSV export writes them.
EXCEL_ERRORS = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!",
    "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#PYTHON!",
})


class CellIssue:
    """A cell without a readable value; ``shown`` is what a person sees, ``reason`` why (Chinese)."""

    __slots__ = ("shown", "reason")

    def __init__(self, shown: str, reason: str) -> None:
        self.shown, self.reason = shown, reason

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"CellIssue({self.shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CellIssue) and (self.shown, self.reason) == (other.shown, other.reason)

    def __hash__(self) -> int:
        return hash((self.shown, self.reason))

    @classmethod
    def error(cls, value: str) -> CellIssue:
        return cls(value, f"单元格是 Excel 错误值 {value}（公式没有算出结果），不是有效的值；"
                          "请修正公式或直接填写数值后重新报送")

    @classmethod
    def formula_without_value(cls, formula: str) -> CellIssue:
        shown = f"={formula}" if formula else "（公式）"
        return cls(shown, "单元格是公式，但文件中没有保存计算结果（常见于程序生成、未经 Excel 保存的文件）；"
                          "请在 Excel 或 WPS 中打开并保存后重新报送，或把公式改为数值")


def error_literal(text: str) -> CellIssue | None:
    """The issue of a text cell that is exactly an Excel error value (a CSV export of one)."""
    s = text.strip()
    return CellIssue.error(s) if s in EXCEL_ERRORS else None


def mark_errors(cells: list[object]) -> list[object]:
    """The row with every text cell that is exactly an Excel error value made a :class:`CellIssue`."""
    return [error_literal(v) or v if type(v) is str and "#" in v else v for v in cells]


class MergedBlank(str):
    """An empty cell inside the merged range ``ref`` (e.g. ``C4:C6``)."""

    ref: str

    def __new__(cls, ref: str) -> MergedBlank:
        obj = super().__new__(cls, "")
        obj.ref = ref
        return obj


class NumberText(str):
    """The exact digits of an integer number cell (more than 15 digits)."""


def col_index(letters: str | bytes) -> int:
    """Column letters to a 0-based index: ``A`` -> 0, ``AA`` -> 26."""
    n = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letters(i: int) -> str:
    """A 0-based column index to its letters: 0 -> ``A``, 26 -> ``AA``."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s
