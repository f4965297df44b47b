"""The one permission check of the review service: who asks, what they may do, what they see.

Every blueprint asks this module; none decides rights or scope on its own.

- ``load_person`` (before every request): the signed-in person from the session cookie, or, on
  ``/api/`` only, from ``Authorization: Bearer <token>``. Routes marked ``@public`` need nobody.
  Cookie-authenticated writes (POST ...) need the session's CSRF token; Bearer requests do not
  (a browser never sends that header by itself).
- ``require(right)`` / ``can(right)``: what a role may do (``RIGHTS``), 403 otherwise.
- Scope (interface.md "People and their scope") is decided by ``fundwatch.scope`` only; here it
  is applied: ``finding_in_scope_or_404(fid)`` (and ``person_in_scope_or_404(name)``) answers
  404 for a record out of scope exactly as for one that does not exist; ``scope_sql(column)``
  restricts a query; ``require_full_scope()`` guards what holds every unit's data (the built docs).
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for

from fundwatch import rectification, scope, state
from fundwatch.review import data, tokens
from fundwatch.review.users import ROLE_LABELS, ROLES

# What each role may do. A new right is added here and checked with require()/can().
RIGHTS: dict[str, tuple[str, ...]] = {
    "read": ROLES,                             # findings, evidence (masked), exports: in scope
    "decide": ("reviewer", "admin"),           # confirm / dismiss / resolve / reopen a finding
    "unmask": ("auditor", "admin"),            # see personal numbers of one finding, with a logged reason
    "manage_people": ("admin",),               # people of their scope, the audit log
    # Rectification: the roles are fundwatch.rectification's (its state machine checks them too).
    "answer_rectification": (rectification.UNIT_ROLE,),   # the finding's own unit answers
    "verify_rectification": rectification.REVIEWER_ROLES,  # verify, return, reopen (in scope)
    "upload": ("unit",),                       # send files into the unit's own inbox folder (报送)
    "download_upload": ("unit", "auditor", "admin"),  # an upload's bytes (full personal data), in scope
}
NOT_FOUND = "没有这个问题编号。"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Person:
    """Who is asking: name, role, unit (6-digit division code) and how they signed in."""

    name: str
    role: str
    unit: str
    via: str  # "session" or "token"

    def may(self, right: str) -> bool:
        return self.role in RIGHTS[right]


def public(view: Callable) -> Callable:
    """Mark a view as answering without sign-in (the sign-in form only)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def db() -> sqlite3.Connection:
    """The request's connection to HOME/state.sqlite (closed at teardown)."""
    if "db" not in g:
        g.db = state.connect(current_app.config["HOME"].state_db)
        g.db.execute(f"PRAGMA busy_timeout = {int(current_app.config['STATE_BUSY_TIMEOUT_MS'])}")
    return g.db


def close_db(_exc=None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def person() -> Person:
    """The signed-in person of this request (every non-public view has one)."""
    p = g.get("person")
    if p is None:
        abort(401, description="请先登录。")
    return p


def is_api() -> bool:
    return request.path.startswith("/api/")


def csrf_token() -> str:
    """The session's CSRF token (created on first use); forms carry it as ``csrf_token``."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _from_session() -> Person | None:
    name = session.get("user")
    if not name:
        return None
    row = db().execute("SELECT role, unit_code, updated_at FROM users WHERE username = ?", (name,)).fetchone()
    # A removed person, or one whose password/role/unit changed since sign-in, signs in again.
    if row is None or row["updated_at"] != session.get("stamp"):
        session.clear()
        return None
    return Person(name, row["role"], row["unit_code"], "session")


def _from_bearer(header: str) -> Person:
    kind, _, token = header.partition(" ")
    found = tokens.lookup(db(), token.strip()) if kind.lower() == "bearer" else None
    if found is None:
        abort(401, description="API 令牌无效或已撤销（Authorization: Bearer <令牌>）。")
    name, role, unit = found
    return Person(name, role, unit, "token")


def load_person():
    """before_request: authenticate, send the unsigned to sign in, check CSRF of cookie writes."""
    g.person = None
    view = current_app.view_functions.get(request.endpoint or "")
    # A view that receives files says how large its request may be (before the form is parsed here).
    request.max_content_length = getattr(view, "max_content_length", None) or current_app.config[
        "MAX_CONTENT_LENGTH"]
    header = request.headers.get("Authorization")
    if header and is_api():
        g.person = _from_bearer(header)
        return None
    g.person = _from_session()
    if request.routing_exception is not None:
        return None  # no such route or method: 404 / 405 (nothing is read, nothing written)
    view = current_app.view_functions.get(request.endpoint or "")
    if g.person is None and not (request.endpoint == "static" or getattr(view, "public", False)):
        if request.method == "GET" and not is_api():
            return redirect(url_for("signin.login", next=request.full_path.rstrip("?")))
        abort(401, description="请先登录。")
    if request.method in WRITE_METHODS:
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent, expected):
            abort(400, description="表单已失效或来源不明（CSRF 校验未通过），请刷新页面后重试。")
    return None


def can(right: str) -> bool:
    p = g.get("person")
    return p is not None and p.may(right)


def require(right: str) -> Callable:
    """Decorator: 403 unless the person's role has ``right`` (checked before anything is read)."""
    def wrap(view: Callable) -> Callable:
        @wraps(view)
        def inner(*args, **kwargs):
            p = person()
            if not p.may(right):
                abort(403, description=f"当前角色（{ROLE_LABELS.get(p.role, p.role)}）无权进行此操作。")
            return view(*args, **kwargs)
        return inner
    return wrap


def in_scope(unit_code: str | None) -> bool:
    return scope.covers(person().unit, unit_code)


def scope_sql(column: str = "f.unit_code") -> tuple[str, list[str]]:
    """The person's scope as a SQL condition on ``column`` (an identifier of ours)."""
    return scope.sql_filter(person().unit, column)


def finding_in_scope_or_404(fid: str) -> dict:
    """The finding (evidence parsed, unmasked) if it exists AND is in scope; else 404, alike."""
    f = data.finding(db(), fid)
    if f is None or not in_scope(f["unit_code"]):
        abort(404, description=NOT_FOUND)
    return f


def person_in_scope_or_404(username: str) -> dict:
    """A person (username, role, unit_code) whose unit is in scope; else 404, as for nobody."""
    row = db().execute("SELECT username, role, unit_code FROM users WHERE username = ?", (username,)).fetchone()
    if row is None or not in_scope(row["unit_code"]):
        abort(404, description="没有这个账号。")
    return dict(row)


def has_full_scope() -> bool:
    p = g.get("person")
    return p is not None and scope.covers_all(p.unit)


def require_full_scope() -> None:
    """404 unless the person sees every unit (the province): for what holds every unit's data."""
    if not scope.covers_all(person().unit):
        abort(404)


def filters(args) -> data.Filters:
    """The queue's filters from query arguments, always restricted to the person's scope."""
    return data.Filters.from_args(args, scope_unit=person().unit)


def client_address() -> str:
    """The client's address (behind trusted proxies: see ``TRUSTED_PROXIES``)."""
    return (request.remote_addr or "-")[:64]


def audit(action: str, finding_id: str | None, detail: str, who: str | None = None) -> None:
    """Append to the security log, with the client's address."""
    conn = db()
    with state.transaction(conn):
        audit_within(conn, action, [(finding_id, detail)], who)


def audit_within(conn: sqlite3.Connection, action: str, entries: list[tuple[str | None, str]],
                 who: str | None = None) -> None:
    """``audit`` for several entries (finding_id, detail), inside the caller's transaction."""
    p = g.get("person")
    at, name, client = state.now_shanghai(), who or (p.name if p else "-"), client_address()
    conn.executemany("INSERT INTO audit_log (at, username, action, finding_id, detail, client) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     [(at, name, action, fid, detail, client) for fid, detail in entries])
