"""`fundwatch.compare` judges the end-to-end and spec-case tests: it must see every kind of difference.

The actual file is written by the export's own writer (`write_csv`: BOM, formula guard), the expected
file as the spec cases and the generator write theirs.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from fundwatch.cli import main as cli_main
from fundwatch.compare import compare
from fundwatch.export import write_csv

EXPECTED_COLUMNS = ("rule_id", "subject_type", "subject_key", "amount_at_risk", "source_file", "source_row")
ID = "43010219800101001X"  # synthetic

FINDINGS = [
    {"rule_id": "PAY_NOT_ON_ROSTER", "subject_type": "payment", "subject_key": "TX0001",
     "amount_at_risk": Decimal("3000.00"), "source_file": "发放/长沙县.csv", "source_row": 7},
    {"rule_id": "PAY_NOT_ON_ROSTER", "subject_type": "payment", "subject_key": "TX0002",
     "amount_at_risk": Decimal("500.50"), "source_file": "发放/长沙县.csv", "source_row": 8},
    {"rule_id": "ROSTER_UNPAID", "subject_type": "roster_entry", "subject_key": f"JQ2020-01|{ID}",
     "amount_at_risk": Decimal("4000.00"), "source_file": "名单/长沙县.xlsx", "source_row": 5},
    # values the export guards against formulas: compared as the clerk wrote them
    {"rule_id": "FILE_REJECTED", "subject_type": "file", "subject_key": "=坏文件.csv",
     "amount_at_risk": Decimal("0.00"), "source_file": None, "source_row": None},
]


def _expected(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(EXPECTED_COLUMNS)
        for r in rows:
            w.writerow(["" if r[c] is None else str(r[c]) for c in EXPECTED_COLUMNS])
    return path


def _actual(path: Path, rows: list[dict]) -> Path:
    return write_csv([{"finding_id": f"{i:016x}", **r} for i, r in enumerate(rows)], path)


def _judge(tmp_path: Path, actual_rows: list[dict]):
    return compare(_expected(tmp_path / "expected.csv", FINDINGS), _actual(tmp_path / "findings.csv", actual_rows))


def test_the_same_findings_are_an_exact_match(tmp_path):
    result = _judge(tmp_path, FINDINGS)
    assert result.exact, result.report()
    assert result.report().endswith("EXACT MATCH")
    assert all(m["recall"] == m["precision"] == 1.0 for m in result.per_rule.values())


def test_an_extra_finding_fails(tmp_path):
    extra = dict(FINDINGS[0], subject_key="TX0099")
    result = _judge(tmp_path, [*FINDINGS, extra])
    assert not result.exact
    assert result.unexpected == [("PAY_NOT_ON_ROSTER", "payment", "TX0099")]
    assert result.per_rule["PAY_NOT_ON_ROSTER"]["precision"] == pytest.approx(2 / 3)
    assert "unexpected: 1" in result.report() and result.report().endswith("DIFFERENCES FOUND")


def test_a_missing_finding_fails(tmp_path):
    result = _judge(tmp_path, FINDINGS[1:])
    assert not result.exact
    assert result.missing == [("PAY_NOT_ON_ROSTER", "payment", "TX0001")]
    assert result.per_rule["PAY_NOT_ON_ROSTER"]["recall"] == 0.5


def test_a_different_amount_fails_by_one_fen(tmp_path):
    result = _judge(tmp_path, [dict(FINDINGS[0], amount_at_risk=Decimal("3000.01")), *FINDINGS[1:]])
    assert not result.exact
    assert result.amount_diffs == [(("PAY_NOT_ON_ROSTER", "payment", "TX0001"), Decimal("3000.00"),
                                     Decimal("3000.01"))]


@pytest.mark.parametrize(("column", "value"), [("source_file", "发放/浏阳市.csv"), ("source_row", 9)])
def test_a_different_source_file_or_row_fails(tmp_path, column, value):
    result = _judge(tmp_path, [dict(FINDINGS[0], **{column: value}), *FINDINGS[1:]])
    assert not result.exact
    assert [d[0] for d in result.lineage_diffs] == [("PAY_NOT_ON_ROSTER", "payment", "TX0001")]


def test_a_finding_listed_twice_fails(tmp_path):
    result = _judge(tmp_path, [*FINDINGS, FINDINGS[1]])
    assert not result.exact
    assert result.duplicates == [("PAY_NOT_ON_ROSTER", "payment", "TX0002")]


def test_the_report_masks_id_numbers(tmp_path):
    report = _judge(tmp_path, FINDINGS[:2]).report()
    assert "ROSTER_UNPAID" in report and ID not in report


def test_the_command_exits_non_zero_on_any_difference(tmp_path):
    expected = _expected(tmp_path / "expected.csv", FINDINGS)
    same = _actual(tmp_path / "same.csv", FINDINGS)
    extra = _actual(tmp_path / "extra.csv", [*FINDINGS, dict(FINDINGS[0], subject_key="TX0099")])
    assert cli_main(["compare", "--expected", str(expected), "--actual", str(same)]) == 0
    assert cli_main(["compare", "--expected", str(expected), "--actual", str(extra)]) == 1
