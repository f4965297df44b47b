"""How the review page shows things: Chinese labels of fields and evidence, money, evidence layout.

Presentation only (no data access, no permission decisions).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

FIELD_LABELS = {
    "project_code": "项目编码", "name": "姓名", "id_number": "公民身份号码", "person_category": "人员类别",
    "account_no": "银行账号", "bank_name": "开户银行", "approved_amount": "核定金额（元）",
    "unit_code": "单位代码", "report_date": "上报日期", "publicity_start": "公示开始日期",
    "publicity_end": "公示结束日期", "txn_ref": "流水号", "batch": "发放批次", "amount": "金额（元）",
    "pay_date": "发放日期", "remark": "备注", "voucher_no": "凭证号", "spend_date": "支出日期",
    "category": "支出类别", "payee": "收款方", "memo": "摘要", "decision_no": "决策文号",
    "doc_no": "文号", "issue_date": "发文日期", "issuer": "发文单位", "fiscal_year": "资金年度",
    "recipient_code": "收款单位代码", "recipient_name": "收款单位", "deadline_days": "拨付时限（天）",
    "value_date": "到账日期", "payer": "付款单位", "project_name": "项目名称", "project_type": "项目类型",
    "unit_name": "实施单位", "start_date": "开始日期", "end_date": "结束日期", "budget": "预算金额（元）",
    "standard_amount": "补助标准（元/人）", "pay_deadline": "发放截止日期", "publicity_days": "公示天数",
    "report_deadline": "终期报告截止日期", "allowed_categories": "允许支出类别",
    "large_amount_threshold": "大额资金标准（元）", "source_file": "来源文件", "source_row": "来源行号",
    "death_date": "死亡日期", "staff_id_number": "关联工作人员身份号码", "relation": "关系",
    "position": "职务", "submit_date": "提交日期", "actual_spent": "实际支出（元）",
    "report_no": "报告编号", "beneficiaries": "受益人数", "meeting_date": "会议日期", "meeting_type": "会议类型",
    "matter": "决策事项", "posting_type": "公示类型", "location": "公示地点", "evidence_no": "证明材料编号",
    "data_source": "数据来源", "file_sha256": "文件校验值（SHA-256）", "load_run_id": "载入批次",
    "loaded_at": "载入时间", "kind": "文件类型", "status": "状态", "reason": "原因", "raw_values": "原始值",
    "size_bytes": "文件大小（字节）", "rows_loaded": "载入行数", "rows_rejected": "拒收行数",
    "is_current": "当前版本", "amount_at_risk": "涉及金额（元）",
    "deadline_date": "拨付截止日期", "is_late": "晚于截止日期", "is_candidate": "文号、单位、项目均相符",
    "is_cited": "凭证所引决策", "spending_kind": "支出来源", "record_count": "笔数",
    "first_spent_on": "最早日期", "last_spent_on": "最晚日期", "is_allowed": "在允许支出类别内",
    "column_name": "列", "stated_total": "所列合计（元）", "computed_total": "明细之和（元）",
    "difference": "差额（元）", "evidence_kind": "证据类", "records_listed": "已列出条数",
    "records_total": "共计条数",
}
# One title per evidence kind (dbt model fct_finding_evidence), in the order the page shows them.
EVIDENCE_TITLES = {
    "subject": "原始数据行", "rejected_row": "未能载入的行", "file": "文件", "roster_entry": "上报名单记录",
    "project": "项目文本条款", "death_register": "死亡登记", "staff_register": "工作人员及亲属名册",
    "other_payments": "其他相关发放", "person_payments": "该人员的发放记录", "decisions": "集体决策记录",
    "category_spending": "按支出类别汇总的支出", "candidate_allocations": "候选资金指标",
    "matched_credits": "到账记录", "postings": "公示记录", "final_reports": "终期报告",
    "total_mismatches": "不符的合计行", "omitted": "未列出的记录",
}


def money_fmt(value) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)


MONEY_FIELDS = {"amount", "approved_amount", "budget", "standard_amount", "large_amount_threshold",
                "actual_spent", "amount_at_risk", "stated_total", "computed_total", "difference"}


def field_fmt(value, key: str = "") -> str:
    """An evidence value for display: money fields with 2 decimals (display only), None as blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in MONEY_FIELDS and isinstance(value, int | float | str) and not isinstance(value, bool):
        # JSON numbers from the warehouse: shown through their text, never computed with.
        return money_fmt(value)
    return str(value)


# Roster field compared with the payment field of the same meaning (found -> expected).
_COMPARED = (("name", "name"), ("id_number", "id_number"), ("account_no", "account_no"),
             ("amount", "approved_amount"), ("project_code", "project_code"), ("unit_code", "unit_code"))


def comparison(evidence: dict) -> list[tuple[str, str, object, object, bool]]:
    """(key, label, found in the subject's row, expected by the roster, differs) for shared fields."""
    row, roster = _first(evidence.get("subject")), _first(evidence.get("roster_entry"))
    if not isinstance(row, dict) or not isinstance(roster, dict):
        return []
    out = []
    for found_key, expected_key in _COMPARED:
        if found_key in row and expected_key in roster:
            found, expected = row[found_key], roster[expected_key]
            differs = _norm(found) != _norm(expected)
            out.append((found_key, FIELD_LABELS.get(found_key, found_key), found, expected, differs))
    return out


def _norm(value) -> str:
    text = "" if value is None else str(value).strip()
    try:
        return str(Decimal(text))
    except InvalidOperation:
        return text


def _first(records):
    """The one record of a kind (a list of records), or None."""
    return records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else None


def evidence_items(evidence: dict) -> list[tuple[str, str, object]]:
    """(title, kind, value) per evidence kind: 'table' (one record), 'rows' (several), 'text'."""
    items = []
    order = [k for k in EVIDENCE_TITLES if k in evidence] + [k for k in evidence if k not in EVIDENCE_TITLES]
    for key in order:
        value = evidence[key]
        title = EVIDENCE_TITLES.get(key, FIELD_LABELS.get(key, key))
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]
        if value is None or value == [] or value == {}:
            items.append((title, "none", None))
        elif isinstance(value, dict):
            items.append((title, "table", value))
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            cols: list[str] = []
            for v in value:
                cols += [c for c in v if c not in cols]
            items.append((title, "rows", (cols, value)))
        else:
            items.append((title, "text", value))
    return items
