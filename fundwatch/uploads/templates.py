"""Blank xlsx templates, one per kind of ``source-files.md``, so most rejections never happen.

A template is built on demand for the person who downloads it (``template_xlsx(kind, unit, ...)``):

- the first sheet holds the contract's header row (from ``ingestion.kinds``, the one definition of
  the kinds; required columns in red) and nothing else, so the filled file is recognised as exactly
  its kind by the daily run;
- ID, account, code and text columns are formatted as text (``@``) so Excel keeps every digit,
  date columns as dates, money with 2 decimals;
- drop-downs (data validation) for unit codes and names (the person's scope, from
  ``hunan_divisions_2020.csv``), the categories the spec lists (项目类型, 人员类别, 公示类型, 关系),
  开户银行 (``bank_bins.csv``) and 项目编码 (the warehouse's projects in scope, when known); closed
  lists stop a wrong value, open ones (人员类别 "e.g.", project codes not loaded yet) only warn;
- a 填表说明 sheet: what each column means, whether it is required, which forms are accepted;
- the lists on a hidden sheet after the others (the daily run reads the first visible sheet only).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from fundwatch import scope
from fundwatch.divisions import divisions
from fundwatch.paths import REFERENCE_DIR
from fundwatch.uploads.projects import Project, known_projects, projects_file, save_projects  # noqa: F401
from ingestion.kinds import KINDS_BY_TABLE, Column, Kind, VType

DATA_ROWS = 5_000  # rows below the header that carry the drop-downs and input hints
LISTS_SHEET = "下拉选项"
GUIDE_SHEET = "填表说明"

PROJECT_TYPES = (
    "金秋助学", "计生特殊家庭住院护理补贴", "计生家庭意外伤害保险", "创业贷款贴息", "生育关怀慰问", "青春健康教育",
    "农村中老年妇女生殖健康促进", "优生优育进万家", "会员之家建设", "暖心家园建设", "流动人口服务", "三结合帮扶",
)
PERSON_CATEGORIES = ("独生子女死亡家庭", "独生子女伤残家庭", "农村独生子女家庭", "计生家庭子女")
POSTING_TYPES = ("项目挂牌", "名单公示")
RELATIONS = ("本人", "配偶", "子女", "父母", "兄弟姐妹")
MEETING_TYPES = ("党组会", "会长办公会")

#: Closed lists (the spec says "one of"): anything else is refused in Excel. Open lists only warn.
CLOSED = {("projects", "project_type"): PROJECT_TYPES, ("postings", "posting_type"): POSTING_TYPES,
          ("staff", "relation"): RELATIONS}
OPEN = {("roster", "person_category"): PERSON_CATEGORIES, ("decisions", "meeting_type"): MEETING_TYPES}
UNIT_NAME_COLUMNS = {("allocations", "recipient_name"), ("credits", "recipient_name"), ("projects", "unit_name")}
BANK_COLUMNS = {("roster", "bank_name"), ("payments", "bank_name")}

#: How each value type may be written (source-files.md "Value tolerance"), for the 填表说明 sheet.
FORMS: dict[VType, str] = {
    VType.TEXT: "文本",
    VType.DOCNO: "文号，如 湘财社指〔2020〕36号；括号可写〔〕、[]、【】或 ()",
    VType.DATE: "日期：2020-06-30、2020/6/30、2020.6.30、2020年6月30日、20200630 或 Excel 日期单元格",
    VType.MONEY: "金额（元），不得为负，最多两位小数：1200、1200.5、1,200.00、1200元、￥1,200.00",
    VType.INT: "非负整数，如 30（也可写“30天”“12人”）",
    VType.ID: "18 位（末位 X 大小写均可）或 15 位旧号码，可带空格；本列已设为文本格式，"
              "请勿改为数值格式，否则 Excel 只保留 15 位、末尾数字丢失，该行将被拒收",
    VType.ACCOUNT: "只含数字，可带空格或短横线；本列已设为文本格式，请勿改为数值格式",
    VType.NAME: "姓名，可带空格（如“张　三”）；少数民族姓名的间隔号写 ·、•、・ 或 ･ 均可",
    VType.CODE: "6 位行政区划代码，如 430121；请从下拉列表选择",
}

#: What a column means (source-files.md "The kinds"), where the header alone does not say it.
MEANINGS: dict[tuple[str, str], str] = {
    ("allocations", "doc_no"): "省财政厅下达资金的文件文号",
    ("allocations", "issue_date"): "发文日期",
    ("allocations", "issuer"): "发文单位，如 湖南省财政厅",
    ("allocations", "fiscal_year"): "资金所属年度",
    ("allocations", "recipient_code"): "收款的计生协（县或市州）的单位代码",
    ("allocations", "project_code"): "资金所属项目",
    ("allocations", "amount"): "下达金额",
    ("allocations", "deadline_days"): "资金须在多少天内到账；不填按 30 天",
    ("credits", "txn_ref"): "银行流水号，不得重复",
    ("credits", "value_date"): "到账（起息）日期",
    ("credits", "recipient_code"): "收款的计生协单位代码",
    ("credits", "amount"): "到账金额",
    ("credits", "doc_no"): "对应的资金指标文号；可空（空时请在摘要中写明文号）",
    ("credits", "memo"): "银行摘要",
    ("credits", "project_code"): "可空",
    ("projects", "project_code"): "项目编码，不得重复",
    ("projects", "project_type"): "从下拉列表选择",
    ("projects", "unit_code"): "实施该项目的计生协",
    ("projects", "budget"): "项目总预算",
    ("projects", "standard_amount"): "发放到个人的项目填写每人补助标准",
    ("projects", "pay_deadline"): "个人补助最晚发放日期",
    ("projects", "publicity_days"): "名单发放前至少公示的天数；不填按 7 天",
    ("projects", "allowed_categories"): "允许的支出类别，用“、”“,”“;”或“；”分隔，如 补助发放、宣传费、培训费",
    ("projects", "large_amount_threshold"): "单笔达到此金额须经集体决策（三重一大）；不填按 50000 元",
    ("roster", "person_category"): "如 独生子女死亡家庭；可从下拉列表选择",
    ("roster", "approved_amount"): "核定发给此人的金额",
    ("roster", "unit_code"): "上报名单的计生协",
    ("payments", "txn_ref"): "银行交易流水号，每笔发放不得重复",
    ("payments", "name"): "实际收款人姓名",
    ("payments", "id_number"): "实际收款人身份号码",
    ("payments", "account_no"): "入账账号",
    ("payments", "unit_code"): "发放资金的计生协",
    ("expenditures", "voucher_no"): "记账凭证号，不得重复",
    ("expenditures", "category"): "须为项目文本“允许支出类别”之一",
    ("expenditures", "decision_no"): "批准该支出的集体决策文号（大额支出必填）",
    ("postings", "posting_type"): "项目挂牌 或 名单公示",
    ("postings", "evidence_no"): "照片或文件的编号",
    ("final_reports", "actual_spent"): "终期报告所列实际支出",
    ("decisions", "meeting_type"): "如 党组会、会长办公会",
    ("decisions", "amount"): "决策涉及的金额",
    ("deaths", "data_source"): "如 民政、公安",
    ("staff", "unit_code"): "工作人员所在的计生协",
    ("staff", "relation"): "与工作人员的关系；工作人员本人填“本人”",
    ("staff", "staff_id_number"): "关联的工作人员的身份号码（关系为“本人”时与公民身份号码相同）",
}

GENERAL_NOTES = (
    "一个文件只放一类数据；系统按第一个可见工作表的表头识别文件类型，与文件名无关。",
    "请勿修改、删除表头（第 1 行）中的列名；列的顺序可以调整，多出的列不影响识别。",
    "红色列名为必填列；必填值为空或无法读取的行将被拒收，其余行照常载入。",
    "最后一行可写“合计”行，其金额须等于上方各行之和，否则会报出“合计不符”。",
    "身份证号、银行账号、单位代码等列已设为文本格式；从其他表格粘贴时请用“选择性粘贴 → 数值”，"
    "粘贴后如显示为科学计数法（如 6.2E+18），说明数字已丢失，请重新录入。",
    "报送后系统立即给出检查结果；可下载带“问题说明”列的标注文件，修改后以同一文件名重新报送即为更正。",
)


def kind_of(table: str) -> Kind:
    """The kind of a template name (the raw table name, e.g. ``payments``); KeyError if unknown."""
    return KINDS_BY_TABLE[table]


def template_filename(kind: Kind) -> str:
    return f"{kind.label}报送模板.xlsx"


def units_in_scope(unit: str) -> list[tuple[str, str]]:
    """(code, name) of every 2020 division the person of ``unit`` may report for, by code."""
    return sorted((d.code, d.name) for d in divisions().values() if scope.covers(unit, d.code))


@lru_cache(maxsize=1)
def bank_names() -> tuple[str, ...]:
    with open(REFERENCE_DIR / "bank_bins.csv", encoding="utf-8-sig", newline="") as fh:
        return tuple(sorted({r["bank_name"] for r in csv.DictReader(fh) if r["bank_name"]}))


def _column_note(kind: Kind, col: Column) -> str:
    meaning = MEANINGS.get((kind.table, col.name), "")
    return ("必填；" if col.required else "") + (meaning + "；" if meaning else "") + FORMS[col.vtype]


def template_xlsx(table: str, unit: str, projects: Sequence[Project] = ()) -> bytes:
    """The blank template of kind ``table`` for a person of ``unit`` (xlsx bytes).

    ``projects`` are the known projects (``known_projects(home)``); those in the person's
    scope feed the 项目编码 drop-down.
    """
    kind = kind_of(table)
    units = units_in_scope(unit)
    codes = [c for c, _ in units]
    project_codes = sorted({p.code for p in projects if scope.covers(unit, p.unit_code)})
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False,
                                   "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": template_filename(kind), "comments": "fundwatch 报送模板"})
    text = wb.add_format({"num_format": "@"})
    formats = {VType.DATE: wb.add_format({"num_format": "yyyy-mm-dd"}),
               VType.MONEY: wb.add_format({"num_format": "#,##0.00"}),
               VType.INT: wb.add_format({"num_format": "0"})}
    head = {"bold": True, "border": 1, "bg_color": "#DDE6F0", "num_format": "@"}
    head_req = wb.add_format({**head, "font_color": "#C00000"})
    head_opt = wb.add_format(head)

    ws = wb.add_worksheet(kind.label)
    guide = wb.add_worksheet(GUIDE_SHEET)
    lists = wb.add_worksheet(LISTS_SHEET)
    lists.hide()
    list_ranges: dict[str, str] = {}

    def list_range(title: str, values: Sequence[str]) -> str:
        if title not in list_ranges:
            col = len(list_ranges)
            lists.write_string(0, col, title)
            for i, v in enumerate(values, start=1):
                lists.write_string(i, col, v)
            letter = xl_col_to_name(col)
            list_ranges[title] = f"='{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
        return list_ranges[title]

    ws.freeze_panes(1, 0)
    for i, col in enumerate(kind.columns):
        ws.write_string(0, i, col.header, head_req if col.required else head_opt)
        width = max(12, min(30, 2 * len(col.header) + 4))
        if col.vtype in (VType.ID, VType.ACCOUNT):
            width = 22
        ws.set_column(i, i, width, formats.get(col.vtype, text))
        note = _column_note(kind, col)
        dv = {"input_title": col.header[:32], "input_message": note[:255]}
        key = (kind.table, col.name)
        values: Sequence[str] = ()
        closed = False
        if col.vtype is VType.CODE:
            values, closed = codes, True
        elif key in UNIT_NAME_COLUMNS:
            values = [n for _, n in units]
        elif key in CLOSED:
            values, closed = CLOSED[key], True
        elif key in OPEN:
            values = OPEN[key]
        elif key in BANK_COLUMNS:
            values = bank_names()
        elif col.name == "project_code" and kind.table != "projects":
            values = project_codes
        if values:
            dv.update(validate="list", source=list_range(col.header, values),
                      error_type="stop" if closed else "information",
                      error_title="请从下拉列表选择" if closed else "不在列表中",
                      error_message=("只能填写下拉列表中的值" if closed else
                                     "该值不在下拉列表中；如确认无误可继续"))
        elif col.vtype is VType.DATE:
            dv.update(validate="date", criteria="between", minimum=date(1900, 1, 1), maximum=date(2099, 12, 31),
                      error_type="warning", error_message=FORMS[VType.DATE][:255])
        elif col.vtype is VType.MONEY:
            dv.update(validate="decimal", criteria=">=", value=0, error_type="warning",
                      error_message=FORMS[VType.MONEY][:255])
        elif col.vtype is VType.ID:
            cell = f"{xl_col_to_name(i)}2"
            dv.update(validate="custom", value=f"=OR(LEN({cell})=15,LEN({cell})=18)", error_type="warning",
                      error_message="身份证号码应为 18 位或 15 位")
        else:
            dv.update(validate="any")
        ws.data_validation(1, i, DATA_ROWS, i, dv)

    _write_guide(wb, guide, kind, unit, project_codes)
    ws.activate()
    wb.close()
    return out.getvalue()


def _write_guide(wb, ws, kind: Kind, unit: str, project_codes: Sequence[str]) -> None:
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 14})
    head = wb.add_format({"bold": True, "border": 1, "bg_color": "#DDE6F0"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
    req = wb.add_format({"text_wrap": True, "valign": "top", "border": 1, "font_color": "#C00000"})
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 8)
    ws.set_column(2, 2, 10)
    ws.set_column(3, 3, 70)
    ws.write_string(0, 0, f"{kind.label} 填表说明", title)
    who = next((n for c, n in units_in_scope(unit) if c == unit), unit)
    ws.write_string(1, 0, f"下拉列表按 {who}（{unit}）的范围生成"
                          + ("" if project_codes else "；项目编码列表暂无（请直接填写项目编码）"))
    key_headers = "、".join(c.header for c in kind.columns if c.name in kind.key)
    ws.write_string(2, 0, f"记录的键：{key_headers}（同一键再次报送相同内容只算一条；内容不同则两处均不载入）")
    row = 4
    ws.write_string(row, 0, "一般说明", bold)
    for note in GENERAL_NOTES:
        row += 1
        ws.write_string(row, 0, f"· {note}")
    row += 2
    for c, h in enumerate(("列名", "必填", "类型", "说明与可接受的写法")):
        ws.write_string(row, c, h, head)
    labels = {VType.TEXT: "文本", VType.DOCNO: "文号", VType.DATE: "日期", VType.MONEY: "金额",
              VType.INT: "整数", VType.ID: "身份证号", VType.ACCOUNT: "账号", VType.NAME: "姓名",
              VType.CODE: "单位代码"}
    for col in kind.columns:
        row += 1
        fmt = req if col.required else wrap
        ws.write_string(row, 0, col.header, fmt)
        ws.write_string(row, 1, "是" if col.required else "", fmt)
        ws.write_string(row, 2, labels[col.vtype], wrap)
        ws.write_string(row, 3, _column_note(kind, col), wrap)
