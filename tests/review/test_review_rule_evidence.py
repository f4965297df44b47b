"""Each rule's page shows the evidence that rule relies on, on the state of one real pipeline run.

The run (``real_run``: the demo province through ingest, dbt and the export, once per session) is
where the records come from; the expectations are written from issue 14, not from the page's code:
which kinds of record each rule relies on, that every record of them appears with its file and row,
and what a sentence over them must say.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from decimal import Decimal

import pytest
from review_data import PASSWORD, login

from fundwatch import masking, state
from fundwatch.review import create_app

# Issue 14, "Evidence: what the rule relies on": the kinds of record each rule's page must show.
RELIED_ON = {
    "PAY_DECEASED": ["death_register"],
    "PAY_STAFF_RELATED": ["staff_register"],
    "PAY_DUPLICATE": ["other_payments"],
    "PAY_SHARED_ACCOUNT": ["other_payments"],
    "EXP_NO_DECISION": ["decisions"],
    "PROJ_OVER_BUDGET": ["category_spending", "subject"],
    "TRANSFER_UNMATCHED": ["candidate_allocations"],
    "ALLOC_SHORT": ["matched_credits"],
    "ALLOC_OVER": ["matched_credits"],
    "ALLOC_LATE": ["matched_credits"],
    "ROSTER_UNPAID": ["subject", "person_payments"],
    "PROJ_NOT_POSTED": ["postings"],
    "PROJ_REPORT_MISSING": ["final_reports"],
    "PROJ_REPORT_LATE": ["final_reports"],
    "PROJ_REPORT_MISMATCH": ["final_reports", "category_spending"],
    "PAY_NAME_MISMATCH": ["subject", "roster_entry"],
}


@pytest.fixture(scope="module")
def pages(real_run):
    """rule -> [(finding, its unmasked evidence, its page's HTML)], every finding of those rules."""
    app = create_app(real_run)
    app.config["TESTING"] = True
    client = app.test_client()
    assert login(client, "reviewer1", PASSWORD).status_code == 302
    conn = state.connect(real_run.state_db)
    try:
        findings = [dict(r) for r in conn.execute(
            f"SELECT * FROM findings WHERE rule_id IN ({','.join('?' * len(RELIED_ON))}) ORDER BY finding_id",
            list(RELIED_ON))]
    finally:
        conn.close()
    out: dict[str, list] = {}
    for f in findings:
        resp = client.get(f"/findings/{f['finding_id']}")
        assert resp.status_code == 200
        out.setdefault(f["rule_id"], []).append((f, json.loads(f["evidence"]), resp.get_data(as_text=True)))
    return out


def section(page: str, kind: str) -> str:
    """The text of one evidence section (``id="ev-<kind>"``) of a page, tags dropped."""
    start = page.index(f'id="ev-{kind}"')
    end = min(i for i in (page.find('class="ev-section', start + 1), page.find("</section>", start)) if i > 0)
    return text_of(page[start:end])


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def yuan(amount: str) -> str:
    return f"¥{Decimal(amount):,.2f}"


def test_the_real_run_fires_every_rule_the_issue_names(pages):
    assert set(pages) == set(RELIED_ON), "the demo province makes each of these rules fire"


@pytest.mark.parametrize("rule", sorted(RELIED_ON))
def test_each_record_the_rule_relies_on_is_shown_with_its_file_and_row(pages, rule):
    for f, evidence, page in pages[rule]:
        for kind in RELIED_ON[rule]:
            shown = section(page, kind)
            records = evidence.get(kind, [])
            if not records:
                assert "没有" in shown, (rule, kind, "an empty kind is said aloud")
            cut = {r["evidence_kind"]: r for r in evidence.get("omitted", [])}
            for record in records:
                if record["source_file"]:
                    where = f"{record['source_file']} 第 {record['source_row']} 行"
                    assert where in shown, (rule, f["finding_id"], kind, where)
                else:  # a sum by category has no single row and says so
                    assert "汇总多行，无单一来源行" in shown
            if kind in cut:
                assert f"共 {cut[kind]['records_total']} 条" in shown


def test_headers_are_chinese_and_technical_fields_are_folded(pages):
    for rule in RELIED_ON:
        for _f, evidence, page in pages[rule]:
            body = page[page.index('id="evidence"'):page.index('id="rule"')]
            outside = re.sub(r'<details class="tech">.*?</details>', "", body, flags=re.S)
            for header in re.findall(r"<th>([^<]*)</th>", outside):
                assert not re.search(r"[a-z]_[a-z]", header), (rule, header, "a raw column name as header")
            for record in (r for records in evidence.values() for r in records):
                for key in ("file_sha256", "load_run_id"):
                    if record.get(key):
                        assert record[key] not in outside, (rule, key)
                if record.get("loaded_at"):
                    assert record["loaded_at"] not in page, "microseconds are never shown"
            assert "raw." not in outside, "table names only under 技术信息"


def test_money_reads_as_money_in_sentences_and_tables(pages):
    for rule in RELIED_ON:
        for f, _evidence, page in pages[rule]:
            detail = text_of(page[page.index('id="detail"'):page.index("</p>", page.index('id="detail"'))])
            assert not re.search(r"(?<![\d.,¥])\d{4,}\.\d{2}", detail), (rule, detail)
            if Decimal(f["amount_at_risk"]) > 0:
                assert yuan(f["amount_at_risk"]) in page, rule


def test_alloc_late_names_the_late_credits(pages):
    for _f, evidence, page in pages["ALLOC_LATE"]:
        notes = text_of("".join(re.findall(r'<p class="note">.*?</p>', page, flags=re.S)))
        late = [c for c in evidence["matched_credits"] if c["is_late"]]
        assert late, "ALLOC_LATE fires on credits after the deadline"
        for c in late:
            assert f"流水号 {c['txn_ref']}（{c['value_date']} 到账，{yuan(c['amount'])}）" in notes
        for c in evidence["matched_credits"]:
            if not c["is_late"]:
                assert c["txn_ref"] not in notes


def test_over_budget_sets_spending_by_category_against_the_budget(pages):
    for _f, evidence, page in pages["PROJ_OVER_BUDGET"]:
        budget = Decimal(evidence["subject"][0]["budget"])
        spent = sum(Decimal(r["amount"]) for r in evidence["category_spending"])
        notes = text_of("".join(re.findall(r'<p class="note">.*?</p>', page, flags=re.S)))
        assert f"预算{yuan(str(budget))}" in notes and f"合计{yuan(str(spent))}" in notes
        assert f"超出预算{yuan(str(spent - budget))}" in notes
        shown = section(page, "category_spending")
        for line in evidence["category_spending"]:
            assert line["category"] in shown and yuan(line["amount"]) in shown


def test_name_mismatch_says_which_characters_differ_over_masked_names(pages):
    for _f, evidence, page in pages["PAY_NAME_MISMATCH"]:
        paid, listed = evidence["subject"][0]["name"], evidence["roster_entry"][0]["name"]
        assert masking.mask_name(paid) == masking.mask_name(listed), "masked, they look alike"
        positions = [i + 1 for i, (a, b) in enumerate(zip(paid, listed, strict=False)) if a != b]
        box = page[page.index('id="name-diff"'):page.index("</p>", page.index('id="name-diff"'))]
        if len(paid) == len(listed):
            assert f"第{'、'.join(map(str, positions))}个字不同" in text_of(box)
        marked = [m.start() for m in re.finditer(r"<mark>", box)]
        assert len(marked) >= 2, "the differing positions are highlighted in both names"
        assert paid not in box and listed not in box, "the box shows the names masked"


def test_transfer_unmatched_lists_the_allocations_with_the_same_doc_no(pages):
    for _f, evidence, page in pages["TRANSFER_UNMATCHED"]:
        shown = section(page, "candidate_allocations")
        for a in evidence.get("candidate_allocations", []):
            assert a["doc_no"] in shown
        flagged = sum(1 for a in evidence.get("candidate_allocations", []) if a["is_candidate"])
        if evidence.get("candidate_allocations"):
            assert f"也相符的 {flagged} 份" in text_of(page)


def test_personal_numbers_stay_masked_on_every_page(pages):
    for rule in RELIED_ON:
        for _f, evidence, page in pages[rule]:
            for record in (r for records in evidence.values() for r in records):
                for key in ("id_number", "account_no"):
                    if record.get(key):
                        assert record[key] not in page, (rule, key)
