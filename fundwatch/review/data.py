"""Read side of the review page: rule catalogue, divisions, and queries over state.sqlite.

Only ``state.sqlite`` is read (never the DuckDB warehouse), so the page keeps serving the last
complete run while the DAG writes. Money is summed in SQLite as integer cents (exact), then
turned back into Decimal.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from fundwatch import masking, scope, state
from fundwatch.catalog import Rule, by_id
from fundwatch.divisions import Division, divisions

SEVERITY_LABELS = {"error": "错误", "warning": "警告"}
STATUS_LABELS = {"open": "待处理", "confirmed": "已确认", "dismissed": "已驳回", "resolved": "已整改"}
ALL_STATUSES = "all"  # the queue's explicit 全部 (no ``status`` at all means 待处理)
NO_UNIT = "none"      # the 市州 filter's 无单位: findings whose unit is not known
ACTION_LABELS = {"confirmed": "确认", "dismissed": "驳回", "resolved": "标记已整改", "reopened": "重新打开"}
SUBJECT_LABELS = {
    "allocation": "资金指标", "transfer": "到账资金", "project": "项目", "roster_entry": "名单人员",
    "payment": "发放记录", "expenditure": "支出凭证", "file": "文件", "row": "数据行",
}
CENTS_SQL = "CAST(replace(f.amount_at_risk, '.', '') AS INTEGER)"  # amounts are 2-place text
PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # far beyond any queue; keeps OFFSET a small integer
MAX_Q = 100


def cents_to_decimal(cents: int | None) -> Decimal:
    return (Decimal(cents or 0) / 100).quantize(Decimal("0.01"))


def rule_catalog() -> dict[str, Rule]:
    """rule_id -> Rule, from the one rule catalogue (``fundwatch.catalog``, the dbt seed)."""
    return by_id()


def prefectures() -> list[Division]:
    return [d for d in divisions().values() if d.level == "prefecture"]


def counties_by_prefecture() -> OrderedDict[str, list[Division]]:
    out: OrderedDict[str, list[Division]] = OrderedDict((p.code, []) for p in prefectures())
    for d in divisions().values():
        if d.level == "county" and d.prefecture_code in out:
            out[d.prefecture_code].append(d)
    return out


def unit_label(code: str | None) -> str:
    """'长沙市 · 芙蓉区' for a county, '长沙市（市州本级）' for a 市州's own association, the code when unknown."""
    if not code:
        return "（未知单位）"
    d = divisions().get(code)
    if d is None:
        return f"未知单位 {code}"
    if d.level == "province":
        return f"{d.name}（省本级）"
    if d.level == "prefecture":
        return f"{d.name}（市州本级）"
    return f"{d.prefecture_name} · {d.name}"


def area_label(code: str) -> str:
    """A 市州 as a filter: the whole 市州 with its counties, '长沙市（全市）'."""
    if code == NO_UNIT:
        return "无单位"
    d = divisions().get(code)
    return f"{d.name}（全市）" if d is not None else f"未知单位 {code}"


def prefecture_of(code: str | None) -> str | None:
    if not code or len(code) != 6:
        return None
    d = divisions().get(code)
    if d is not None and d.prefecture_code:
        return d.prefecture_code
    guess = code[:4] + "00"
    return guess if guess in divisions() and guess != "430000" else None


@dataclass
class Filters:
    """The queue's filters, always inside a person's scope (``scope_unit``: their unit code).

    ``unit`` filters by a unit with scope semantics (a 市州 code: the 市州 and its counties);
    ``prefecture`` is a whole 市州 too, or ``NO_UNIT`` for findings without a known unit;
    ``status`` empty means every status; ``q`` searches (see ``search_sql``). Build them through
    ``access.filters`` on a request: there a missing ``status`` means 待处理 (the queue opens on
    what is left to do) and ``status=all`` is the explicit 全部.
    """

    scope_unit: str
    rule: str = ""
    severity: str = ""
    prefecture: str = ""
    county: str = ""
    unit: str = ""
    project: str = ""
    status: str = ""
    q: str = ""
    page: int = 1
    errors: list[str] = field(default_factory=list)

    KEYS = ("rule", "severity", "prefecture", "county", "unit", "project", "status", "q")

    @classmethod
    def from_args(cls, args, scope_unit: str) -> Filters:
        f = cls(scope_unit=scope_unit)
        f.rule = (args.get("rule") or "").strip()[:64]
        f.severity = (args.get("severity") or "").strip()
        f.prefecture = (args.get("prefecture") or "").strip()
        f.county = (args.get("county") or "").strip()
        f.unit = (args.get("unit") or "").strip()
        f.project = (args.get("project") or "").strip()[:64]
        raw_status = args.get("status")
        f.status = "open" if raw_status is None else raw_status.strip()
        if f.status == ALL_STATUSES:
            f.status = ""
        f.q = (args.get("q") or "").strip()[:MAX_Q]
        try:
            f.page = min(max(1, int(args.get("page") or 1)), MAX_PAGE)
        except ValueError:
            f.page = 1
        if f.severity and f.severity not in SEVERITY_LABELS:
            f.errors.append("未知的严重程度，已忽略。")
            f.severity = ""
        if f.status and f.status not in STATUS_LABELS:
            f.errors.append("未知的处理状态，已忽略。")
            f.status = ""
        for name in ("prefecture", "county", "unit"):
            value = getattr(f, name)
            if name == "prefecture" and value == NO_UNIT:
                continue
            if value and not scope.is_unit_code(value):
                f.errors.append("单位代码应为6位数字，已忽略。")
                setattr(f, name, "")
        if f.county and f.prefecture and prefecture_of(f.county) != f.prefecture:
            f.errors.append("所选县市区不属于所选市州，已按县市区筛选。")
            f.prefecture = ""
        return f

    def args(self, **override) -> dict[str, str]:
        """Query-string arguments (non-empty) of these filters, with overrides.

        Every status is written out (``status=all``), so a link never falls back to 待处理.
        """
        out = {k: getattr(self, k) for k in self.KEYS}
        out.update(override)
        if not out.get("status"):
            out["status"] = ALL_STATUSES
        return {k: str(v) for k, v in out.items() if v not in ("", None)}

    def describe(self) -> str:
        """The filters in words (above the queue, on a finding's breadcrumb, in the export's title)."""
        rule = rule_catalog().get(self.rule) if self.rule else None
        parts = [
            (self.rule, lambda: f"规则：{rule.rule_name if rule else ''}（{self.rule}）"),
            (self.severity, lambda: f"严重程度：{SEVERITY_LABELS[self.severity]}"),
            (self.prefecture, lambda: f"市州：{area_label(self.prefecture)}"),
            (self.county, lambda: f"县市区：{unit_label(self.county)}"),
            (self.unit, lambda: f"单位：{unit_label(self.unit)}"),
            (self.project, lambda: f"项目：{self.project}"),
            (True, lambda: f"状态：{STATUS_LABELS[self.status] if self.status else '全部'}"),
            (self.q, lambda: f"搜索：{masking.mask_text(self.q)}"),
        ]
        return "；".join(text() for value, text in parts if value)

    def where(self, *, with_status: bool = True, with_search: bool = True) -> tuple[str, list]:
        """SQL condition over ``findings f`` (or ``history_daily f``): the scope, then the filters."""
        where, params = scope.sql_filter(self.scope_unit, "f.unit_code")
        clauses = [where]
        params = list(params)
        if self.rule:
            clauses.append("f.rule_id = ?")
            params.append(self.rule)
        if self.severity:
            clauses.append("f.severity = ?")
            params.append(self.severity)
        if self.county:
            clauses.append("f.unit_code = ?")
            params.append(self.county)
        elif self.prefecture == NO_UNIT:
            clauses.append("f.unit_code IS NULL")
        elif self.prefecture:
            clauses.append("substr(f.unit_code, 1, 4) = ?")
            params.append(self.prefecture[:4])
        if self.unit:
            unit_where, unit_params = scope.sql_filter(self.unit, "f.unit_code")
            clauses.append(unit_where)
            params += unit_params
        if self.project:
            clauses.append("f.project_code = ?")
            params.append(self.project)
        if with_status and self.status:
            clauses.append(f"{state.STATUS_SQL} = ?")
            params.append(self.status)
        if with_search and self.q:
            search_where, search_params = search_sql(self.q)
            clauses.append(search_where)
            params += search_params
        return " AND ".join(clauses), params


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_sql(q: str) -> tuple[str, list[str]]:
    """What the queue's search ``q`` matches (README "Review page"), as SQL over ``findings f``:

    - a project code starting with ``q``;
    - the finding's own key starting with ``q`` (流水号, 文号, 凭证号, file name) unless ``q``
      holds a ``|`` (a roster entry's key ends with a person's ID: never searched by prefix);
    - any value of the evidence equal to ``q`` in full: a name, an ID number, an account, a
      流水号 or 文号 of a related record. Whole values only, so masked digits cannot be found
      out piece by piece.
    """
    like = _like(q)
    quoted = _like(json.dumps(q, ensure_ascii=False))
    clauses = ["f.project_code LIKE ? ESCAPE '\\'", "f.evidence LIKE ? ESCAPE '\\'"]
    params = [like + "%", "%" + quoted + "%"]
    if "|" not in q:
        clauses.append("f.subject_key LIKE ? ESCAPE '\\'")
        params.append(like + "%")
    return "(" + " OR ".join(clauses) + ")", params


def latest_run(conn: sqlite3.Connection) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT run_id, run_date, finished_at FROM runs ORDER BY run_date DESC, finished_at DESC LIMIT 1"
    ).fetchone()


# The queue's order as one ascending key (newest first, then errors, then larger amounts, then id):
# ORDER BY uses it, and "the next finding" / "its position" compare row values against it.
ORDER_BY = f"-julianday(f.first_seen), -(f.severity = 'error'), -{CENTS_SQL}, f.finding_id"
ORDER_KEY = f"({ORDER_BY})"
# The latest decision of a finding (the one its status comes from), for the office's export.
LATEST_DECISION_SQL = """LEFT JOIN decisions ld ON ld.id = (
    SELECT max(d.id) FROM decisions d WHERE d.finding_id = f.finding_id)"""


def queue_rows(conn: sqlite3.Connection, flt: Filters, *, limit: int | None = PAGE_SIZE,
               offset: int = 0, with_decision: bool = False) -> list[dict]:
    """Current findings matching the filters: newest first, then errors, then larger amounts.

    ``with_decision`` adds the latest decision: ``decided_by``, ``decision_comment``, ``decided_at``.
    """
    where, params = flt.where()
    decision_cols = (", ld.username AS decided_by, ld.comment AS decision_comment, ld.decided_at"
                     if with_decision else "")
    sql = f"""
        SELECT f.finding_id, f.rule_id, f.rule_name, f.severity, f.subject_type, f.subject_key,
               f.project_code, f.unit_code, f.amount_at_risk, f.source_file, f.source_row, f.detail,
               f.first_seen, {state.STATUS_SQL} AS status{decision_cols}
        FROM findings f {LATEST_DECISION_SQL if with_decision else ""}
        WHERE f.is_open = 1 AND {where}
        ORDER BY {ORDER_BY}
    """
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = [*params, limit, offset]
    return [dict(r) for r in conn.execute(sql, params)]


def _order_key_of(conn: sqlite3.Connection, fid: str) -> list | None:
    row = conn.execute(f"SELECT {ORDER_BY} FROM findings f WHERE f.finding_id = ?", (fid,)).fetchone()
    return None if row is None else list(row)


def next_in_queue(conn: sqlite3.Connection, flt: Filters, fid: str) -> str | None:
    """The finding after ``fid`` in the filtered queue's order (``fid`` itself need not match the
    filters any more, e.g. just decided under 待处理); None when it was the last."""
    key = _order_key_of(conn, fid)
    if key is None:
        return None
    where, params = flt.where()
    row = conn.execute(f"""SELECT f.finding_id FROM findings f
                           WHERE f.is_open = 1 AND {where} AND {ORDER_KEY} > (?, ?, ?, ?)
                           ORDER BY {ORDER_BY} LIMIT 1""", [*params, *key]).fetchone()
    return None if row is None else row[0]


def position_in_queue(conn: sqlite3.Connection, flt: Filters, fid: str) -> int | None:
    """1-based position of ``fid`` in the filtered queue, None when it is not in it."""
    key = _order_key_of(conn, fid)
    if key is None:
        return None
    where, params = flt.where()
    inside = conn.execute(f"SELECT 1 FROM findings f WHERE f.finding_id = ? AND f.is_open = 1 AND {where}",
                          [fid, *params]).fetchone()
    if inside is None:
        return None
    before = conn.execute(f"SELECT count(*) FROM findings f WHERE f.is_open = 1 AND {where} "
                          f"AND {ORDER_KEY} < (?, ?, ?, ?)", [*params, *key]).fetchone()[0]
    return before + 1


def count(conn: sqlite3.Connection, flt: Filters) -> int:
    """How many current findings match the filters."""
    where, params = flt.where()
    return conn.execute(f"SELECT count(*) FROM findings f WHERE f.is_open = 1 AND {where}", params).fetchone()[0]


def summary(conn: sqlite3.Connection, flt: Filters) -> dict:
    """Counts and amounts at risk of the filtered queue, per rule and per unit; per status under the
    other filters (so the tiles show what each status holds)."""
    where, params = flt.where()
    base = f"FROM findings f WHERE f.is_open = 1 AND {where}"
    total = conn.execute(f"SELECT count(*), sum({CENTS_SQL}) {base}", params).fetchone()
    per_rule = [
        {"rule_id": r[0], "rule_name": r[1], "severity": r[2], "count": r[3],
         "amount": cents_to_decimal(r[4])}
        for r in conn.execute(f"""SELECT f.rule_id, max(f.rule_name), max(f.severity), count(*),
                                  sum({CENTS_SQL}) {base} GROUP BY f.rule_id
                                  ORDER BY count(*) DESC, f.rule_id""", params)
    ]
    any_where, any_params = flt.where(with_status=False)  # each status tile counts its own status
    per_status = {r[0]: r[1] for r in conn.execute(
        f"SELECT {state.STATUS_SQL} AS s, count(*) FROM findings f WHERE f.is_open = 1 AND {any_where} "
        "GROUP BY s", any_params)}
    units = [(r[0], r[1], r[2]) for r in conn.execute(
        f"SELECT f.unit_code, count(*), sum({CENTS_SQL}) {base} GROUP BY f.unit_code", params)]
    run = latest_run(conn)
    new = 0
    if run is not None:
        new = conn.execute(f"SELECT count(*) {base} AND f.first_seen = ?",
                           [*params, run["run_date"]]).fetchone()[0]
    return {
        "count": total[0], "amount": cents_to_decimal(total[1]), "new": new,
        "per_rule": per_rule, "per_status": per_status, "per_unit": _by_area(units),
    }


def _by_area(units: list[tuple[str | None, int, int | None]]) -> list[dict]:
    """Group unit totals by 市州, each with its counties (sorted by code), and the filter each row
    links to (``link``: query arguments): a 市州 as a whole, a county or a 市州's own association
    exactly, findings without a unit; an unknown code by its exact code."""
    groups: dict[str, dict] = {}
    for code, count, cents in units:
        pref = prefecture_of(code) or "其他"
        known = pref in divisions()
        g = groups.setdefault(pref, {
            "code": pref, "name": area_label(pref) if known else "其他/未知单位", "count": 0, "cents": 0,
            "units": [], "link": {"prefecture": pref, "county": ""} if known else None})
        g["count"] += count
        g["cents"] += cents or 0
        d = divisions().get(code or "")
        short = d.name + ("本级" if d.level != "county" else "") if d else unit_label(code)
        if code is None:
            short, link = "无单位", {"prefecture": NO_UNIT, "county": ""}
        else:
            link = {"county": code, "prefecture": ""} if scope.is_unit_code(code) else None
        g["units"].append({"code": code or "", "label": unit_label(code), "short": short, "count": count,
                           "amount": cents_to_decimal(cents), "link": link})
    out = sorted(groups.values(), key=lambda g: g["code"])
    top = max((u["count"] for g in out for u in g["units"]), default=0)
    for g in out:
        g["amount"] = cents_to_decimal(g.pop("cents"))
        g["units"].sort(key=lambda u: u["code"])
        if g["link"] is None and all(u["code"] == "" for u in g["units"]):
            g["link"] = {"prefecture": NO_UNIT, "county": ""}
        for u in g["units"]:
            u["heat"] = round(u["count"] / top, 3) if top else 0
    return out


@dataclass
class History:
    """The chart's data: run dates, findings per rule and date under every filter (status too),
    and all findings per date under the same filters but any status (the trend line)."""

    dates: list[str]
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]


def history_by_day(conn: sqlite3.Connection, flt: Filters, days: int = 30) -> History:
    """Findings firing per run date and rule (last ``days`` run dates).

    Without a search, from ``history_daily`` (one row per date, rule and unit: never millions of
    history rows); a status is the findings' current status, so 待处理 is everything less the few
    findings someone decided, which are looked up one by one in ``finding_history``. A search
    (``q``) reads the matching findings' own history.
    """
    dates = [r[0] for r in conn.execute(
        "SELECT DISTINCT run_date FROM runs ORDER BY run_date DESC LIMIT ?", (days,))]
    dates.reverse()
    if not dates:
        return History([], {}, {})
    if flt.q:
        every = _history_of_findings(conn, flt, dates, with_status=False)
    else:
        where, params = flt.where(with_status=False, with_search=False)
        # history_daily has the filter columns under the same names, so the same WHERE applies.
        every = _grouped(conn.execute(f"""
            SELECT f.run_date, f.rule_id, sum(f.n) FROM history_daily f
            WHERE f.run_date >= ? AND {where} GROUP BY f.run_date, f.rule_id""", [dates[0], *params]))
    if not flt.status:
        counts = every
    elif flt.q:
        counts = _history_of_findings(conn, flt, dates, with_status=True)
    elif flt.status == "open":
        counts = _minus(every, _history_of_findings(conn, flt, dates, with_status=False, decided_not_open=True))
    else:
        counts = _history_of_findings(conn, flt, dates, with_status=True, decided_only=True)
    totals = {d: sum(per_rule.get(d, 0) for per_rule in every.values()) for d in dates}
    return History(dates, counts, totals)


def _grouped(rows) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for run_date, rule_id, n in rows:
        out.setdefault(rule_id, {})[run_date] = n
    return out


def _minus(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {rule: dict(days) for rule, days in a.items()}
    for rule, days in b.items():
        for d, n in days.items():
            out.setdefault(rule, {})[d] = out.get(rule, {}).get(d, 0) - n
    return {rule: {d: n for d, n in days.items() if n} for rule, days in out.items() if any(days.values())}


def _history_of_findings(conn: sqlite3.Connection, flt: Filters, dates: list[str], *, with_status: bool,
                         decided_only: bool = False, decided_not_open: bool = False) -> dict:
    """Per date and rule, the findings matching the filters that fired that date (their history)."""
    where, params = flt.where(with_status=with_status)
    if decided_only or decided_not_open:
        where += " AND f.finding_id IN (SELECT finding_id FROM decisions)"
    if decided_not_open:
        where += f" AND {state.STATUS_SQL} <> 'open'"
    marks = ", ".join("?" for _ in dates)
    return _grouped(conn.execute(f"""
        SELECT h.run_date, f.rule_id, count(*) FROM findings f
        JOIN finding_history h ON h.finding_id = f.finding_id AND h.run_date IN ({marks})
        WHERE {where} GROUP BY h.run_date, f.rule_id""", [*dates, *params]))


def projects(conn: sqlite3.Connection, scope_unit: str) -> list[str]:
    """Project codes of the open findings in scope (for the filter's suggestions)."""
    where, params = scope.sql_filter(scope_unit, "unit_code")
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT project_code FROM findings WHERE is_open = 1 AND project_code IS NOT NULL "
        f"AND {where} ORDER BY project_code LIMIT 2000", params)]


def finding(conn: sqlite3.Connection, fid: str) -> dict | None:
    row = conn.execute(f"SELECT f.*, {state.STATUS_SQL} AS status FROM findings f WHERE f.finding_id = ?",
                       (fid,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    try:
        out["evidence"] = json.loads(out["evidence"] or "{}")
    except ValueError:
        out["evidence"] = {"未能解析的证据": out["evidence"]}
    return out


def finding_history(conn: sqlite3.Connection, fid: str) -> list[dict]:
    return [dict(r) for r in conn.execute(
        "SELECT run_date, amount_at_risk FROM finding_history WHERE finding_id = ? ORDER BY run_date",
        (fid,))]


def decisions(conn: sqlite3.Connection, fid: str, *, newest_first: bool = True) -> list[dict]:
    return [dict(r) for r in conn.execute(
        "SELECT id, action, comment, username, decided_at FROM decisions WHERE finding_id = ? "
        f"ORDER BY id {'DESC' if newest_first else 'ASC'}",
        (fid,))]


AUDIT_PAGE_SIZE = 100


def audit_entries(conn: sqlite3.Connection, scope_unit: str, *, action: str = "", page: int = 1,
                  page_size: int = AUDIT_PAGE_SIZE) -> tuple[list[dict], int]:
    """One page of the audit log (newest first) and the number of entries, in scope.

    The province sees every entry; any other unit sees the entries of the people of its scope
    (an entry of a removed person or of an unknown sign-in name is the province's to read).
    """
    where, params = scope.sql_filter(scope_unit, "u.unit_code")
    if not scope.covers_all(scope_unit):
        where = f"EXISTS (SELECT 1 FROM users u WHERE u.username = a.username AND {where})"
    if action:
        where += " AND a.action = ?"
        params = [*params, action]
    total = conn.execute(f"SELECT count(*) FROM audit_log a WHERE {where}", params).fetchone()[0]
    rows = [dict(r) for r in conn.execute(
        f"SELECT a.id, a.at, a.username, a.action, a.finding_id, a.detail, a.client FROM audit_log a "
        f"WHERE {where} ORDER BY a.id DESC LIMIT ? OFFSET ?", [*params, page_size, (page - 1) * page_size])]
    return rows, total
