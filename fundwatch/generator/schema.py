"""The eleven file kinds of source-files.md as the generator writes them.

Each kind is a tuple of columns in the order of ARCHITECTURE.md's raw tables; a record of a kind is a
plain tuple in that order holding *normalised* values (``str``, ``date``, ``Decimal``, ``int`` or
``None``). The writer turns records into messy cells; the expected-findings engine reads records.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Col:
    field: str
    label: str  # Chinese header as in source-files.md (full-width brackets)
    type: str  # text | date | money | int | code | id | account | name | docno
    required: bool = False


def _c(field: str, label: str, type_: str, required: bool = False) -> Col:
    return Col(field, label, type_, required)


KINDS: dict[str, tuple[Col, ...]] = {
    "allocations": (
        _c("doc_no", "文号", "docno", True),
        _c("issue_date", "发文日期", "date", True),
        _c("issuer", "发文单位", "text"),
        _c("fiscal_year", "资金年度", "int"),
        _c("recipient_code", "收款单位代码", "code", True),
        _c("recipient_name", "收款单位", "text"),
        _c("project_code", "项目编码", "text", True),
        _c("amount", "金额（元）", "money", True),
        _c("deadline_days", "拨付时限（天）", "int"),
    ),
    "credits": (
        _c("txn_ref", "流水号", "text", True),
        _c("value_date", "到账日期", "date", True),
        _c("payer", "付款单位", "text"),
        _c("recipient_code", "收款单位代码", "code", True),
        _c("recipient_name", "收款单位", "text"),
        _c("amount", "金额（元）", "money", True),
        _c("doc_no", "文号", "docno"),
        _c("memo", "摘要", "text"),
        _c("project_code", "项目编码", "text"),
    ),
    "projects": (
        _c("project_code", "项目编码", "text", True),
        _c("project_name", "项目名称", "text", True),
        _c("project_type", "项目类型", "text", True),
        _c("unit_code", "实施单位代码", "code", True),
        _c("unit_name", "实施单位", "text"),
        _c("start_date", "项目开始日期", "date", True),
        _c("end_date", "项目结束日期", "date", True),
        _c("budget", "预算金额（元）", "money", True),
        _c("standard_amount", "补助标准（元/人）", "money"),
        _c("pay_deadline", "发放截止日期", "date"),
        _c("publicity_days", "公示天数", "int"),
        _c("report_deadline", "终期报告截止日期", "date", True),
        _c("allowed_categories", "允许支出类别", "text", True),
        _c("large_amount_threshold", "大额资金标准（元）", "money"),
    ),
    "roster": (
        _c("project_code", "项目编码", "text", True),
        _c("name", "姓名", "name", True),
        _c("id_number", "公民身份号码", "id", True),
        _c("person_category", "人员类别", "text"),
        _c("account_no", "银行账号", "account"),
        _c("bank_name", "开户银行", "text"),
        _c("approved_amount", "核定金额（元）", "money", True),
        _c("unit_code", "上报单位代码", "code", True),
        _c("report_date", "上报日期", "date"),
        _c("publicity_start", "公示开始日期", "date"),
        _c("publicity_end", "公示结束日期", "date"),
    ),
    "payments": (
        _c("txn_ref", "交易流水号", "text", True),
        _c("batch", "发放批次", "text"),
        _c("project_code", "项目编码", "text", True),
        _c("name", "姓名", "name", True),
        _c("id_number", "公民身份号码", "id", True),
        _c("account_no", "银行账号", "account", True),
        _c("bank_name", "开户银行", "text"),
        _c("amount", "金额（元）", "money", True),
        _c("pay_date", "发放日期", "date", True),
        _c("unit_code", "发放单位代码", "code", True),
        _c("remark", "备注", "text"),
    ),
    "expenditures": (
        _c("voucher_no", "凭证号", "text", True),
        _c("project_code", "项目编码", "text", True),
        _c("spend_date", "支出日期", "date", True),
        _c("category", "支出类别", "text", True),
        _c("amount", "金额（元）", "money", True),
        _c("payee", "收款方", "text"),
        _c("memo", "摘要", "text"),
        _c("decision_no", "决策文号", "docno"),
    ),
    "postings": (
        _c("project_code", "项目编码", "text", True),
        _c("posting_type", "公示类型", "text", True),
        _c("start_date", "开始日期", "date", True),
        _c("end_date", "结束日期", "date"),
        _c("location", "公示地点", "text"),
        _c("evidence_no", "证明材料编号", "text"),
    ),
    "final_reports": (
        _c("project_code", "项目编码", "text", True),
        _c("report_no", "报告编号", "text"),
        _c("submit_date", "提交日期", "date", True),
        _c("actual_spent", "实际支出（元）", "money", True),
        _c("beneficiaries", "受益人数", "int"),
    ),
    "decisions": (
        _c("decision_no", "决策文号", "docno", True),
        _c("unit_code", "决策单位代码", "code", True),
        _c("meeting_date", "会议日期", "date", True),
        _c("meeting_type", "会议类型", "text"),
        _c("matter", "决策事项", "text"),
        _c("amount", "涉及金额（元）", "money"),
        _c("project_code", "项目编码", "text"),
    ),
    "deaths": (
        _c("name", "姓名", "name", True),
        _c("id_number", "公民身份号码", "id", True),
        _c("death_date", "死亡日期", "date", True),
        _c("data_source", "数据来源", "text"),
    ),
    "staff": (
        _c("name", "姓名", "name", True),
        _c("id_number", "公民身份号码", "id", True),
        _c("unit_code", "工作单位代码", "code", True),
        _c("position", "职务", "text"),
        _c("relation", "关系", "text", True),
        _c("staff_id_number", "关联工作人员身份号码", "id"),
    ),
}

KIND_LABELS: dict[str, str] = {
    "allocations": "资金指标",
    "credits": "资金到账",
    "projects": "项目文本",
    "roster": "上报名单",
    "payments": "发放明细",
    "expenditures": "支出明细",
    "postings": "公示记录",
    "final_reports": "终期报告",
    "decisions": "集体决策记录",
    "deaths": "死亡登记",
    "staff": "工作人员及亲属名册",
}

KEYS: dict[str, tuple[str, ...]] = {
    "allocations": ("doc_no", "recipient_code", "project_code"),
    "credits": ("txn_ref",),
    "projects": ("project_code",),
    "roster": ("project_code", "id_number"),
    "payments": ("txn_ref",),
    "expenditures": ("voucher_no",),
    "postings": ("project_code", "posting_type", "start_date"),
    "final_reports": ("project_code",),
    "decisions": ("decision_no",),
    "deaths": ("id_number",),
    "staff": ("id_number", "staff_id_number"),
}

# Money columns whose 合计 line the writer may state (projects' money columns are not additive).
TOTAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "allocations": ("amount",),
    "credits": ("amount",),
    "roster": ("approved_amount",),
    "payments": ("amount",),
    "expenditures": ("amount",),
    "final_reports": ("actual_spent",),
    "decisions": ("amount",),
}


def field_index(kind: str) -> dict[str, int]:
    """Position of each field in a record of ``kind``."""
    return {c.field: i for i, c in enumerate(KINDS[kind])}


def key_of(kind: str, rec: tuple) -> tuple:
    idx = field_index(kind)
    return tuple(rec[idx[f]] for f in KEYS[kind])
