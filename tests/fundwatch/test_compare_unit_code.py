"""fundwatch.compare judges units too: where the expected file has unit_code, a finding with another
unit (or none) is a difference, and the report names it."""

from __future__ import annotations

from pathlib import Path

from fundwatch.compare import compare

HEADER = "rule_id,subject_type,subject_key,amount_at_risk,source_file,source_row"
ROWS = [
    ("ROW_REJECTED", "row", "长沙县/发放.csv|5", "0.00", "", "", "430121"),
    ("PAY_LATE", "payment", "TX1", "3000.00", "长沙县/发放.csv", "4", "430121"),
]


def _write(path: Path, rows, *, with_unit: bool = True) -> Path:
    lines = [HEADER + (",unit_code" if with_unit else "")]
    lines += [",".join(r if with_unit else r[:-1]) for r in rows]
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_equal_units_match(tmp_path):
    assert compare(_write(tmp_path / "e.csv", ROWS), _write(tmp_path / "a.csv", ROWS)).exact


def test_another_unit_or_none_is_a_difference(tmp_path):
    actual = [(*ROWS[0][:-1], ""), (*ROWS[1][:-1], "430100")]
    result = compare(_write(tmp_path / "e.csv", ROWS), _write(tmp_path / "a.csv", actual))
    assert not result.exact
    assert result.unit_diffs == [
        (("PAY_LATE", "payment", "TX1"), "430121", "430100"),
        (("ROW_REJECTED", "row", "长沙县/发放.csv|5"), "430121", ""),
    ]
    assert "unit differs: 2" in result.report()


def test_an_expected_file_without_unit_code_does_not_judge_units(tmp_path):
    actual = [(*r[:-1], "430999") for r in ROWS]
    assert compare(_write(tmp_path / "e.csv", ROWS, with_unit=False), _write(tmp_path / "a.csv", actual)).exact
