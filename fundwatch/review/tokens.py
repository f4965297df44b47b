"""API tokens: ``Authorization: Bearer <token>`` for scripts (the association's OA) on ``/api/``.

A token is 32 random bytes shown once (``fundwatch users token NAME``); only its SHA-256 is kept,
in ``api_tokens`` of ``HOME/state.sqlite`` (``id, username, token_hash, created_at, revoked_at``).
A token acts as its person with the person's current role and unit; it stops working when revoked
or when the person is removed. Creating and revoking are logged in ``audit_log``.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from pathlib import Path

from fundwatch import state

PREFIX = "fw_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _audit(conn: sqlite3.Connection, actor: str, action: str, detail: str, client: str | None) -> None:
    conn.execute("INSERT INTO audit_log (at, username, action, finding_id, detail, client) "
                 "VALUES (?, ?, ?, NULL, ?, ?)", (state.now_shanghai(), actor, action, detail, client))


def create(db: Path, username: str, *, actor: str = "cli", client: str | None = None) -> tuple[int, str]:
    """A new token for ``username``: (id, the token). The token itself is never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    conn = state.connect(db)
    try:
        with state.transaction(conn):
            if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is None:
                raise LookupError(f"no user {username!r}")
            cur = conn.execute("INSERT INTO api_tokens (username, token_hash, created_at) VALUES (?, ?, ?)",
                               (username, _hash(token), state.now_shanghai()))
            _audit(conn, actor, "token_add", f"{username} token #{cur.lastrowid}", client)
            return int(cur.lastrowid), token
    finally:
        conn.close()


def revoke(db: Path, *, username: str | None = None, token_id: int | None = None, actor: str = "cli",
           client: str | None = None) -> int:
    """Revoke every live token of ``username``, or the token ``token_id``: how many were revoked."""
    if (username is None) == (token_id is None):
        raise ValueError("revoke by user name or by token id")
    where, param = ("username = ?", username) if username is not None else ("id = ?", token_id)
    conn = state.connect(db)
    try:
        with state.transaction(conn):
            ids = [r[0] for r in conn.execute(
                f"SELECT id FROM api_tokens WHERE {where} AND revoked_at IS NULL", (param,))]
            conn.executemany("UPDATE api_tokens SET revoked_at = ? WHERE id = ?",
                             [(state.now_shanghai(), i) for i in ids])
            if ids:
                _audit(conn, actor, "token_revoke", f"{username or ''} " + ", ".join(f"#{i}" for i in ids), client)
            return len(ids)
    finally:
        conn.close()


def list_tokens(db: Path, username: str | None = None) -> list[dict]:
    """Tokens (never their secret): id, username, created_at, revoked_at."""
    conn = state.connect(db)
    try:
        sql = "SELECT id, username, created_at, revoked_at FROM api_tokens"
        params: tuple = ()
        if username is not None:
            sql += " WHERE username = ?"
            params = (username,)
        return [dict(r) for r in conn.execute(sql + " ORDER BY id", params)]
    finally:
        conn.close()


def lookup(conn: sqlite3.Connection, token: str) -> tuple[str, str, str] | None:
    """(username, role, unit) of a live token of an existing person, else None."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = conn.execute("""
        SELECT u.username, u.role, u.unit_code FROM api_tokens t JOIN users u ON u.username = t.username
        WHERE t.token_hash = ? AND t.revoked_at IS NULL""", (_hash(token),)).fetchone()
    return None if row is None else (row[0], row[1], row[2])
