"""What a finding's page shows as evidence: per rule, the records the rule relies on, as Chinese tables.

Input: the finding's evidence as the state store keeps it (dbt model ``fct_finding_evidence``: one key
per kind of record, each a list of records with ``source_file`` and ``source_row``), unmasked.
Output: a ``View`` the template renders: sections in the order that rule needs them (the records it
relies on first and open, context such as the project document folded), each record with its file
and row, short sentences that say what the records show (money as ¥), and the technical fields of
each record folded under 技术信息. Presentation only: no data access, no permission decisions; the
caller says whether personal numbers are masked.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from markupsafe import Markup, escape

from fundwatch import masking
from fundwatch.review import data
from fundwatch.review.display import FIELD_LABELS, TECHNICAL_FIELDS, field_fmt, yuan

SUBJECT_TITLES = {
    "payment": "本笔发放（发放明细中的这一行）", "roster_entry": "名单条目（上报名单中的这一行）",
    "allocation": "资金指标（指标文件中的这一行）", "transfer": "本笔到账（到账明细中的这一行）",
    "expenditure": "支出凭证（支出明细中的这一行）", "project": "项目文本（项目汇总表中的这一行）",
}
KIND_TITLES = {
    "roster_entry": "上报名单中的对应条目", "project": "项目文本", "death_register": "死亡登记",
    "staff_register": "工作人员及亲属名册中的记录", "other_payments": "其他相关发放",
    "person_payments": "该人员的发放记录（任何项目）", "decisions": "凭证所引决策及该单位支出日期前后的集体决策记录",
    "category_spending": "按支出类别汇总的发放与支出", "candidate_allocations": "文号相同的资金指标",
    "matched_credits": "匹配到的到账", "postings": "公示记录", "final_reports": "终期报告",
    "file": "文件", "total_mismatches": "与明细之和不符的合计行", "rejected_row": "未能载入的行",
}
RULE_KIND_TITLES = {
    ("PAY_DUPLICATE", "other_payments"): "同一人在本项目的其他发放",
    ("PAY_SHARED_ACCOUNT", "other_payments"): "同一账户收到的其他发放",
}
# Per rule: the kinds it relies on, in the order a reviewer reads them (open, and "无" said aloud
# when empty). Every other kind present is context, folded. Rules not listed rely on their subject.
RULE_KINDS: dict[str, tuple[str, ...]] = {
    "PAY_DECEASED": ("death_register", "subject", "roster_entry"),
    "PAY_STAFF_RELATED": ("staff_register", "subject"),
    "PAY_DUPLICATE": ("subject", "other_payments"),
    "PAY_SHARED_ACCOUNT": ("subject", "other_payments"),
    "PAY_NOT_ON_ROSTER": ("subject", "roster_entry"),
    "PAY_NAME_MISMATCH": ("subject", "roster_entry"),
    "PAY_ACCOUNT_MISMATCH": ("subject", "roster_entry"),
    "PAY_AMOUNT_MISMATCH": ("subject", "roster_entry"),
    "PAY_BEFORE_PUBLICITY": ("subject", "roster_entry"),
    "PAY_OVER_STANDARD": ("subject", "project"),
    "PAY_LATE": ("subject", "project"),
    "EXP_NO_DECISION": ("subject", "decisions"),
    "EXP_CATEGORY_NOT_ALLOWED": ("subject", "project"),
    "EXP_OUTSIDE_PERIOD": ("subject", "project"),
    "PROJ_OVER_BUDGET": ("category_spending", "subject"),
    "PROJ_REPORT_MISMATCH": ("final_reports", "category_spending", "subject"),
    "PROJ_REPORT_MISSING": ("final_reports", "subject"),
    "PROJ_REPORT_LATE": ("final_reports", "subject"),
    "PROJ_NOT_POSTED": ("postings", "subject"),
    "PROJ_FUNDS_IDLE": ("matched_credits", "subject"),
    "TRANSFER_UNMATCHED": ("subject", "candidate_allocations"),
    "ALLOC_SHORT": ("subject", "matched_credits"),
    "ALLOC_OVER": ("subject", "matched_credits"),
    "ALLOC_LATE": ("subject", "matched_credits"),
    "ROSTER_UNPAID": ("subject", "person_payments"),
    "FILE_REJECTED": ("file",),
    "FILE_TOTAL_MISMATCH": ("total_mismatches", "file"),
    "ROW_REJECTED": ("rejected_row",),
}
EMPTY = {
    "roster_entry": "上报名单中没有同一项目、同一公民身份号码的条目。",
    "death_register": "死亡登记中没有该公民身份号码。",
    "staff_register": "发放单位的工作人员及亲属名册中没有该公民身份号码。",
    "other_payments": "没有其他相关发放。",
    "person_payments": "该人员在任何项目中都没有发放记录。",
    "decisions": "凭证没有引用决策文号，该单位在支出日期前后也没有集体决策记录。",
    "category_spending": "该项目没有发放和支出记录。",
    "candidate_allocations": "没有与这笔到账文号相同的资金指标。",
    "matched_credits": "没有匹配到该指标的到账。",
    "postings": "没有该项目的公示记录。",
    "final_reports": "没有该项目的终期报告。",
}
# Record kinds shown as one field per line (one wide record); lists are tables, one record a row.
SINGLE_KINDS = frozenset({"subject", "roster_entry", "project", "file", "rejected_row"})
# Flags that make a row stand out when true (or, for is_allowed, when false).
FLAG_TRUE = frozenset({"is_late", "is_cited", "is_candidate"})
FLAG_FALSE = frozenset({"is_allowed"})
LINEAGE = ("source_file", "source_row")


@dataclass
class Cell:
    text: str
    mark: bool = False  # the value the rule turns on (a late credit, a differing field ...)


@dataclass
class Record:
    cells: dict[str, Cell]
    source: str  # "file 第 N 行", or why there is none
    technical: list[tuple[str, str]]
    raw_cells: list[tuple[str, str]] = field(default_factory=list)  # a rejected row's cells
    mark: bool = False


@dataclass
class Section:
    kind: str
    title: str
    relied_on: bool  # the rule relies on it: shown open; context is folded
    columns: list[tuple[str, str]]
    records: list[Record]
    single: bool
    empty: str = ""
    omitted: str = ""

    @property
    def technical(self) -> list[tuple[str, list[tuple[str, str]]]]:
        return [(r.source, r.technical) for r in self.records if r.technical]


@dataclass
class NameDiff:
    """Which characters of two names differ (computed on the unmasked names)."""

    sentence: str
    found: list[tuple[str, bool]]     # (character as shown, differs)
    expected: list[tuple[str, bool]]


@dataclass
class View:
    sections: list[Section]
    notes: list[Markup]
    comparison: list[tuple[str, str, str, str, bool]]
    name_diff: NameDiff | None = None


def records(evidence: dict, kind: str) -> list[dict]:
    """The records of one kind (a list of dicts), whatever was stored."""
    value = evidence.get(kind) if isinstance(evidence, dict) else None
    if isinstance(value, dict):
        return [value]
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def first(evidence: dict, kind: str) -> dict:
    found = records(evidence, kind)
    return found[0] if found else {}


def build(f: dict, evidence: dict, *, masked: bool) -> View:
    """The evidence view of finding ``f`` from its unmasked ``evidence``; personal numbers masked
    unless ``masked`` is False (an auditor's logged unmasking)."""
    rule = f.get("rule_id") or ""
    shown = masking.mask_evidence(evidence) if masked else evidence
    relied = RULE_KINDS.get(rule, ("subject",))
    present = [k for k in shown if k != "omitted"] if isinstance(shown, dict) else []
    order = [k for k in relied if k in present or k in EMPTY] + [k for k in present if k not in relied]
    omitted = {r.get("evidence_kind"): r for r in records(shown, "omitted")}
    sections = [_section(rule, f.get("subject_type") or "", kind, records(shown, kind), kind in relied,
                         omitted.get(kind)) for kind in order]
    name_diff = _name_diff(evidence, masked=masked) if rule == "PAY_NAME_MISMATCH" else None
    return View(sections=sections, notes=[Markup(n) for n in _notes(rule, shown, evidence)],  # noqa: S704
                comparison=comparison(shown) if f.get("subject_type") == "payment" else [],
                name_diff=name_diff)


def title(rule: str, subject_type: str, kind: str) -> str:
    """The heading of one kind of record on a rule's page."""
    if kind == "subject":
        return SUBJECT_TITLES.get(subject_type, "对象本身")
    return RULE_KIND_TITLES.get((rule, kind), KIND_TITLES.get(kind, FIELD_LABELS.get(kind, kind)))


def _section(rule: str, subject_type: str, kind: str, recs: list[dict], relied_on: bool,
             omitted: dict | None) -> Section:
    columns: list[str] = []
    for r in recs:
        columns += [k for k in r if k not in columns and k not in LINEAGE and k not in TECHNICAL_FIELDS
                    and k != "raw_values"]
    single = kind in SINGLE_KINDS and len(recs) <= 1
    note = ""
    if omitted:
        note = (f"共 {omitted.get('records_total')} 条，只列出前 {omitted.get('records_listed')} 条"
                "（其余见原始文件）。")
    return Section(kind=kind, title=title(rule, subject_type, kind), relied_on=relied_on,
                   columns=[(c, FIELD_LABELS.get(c, c)) for c in columns],
                   records=[_record(r, columns) for r in recs], single=single,
                   empty=EMPTY.get(kind, "无。"), omitted=note)


def _record(r: dict, columns: list[str]) -> Record:
    cells = {}
    for c in columns:
        value = r.get(c)
        mark = (c in FLAG_TRUE and value is True) or (c in FLAG_FALSE and value is False)
        text = field_fmt(value, c)
        if c in ("unit_code", "recipient_code") and value:
            text = f"{value} {data.unit_label(str(value))}"
        cells[c] = Cell(text, mark)
    technical = [(FIELD_LABELS.get(k, k), field_fmt(r[k], k)) for k in TECHNICAL_FIELDS if r.get(k) is not None]
    if r.get("kind"):
        technical.append(("数据表", f"raw.{r['kind']}"))
    raw_cells: list[tuple[str, str]] = []
    if isinstance(r.get("raw_values"), dict):
        raw_cells = [(str(k), "" if v is None else str(v)) for k, v in r["raw_values"].items()]
        technical.append(("原始值（JSON）", json.dumps(r["raw_values"], ensure_ascii=False)))
    elif r.get("raw_values") is not None:
        technical.append(("原始值", str(r["raw_values"])))
    return Record(cells=cells, source=source_text(r), technical=technical, raw_cells=raw_cells,
                  mark=any(cell.mark for cell in cells.values()))


def source_text(r: dict) -> str:
    """Where a record is: 'file 第 N 行', the file alone, or that it is a sum of several rows."""
    file, row = r.get("source_file"), r.get("source_row")
    if file and row is not None:
        return f"{file} 第 {row} 行"
    if file:
        return str(file)
    return "（汇总多行，无单一来源行）"


# ---------------------------------------------------------------- the payment beside its roster entry

# Payment field compared with the roster field of the same meaning (found -> expected).
_COMPARED = (("name", "name"), ("id_number", "id_number"), ("account_no", "account_no"),
             ("amount", "approved_amount"), ("project_code", "project_code"), ("unit_code", "unit_code"))


def comparison(evidence: dict) -> list[tuple[str, str, str, str, bool]]:
    """(key, label, found in the payment, expected by the roster, differs) for the shared fields."""
    row, roster = first(evidence, "subject"), first(evidence, "roster_entry")
    if not row or not roster:
        return []
    out = []
    for found_key, expected_key in _COMPARED:
        if found_key in row and expected_key in roster:
            found, expected = row[found_key], roster[expected_key]
            out.append((found_key, FIELD_LABELS.get(found_key, found_key), field_fmt(found, found_key),
                        field_fmt(expected, expected_key), _norm(found) != _norm(expected)))
    return out


def _norm(value) -> str:
    text = "" if value is None else str(value).strip()
    try:
        return str(Decimal(text))
    except InvalidOperation:
        return text


def name_positions(found: str, expected: str) -> tuple[list[int], list[int]]:
    """0-based positions of the characters of each name that the other does not have."""
    ops = difflib.SequenceMatcher(a=found, b=expected, autojunk=False).get_opcodes()
    a = [i for tag, i1, i2, _j1, _j2 in ops if tag != "equal" for i in range(i1, i2)]
    b = [j for tag, _i1, _i2, j1, j2 in ops if tag != "equal" for j in range(j1, j2)]
    return a, b


def _name_diff(evidence: dict, *, masked: bool) -> NameDiff | None:
    found, expected = first(evidence, "subject").get("name"), first(evidence, "roster_entry").get("name")
    if not isinstance(found, str) or not isinstance(expected, str):
        return None
    a, b = name_positions(found, expected)

    def nth(positions: list[int]) -> str:
        return "、".join(str(p + 1) for p in positions)

    if a == b:
        sentence = f"第{nth(a)}个字不同" if a else "两个姓名相同（差别在空格或写法）"
    elif not a:
        sentence = f"发放姓名缺少名单姓名的第{nth(b)}个字"
    elif not b:
        sentence = f"发放姓名多出第{nth(a)}个字"
    else:
        sentence = f"发放姓名第{nth(a)}个字与名单姓名第{nth(b)}个字不同"
    show = masking.mask_name if masked else str  # the positions stay where they are (one * per character)
    return NameDiff(sentence=sentence,
                    found=[(ch, i in a) for i, ch in enumerate(show(found))],
                    expected=[(ch, i in b) for i, ch in enumerate(show(expected))])


# ---------------------------------------------------------------- sentences over the records

def _money(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


def _notes(rule: str, shown: dict, raw: dict) -> list[str]:
    """Short sentences (escaped HTML) saying what the records show, money as ¥: written from the
    evidence as shown (masked or not), counting from the unmasked evidence."""
    maker = _NOTE_MAKERS.get(rule) or _NOTE_MAKERS.get(rule.split("_")[0] + "_*")
    return [str(n) for n in maker(shown, raw)] if maker else []


def _listed_total(ev: dict, kind: str, listed: int) -> int:
    """How many records of ``kind`` there are, counting those cut from the list."""
    cut = [r.get("records_total") for r in records(ev, "omitted") if r.get("evidence_kind") == kind]
    return int(cut[0]) if cut and str(cut[0]).isdigit() else listed


def _cut(ev: dict, kind: str) -> str:
    cut = any(r.get("evidence_kind") == kind for r in records(ev, "omitted"))
    return "（清单较长，只计入列出的记录）" if cut else ""


def _alloc_notes(ev: dict, _raw: dict) -> list[Markup]:
    credits = records(ev, "matched_credits")
    allocation = first(ev, "subject")
    total = sum((_money(c.get("amount")) or Decimal(0) for c in credits), Decimal(0))
    out = [escape(f"匹配到 {len(credits)} 笔到账，合计{yuan(total)}；指标金额{yuan(allocation.get('amount'))}"
                  f"{_cut(ev, 'matched_credits')}。")]
    late = [c for c in credits if c.get("is_late") is True]
    deadline = next((c.get("deadline_date") for c in credits if c.get("deadline_date")), None)
    if late:
        named = "、".join(f"流水号 {c.get('txn_ref')}（{c.get('value_date')} 到账，{yuan(c.get('amount'))}）"
                         for c in late)
        out.append(escape(f"其中 {len(late)} 笔晚于拨付截止日期 {deadline} 到账：{named}。"))
    elif credits:
        out.append(escape(f"匹配到的到账均未晚于拨付截止日期{f' {deadline}' if deadline else ''}。"))
    return out


def _spending_notes(ev: dict, *, against_report: bool) -> list[Markup]:
    lines = records(ev, "category_spending")
    paid = sum((_money(r.get("amount")) or Decimal(0) for r in lines if r.get("spending_kind") == "payment"),
               Decimal(0))
    spent = sum((_money(r.get("amount")) or Decimal(0) for r in lines if r.get("spending_kind") != "payment"),
                Decimal(0))
    total = paid + spent
    text = f"个人补助发放{yuan(paid)}，支出凭证{yuan(spent)}，合计{yuan(total)}{_cut(ev, 'category_spending')}"
    if against_report:
        reports = records(ev, "final_reports")
        reported = _money(reports[0].get("actual_spent")) if reports else None
        if reported is None:
            return [escape(text + "。")]
        return [escape(f"终期报告的实际支出{yuan(reported)}；按记录，{text}；相差{yuan(abs(reported - total))}。")]
    budget = _money(first(ev, "subject").get("budget"))
    if budget is None:
        return [escape(text + "。")]
    over = total - budget
    verdict = f"超出预算{yuan(over)}" if over > 0 else f"未超出预算（余{yuan(-over)}）"
    return [escape(f"预算{yuan(budget)}；{text}；{verdict}。")]


def _transfer_notes(ev: dict, _raw: dict) -> list[Markup]:
    credit = first(ev, "subject")
    allocations = records(ev, "candidate_allocations")
    said = f"到账的文号：{credit.get('doc_no') or '（未填写）'}；摘要：{credit.get('memo') or '（无）'}。"
    if not allocations:
        return [escape("没有与这笔到账文号相同的资金指标。" + said)]
    candidates = sum(1 for a in allocations if a.get("is_candidate") is True)  # listed first: never cut
    verdict = "多份相符，无法确定对应哪一份" if candidates > 1 else "一份相符" if candidates else "无一相符"
    total = _listed_total(ev, "candidate_allocations", len(allocations))
    return [escape(f"文号相同的资金指标 {total} 份，其中收款单位代码和项目编码也相符的 {candidates} 份（{verdict}）。"
                   + said)]


def _decision_notes(ev: dict, _raw: dict) -> list[Markup]:
    voucher = first(ev, "subject")
    found = records(ev, "decisions")
    cited = [d for d in found if d.get("is_cited") is True]
    return [escape(f"凭证所引决策文号：{voucher.get('decision_no') or '未填写'}"
                   f"{'（决策记录中有此文号）' if cited else ''}；支出日期 {voucher.get('spend_date')}；"
                   f"列出该单位前后的集体决策记录 {len(found) - len(cited)} 条。")]


def _list_notes(kind: str, what: str, *, count_people: bool = False):
    def make(ev: dict, raw: dict) -> list[Markup]:
        found = records(ev, kind)
        people = {r.get("id_number") for r in [*records(raw, kind), first(raw, "subject")] if r.get("id_number")}
        extra = f"，连同本笔涉及 {len(people)} 个不同的公民身份号码" if count_people and found else ""
        return [escape(f"{what}：{_listed_total(ev, kind, len(found))} 笔{extra}{_cut(ev, kind)}。")]
    return make


_NOTE_MAKERS = {
    "ALLOC_*": _alloc_notes,
    "PROJ_OVER_BUDGET": lambda ev, _raw: _spending_notes(ev, against_report=False),
    "PROJ_REPORT_MISMATCH": lambda ev, _raw: _spending_notes(ev, against_report=True),
    "TRANSFER_UNMATCHED": _transfer_notes,
    "EXP_NO_DECISION": _decision_notes,
    "PAY_DUPLICATE": _list_notes("other_payments", "同一人在本项目另有发放"),
    "PAY_SHARED_ACCOUNT": _list_notes("other_payments", "同一账户另有发放", count_people=True),
    "ROSTER_UNPAID": _list_notes("person_payments", "本项目没有该人员的发放记录；该人员在其他项目的发放"),
}
