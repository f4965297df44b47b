"""Synthetic findings and helpers shared by the review page's tests (all data is made up)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from fundwatch import state

PASSWORD = "correct-horse-9"
ID_LIU = "430121198505051236"  # synthetic
ACCOUNT_LIU = "6215190012345678901"
DAY1, DAY2 = date(2021, 4, 29), date(2021, 4, 30)


def _f(rule_id, rule_name, severity, subject_type, key, unit, project, amount, detail, evidence=None,
       source_file="长沙县/2020金秋助学发放明细.xlsx", source_row=8):
    return {
        "rule_id": rule_id, "rule_name": rule_name, "severity": severity, "subject_type": subject_type,
        "subject_key": key, "project_code": project, "unit_code": unit, "amount_at_risk": Decimal(amount),
        "source_file": source_file, "source_row": source_row, "detail": detail,
        "evidence": evidence or {},
    }


PAY_LATE = _f(
    "PAY_LATE", "超期发放", "error", "payment", "TX20210105001", "430121", "JQZX-2020-430121", "3000.00",
    "应在2020-12-31（发放截止日期）前发放，实际于2021-01-05发放。",
    # The shape of fct_finding_evidence as the export stores it: one key per kind, lists of records.
    {"subject": [{"source_file": "长沙县/2020金秋助学发放明细.xlsx", "source_row": 8, "txn_ref": "TX20210105001",
                  "name": "刘建国", "id_number": ID_LIU, "account_no": ACCOUNT_LIU, "amount": "3000.00",
                  "pay_date": "2021-01-05"}],
     "roster_entry": [{"source_file": "长沙县/名单.xlsx", "source_row": 5, "name": "刘建国", "id_number": ID_LIU,
                       "account_no": ACCOUNT_LIU, "approved_amount": "3000.00", "publicity_end": "2020-11-20"}],
     "project": [{"source_file": "项目文本.xlsx", "source_row": 3, "project_code": "JQZX-2020-430121",
                  "project_name": "长沙县2020年金秋助学", "pay_deadline": "2020-12-31",
                  "standard_amount": "3000.00"}],
     # a 文号 among the records, for the search by 文号 (the page shows any kind of record)
     "matched_credits": [{"source_file": "到账.csv", "source_row": 4, "txn_ref": "CR001", "value_date": "2020-10-10",
                          "amount": "150000.00", "doc_no": "湘财社指〔2020〕36号", "is_late": False}]},
)
ROSTER_SHORT = _f(
    "ROSTER_PUBLICITY_SHORT", "名单公示期不足", "error", "roster_entry", f"JQZX-2020-430121|{ID_LIU}",
    "430121", "JQZX-2020-430121", "3000.00", f"名单公示应不少于7天，实际公示5天（身份证号 {ID_LIU}）。",
)
ACCOUNT_SHARED = _f(
    "PAY_SHARED_ACCOUNT", "多人共用一个账户", "warning", "payment", "TX20201201077", "430202",
    "SHJT-2020-430202", "800.00", f"账号{ACCOUNT_LIU}收到2个不同身份证号码的发放。",
)
FILE_BAD = _f(
    "FILE_REJECTED", "文件无法识别或读取", "error", "file", "=HYPERLINK(\"http://x\",\"y\").csv",
    "433101", None, "0.00", "=文件表头无法识别为任何一种报送文件。", source_file=None, source_row=None,
)
OVER_BUDGET = _f(
    "PROJ_OVER_BUDGET", "项目超预算", "error", "project", "SHJT-2020-430202", "430202", "SHJT-2020-430202",
    "12500.50", "发放与支出合计应不超过预算100000.00元，实际112500.50元。",
)

DAY1_FINDINGS = [PAY_LATE, ROSTER_SHORT, ACCOUNT_SHARED]
DAY2_FINDINGS = [PAY_LATE, ROSTER_SHORT, FILE_BAD, OVER_BUDGET]  # ACCOUNT_SHARED closed on DAY2


def copy_state(home, root):
    """A home holding a copy of ``home``'s state.sqlite (all the review page reads)."""
    from fundwatch.paths import Home

    copy = Home(root).ensure()
    conn = state.connect(home.state_db)
    try:
        conn.execute("VACUUM INTO ?", (str(copy.state_db),))
    finally:
        conn.close()
    return copy


def fid(f: dict) -> str:
    return state.finding_id(f["rule_id"], f["subject_type"], f["subject_key"])


def csrf_of(client) -> str:
    with client.session_transaction() as sess:
        return sess.get("csrf", "")


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


# ------------------------------------------------------------------ people at three levels, two branches
# The province, two 市州 (长沙 430100, 株洲 430200) and two counties of 长沙 (长沙县 430121, 浏阳市 430181).
PROVINCE, CHANGSHA, ZHUZHOU, CHANGSHA_XIAN, LIUYANG = "430000", "430100", "430200", "430121", "430181"
SCOPE_UNITS = (PROVINCE, CHANGSHA, ZHUZHOU, CHANGSHA_XIAN, LIUYANG)
SCOPE_ROLES = ("reviewer", "auditor", "admin", "unit")


def person_name(role: str, unit: str) -> str:
    return f"{role}_{unit}"


def _scoped(unit: str | None, tag: str) -> dict:
    """A finding of ``unit`` whose rule, key, project and name are unique to it (to spot leaks)."""
    return _f(f"SCOPE_{tag}", f"范围检查{tag}", "error", "payment", f"SCOPE-KEY-{tag}", unit, f"P-{tag}",
              "100.00", f"范围检查{tag}的说明。",
              {"subject": [{"source_file": f"scope/{tag}.xlsx", "source_row": 8, "txn_ref": f"SCOPE-KEY-{tag}",
                            "name": f"姓名{tag}", "id_number": ID_LIU}]},
              source_file=f"scope/{tag}.xlsx")


SCOPE_FINDINGS = {
    "in_430121": _scoped(CHANGSHA_XIAN, "A430121"),
    "in_430181": _scoped(LIUYANG, "A430181"),
    "in_430100": _scoped(CHANGSHA, "A430100"),
    "in_430202": _scoped("430202", "A430202"),
    "no_unit": _scoped(None, "ANOUNIT"),
}
# Which findings each unit sees (written out by hand from interface.md, not computed by fundwatch.scope).
VISIBLE = {
    PROVINCE: {"in_430121", "in_430181", "in_430100", "in_430202", "no_unit"},
    CHANGSHA: {"in_430121", "in_430181", "in_430100"},
    ZHUZHOU: {"in_430202"},
    CHANGSHA_XIAN: {"in_430121"},
    LIUYANG: {"in_430181"},
}
