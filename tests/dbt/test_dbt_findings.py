"""The findings dbt computes on the hand-made raw fixture: every rule fires where it must, and
its near-miss twin (deadline day itself, exact amount, other unit, ...) does not."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from dbt_fixture_raw import (
    BIG_AMOUNT,
    F_ALLOC,
    F_CREDIT,
    F_EXP,
    F_PAY,
    F_ROSTER,
    F_UNIT_ROWS,
    ID1,
    ID2,
    ID3,
    ID4,
    ID6,
    ID8,
    PA,
    PB,
    PD,
    PE,
    U1,
    U2,
)

A36 = f"湘财社指〔2020〕36号|{U1}|{PA}"
A37 = f"湘财社指〔2020〕37号|{U1}|{PA}"
A50 = f"湘财社指〔2020〕50号|{U2}|{PE}"
A60 = f"湘财社指〔2020〕60号|{U1}|{PA}"


def _pay(rule: str, txn: str, amount: str, row: int) -> tuple:
    return (rule, txn, amount, F_PAY, row)


def _roster(rule: str, key: str, amount: str, row: int) -> tuple:
    return (rule, key, amount, F_ROSTER, row)


EXPECTED = {
    # funds
    ("ALLOC_LATE", A36, "20000.00", F_ALLOC, 3),
    ("ALLOC_SHORT", A37, "3000.00", F_ALLOC, 4),
    ("ALLOC_OVER", A50, "200.00", F_ALLOC, 6),
    ("ALLOC_SHORT", A60, "500.00", F_ALLOC, 8),
    ("TRANSFER_UNMATCHED", "C06", "500.00", F_CREDIT, 8),
    ("TRANSFER_UNMATCHED", "C08", "99.00", F_CREDIT, 10),
    ("TRANSFER_UNMATCHED", "C09", "88.00", F_CREDIT, 11),
    ("TRANSFER_UNMATCHED", "C10", "77.00", F_CREDIT, 12),
    # payments
    _pay("PAY_DUPLICATE", "P002", "3000.00", 4),
    _pay("PAY_NAME_MISMATCH", "P003", "3500.00", 5),
    _pay("PAY_ACCOUNT_MISMATCH", "P003", "3500.00", 5),
    _pay("PAY_AMOUNT_MISMATCH", "P003", "500.00", 5),
    _pay("PAY_OVER_STANDARD", "P003", "500.00", 5),
    _pay("PAY_BEFORE_PUBLICITY", "P003", "3500.00", 5),
    _pay("PAY_NOT_ON_ROSTER", "P005", "1000.00", 7),
    _pay("PAY_LATE", "P005", "1000.00", 7),
    _pay("PAY_NO_PROJECT", "P006", "100.00", 8),
    _pay("PAY_NOT_ON_ROSTER", "P006", "100.00", 8),
    *(_pay("PAY_INVALID_ID", f"P0{n:02d}", "200.00", n + 2) for n in (7, 8, 9, 10)),
    *(_pay("PAY_NOT_ON_ROSTER", f"P0{n:02d}", "200.00", n + 2) for n in (7, 8, 9, 10)),
    *(_pay("PAY_NOT_ON_ROSTER", f"P0{n:02d}", "100.00", n + 2) for n in (11, 12, 13, 14, 15, 16)),
    _pay("PAY_DECEASED", "P011", "100.00", 13),
    _pay("PAY_STAFF_RELATED", "P012", "100.00", 14),
    _pay("PAY_SHARED_ACCOUNT", "P014", "100.00", 16),
    _pay("PAY_SHARED_ACCOUNT", "P015", "100.00", 17),
    *(_pay(rule, "P017", "3000.00", 19) for rule in ("PAY_NO_PROJECT", "PAY_NOT_ON_ROSTER")),
    *(_pay(rule, "P018", BIG_AMOUNT, 20) for rule in ("PAY_NO_PROJECT", "PAY_NOT_ON_ROSTER")),
    *(_pay(rule, f"S{n:03d}", "10.00", 20 + n) for n in range(1, 53)
      for rule in ("PAY_SHARED_ACCOUNT", "PAY_NO_PROJECT", "PAY_NOT_ON_ROSTER")),
    # roster
    _roster("ROSTER_PUBLICITY_SHORT", f"{PA}|{ID2}", "3000.00", 4),
    _roster("ROSTER_PUBLICITY_SHORT", f"{PA}|{ID3}", "2000.00", 5),
    _roster("ROSTER_UNPAID", f"{PA}|{ID4}", "3000.00", 6),
    _roster("ROSTER_PUBLICITY_SHORT", f"PX-NODOC|{ID6}", "50.00", 8),
    # use of funds
    ("EXP_CATEGORY_NOT_ALLOWED", "V03", "300.00", F_EXP, 5),
    ("EXP_OUTSIDE_PERIOD", "V04", "100.00", F_EXP, 6),
    ("EXP_NO_DECISION", "V06", "60000.00", F_EXP, 8),
    ("EXP_NO_DECISION", "V07", "50000.00", F_EXP, 9),
    ("EXP_NO_PROJECT", "V09", "10.00", F_EXP, 11),
    ("PROJ_OVER_BUDGET", PB, "200.00", None, None),
    ("PROJ_NOT_POSTED", PB, "1200.00", None, None),
    ("PROJ_REPORT_MISSING", PB, "1200.00", None, None),
    ("PROJ_NOT_POSTED", PD, "400.00", None, None),
    ("PROJ_REPORT_LATE", PD, "0.00", None, None),
    ("PROJ_REPORT_MISMATCH", PD, "100.00", None, None),
    ("PROJ_FUNDS_IDLE", PE, "900.00", None, None),
    # files
    ("FILE_REJECTED", "inbox/未知.xlsx", "0.00", None, None),
    *(("FILE_REJECTED", f, "0.00", None, None)
      for f in ("长沙县/坏文件.xlsx", "430103/其他/坏.csv", "长沙市/长沙县/坏.csv")),
    *(("ROW_REJECTED", f"{F_UNIT_ROWS}|{n}", "0.00", None, None) for n in (3, 4, 5)),
    ("FILE_TOTAL_MISMATCH", F_CREDIT, "15.50", None, None),
    ("ROW_REJECTED", f"{F_PAY}|40", "0.00", None, None),
    ("ROW_REJECTED", f"{F_PAY}|41", "0.00", None, None),
}

MONEY_COLUMN = re.compile(r"amount|budget|standard|threshold|credited|spent|rule_|difference|total|paid")


def _findings(warehouse) -> set[tuple]:
    rows = warehouse.execute(
        "select rule_id, subject_key, amount_at_risk, source_file, source_row from marts.fct_findings"
    ).fetchall()
    return {(r, k, str(a), f, n) for r, k, a, f, n in rows}


def test_findings_are_exactly_the_expected_set(warehouse):
    found = _findings(warehouse)
    assert found - EXPECTED == set(), "unexpected findings"
    assert EXPECTED - found == set(), "missing findings"


def test_every_rule_of_the_catalogue_fires_on_the_fixture(warehouse):
    catalogue = {r for (r,) in warehouse.execute("select rule_id from seeds.rule_catalog").fetchall()}
    assert catalogue == {f[0] for f in EXPECTED}


@pytest.mark.parametrize(
    ("rule_id", "subject_key", "expected_text"),
    [
        pytest.param("ALLOC_SHORT", A37, "应于2020-04-30前足额到账10000.00元", id="alloc-short"),
        pytest.param("TRANSFER_UNMATCHED", "C06", "找到2份候选指标", id="transfer-ambiguous"),
        pytest.param("PAY_AMOUNT_MISMATCH", "P003", "核定金额3000.00元，实际发放3500.00元", id="pay-amount"),
        pytest.param("PAY_ACCOUNT_MISMATCH", "P003", "************0002，实际发放至账户************0009",
                     id="pay-account-masked"),
        pytest.param("PAY_NOT_ON_ROSTER", "P005", ID8[:6] + "********" + ID8[-4:], id="pay-id-masked"),
        pytest.param("PAY_INVALID_ID", "P008", "出生日期不存在", id="invalid-id-reason"),
        pytest.param("PAY_NOT_ON_ROSTER", "P016", "但*（430102********029X）", id="one-character-name-masked-whole"),
        pytest.param("EXP_NO_DECISION", "V07", "会议日期2020-07-02晚于支出日期2020-07-01",
                     id="decision-late"),
        pytest.param("ROW_REJECTED", f"{F_PAY}|41", ID1[:6] + "********" + ID1[-4:], id="row-reason-masked"),
    ],
)
def test_detail_says_what_was_expected_and_found(warehouse, rule_id, subject_key, expected_text):
    (detail,) = warehouse.execute(
        "select detail from marts.fct_findings where rule_id = ? and subject_key = ?", [rule_id, subject_key]
    ).fetchone()
    assert expected_text in detail


def test_no_detail_prints_a_full_id_number_or_account(warehouse):
    details = [d for (d,) in warehouse.execute("select detail from marts.fct_findings").fetchall()]
    assert all(d for d in details)
    assert not [d for d in details if re.search(r"\d{9,}", d)]


def test_subject_labels_are_the_keys_masked_as_python_masks_them(warehouse):
    """Every mart's subject_label (what GX samples show) is its key masked by dbt's mask_id, the
    twin of fundwatch.masking: the same on the fixture's real rows."""
    from fundwatch.catalog import rules
    from fundwatch.masking import mask_subject_key

    subject_type = {r.mart: r.subject_type for r in rules()}
    rows = []
    for mart in sorted(subject_type):
        st = "subject_type" if mart == "source_files" else f"'{subject_type[mart]}'"
        rows += warehouse.execute(f"select {st}, subject_key, subject_label from marts.{mart}").fetchall()
    assert {r[0] for r in rows} >= {"roster_entry", "payment", "file", "row"}
    assert [r for r in rows if r[2] != mask_subject_key(r[0], r[1])] == []
    assert not [r for r in rows if r[0] == "roster_entry" and re.search(r"\d{9,}", r[2])]


def test_findings_carry_rule_name_and_severity_from_the_catalogue(warehouse):
    missing = warehouse.execute(
        "select count(*) from marts.fct_findings where rule_name is null or severity is null"
    ).fetchone()[0]
    assert missing == 0
    assert warehouse.execute(
        "select rule_name, severity from marts.fct_findings where rule_id = 'PAY_NOT_ON_ROSTER' limit 1"
    ).fetchone() == ("名单外发放", "error")


def test_findings_have_the_contract_columns(warehouse):
    cols = warehouse.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'fct_findings' order by ordinal_position"
    ).fetchall()
    assert [c for c, _ in cols] == [
        "rule_id", "rule_name", "severity", "subject_type", "subject_key", "project_code", "unit_code",
        "amount_at_risk", "source_file", "source_row", "detail", "finding_id", "attributes_md5",
    ]
    assert dict(cols)["amount_at_risk"] == "DECIMAL(18,2)"
    assert dict(cols)["source_row"] == "INTEGER"


def test_a_findings_id_is_the_one_the_state_gives_it(warehouse):
    """fct_findings.finding_id (dbt's macro) is the id fundwatch.state computes (Python), for every finding
    (Chinese keys included)."""
    from fundwatch.state import finding_id

    rows = warehouse.execute("select rule_id, subject_type, subject_key, finding_id from marts.fct_findings").fetchall()
    assert rows and all(finding_id(r, t, k) == fid for r, t, k, fid in rows)
    assert any(not k.isascii() for _, _, k, _ in rows)


def test_money_is_never_double_in_any_dbt_schema(warehouse):
    cols = warehouse.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_schema in ('staging', 'intermediate', 'marts')"
    ).fetchall()
    assert not [c for c in cols if c[3] in ("DOUBLE", "FLOAT", "REAL")]
    money = [c for c in cols if MONEY_COLUMN.search(c[2]) and not c[2].endswith(("_count", "_date", "_text"))
             and c[3].startswith(("DECIMAL", "DOUBLE", "HUGEINT"))]
    wrong = [c for c in money if c[3] != "DECIMAL(18,2)"]
    assert money and not wrong, wrong


def test_every_rule_column_is_unpivoted_into_findings(warehouse):
    marts = [
        "allocations", "transfers", "payments", "roster_entries", "expenditures", "projects", "source_files",
    ]
    total = 0
    for mart in marts:
        cols = [c for (c,) in warehouse.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = ? and column_name like 'rule\\_%' escape '\\'", [mart]
        ).fetchall()]
        assert cols, mart
        total += warehouse.execute(
            f"select {' + '.join(f'count({c})' for c in cols)} from marts.{mart}"
        ).fetchone()[0]
    assert total == warehouse.execute("select count(*) from marts.fct_findings").fetchone()[0]


def test_a_payment_finding_leads_back_to_its_file_and_row(warehouse):
    row = warehouse.execute(
        "select f.source_file, f.source_row, p.name from marts.fct_findings f "
        "join raw.payments p on p.source_file = f.source_file and p.source_row = f.source_row "
        "where f.rule_id = 'PAY_DECEASED'"
    ).fetchone()
    assert row == (F_PAY, 13, "戊")


def test_amounts_are_exact_decimals(warehouse):
    (amount,) = warehouse.execute(
        "select amount_at_risk from marts.fct_findings where rule_id = 'FILE_TOTAL_MISMATCH'"
    ).fetchone()
    assert amount == Decimal("15.50")
