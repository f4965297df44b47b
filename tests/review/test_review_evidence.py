"""The finding page shows evidence in the shape the export stores (one key per kind of record, each a
list of records with their file and row; dbt model fct_finding_evidence), every kind under its title,
personal data masked, and compares a payment with its roster entry field by field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from review_data import ACCOUNT_LIU, DAY2, ID_LIU, PASSWORD, fid, login

from fundwatch import state
from fundwatch.paths import Home
from fundwatch.review import create_app, evidence
from fundwatch.review.users import add_user

PAY = "长沙县/发放/2020金秋助学发放明细.xlsx"


def _rec(file: str | None, row: int | None, **fields) -> dict:
    return {"source_file": file, "source_row": row, **fields}


# One record (or two) of every kind, as fct_finding_evidence writes them (money as 2-decimal text).
EVIDENCE = {
    "subject": [_rec(PAY, 8, txn_ref="TX1", name="刘建国", id_number=ID_LIU, account_no=ACCOUNT_LIU,
                     amount="98765432109876.54", unit_code="430121")],
    "roster_entry": [_rec("长沙县/名单.xlsx", 5, name="刘建图", id_number=ID_LIU, account_no=ACCOUNT_LIU,
                          approved_amount="3000.00", unit_code="430121")],
    "project": [_rec("项目文本.xlsx", 3, project_code="JQZX-2020-430121", budget="100000.00")],
    "death_register": [_rec("登记/死亡.csv", 2, id_number=ID_LIU, death_date="2020-06-01", data_source="民政")],
    "staff_register": [_rec("登记/名册.csv", 4, id_number=ID_LIU, relation="配偶", staff_id_number=ID_LIU)],
    "other_payments": [_rec(PAY, 9, txn_ref="TX2", amount="3000.00"), _rec(PAY, 10, txn_ref="TX3", amount="10.00")],
    "person_payments": [_rec(PAY, 11, txn_ref="TX4", project_code="PZ-NODOC", amount="3000.00")],
    "decisions": [_rec("三重一大/决策.xlsx", 3, decision_no="长计生协决〔2020〕7号", is_cited=True)],
    "category_spending": [_rec(None, None, category="宣传费", record_count=2, amount="1200.00", is_allowed=False)],
    "candidate_allocations": [_rec("指标.xlsx", 4, doc_no="湘财社指〔2020〕36号", is_candidate=True)],
    "matched_credits": [_rec("到账.csv", 6, txn_ref="C1", amount="500.00", deadline_date="2020-03-31", is_late=True)],
    "postings": [_rec("公示.xlsx", 2, posting_type="项目挂牌", start_date="2020-03-02")],
    "final_reports": [_rec("报告.xlsx", 2, report_no="R4", actual_spent="500.00")],
    "file": [_rec("长沙县/坏.xlsx", None, status="rejected", reason="文件已损坏")],
    "total_mismatches": [_rec("到账.csv", 14, column_name="金额（元）", stated_total="5.50", difference="5.50")],
    "rejected_row": [_rec(PAY, 40, reason="金额不是数字", raw_values={"公民身份号码": ID_LIU, "金额（元）": "abc"})],
    "omitted": [_rec(None, None, evidence_kind="other_payments", records_listed=50, records_total=51)],
}
FINDING = {
    "rule_id": "PAY_NAME_MISMATCH", "rule_name": "姓名与名单不符", "severity": "error", "subject_type": "payment",
    "subject_key": "TX1", "project_code": "JQZX-2020-430121", "unit_code": "430121",
    "amount_at_risk": Decimal("98765432109876.54"), "source_file": PAY, "source_row": 8,
    "detail": "收款人的姓名应与名单登记的刘*一致。", "evidence": EVIDENCE,
}


@pytest.fixture
def page(tmp_path):
    home = Home(tmp_path / "home").ensure()
    state.record_run(home.state_db, run_id="r", run_date=DAY2, findings=[FINDING])
    add_user(home.state_db, "reviewer1", PASSWORD, "reviewer")
    client = create_app(home).test_client()
    assert login(client, "reviewer1").status_code == 302
    return client, client.get(f"/findings/{fid(FINDING)}").get_data(as_text=True)


def test_every_kind_of_evidence_has_its_title(page):
    _, html = page
    for kind in set(EVIDENCE) - {"omitted"}:  # a cut list is said in its own section
        title = evidence.title(FINDING["rule_id"], FINDING["subject_type"], kind)
        assert f'id="ev-{kind}"' in html and title in html, kind
        assert not title.isascii(), kind
    assert "98,765,432,109,876.54" in html, "money shown from its exact text"
    assert "TX2" in html and "TX3" in html and "共 51 条" in html


def test_personal_data_is_masked_in_every_kind_even_nested(page):
    _, html = page
    assert ID_LIU not in html and ACCOUNT_LIU not in html


def test_the_paid_name_stands_beside_the_roster_name(page):
    _, html = page
    compared = html[html.index('id="comparison"'):html.index("</table>", html.index('id="comparison"'))]
    assert "刘建国" in compared and "刘建图" in compared and "不一致" in compared


def test_the_api_returns_the_stored_kinds_masked(page):
    client, _ = page
    evidence = client.get(f"/api/findings/{fid(FINDING)}").get_json()["evidence"]
    assert set(evidence) == set(EVIDENCE)
    assert evidence["subject"][0]["amount"] == "98765432109876.54"
    assert evidence["subject"][0]["id_number"] != ID_LIU
    assert evidence["rejected_row"][0]["raw_values"]["公民身份号码"] != ID_LIU
