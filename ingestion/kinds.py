"""The eleven source-file kinds of source-files.md, declared in one place.

Each kind lists its columns in the order of the raw table (ARCHITECTURE.md), with the header
as the spec writes it, the value type (which normaliser reads it), whether it is required (*),
and the key columns that identify a record across deliveries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class VType(StrEnum):
    """Value types; each one has a normaliser in ``ingestion.normalise``."""

    TEXT = "text"
    DOCNO = "docno"  # text; <prefix>〔yyyy〕n号 brackets normalised to 〔〕
    DATE = "date"
    MONEY = "money"
    INT = "int"
    ID = "id"  # 公民身份号码
    ACCOUNT = "account"  # 银行账号
    NAME = "name"  # a person's name
    CODE = "code"  # 6-digit unit / division code


#: DuckDB column type of each value type in the raw layer.
SQL_TYPE: dict[VType, str] = {
    VType.DATE: "DATE",
    VType.MONEY: "DECIMAL(18,2)",
    VType.INT: "INTEGER",
}

#: Types that hold personal data: masked wherever a value is quoted in a reason.
PERSONAL = frozenset({VType.ID, VType.ACCOUNT, VType.NAME})


@dataclass(frozen=True)
class Column:
    name: str  # raw-table column name
    header: str  # header as source-files.md writes it
    vtype: VType
    required: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPE.get(self.vtype, "VARCHAR")


@dataclass(frozen=True)
class Kind:
    table: str  # raw table name (without schema)
    label: str  # the kind's Chinese name, as clerks call it
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # raw column names

    @property
    def required_headers(self) -> frozenset[str]:
        return frozenset(header_key(c.header) for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def C(name: str, header: str, vtype: VType = VType.TEXT, required: bool = False) -> Column:  # noqa: N802
    return Column(name, header, vtype, required)


T, DN, D, M, I, ID, A, N, CD = (VType.TEXT, VType.DOCNO, VType.DATE, VType.MONEY, VType.INT,  # noqa: E741
                                VType.ID, VType.ACCOUNT, VType.NAME, VType.CODE)
R = True

KINDS: tuple[Kind, ...] = (
    Kind("allocations", "资金指标", (
        C("doc_no", "文号", DN, R), C("issue_date", "发文日期", D, R), C("issuer", "发文单位"),
        C("fiscal_year", "资金年度", I), C("recipient_code", "收款单位代码", CD, R),
        C("recipient_name", "收款单位"), C("project_code", "项目编码", T, R),
        C("amount", "金额（元）", M, R), C("deadline_days", "拨付时限（天）", I),
    ), ("doc_no", "recipient_code", "project_code")),
    Kind("credits", "资金到账", (
        C("txn_ref", "流水号", T, R), C("value_date", "到账日期", D, R), C("payer", "付款单位"),
        C("recipient_code", "收款单位代码", CD, R), C("recipient_name", "收款单位"),
        C("amount", "金额（元）", M, R), C("doc_no", "文号", DN), C("memo", "摘要"),
        C("project_code", "项目编码"),
    ), ("txn_ref",)),
    Kind("projects", "项目文本", (
        C("project_code", "项目编码", T, R), C("project_name", "项目名称", T, R),
        C("project_type", "项目类型", T, R), C("unit_code", "实施单位代码", CD, R),
        C("unit_name", "实施单位"), C("start_date", "项目开始日期", D, R),
        C("end_date", "项目结束日期", D, R), C("budget", "预算金额（元）", M, R),
        C("standard_amount", "补助标准（元/人）", M), C("pay_deadline", "发放截止日期", D),
        C("publicity_days", "公示天数", I), C("report_deadline", "终期报告截止日期", D, R),
        C("allowed_categories", "允许支出类别", T, R),
        C("large_amount_threshold", "大额资金标准（元）", M),
    ), ("project_code",)),
    Kind("roster", "上报名单", (
        C("project_code", "项目编码", T, R), C("name", "姓名", N, R),
        C("id_number", "公民身份号码", ID, R), C("person_category", "人员类别"),
        C("account_no", "银行账号", A), C("bank_name", "开户银行"),
        C("approved_amount", "核定金额（元）", M, R), C("unit_code", "上报单位代码", CD, R),
        C("report_date", "上报日期", D), C("publicity_start", "公示开始日期", D),
        C("publicity_end", "公示结束日期", D),
    ), ("project_code", "id_number")),
    Kind("payments", "发放明细", (
        C("txn_ref", "交易流水号", T, R), C("batch", "发放批次"), C("project_code", "项目编码", T, R),
        C("name", "姓名", N, R), C("id_number", "公民身份号码", ID, R),
        C("account_no", "银行账号", A, R), C("bank_name", "开户银行"),
        C("amount", "金额（元）", M, R), C("pay_date", "发放日期", D, R),
        C("unit_code", "发放单位代码", CD, R), C("remark", "备注"),
    ), ("txn_ref",)),
    Kind("expenditures", "支出明细", (
        C("voucher_no", "凭证号", T, R), C("project_code", "项目编码", T, R),
        C("spend_date", "支出日期", D, R), C("category", "支出类别", T, R),
        C("amount", "金额（元）", M, R), C("payee", "收款方"), C("memo", "摘要"),
        C("decision_no", "决策文号", DN),
    ), ("voucher_no",)),
    Kind("postings", "公示记录", (
        C("project_code", "项目编码", T, R), C("posting_type", "公示类型", T, R),
        C("start_date", "开始日期", D, R), C("end_date", "结束日期", D), C("location", "公示地点"),
        C("evidence_no", "证明材料编号"),
    ), ("project_code", "posting_type", "start_date")),
    Kind("final_reports", "终期报告", (
        C("project_code", "项目编码", T, R), C("report_no", "报告编号"),
        C("submit_date", "提交日期", D, R), C("actual_spent", "实际支出（元）", M, R),
        C("beneficiaries", "受益人数", I),
    ), ("project_code",)),
    Kind("decisions", "集体决策记录", (
        C("decision_no", "决策文号", DN, R), C("unit_code", "决策单位代码", CD, R),
        C("meeting_date", "会议日期", D, R), C("meeting_type", "会议类型"), C("matter", "决策事项"),
        C("amount", "涉及金额（元）", M), C("project_code", "项目编码"),
    ), ("decision_no",)),
    Kind("deaths", "死亡登记", (
        C("name", "姓名", N, R), C("id_number", "公民身份号码", ID, R),
        C("death_date", "死亡日期", D, R), C("data_source", "数据来源"),
    ), ("id_number",)),
    Kind("staff", "工作人员及亲属名册", (
        C("name", "姓名", N, R), C("id_number", "公民身份号码", ID, R),
        C("unit_code", "工作单位代码", CD, R), C("position", "职务"), C("relation", "关系", T, R),
        C("staff_id_number", "关联工作人员身份号码", ID),
    ), ("id_number", "staff_id_number")),
)

KINDS_BY_TABLE: dict[str, Kind] = {k.table: k for k in KINDS}  # ingestion.check looks kinds up by table

#: Lineage columns that end every kind table, in order.
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source_file", "VARCHAR"), ("source_row", "INTEGER"), ("file_sha256", "VARCHAR"),
    ("load_run_id", "VARCHAR"), ("loaded_at", "TIMESTAMP"),
)

_HEADER_TRANS = str.maketrans({"（": "(", "）": ")", "【": "[", "】": "]", "［": "[", "］": "]"})
_SPACES = re.compile(r"\s+")


def header_key(cell: object) -> str:
    """Canonical form of a header cell: no spaces anywhere, full- and half-width brackets alike."""
    if cell is None:
        return ""
    return _SPACES.sub("", str(cell)).translate(_HEADER_TRANS)
