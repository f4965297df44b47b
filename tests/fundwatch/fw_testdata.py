"""Synthetic data and helpers shared by the tests of this folder (imported by conftest.py and tests).

All data is synthetic. The branches: 长沙市 (430100) with its county 长沙县 (430121), and 株洲市
(430200) with its district 荷塘区 (430202).
"""

from __future__ import annotations

import socket
import time
from datetime import date, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path

from fundwatch import rectification, state
from fundwatch.paths import Home

DATA = Path(__file__).resolve().parent / "data"  # receipt.pdf/.png/.jpg: made by Chromium, synthetic text
ID_CS = "430121198505051236"  # synthetic
ACCOUNT_CS = "6215190012345678901"  # synthetic


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def wait(self, n: int = 1, seconds: float = 5.0) -> list:
        for _ in range(int(seconds * 10)):
            if len(self.messages) >= n:
                break
            time.sleep(0.1)
        return self.messages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mail_url(port: int, to: str) -> str:
    return f"mailto://127.0.0.1:{port}?from=fundwatch@example.org&to={to}&mode=insecure"


# ---------------------------------------------------------------------------- rectification
def _f(rule_id, rule_name, severity, subject_type, key, unit, amount, detail, project="JQZX-2020-430121"):
    return {"rule_id": rule_id, "rule_name": rule_name, "severity": severity, "subject_type": subject_type,
            "subject_key": key, "project_code": project, "unit_code": unit, "amount_at_risk": Decimal(amount),
            "source_file": None, "source_row": None, "detail": detail}


CS_LATE = _f("PAY_LATE", "超期发放", "error", "payment", "TX-CS-001", "430121", "3000.00",
             "应在2020-12-31（发放截止日期）前发放，实际于2021-01-05发放（刘*）。")
CS_ROSTER = _f("ROSTER_PUBLICITY_SHORT", "名单公示期不足", "error", "roster_entry", f"JQZX-2020-430121|{ID_CS}",
               "430121", "1500.50", f"名单公示应不少于7天，实际公示5天（身份证号 {ID_CS}）。")
CS_SHARED = _f("PAY_SHARED_ACCOUNT", "多人共用一个账户", "warning", "payment", "TX-CS-077", "430121", "800.00",
               f"账号{ACCOUNT_CS}收到2个不同身份证号码的发放。")
CITY_OWN = _f("PROJ_OVER_BUDGET", "项目超预算", "error", "project", "SHJT-2020-430100", "430100", "12500.50",
              "发放与支出合计应不超过预算100000.00元，实际112500.50元。", project="SHJT-2020-430100")
ZZ_LATE = _f("PAY_LATE", "超期发放", "error", "payment", "TX-ZZ-001", "430202", "1234567.89",
             "应在2020-12-31（发放截止日期）前发放，实际于2021-02-01发放（王*）。", project="JQZX-2020-430202")
ZZ_FILE = _f("FILE_REJECTED", "文件无法识别或读取", "error", "file", "=HYPERLINK(\"http://x\",\"y\").csv", "430202",
             "0.00", "=文件表头无法识别为任何一种报送文件。", project=None)
ALL = [CS_LATE, CS_ROSTER, CS_SHARED, CITY_OWN, ZZ_LATE, ZZ_FILE]

A = rectification.Actor
PEOPLE = {
    "province_reviewer": A("省审核", "reviewer", "430000"),
    "province_admin": A("省管理", "admin", "430000"),
    "province_auditor": A("省审计", "auditor", "430000"),
    "city_reviewer": A("长沙审核", "reviewer", "430100"),
    "city_clerk": A("长沙填报", "unit", "430100"),
    "county_clerk": A("长沙县填报", "unit", "430121"),
    "county_reviewer": A("长沙县审核", "reviewer", "430121"),
    "other_city_reviewer": A("株洲审核", "reviewer", "430200"),
    "other_county_clerk": A("荷塘填报", "unit", "430202"),
}


def fid(f: dict) -> str:
    return state.finding_id(f["rule_id"], f["subject_type"], f["subject_key"])


def today() -> date:
    return rectification.today()


def day(offset: int) -> date:
    return today() + timedelta(days=offset)


def confirm(home_or_conn, f: dict, due=None, username: str = "省审核") -> None:
    target = home_or_conn.state_db if isinstance(home_or_conn, Home) else home_or_conn
    state.add_decision(target, finding_id=fid(f), action="confirmed", comment="", username=username, due=due)


def step(conn, home: Home, f: dict, who: str, action: str, comment: str | None = "说明", due=None, files=()):
    return rectification.act(conn, home.attachments_dir, finding_id=fid(f), actor=PEOPLE[who], action=action,
                             comment=comment, due=due, files=files)


def drive(conn, home: Home, f: dict, to: str) -> dict:
    """Confirm ``f`` and take it to the state ``to`` by the ordinary path."""
    confirm(conn, f)
    path = {"notified": [], "responded": [("county_clerk", "respond", None)],
            "returned": [("county_clerk", "respond", None), ("province_reviewer", "return", day(10))],
            "verified": [("county_clerk", "respond", None), ("province_reviewer", "verify", None)]}[to]
    r = rectification.get(conn, fid(f))
    for who, action, due in path:
        r = step(conn, home, f, who, action, due=due)
    assert r["state"] == to
    return r
