"""Masking of personal numbers on the review page: IDs and accounts hidden, references kept."""

from __future__ import annotations

import pytest

from fundwatch.masking import mask_evidence, mask_subject_key, mask_text


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("收款人430121198505051236的姓名", "收款人430121********1236的姓名", id="id-in-chinese-text"),
    pytest.param("ID 43012119850505123X.", "ID 430121********123X.", id="id-with-x"),
    pytest.param("账号6215190012345678901", "账号621519*********8901", id="bank-card"),
    pytest.param("存折811234567890123", "存折811234*****0123", id="passbook-15"),
    pytest.param("４３０６０２１９９５０７０９５１２２", "４３０６０２********５１２２", id="full-width-id"),
    pytest.param("交易2020071943138100000370发放", "交易2020071943138100000370发放", id="txn-ref-kept"),
    pytest.param("湘财社指〔2020〕36号 142000.00元", "湘财社指〔2020〕36号 142000.00元", id="doc-and-money-kept"),
    pytest.param("ZJ20200422000303999", "ZJ20200422000303999", id="letter-prefixed-ref-kept"),
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


def test_mask_evidence_masks_sensitive_keys_whole_and_numbers_in_free_text():
    evidence = {
        "source_row": {"txn_ref": "2020072543122500000333", "id_number": "12345", "account_no": "6228210026609952413",
                       "staff_id_number": "430422195407255148", "remark": "代领人430102199001011234"},
        "credits": [{"txn_ref": "ZJ1", "amount": 1000.0}],
        "roster_entry": None,
    }
    out = mask_evidence(evidence)
    assert out["source_row"] == {"txn_ref": "2020072543122500000333", "id_number": "***45",
                                 "account_no": "622821*********2413", "staff_id_number": "430422********5148",
                                 "remark": "代领人430102********1234"}
    assert out["credits"] == [{"txn_ref": "ZJ1", "amount": 1000.0}] and out["roster_entry"] is None
