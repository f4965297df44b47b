"""The rectification documents: 整改通知书 (.docx, one unit) and 整改台账 (.xlsx, any scope).

Both are built from ``fundwatch.rectification`` (running rectifications only: a withdrawn one is in
neither) and returned as bytes; the caller decides scope first, and both functions check it again
(``scope.covers``/``scope.sql_filter``). Personal data is masked in both: subjects through
``masking.mask_subject_key``, details and comments through ``masking.mask_text`` (names in a
finding's detail are already cut to their first character by dbt).

- **整改通知书**: A4 portrait with the margins of GB/T 9704 (党政机关公文格式), a title, a number
  in the form of a 文号 (``湘计协监整〔<year>〕<unit code>-<MMDD>号``: one per unit and day,
  stable when downloaded again), the unit's association by name (divisions reference), what to
  do and by when, one table row per open (not yet verified) rectification — rule, problem
  number and detail, masked subject, amount in 元 with thousands separators, due date, the
  requirement sentence of the rule catalogue — a total, and the issuer's signature block.
- **整改台账**: one row per running rectification in scope (verified ones included) with the
  columns 序号, 问题描述, 责任单位, 涉及金额, 整改时限, 整改措施, 整改进展, 销号情况; A4
  landscape, one page wide, header row frozen and repeated on every printed page, amounts as
  numbers with a 2-decimal format, dates as dates, every text a string cell made formula-safe.
"""

from __future__ import annotations

import io
import sqlite3
from datetime import date
from decimal import Decimal

from fundwatch import divisions, masking, rectification, scope
from fundwatch.catalog import by_id as rule_catalog
from fundwatch.export import safe_text

NOTICE_PREFIX = "湘计协监整"
LEDGER_COLUMNS = ("序号", "问题描述", "责任单位", "涉及金额", "整改时限", "整改措施", "整改进展", "销号情况")
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_SUCH_UNIT = "没有这个单位。"  # out of scope answers exactly like a unit that does not exist


def money_text(value: str | Decimal | None) -> str:
    return f"{Decimal(value or 0):,.2f}"


def chinese_date(d: date | str) -> str:
    d = date.fromisoformat(d) if isinstance(d, str) else d
    return f"{d.year}年{d.month}月{d.day}日"


def notice_number(unit_code: str, as_of: date) -> str:
    """The notice's 文号-style number: one per unit and day."""
    return f"{NOTICE_PREFIX}〔{as_of.year}〕{unit_code}-{as_of:%m%d}号"


def _as_of(conn: sqlite3.Connection, as_of: date | str | None) -> date:
    value = as_of or rectification.latest_run_date(conn) or rectification.today()
    return date.fromisoformat(value) if isinstance(value, str) else value


def _step_facts(conn: sqlite3.Connection, finding_ids: list[str]) -> dict[str, dict]:
    """finding_id -> its latest ``respond`` and ``verify`` steps (rows), for the ledger."""
    out: dict[str, dict] = {}
    for i in range(0, len(finding_ids), 500):
        chunk = finding_ids[i:i + 500]
        marks = ", ".join("?" * len(chunk))
        for s in conn.execute(f"""SELECT finding_id, action, comment, username, at FROM rectification_steps
                                  WHERE action IN ('respond', 'verify') AND finding_id IN ({marks})
                                  ORDER BY id""", chunk):
            out.setdefault(s["finding_id"], {})[s["action"]] = s
    return out


# ---------------------------------------------------------------------------- 整改通知书
def notice_docx(conn: sqlite3.Connection, unit_code: str, *, viewer_unit: str,
                issuer_unit: str = scope.PROVINCE, as_of: date | str | None = None) -> bytes:
    """The 整改通知书 of one unit: its open rectifications (notified, returned or responded).

    Raises ``rectification.NotFound`` when the unit is out of the viewer's scope or has nothing to
    put right.
    """
    if not scope.is_unit_code(unit_code) or not scope.covers(viewer_unit, unit_code):
        raise rectification.NotFound(NO_SUCH_UNIT)
    rows = rectification.in_scope(conn, viewer_unit, unit=unit_code, include_verified=False)
    if not rows:
        raise rectification.NotFound(f"{divisions.association_name(unit_code)}目前没有待整改的问题。")
    rows.sort(key=lambda r: (r["due"], r["rule_id"], r["finding_id"]))
    day = _as_of(conn, as_of)

    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Cm(3.7), Cm(3.5), Cm(2.8), Cm(2.6)

    def font(run, name: str = "仿宋", size: float = 14, bold: bool = False) -> None:
        run.font.name, run.font.size, run.font.bold = name, Pt(size), bold
        run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)

    def para(text: str = "", *, align=None, size: float = 14, bold: bool = False, name: str = "仿宋",
             indent: bool = False, space_after: float = 0):
        p = doc.add_paragraph()
        if align is not None:
            p.alignment = align
        if indent:
            p.paragraph_format.first_line_indent = Pt(size * 2)
        p.paragraph_format.space_after = Pt(space_after)
        font(p.add_run(text), name, size, bold)
        return p

    total = sum((Decimal(r["amount_at_risk"] or 0) for r in rows), Decimal("0.00"))
    issuer = divisions.association_name(issuer_unit)
    para("整改通知书", align=WD_ALIGN_PARAGRAPH.CENTER, size=22, bold=True, name="宋体", space_after=6)
    para(notice_number(unit_code, day), align=WD_ALIGN_PARAGRAPH.CENTER, size=14, space_after=12)
    para(f"{divisions.association_name(unit_code)}：", size=14)
    para(f"经项目资金每日监督核查并经审核确认，你单位存在下列问题共 {len(rows)} 条，涉及金额 "
         f"{money_text(total)} 元。请对照所列要求逐条整改，并在整改时限前通过监督系统提交整改说明和佐证材料"
         "（PDF、JPG 或 PNG）；审核人员核查后予以销号。逾期未整改的，按有关规定处理。",
         size=14, indent=True, space_after=6)

    table = doc.add_table(rows=1, cols=6)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    widths = (Cm(1.0), Cm(4.6), Cm(2.8), Cm(2.2), Cm(2.2), Cm(2.8))
    heads = ("序号", "问题", "涉及对象", "涉及金额（元）", "整改时限", "整改要求")

    def cell(c, text: str, *, bold: bool = False, size: float = 10.5, align=None) -> None:
        c.text = ""
        p = c.paragraphs[0]
        if align is not None:
            p.alignment = align
        font(p.add_run(text), "仿宋", size, bold)

    hdr = table.rows[0]
    trpr = hdr._tr.get_or_add_trPr()  # repeat the header row on every page
    rep = OxmlElement("w:tblHeader")
    rep.set(qn("w:val"), "true")
    trpr.append(rep)
    for c, text, w in zip(hdr.cells, heads, widths, strict=True):
        c.width = w
        cell(c, text, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    catalog = rule_catalog()
    for n, r in enumerate(rows, start=1):
        rule = catalog.get(r["rule_id"])
        cells = table.add_row().cells
        problem = (f"{r['rule_name'] or r['rule_id']}（问题编号 {r['finding_id']}）\n"
                   f"{masking.mask_text(r['detail'] or '')}")
        values = (str(n), problem, masking.mask_subject_key(r["subject_type"], r["subject_key"]),
                  money_text(r["amount_at_risk"]), r["due"], rule.requirement if rule else "")
        aligns = (WD_ALIGN_PARAGRAPH.CENTER, None, None, WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.CENTER, None)
        for c, text, w, a in zip(cells, values, widths, aligns, strict=True):
            c.width = w
            cell(c, text, align=a)
    foot = table.add_row().cells
    merged = foot[0].merge(foot[2])
    cell(merged, f"合计 {len(rows)} 条", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    cell(foot[3], money_text(total), bold=True, align=WD_ALIGN_PARAGRAPH.RIGHT)

    para("", space_after=12)
    para(issuer, align=WD_ALIGN_PARAGRAPH.RIGHT, size=14)
    para("（盖章）", align=WD_ALIGN_PARAGRAPH.RIGHT, size=14)
    para(chinese_date(day), align=WD_ALIGN_PARAGRAPH.RIGHT, size=14, space_after=12)
    para("注：问题编号可在监督系统中查询证据和整改记录；文中身份证号、账号等个人信息已作脱敏处理。", size=10.5)
    doc.core_properties.title = f"整改通知书 {notice_number(unit_code, day)}"
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------- 整改台账
def ledger_rows(conn: sqlite3.Connection, viewer_unit: str, *, unit: str | None = None) -> list[dict]:
    """The 台账's rows (column name -> value; money Decimal, due a date) for a scope."""
    rects = rectification.in_scope(conn, viewer_unit, unit=unit)
    facts = _step_facts(conn, [r["finding_id"] for r in rects])
    out = []
    for n, r in enumerate(rects, start=1):
        f = facts.get(r["finding_id"], {})
        respond, verify = f.get("respond"), f.get("verify")
        progress = [r["state_label"]]
        if r["overdue"]:
            progress.append(f"已逾期 {r['overdue_days']} 天")
        if r["data_fixed"]:
            progress.append("数据已整改，待核销")
        progress.append(f"更新于 {r['updated_at'][:10]}")
        out.append({
            "序号": n,
            "问题描述": f"{r['rule_name'] or r['rule_id']}：{masking.mask_text(r['detail'] or '')}"
                        f"（问题编号 {r['finding_id']}）",
            "责任单位": divisions.association_name(r["unit_code"]),
            "涉及金额": Decimal(r["amount_at_risk"] or 0),
            "整改时限": date.fromisoformat(r["due"]),
            "整改措施": masking.mask_text(respond["comment"]) if respond and respond["comment"] else "",
            "整改进展": "；".join(progress),
            "销号情况": (f"已销号（{verify['at'][:10]}，{verify['username']}）"
                         if r["state"] == "verified" and verify else "未销号"),
        })
    return out


def ledger_xlsx(conn: sqlite3.Connection, viewer_unit: str, *, unit: str | None = None) -> bytes:
    """The 整改台账 of the viewer's scope (or of one unit in it) as an xlsx file."""
    if unit is not None and (not scope.is_unit_code(unit) or not scope.covers(viewer_unit, unit)):
        raise rectification.NotFound(NO_SUCH_UNIT)
    rows = ledger_rows(conn, viewer_unit, unit=unit)
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    wb.set_properties({"title": "整改台账", "comments": "fundwatch 整改台账（个人信息已脱敏）"})
    head = wb.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1, "align": "center",
                          "valign": "vcenter", "text_wrap": True})
    text = wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
    centre = wb.add_format({"align": "center", "valign": "top", "border": 1})
    money = wb.add_format({"num_format": "#,##0.00", "valign": "top", "border": 1})
    day = wb.add_format({"num_format": "yyyy-mm-dd", "align": "center", "valign": "top", "border": 1})
    ws = wb.add_worksheet("整改台账")
    for col, (name, width) in enumerate(zip(LEDGER_COLUMNS, (6, 48, 22, 14, 12, 36, 24, 22), strict=True)):
        ws.set_column(col, col, width)
        ws.write_string(0, col, name, head)
    for i, row in enumerate(rows, start=1):
        ws.write_number(i, 0, row["序号"], centre)
        ws.write_number(i, 3, float(row["涉及金额"]), money)  # exact: 2-place amounts far below 2**53 分
        ws.write_datetime(i, 4, row["整改时限"], day)
        for col in (1, 2, 5, 6, 7):
            ws.write_string(i, col, safe_text(row[LEDGER_COLUMNS[col]]), text)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(LEDGER_COLUMNS) - 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.set_margins(left=0.5, right=0.5, top=0.7, bottom=0.7)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    scope_name = divisions.association_name(unit or viewer_unit)
    ws.set_header(f"&C&\"宋体,Bold\"整改台账（{scope_name}）")
    ws.set_footer("&L个人信息已脱敏&R第 &P 页，共 &N 页")
    wb.close()
    return buf.getvalue()
