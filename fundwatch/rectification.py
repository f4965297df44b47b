"""Rectification (整改): from a confirmed finding to a closed one (../shared/spec/rectification.md).

The loop 发现问题 → 下发整改 → 整改反馈 → 核查销号, kept in ``state.sqlite``:

- A ``confirmed`` decision (``state.add_decision``, so also the decision route) opens the
  finding's rectification in the decision's transaction: a ``notify`` step, state ``notified``,
  addressed to the finding's unit, due 30 days after the decision for ``error`` and 60 for
  ``warning`` (a reviewer may give another date, not before the decision's day).
- ``TRANSITIONS`` is the whole state machine. The unit of the finding (role ``unit``, the same
  unit code) may ``respond`` from notified/returned; a reviewer in scope (``reviewer``/``admin``)
  may ``verify`` from responded — and from notified/returned while ``data_fixed`` (the data shows
  it put right; the office still closes it, the unit need not write first) — ``return`` from
  responded (a new due date and a reason required) and ``reopen`` from verified (a reason required;
  due the given date, else 30/60 days from the reopening).
- Every step is appended to ``rectification_steps`` (the state and due date in force after it,
  who, when, what was written), with its attachments in ``rectification_attachments``; triggers
  refuse UPDATE and DELETE, like decisions. A rectification's state is its latest step.
- Derived, never stored: ``overdue`` = not verified and the latest recorded run date is past
  ``due``; ``data_fixed`` = not verified and the finding no longer fires (``findings.is_open = 0``);
  ``withdrawn`` = the finding's confirmation was taken back (its status is ``open`` or
  ``dismissed`` again): such a rectification is out of every queue, document and digest and
  accepts no step until a new ``confirmed`` decision notifies it again with a new due date.
- A finding without a unit code (unknown unit) is seen by the province only; nobody can respond.

Errors carry a Chinese message and an HTTP status for the routes: ``BadRequest`` 400 (unknown
action, missing comment or due date, a bad date, a refused attachment), ``Forbidden`` 403 (a role or
unit that may not take this action), ``NotFound`` 404 (no such finding, or out of the person's
scope), ``Conflict`` 409 (the action is not possible in the current state: not confirmed,
withdrawn, or a transition the table does not have).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from fundwatch import attachments, masking, scope, state

REVIEWER_ROLES = ("reviewer", "admin")
UNIT_ROLE = "unit"

STATES = ("notified", "responded", "returned", "verified")
STATE_LABELS = {"notified": "已下发", "responded": "已反馈", "returned": "已退回", "verified": "已销号"}
ACTION_LABELS = {"notify": "下发整改", "respond": "整改反馈", "verify": "核查销号", "return": "退回重改",
                 "reopen": "重新打开"}
DUE_DAYS = {"error": 30, "warning": 60}
MAX_COMMENT = 4000
ACTIVE_STATUSES = ("confirmed", "resolved")  # decision statuses under which a rectification runs


@dataclass(frozen=True)
class Transition:
    who: str                     # "unit" (the finding's own unit) or "reviewer" (in scope)
    sources: tuple[str, ...]     # states it may start from
    target: str
    comment: str | None          # the Chinese prompt when a comment is required, else None
    due: str                     # "no" (keeps the due date), "required" or "optional"
    sources_if_data_fixed: tuple[str, ...] = ()


TRANSITIONS: dict[str, Transition] = {
    "respond": Transition("unit", ("notified", "returned"), "responded",
                          "请填写整改说明（采取了哪些措施、结果如何）。", "no"),
    "verify": Transition("reviewer", ("responded",), "verified", None, "no",
                         sources_if_data_fixed=("notified", "returned")),
    "return": Transition("reviewer", ("responded",), "returned", "退回必须填写理由（还缺什么）。", "required"),
    "reopen": Transition("reviewer", ("verified",), "notified", "重新打开必须填写理由。", "optional"),
}


class RectificationError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(RectificationError, ValueError):
    status = 400


class Forbidden(RectificationError):
    status = 403


class NotFound(RectificationError):
    status = 404


class Conflict(RectificationError):
    status = 409


@dataclass(frozen=True)
class Actor:
    """The signed-in person taking a step (anything with these three attributes will do)."""

    username: str
    role: str
    unit_code: str


# ---------------------------------------------------------------------------- due dates
def default_due(severity: str | None, start: date) -> date:
    """30 days after ``start`` for an error, 60 for a warning (an unknown severity counts as error)."""
    return start + timedelta(days=DUE_DAYS.get(severity or "", DUE_DAYS["error"]))


def parse_due(value: date | str, not_before: date) -> date:
    """A due date from ``YYYY-MM-DD`` (or a date), not before ``not_before``."""
    if isinstance(value, date):
        due = value
    else:
        try:
            due = date.fromisoformat(str(value).strip())
        except ValueError:
            raise BadRequest(f"整改时限“{value}”不是有效日期，请按 YYYY-MM-DD 填写。") from None
    if due < not_before:
        raise BadRequest(f"整改时限 {due.isoformat()} 早于 {not_before.isoformat()}，请重新填写。")
    return due


def today() -> date:
    """Today in Asia/Shanghai (the date of a step taken now)."""
    return date.fromisoformat(state.now_shanghai()[:10])


# ---------------------------------------------------------------------------- opening
def open_on_confirm(conn: sqlite3.Connection, *, finding_id: str, decision_id: int, username: str,
                    at: str, due: date | str | None = None) -> int | None:
    """Called by ``state.add_decision`` inside its transaction after a ``confirmed`` decision.

    Opens (appends a ``notify`` step) unless the finding already has a running rectification
    (one confirmed before and not withdrawn since): then nothing changes, and a due date given
    with the repeated confirmation is refused (``Conflict``). Returns the new step's id or None.
    """
    before = conn.execute("SELECT action FROM decisions WHERE finding_id = ? AND id < ? "
                          "ORDER BY id DESC LIMIT 1", (finding_id, decision_id)).fetchone()
    running = _latest_step(conn, finding_id) is not None and before is not None \
        and before["action"] in ACTIVE_STATUSES
    if running:
        if due:
            raise Conflict("该问题的整改已在进行中，再次确认不能修改整改时限。")
        return None
    severity = conn.execute("SELECT severity FROM findings WHERE finding_id = ?", (finding_id,)).fetchone()[0]
    decided_on = date.fromisoformat(at[:10])
    due_date = parse_due(due, decided_on) if due else default_due(severity, decided_on)
    return _append(conn, finding_id, "notify", "notified", due_date.isoformat(), None, username, at,
                   decision_id=decision_id)


# ---------------------------------------------------------------------------- transitions
def permitted(actor: Actor, action: str, unit_code: str | None) -> str | None:
    """None when this person's role and unit may take ``action`` on a finding of ``unit_code``
    (already in their scope), else the Chinese reason."""
    t = TRANSITIONS[action]
    if t.who == "unit":
        if actor.role == UNIT_ROLE and unit_code is not None and actor.unit_code == unit_code:
            return None
        return "只有问题所属单位的填报人员可以提交整改反馈。"
    if actor.role in REVIEWER_ROLES:
        return None
    return f"只有审核人员可以{ACTION_LABELS[action]}。"


def sources(action: str, data_fixed: bool) -> tuple[str, ...]:
    t = TRANSITIONS[action]
    return t.sources + (t.sources_if_data_fixed if data_fixed else ())


def allowed_actions(actor: Actor, rect: dict | None) -> list[str]:
    """The actions this person may take now on a rectification (as ``get`` returns it)."""
    if not rect or rect["withdrawn"]:
        return []
    return [a for a in TRANSITIONS if permitted(actor, a, rect["unit_code"]) is None
            and rect["state"] in sources(a, rect["data_fixed"])]


def act(conn: sqlite3.Connection, attachments_dir: Path, *, finding_id: str, actor: Actor, action: str,
        comment: str | None = None, due: date | str | None = None,
        files: Sequence[attachments.Upload] = ()) -> dict:
    """Take one step of the rectification of ``finding_id``; returns the rectification after it.

    Checks, in this order: the action exists (400), the finding exists in the person's scope
    (404), role and unit (403), the input (400: comment, due date, attachments), the state (409).
    Attachments are stored before the step's transaction (content-addressed, so a failed step
    leaves at most an unreferenced file, never a reference without its file).
    """
    if action not in TRANSITIONS:
        raise BadRequest(f"未知的整改操作“{action}”，可选：{'、'.join(TRANSITIONS)}。")
    t = TRANSITIONS[action]
    f = conn.execute("SELECT unit_code, severity, is_open FROM findings WHERE finding_id = ?",
                     (finding_id,)).fetchone()
    if f is None or not scope.covers(actor.unit_code, f["unit_code"]):
        raise NotFound("没有这个问题编号。")
    reason = permitted(actor, action, f["unit_code"])
    if reason:
        raise Forbidden(reason)

    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise BadRequest(f"说明过长（{len(text)} 字），请控制在 {MAX_COMMENT} 字以内。")
    if t.comment and not text:
        raise BadRequest(t.comment)
    day = today()
    new_due: date | None = None
    if due not in (None, ""):
        if t.due == "no":
            raise BadRequest(f"{ACTION_LABELS[action]}不能修改整改时限（只有退回或重新打开时设定新的时限）。")
        new_due = parse_due(due, day)
    elif t.due == "required":
        raise BadRequest("退回必须设定新的整改时限（YYYY-MM-DD）。")
    if len(files) > attachments.MAX_FILES:
        raise BadRequest(f"每次最多上传 {attachments.MAX_FILES} 个附件。")
    limit = attachments.max_bytes()
    try:
        for upload in files:
            attachments.check(upload, limit)
        stored = [attachments.store(attachments_dir, upload, limit) for upload in files]
    except attachments.AttachmentError as exc:
        raise BadRequest(str(exc)) from None

    with state.transaction(conn):
        cur = _current(conn, finding_id)
        if cur is None:
            raise Conflict("该问题尚未确认，没有需要整改的事项。")
        if cur["withdrawn"]:
            raise Conflict("该问题的确认已撤回，整改已撤销；重新确认后才能继续。")
        if cur["state"] not in sources(action, cur["data_fixed"]):
            raise Conflict(_conflict_message(action, cur))
        if new_due is None:
            new_due = (default_due(f["severity"], day) if action == "reopen"
                       else date.fromisoformat(cur["due"]))
        step_id = _append(conn, finding_id, action, t.target, new_due.isoformat(), text or None,
                          actor.username, state.now_shanghai())
        conn.executemany(
            "INSERT INTO rectification_attachments (step_id, finding_id, sha256, original_name, media_type, "
            "size_bytes) VALUES (?, ?, ?, ?, ?, ?)",
            [(step_id, finding_id, s.sha256, s.original_name, s.media_type, s.size_bytes) for s in stored])
    return get(conn, finding_id)


def _conflict_message(action: str, cur: dict) -> str:
    now = STATE_LABELS[cur["state"]]
    hint = {
        "respond": "只有“已下发”或“已退回”的整改可以反馈。",
        "verify": "只有“已反馈”的整改可以销号（数据已整改的也可以在“已下发”“已退回”时销号）。",
        "return": "只有“已反馈”的整改可以退回。",
        "reopen": "只有“已销号”的整改可以重新打开。",
    }[action]
    return f"整改当前状态为“{now}”，不能{ACTION_LABELS[action]}：{hint}"


def _append(conn: sqlite3.Connection, finding_id: str, action: str, new_state: str, due: str,
            comment: str | None, username: str, at: str, *, decision_id: int | None = None) -> int:
    cur = conn.execute(
        "INSERT INTO rectification_steps (finding_id, action, state, due, comment, username, at, decision_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (finding_id, action, new_state, due, comment, username, at, decision_id))
    return int(cur.lastrowid)


# ---------------------------------------------------------------------------- reading
_SELECT = f"""
    SELECT f.finding_id, f.rule_id, f.rule_name, f.severity, f.subject_type, f.subject_key,
           f.project_code, f.unit_code, f.amount_at_risk, f.detail, f.is_open, f.first_seen,
           s.state, s.due, s.id AS last_step_id, s.at AS updated_at,
           (SELECT max(o.at) FROM rectification_steps o
            WHERE o.finding_id = s.finding_id AND o.action = 'notify') AS opened_at,
           {state.STATUS_SQL} AS status
    FROM rectification_steps s
    JOIN findings f ON f.finding_id = s.finding_id
    WHERE s.id = (SELECT max(m.id) FROM rectification_steps m WHERE m.finding_id = s.finding_id)
"""


def latest_run_date(conn: sqlite3.Connection) -> str | None:
    """The latest recorded run date (ISO), against which ``overdue`` is judged."""
    return conn.execute("SELECT max(run_date) FROM runs").fetchone()[0]


def _decorate(row: sqlite3.Row, run_date: str | None) -> dict:
    r = dict(row)
    active = r["status"] in ACTIVE_STATUSES
    running = active and r["state"] != "verified"
    r["withdrawn"] = not active
    r["overdue"] = bool(running and run_date is not None and run_date > r["due"])
    r["overdue_days"] = ((date.fromisoformat(run_date) - date.fromisoformat(r["due"])).days
                         if r["overdue"] else 0)
    r["data_fixed"] = bool(running and not r["is_open"])
    r["state_label"] = STATE_LABELS[r["state"]]
    return r


def _latest_step(conn: sqlite3.Connection, finding_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM rectification_steps WHERE finding_id = ? ORDER BY id DESC LIMIT 1",
                        (finding_id,)).fetchone()


def _current(conn: sqlite3.Connection, finding_id: str) -> dict | None:
    row = conn.execute(_SELECT + " AND s.finding_id = ?", (finding_id,)).fetchone()
    return None if row is None else _decorate(row, latest_run_date(conn))


def get(conn: sqlite3.Connection, finding_id: str, *, viewer_unit: str | None = None) -> dict | None:
    """The rectification of one finding with its steps (oldest first) and their attachments.

    None when the finding has none, or (with ``viewer_unit``) when the finding is out of scope.
    Comments are masked (``masking.mask_text``): a long number a clerk typed is shown masked.
    """
    r = _current(conn, finding_id)
    if r is None or (viewer_unit is not None and not scope.covers(viewer_unit, r["unit_code"])):
        return None
    files: dict[int, list[dict]] = {}
    for a in conn.execute("SELECT id, step_id, original_name, media_type, size_bytes FROM "
                          "rectification_attachments WHERE finding_id = ? ORDER BY id", (finding_id,)):
        files.setdefault(a["step_id"], []).append(
            {"id": a["id"], "name": a["original_name"], "media_type": a["media_type"],
             "size_bytes": a["size_bytes"]})
    r["steps"] = [
        {"id": s["id"], "action": s["action"], "action_label": ACTION_LABELS[s["action"]], "state": s["state"],
         "due": s["due"], "comment": masking.mask_text(s["comment"]), "username": s["username"],
         "at": s["at"], "attachments": files.get(s["id"], [])}
        for s in conn.execute("SELECT * FROM rectification_steps WHERE finding_id = ? ORDER BY id", (finding_id,))
    ]
    return r


API_FIELDS = ("state", "state_label", "due", "overdue", "overdue_days", "data_fixed", "withdrawn",
              "unit_code", "opened_at", "updated_at")


def as_api(r: dict | None, *, with_steps: bool = True) -> dict | None:
    """The ``rectification`` object of the JSON API (null when there is none)."""
    if r is None:
        return None
    out = {k: r[k] for k in API_FIELDS}
    if with_steps:
        out["steps"] = r["steps"]
    return out


def summaries(conn: sqlite3.Connection, finding_ids: Iterable[str]) -> dict[str, dict]:
    """finding_id -> the rectification's API fields without steps, for a page of a list."""
    ids = list(dict.fromkeys(finding_ids))
    run_date = latest_run_date(conn)
    out: dict[str, dict] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for row in conn.execute(_SELECT + f" AND s.finding_id IN ({', '.join('?' * len(chunk))})", chunk):
            r = _decorate(row, run_date)
            out[r["finding_id"]] = as_api(r, with_steps=False)
    return out


def in_scope(conn: sqlite3.Connection, viewer_unit: str, *, unit: str | None = None,
             include_verified: bool = True, run_date: str | None = None) -> list[dict]:
    """The running (not withdrawn) rectifications in the person's scope, overdue first, then by due.

    ``unit`` narrows to one unit's own; ``run_date`` defaults to the latest recorded run date.
    """
    where, params = scope.sql_filter(viewer_unit, "f.unit_code")
    if unit is not None:
        where += " AND f.unit_code = ?"
        params = [*params, unit]
    run_date = run_date or latest_run_date(conn)
    rows = [_decorate(r, run_date) for r in conn.execute(_SELECT + f" AND {where}", params)]
    rows = [r for r in rows if not r["withdrawn"] and (include_verified or r["state"] != "verified")]
    rows.sort(key=lambda r: (not r["overdue"], r["state"] == "verified", r["due"], r["finding_id"]))
    return rows


def attachment(conn: sqlite3.Connection, viewer_unit: str, attachment_id: int) -> dict | None:
    """One attachment's record (sha256, original_name, media_type, size_bytes) if in scope, else None."""
    row = conn.execute("""SELECT a.*, f.unit_code FROM rectification_attachments a
                          JOIN findings f ON f.finding_id = a.finding_id WHERE a.id = ?""",
                       (attachment_id,)).fetchone()
    if row is None or not scope.covers(viewer_unit, row["unit_code"]):
        return None
    return dict(row)
