"""Server-side sessions of the review service: the cookie holds only a random id.

A session lives in ``HOME/review_sessions.sqlite`` (table ``sessions``), keyed by the SHA-256 of
the id in the cookie, with its data (the signed-in name, the sign-in stamp, the CSRF token,
flash messages) as JSON. It ends when the person signs out (the row is deleted), when their
password, role or unit changes or they are removed (``revoke_user``), after
``PERMANENT_SESSION_LIFETIME`` (10 h) from sign-in, or after ``SESSION_IDLE_MINUTES`` without a
request. Signing in always starts a new id (no session fixation).

The file is apart from ``state.sqlite`` on purpose: sessions and the sign-in throttle
(``fundwatch.review.throttle``) are written by page views, and the daily run's long write
transaction on the state must never block them; nothing in it needs a backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time
from pathlib import Path

from flask import request
from flask.sessions import SecureCookieSession, SessionInterface

from fundwatch import paths

ANONYMOUS_LIFETIME_S = 3600  # a sign-in form's CSRF token
TOUCH_EVERY_S = 60           # idle time is recorded at this resolution (not a write per request)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    sid_hash TEXT PRIMARY KEY,
    username TEXT,
    data TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(username);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires_at);
CREATE TABLE IF NOT EXISTS signin_failures (
    at REAL NOT NULL,
    client TEXT NOT NULL,
    username TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signin_failures_by_client ON signin_failures(client, at);
CREATE INDEX IF NOT EXISTS signin_failures_by_pair ON signin_failures(client, username, at);
"""


def clock() -> float:
    """Seconds since the epoch (tests move it forward)."""
    return time.time()


def connect(path: Path) -> sqlite3.Connection:
    """Open the sessions database (created with its schema when missing): owner-only file, WAL.

    Autocommit; ``synchronous = NORMAL`` (a crash may lose the last sign-in, never corrupt).
    """
    path = Path(path)
    fresh = not path.exists()
    if fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA synchronous = NORMAL")
    if fresh or conn.execute("PRAGMA user_version").fetchone()[0] != 1:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(_SCHEMA + "PRAGMA user_version = 1;")
    return conn


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def revoke_user(path: Path, username: str) -> int:
    """End every session of ``username`` (password, role or unit changed; person removed)."""
    conn = connect(path)
    try:
        return conn.execute("DELETE FROM sessions WHERE username = ?", (username,)).rowcount
    finally:
        conn.close()


def revoke_user_of_state(state_db: Path, username: str) -> int:
    """``revoke_user`` for the home whose state database is ``state_db``."""
    return revoke_user(Path(state_db).with_name(paths.REVIEW_SESSIONS_FILE), username)


class ServerSession(SecureCookieSession):
    """Flask's session dict plus the id it is stored under (None until first saved)."""

    def __init__(self, initial=None, sid: str | None = None, last_seen: float = 0.0) -> None:
        super().__init__(initial)
        self.sid = sid
        self.last_seen = last_seen
        self.rotate = False

    def renew(self) -> None:
        """Start a new id on the next save (call when signing in); the old one is deleted."""
        self.clear()
        self.rotate = True


class ServerSessions(SessionInterface):
    """Flask session interface storing sessions in ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        connect(self.path).close()

    def open_session(self, app, request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 100:
            return ServerSession()
        now = clock()
        idle = app.config["SESSION_IDLE_MINUTES"] * 60
        conn = connect(self.path)
        try:
            row = conn.execute("SELECT data, last_seen, expires_at FROM sessions WHERE sid_hash = ?",
                               (_hash(sid),)).fetchone()
        finally:
            conn.close()
        if row is None or now >= row["expires_at"] or now - row["last_seen"] > idle:
            return ServerSession()
        return ServerSession(json.loads(row["data"]), sid=sid, last_seen=row["last_seen"])

    def save_session(self, app, session: ServerSession, response) -> None:
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        conn = connect(self.path)
        try:
            if session.sid and (session.rotate or not session):
                conn.execute("DELETE FROM sessions WHERE sid_hash = ?", (_hash(session.sid),))
                session.sid = None
            if not session:
                if name in request.cookies:
                    response.delete_cookie(name, domain=domain, path=path)
                return
            now = clock()
            data = json.dumps(dict(session), ensure_ascii=False)
            if session.sid is None:
                user = session.get("user")
                lifetime = app.permanent_session_lifetime.total_seconds() if user else ANONYMOUS_LIFETIME_S
                session.sid = secrets.token_urlsafe(32)
                conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
                conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                             (_hash(session.sid), user, data, now, now, now + lifetime))
                response.set_cookie(name, session.sid, expires=now + lifetime, httponly=True,
                                    domain=domain, path=path, secure=self.get_cookie_secure(app),
                                    samesite=self.get_cookie_samesite(app))
            elif session.modified:
                conn.execute("UPDATE sessions SET data = ?, last_seen = ? WHERE sid_hash = ?",
                             (data, now, _hash(session.sid)))
            elif now - session.last_seen >= TOUCH_EVERY_S:
                conn.execute("UPDATE sessions SET last_seen = ? WHERE sid_hash = ?", (now, _hash(session.sid)))
        finally:
            conn.close()
