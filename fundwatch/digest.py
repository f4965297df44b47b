"""The daily digest (监督日报) after each run, per unit, stored and sent through ``fundwatch.notify``.

What a digest holds, for one run date: the **new findings** (first seen on that date), the
**overdue rectifications** (not verified, due before the run date) and the **data_fixed** ones
(not verified, the finding no longer fires: 数据已整改，待核销; listed there only, even when past
due, since it waits for the office, not the unit). One digest per unit *scope*
(``fundwatch.scope``): a county's holds its own items; a 市州's its own and its counties'; the
province's holds everything and is written every day, even when empty (the office sees the run
happened). Other units get a digest only on a day that has something for them.

Where it goes: apprise URLs from the environment (secrets stay there), never from code:

- the province: ``$FUNDWATCH_NOTIFY_URLS`` (``fundwatch.notify``'s own variable);
- any other unit: ``$FUNDWATCH_NOTIFY_URLS_<unit code>``, e.g. ``FUNDWATCH_NOTIFY_URLS_430121``;
- ``$FUNDWATCH_PUBLIC_URL`` (optional): the review page's address, linked at the end.

A unit without a variable gets its digest on the page only. Digests are kept in the table
``digests`` (one row per run date and unit, replaced when the day is re-run). Sending is
idempotent: a digest already delivered with the same content is not sent again, so re-running a
day or retrying the stage sends only what changed or failed. A configured channel that fails is
recorded and, after every unit was tried, raised as ``DeliveryError`` (the stage fails and Airflow
retries it): an alert nobody received never looks sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fundwatch import divisions, masking, notify, rectification, scope, state
from fundwatch.documents import money_text
from fundwatch.paths import Home

log = logging.getLogger(__name__)
ENV_UNIT_PREFIX = notify.ENV_URLS + "_"
ENV_PUBLIC_URL = "FUNDWATCH_PUBLIC_URL"
LIST_LIMIT = 20  # items listed per section in a message (the page and the counts have them all)
SECTIONS = (("new", "新增问题线索"), ("overdue", "整改逾期"), ("data_fixed", "数据已整改，待核销"))
SEVERITY_LABELS = {"error": "错误", "warning": "警告"}


class DeliveryError(RuntimeError):
    """At least one configured channel did not take its digest (the message names the units)."""


@dataclass
class Digest:
    """One unit scope's digest of a run date: the count per section and the rows it lists (at most
    ``LIST_LIMIT`` per section, in the order they are listed)."""

    run_date: str
    unit_code: str
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k, _ in SECTIONS})
    items: dict[str, list[dict]] = field(default_factory=lambda: {k: [] for k, _ in SECTIONS})

    def add(self, key: str, row: dict) -> None:
        self.counts[key] += 1
        if len(self.items[key]) < LIST_LIMIT:
            self.items[key].append(row)

    @property
    def title(self) -> str:
        c = self.counts
        return (f"{divisions.place_name(self.unit_code)}项目资金监督日报（{self.run_date}）："
                f"新增 {c['new']}，逾期 {c['overdue']}，待核销 {c['data_fixed']}")

    def body(self) -> str:
        lines = [f"{divisions.association_name(self.unit_code)}：", ""]
        c = self.counts
        if not any(c.values()):
            lines.append(f"{self.run_date} 的每日核查没有新增问题线索，也没有逾期或待核销的整改。")
        numerals = "一二三"
        for i, (key, label) in enumerate(SECTIONS):
            if not c[key]:
                continue
            lines.append(f"{numerals[i]}、{label}（{c[key]} 条）")
            for n, r in enumerate(self.items[key], start=1):
                lines.append(f"{n}. {_line(key, r, self.unit_code)}")
            if c[key] > len(self.items[key]):
                lines.append(f"……另有 {c[key] - len(self.items[key])} 条，请在监督系统中查看。")
            lines.append("")
        base = os.environ.get(ENV_PUBLIC_URL, "").strip().rstrip("/")
        if base:
            lines.append(f"请登录监督系统处理：{base}/")
        lines.append("（身份证号、账号等个人信息已脱敏）")
        return "\n".join(lines).strip() + "\n"


def _line(key: str, r: dict, digest_unit: str) -> str:
    where = "" if r["unit_code"] == digest_unit else f"{divisions.place_name(r['unit_code'])} · "
    subject = masking.mask_subject_key(r["subject_type"], r["subject_key"])
    amount = f"{money_text(r['amount_at_risk'])} 元"
    head = f"{where}{r['rule_name'] or r['rule_id']} · {subject} · {amount}"
    if key == "new":
        return f"[{SEVERITY_LABELS.get(r['severity'], r['severity'])}] {head}（问题编号 {r['finding_id']}）"
    if key == "overdue":
        return f"{head}：整改时限 {r['due']}，已逾期 {r['overdue_days']} 天（{r['state_label']}）"
    return f"{head}：数据已不再触发该规则，整改时限 {r['due']}（{r['state_label']}），请核查销号"


# The first LIST_LIMIT new findings of each unit, in the order a digest lists them; the first of a
# 市州 or of the province are among these (the order is total), so one scan serves every scope.
_NEW_SQL = """SELECT * FROM (
    SELECT finding_id, rule_id, rule_name, severity, subject_type, subject_key, unit_code, amount_at_risk,
           row_number() OVER (PARTITION BY unit_code ORDER BY severity = 'error' DESC, rule_id, finding_id) AS n
    FROM findings WHERE first_seen = ?) WHERE n <= ?"""


def _listing_order(r: dict) -> tuple:
    return (r["severity"] != "error", r["unit_code"] or "", r["rule_id"], r["finding_id"])


def _scopes_of(unit: str | None) -> list[str]:
    """The unit scopes that see a record of ``unit``: the province, its 市州, itself."""
    candidates = [scope.PROVINCE] + ([unit[:4] + "00", unit] if scope.is_unit_code(unit) else [])
    return [v for v in dict.fromkeys(candidates) if scope.covers(v, unit)]


def build(conn: sqlite3.Connection, run_date: date | str) -> list[Digest]:
    """Every digest of a run date: the province's, and one per unit scope that has an item.

    New findings are counted per unit in SQL and only each unit's first twenty are read (a first
    run can have hundreds of thousands); rectifications are few (confirmed findings only).
    """
    day = run_date if isinstance(run_date, str) else run_date.isoformat()
    new_per_unit = dict(conn.execute("SELECT unit_code, count(*) FROM findings WHERE first_seen = ? "
                                     "GROUP BY unit_code", (day,)).fetchall())
    running = rectification.in_scope(conn, scope.PROVINCE, include_verified=False, run_date=day)
    digests: dict[str, Digest] = {scope.PROVINCE: Digest(day, scope.PROVINCE)}
    for unit, n in new_per_unit.items():
        for viewer in _scopes_of(unit):
            digests.setdefault(viewer, Digest(day, viewer)).counts["new"] += n
    for r in running:  # overdue first, as in_scope orders them; data_fixed ones wait for the office
        key = "data_fixed" if r["data_fixed"] else "overdue" if r["overdue"] else None
        if key:
            for viewer in _scopes_of(r["unit_code"]):
                digests.setdefault(viewer, Digest(day, viewer)).add(key, r)
    candidates: dict[str, list[dict]] = {}
    for row in conn.execute(_NEW_SQL, (day, LIST_LIMIT)):
        r = dict(row)
        for viewer in _scopes_of(r["unit_code"]):
            candidates.setdefault(viewer, []).append(r)
    for viewer, rows in candidates.items():
        digests[viewer].items["new"] = sorted(rows, key=_listing_order)[:LIST_LIMIT]
    return [digests[k] for k in sorted(digests)]


def urls_for(unit_code: str) -> list[str]:
    """The apprise URLs of a unit's digest (see the module docstring)."""
    if unit_code == scope.PROVINCE:
        return notify.configured_urls()
    return notify.configured_urls(os.environ.get(ENV_UNIT_PREFIX + unit_code, ""))


def store(conn: sqlite3.Connection, digests: list[Digest]) -> None:
    """Write a run date's digests (one transaction); a digest whose content changed is sent again."""
    if not digests:
        return
    day = digests[0].run_date
    with state.transaction(conn):
        conn.execute(f"DELETE FROM digests WHERE run_date = ? AND unit_code NOT IN ({', '.join('?' * len(digests))})",
                     [day, *(d.unit_code for d in digests)])
        for d in digests:
            title, body = d.title, d.body()
            sha = hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
            items = json.dumps({k: [r["finding_id"] for r in v] for k, v in d.items.items()})
            c = d.counts
            conn.execute("""
                INSERT INTO digests (run_date, unit_code, new_findings, overdue, data_fixed, title, body, items,
                                     content_sha256, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_date, unit_code) DO UPDATE SET
                    new_findings = excluded.new_findings, overdue = excluded.overdue,
                    data_fixed = excluded.data_fixed, title = excluded.title, body = excluded.body,
                    items = excluded.items, content_sha256 = excluded.content_sha256,
                    created_at = excluded.created_at, channels = 0, delivered = 0, sent_at = NULL
                WHERE digests.content_sha256 != excluded.content_sha256
            """, (day, d.unit_code, c["new"], c["overdue"], c["data_fixed"], title, body, items, sha,
                  state.now_shanghai()))


def send_pending(conn: sqlite3.Connection, run_date: str) -> dict:
    """Send the run date's digests not yet delivered to every configured channel."""
    report = {"sent": 0, "not_configured": 0, "failed": []}
    for row in conn.execute("SELECT unit_code, title, body, channels, sent_at FROM digests "
                            "WHERE run_date = ? AND delivered = 0 ORDER BY unit_code", (run_date,)).fetchall():
        unit = row["unit_code"]
        urls = urls_for(unit)
        delivery = notify.Delivery(0, False)
        if urls:
            try:
                delivery = notify.send(row["title"], row["body"], urls=urls)
            except Exception as exc:  # noqa: BLE001 - a bad URL or a channel that raised: reported below
                log.error("digest of %s not sent: %s", unit, exc)
                delivery = notify.Delivery(len(urls), False)
        if not delivery.configured:
            report["not_configured"] += 1
        elif delivery.sent:
            report["sent"] += 1
        else:
            report["failed"].append(unit)
        if not delivery.configured and row["channels"] == 0 and row["sent_at"] is None:
            continue  # nothing to send it to, and so it stands already: no write (a first run has ~140)
        with state.transaction(conn):
            conn.execute("UPDATE digests SET channels = ?, delivered = ?, sent_at = ? WHERE run_date = ? "
                         "AND unit_code = ?", (delivery.channels, int(delivery.sent),
                                               state.now_shanghai() if delivery.sent else None, run_date, unit))
    return report


def after_run(home: Home, run_date: date | str) -> dict:
    """The pipeline's digest stage: build, store and send the run date's digests.

    Returns counts (digests, sent, not_configured, failed units); raises ``DeliveryError`` after
    trying every unit when a configured channel failed.
    """
    day = run_date if isinstance(run_date, str) else run_date.isoformat()
    conn = state.connect(Path(home.state_db))
    try:
        digests = build(conn, day)
        store(conn, digests)
        report = send_pending(conn, day)
    finally:
        conn.close()
    report["digests"] = len(digests)
    if report["failed"]:
        raise DeliveryError(f"监督日报未能送达 {len(report['failed'])} 个单位（{', '.join(report['failed'])}）："
                            "请检查通知渠道配置（FUNDWATCH_NOTIFY_URLS*）后重试该任务。")
    return report


def for_viewer(conn: sqlite3.Connection, viewer_unit: str,
               run_date: str | None = None) -> tuple[str | None, list[dict]]:
    """(run date, digests in the person's scope for it: their own first), for the page."""
    day = run_date or conn.execute("SELECT max(run_date) FROM digests").fetchone()[0]
    if day is None:
        return None, []
    where, params = scope.sql_filter(viewer_unit, "unit_code")
    rows = [dict(r) for r in conn.execute(
        f"SELECT * FROM digests WHERE run_date = ? AND {where} ORDER BY unit_code != ?, unit_code",
        [day, *params, viewer_unit])]
    return day, rows
