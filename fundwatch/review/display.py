"""How the review page shows values: Chinese labels of fields and kinds, money, booleans, sentences.

Presentation only (no data access, no permission decisions). What each rule's evidence shows is
``evidence.py``; this module is the vocabulary it (and the office's export) uses.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

FIELD_LABELS = {
    "project_code": "项目编码", "name": "姓名", "id_number": "公民身份号码", "person_category": "人员类别",
    "account_no": "银行账号", "bank_name": "开户银行", "approved_amount": "核定金额",
    "unit_code": "单位代码", "report_date": "上报日期", "publicity_start": "公示开始日期",
    "publicity_end": "公示结束日期", "txn_ref": "流水号", "batch": "发放批次", "amount": "金额",
    "pay_date": "发放日期", "remark": "备注", "voucher_no": "凭证号", "spend_date": "支出日期",
    "category": "支出类别", "payee": "收款方", "memo": "摘要", "decision_no": "决策文号",
    "doc_no": "文号", "issue_date": "发文日期", "issuer": "发文单位", "fiscal_year": "资金年度",
    "recipient_code": "收款单位代码", "recipient_name": "收款单位", "deadline_days": "拨付时限（天）",
    "value_date": "到账日期", "payer": "付款单位", "project_name": "项目名称", "project_type": "项目类型",
    "unit_name": "实施单位", "start_date": "开始日期", "end_date": "结束日期", "budget": "预算金额",
    "standard_amount": "补助标准（每人）", "pay_deadline": "发放截止日期", "publicity_days": "公示天数",
    "report_deadline": "终期报告截止日期", "allowed_categories": "允许支出类别",
    "large_amount_threshold": "大额资金标准", "source_file": "来源文件", "source_row": "来源行号",
    "death_date": "死亡日期", "staff_id_number": "关联工作人员身份号码", "relation": "关系",
    "position": "职务", "submit_date": "提交日期", "actual_spent": "实际支出",
    "report_no": "报告编号", "beneficiaries": "受益人数", "meeting_date": "会议日期", "meeting_type": "会议类型",
    "matter": "决策事项", "posting_type": "公示类型", "location": "公示地点", "evidence_no": "证明材料编号",
    "data_source": "数据来源", "file_sha256": "文件校验值（SHA-256）", "load_run_id": "载入批次",
    "loaded_at": "载入时间", "kind": "文件类型", "status": "状态", "reason": "原因", "raw_values": "原始值",
    "size_bytes": "文件大小（字节）", "rows_loaded": "载入行数", "rows_rejected": "拒收行数",
    "is_current": "当前版本", "amount_at_risk": "涉及金额",
    "deadline_date": "拨付截止日期", "is_late": "晚于截止日期", "is_candidate": "收款单位和项目也相符",
    "is_cited": "凭证所引决策", "spending_kind": "支出来源", "record_count": "笔数",
    "first_spent_on": "最早日期", "last_spent_on": "最晚日期", "is_allowed": "在允许支出类别内",
    "column_name": "列", "stated_total": "所列合计", "computed_total": "明细之和",
    "difference": "差额", "evidence_kind": "证据类", "records_listed": "已列出条数",
    "records_total": "共计条数",
}

# The raw layer's tables as clerks call the kinds of file (ingestion.kinds; a test keeps them equal:
# the review page never imports ingestion, which would load the warehouse driver).
KIND_LABELS = {
    "allocations": "资金指标", "credits": "资金到账", "projects": "项目文本", "roster": "上报名单",
    "payments": "发放明细", "expenditures": "支出明细", "postings": "公示记录", "final_reports": "终期报告",
    "decisions": "集体决策记录", "deaths": "死亡登记", "staff": "工作人员及亲属名册",
}
FILE_STATUS_LABELS = {"loaded": "已载入", "rejected": "未载入（拒收）", "duplicate": "重复文件，未再载入",
                      "superseded": "已被更正版本取代"}
SPENDING_KIND_LABELS = {"payment": "个人补助发放", "expenditure": "支出凭证"}

MONEY_FIELDS = frozenset({
    "amount", "approved_amount", "budget", "standard_amount", "large_amount_threshold", "actual_spent",
    "amount_at_risk", "stated_total", "computed_total", "difference",
})
# What a clerk does not need to judge a finding: shown folded under 技术信息.
TECHNICAL_FIELDS = ("load_run_id", "file_sha256", "loaded_at", "size_bytes", "is_current")


def money_fmt(value) -> str:
    """2 decimals with thousands separators ('1,234.50'), for columns headed （元）."""
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)


def yuan(value) -> str:
    """Money as the office writes it: '¥1,234.50' (text in, text out; never through a float)."""
    text = money_fmt(value)
    return "¥" + text if text and text[0].isdigit() else ("-¥" + text[1:] if text.startswith("-") else text)


# An amount inside a sentence: digits with exactly 2 decimals, standing alone (not a date, an ID or
# part of a longer number), and the 元 after it when there is one.
_AMOUNT_IN_TEXT = re.compile(r"(?<![\d.,])(\d+\.\d{2})(?![\d.])(元)?")


def money_sentence(text):
    """A sentence with its amounts as money: '预算100000.00元' -> '预算¥100,000.00'."""
    if not isinstance(text, str):
        return text
    return _AMOUNT_IN_TEXT.sub(lambda m: yuan(m.group(1)), text)


def field_fmt(value, key: str = "") -> str:
    """An evidence value for display: money as ¥, yes/no, the Chinese name of codes, None blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in MONEY_FIELDS and isinstance(value, int | str):
        return yuan(value)  # 2-decimal text from the warehouse: shown, never computed with
    if key == "kind":
        return KIND_LABELS.get(str(value), str(value))
    if key == "status":
        return FILE_STATUS_LABELS.get(str(value), str(value))
    if key == "spending_kind":
        return SPENDING_KIND_LABELS.get(str(value), str(value))
    if key == "loaded_at":
        return str(value)[:19]  # seconds are enough for a person
    return str(value)
