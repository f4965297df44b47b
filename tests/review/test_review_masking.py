"""Masking of personal numbers on the review page: IDs and accounts hidden, references kept.

The rules per field (any length) are tested once for Python and dbt in ``tests/shared_cases``; here:
what the page does with them — evidence by key, a rejected row's raw values, numbers in free text —
and that an account of 14 digits or fewer is masked on the page and in the API.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from review_data import DAY1, PASSWORD, login

from fundwatch import state
from fundwatch.masking import mask_evidence, mask_subject_key, mask_text
from fundwatch.paths import Home
from fundwatch.review import create_app
from fundwatch.review.users import add_user

ACCOUNT_14 = "62170000111122"  # synthetic, 14 digits
ACCOUNT_9 = "621700001"
ID = "430121198505051236"  # synthetic


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("收款人430121198505051236的姓名", "收款人430121********1236的姓名", id="id-in-chinese-text"),
    pytest.param("账号6215190012345678901", "账号***************8901", id="bank-card"),
    pytest.param(f"代领账户{ACCOUNT_14}", "代领账户**********1122", id="account-14-digits"),
    pytest.param(f"账户{ACCOUNT_9}", "账户******001", id="account-9-digits"),
    pytest.param("交易2020071943138100000370发放", "交易2020071943138100000370发放", id="txn-ref-kept"),
    pytest.param("湘财社指〔2020〕36号 142000.00元", "湘财社指〔2020〕36号 142000.00元", id="doc-and-money-kept"),
])
def test_mask_text(text, expected):
    assert mask_text(text) == expected


@pytest.mark.parametrize(("subject_type", "key", "expected"), [
    pytest.param("roster_entry", "JSX2020-430422-TSJT|430422195407255148", "JSX2020-430422-TSJT|430422********5148",
                 id="roster-entry"),
    pytest.param("payment", "2020072543122500000333", "2020072543122500000333", id="payment-txn-ref"),
    pytest.param("row", "长沙市/发放明细.xlsx|27", "长沙市/发放明细.xlsx|27", id="row"),
])
def test_mask_subject_key(subject_type, key, expected):
    assert mask_subject_key(subject_type, key) == expected


def test_mask_evidence_masks_by_key_and_numbers_in_free_text():
    evidence = {
        "source_row": {"txn_ref": "2020072543122500000333", "id_number": "12345", "account_no": ACCOUNT_14,
                       "staff_id_number": "430422195407255148", "remark": "代领人430102199001011234",
                       "amount": Decimal("3000.00")},
        "credits": [{"txn_ref": "ZJ1", "amount": 1000.0}],
        "roster_entry": None,
    }
    out = mask_evidence(evidence)
    assert out["source_row"] == {"txn_ref": "2020072543122500000333", "id_number": "****5",
                                 "account_no": "**********1122", "staff_id_number": "430422********5148",
                                 "remark": "代领人430102********1234", "amount": Decimal("3000.00")}
    assert out["credits"] == [{"txn_ref": "ZJ1", "amount": 1000.0}] and out["roster_entry"] is None


def test_a_rejected_rows_raw_values_are_masked_header_by_header():
    raw = json.dumps({"姓名": "刘建国", "公民身份号码": ID, "银行账号": ACCOUNT_9, "备注": int(ACCOUNT_14),
                      "金额（元）": "abc"}, ensure_ascii=False)
    out = json.loads(mask_evidence({"raw_values": raw})["raw_values"])
    assert out == {"姓名": "刘建国", "公民身份号码": "430121********1236", "银行账号": "******001",
                   "备注": "**********1122", "金额（元）": "abc"}


@pytest.fixture
def short_account_home(tmp_path) -> Home:
    """A home whose one finding holds a 14-digit account in its evidence, detail and raw values."""
    home = Home(tmp_path / "home").ensure()
    raw_values = json.dumps({"公民身份号码": ID, "银行账号": ACCOUNT_14}, ensure_ascii=False)
    finding = {
        "rule_id": "PAY_ACCOUNT_MISMATCH", "rule_name": "发放账号与名单不符", "severity": "warning",
        "subject_type": "payment", "subject_key": "TX20210105009", "project_code": "JQZX-2020-430121",
        "unit_code": "430121", "amount_at_risk": Decimal("3000.00"), "source_file": "长沙县/发放明细.xlsx",
        "source_row": 9, "detail": f"应发放至名单登记的账户，实际发放至账户{ACCOUNT_14}。",
        "evidence": {"source_row": {"txn_ref": "TX20210105009", "id_number": ID, "account_no": ACCOUNT_14,
                                    "remark": f"代领账户{ACCOUNT_14}", "raw_values": raw_values},
                     "roster_entry": {"id_number": ID, "account_no": ACCOUNT_9}, "project": None, "credits": []},
    }
    state.record_run(home.state_db, run_id="scheduled__2021-04-29", run_date=DAY1, findings=[finding])
    add_user(home.state_db, "reviewer1", PASSWORD, "reviewer")
    return home


def test_an_account_of_14_digits_or_fewer_is_masked_on_the_page_and_in_the_api(short_account_home):
    app = create_app(short_account_home)
    app.config["TESTING"] = True
    client = app.test_client()
    assert login(client, "reviewer1").status_code == 302
    fid = state.finding_id("PAY_ACCOUNT_MISMATCH", "payment", "TX20210105009")
    page = client.get(f"/findings/{fid}").get_data(as_text=True)
    api = client.get(f"/api/findings/{fid}").get_data(as_text=True)
    queue = client.get("/").get_data(as_text=True)
    for body in (page, api, queue):
        assert ACCOUNT_14 not in body and ID not in body
    assert ACCOUNT_9 not in page and "******001" in page
    assert "**********1122" in page and "**********1122" in api
