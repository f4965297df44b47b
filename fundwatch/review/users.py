"""People who may sign in to the review page, and the ``fundwatch users`` command.

Users live in the ``users`` table of ``HOME/state.sqlite`` (schema in ``fundwatch.state``):
``username`` (PK), ``password_hash`` (werkzeug scrypt hash; the password itself is never
stored), ``role`` (rights: ``fundwatch.review.access.RIGHTS``), ``unit_code`` (their scope),
``created_at``, ``updated_at``. User management is logged in ``audit_log``; a change to a person
ends their sessions, removing them revokes their API tokens.
"""

from __future__ import annotations

import argparse
import getpass
import re
import secrets
import sqlite3
import sys
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from fundwatch import scope, state
from fundwatch.paths import Home
from fundwatch.review import sessions, tokens

ROLES = ("reviewer", "auditor", "admin", "unit")
ROLE_LABELS = {"reviewer": "审核员", "auditor": "审计员（只读）", "admin": "管理员", "unit": "市州/县计生协填报员"}
MIN_PASSWORD = 8
_NAME = re.compile(r"^[\w.\-@\u4e00-\u9fff]{1,64}$")

# Verified against when a name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class UserError(ValueError):
    """A user-management request that cannot be carried out (message for the operator)."""


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    return password


def _audit(conn: sqlite3.Connection, actor: str, action: str, detail: str, client: str | None = None) -> None:
    conn.execute("INSERT INTO audit_log (at, username, action, finding_id, detail, client) "
                 "VALUES (?, ?, ?, NULL, ?, ?)", (state.now_shanghai(), actor, action, detail, client))


def _check_unit(unit: str) -> str:
    if not scope.is_unit_code(unit):
        raise UserError(f"unit must be a 6-digit division code, e.g. 430000 or 430121: {unit!r}")
    return unit


def add_user(db: Path, username: str, password: str, role: str, *, unit: str = scope.PROVINCE,
             actor: str = "cli", client: str | None = None) -> None:
    if not _NAME.match(username):
        raise UserError("user name: 1-64 letters, digits, Chinese characters, '.', '-', '_' or '@'")
    _check_role(role)
    _check_unit(unit)
    _check_password(password)
    conn = state.connect(db)
    try:
        with state.transaction(conn):
            if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise UserError(f"user {username!r} already exists")
            now = state.now_shanghai()
            conn.execute("INSERT INTO users (username, password_hash, role, unit_code, created_at, updated_at)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         (username, generate_password_hash(password, method="scrypt"), role, unit, now, now))
            _audit(conn, actor, "user_add", f"{username} role={role} unit={unit}", client)
    finally:
        conn.close()


def _update(db: Path, username: str, sql: str, params: tuple, action: str, detail: str, actor: str,
            client: str | None = None) -> None:
    """Change one person; every session of theirs ends (they sign in again)."""
    conn = state.connect(db)
    try:
        with state.transaction(conn):
            cur = conn.execute(sql, params)
            if cur.rowcount != 1:
                raise UserError(f"no user {username!r}")
            if action == "user_remove":  # a person added later under the same name gets none of these
                conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                             (state.now_shanghai(), username))
            _audit(conn, actor, action, detail, client)
    finally:
        conn.close()
    sessions.revoke_user_of_state(db, username)


def set_password(db: Path, username: str, password: str, *, actor: str = "cli", client: str | None = None) -> None:
    _check_password(password)
    _update(db, username, "UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?",
            (generate_password_hash(password, method="scrypt"), state.now_shanghai(), username),
            "user_passwd", username, actor, client)


def set_role(db: Path, username: str, role: str, *, actor: str = "cli") -> None:
    _check_role(role)
    _update(db, username, "UPDATE users SET role = ?, updated_at = ? WHERE username = ?",
            (role, state.now_shanghai(), username), "user_set_role", f"{username} role={role}", actor)


def set_unit(db: Path, username: str, unit: str, *, actor: str = "cli") -> None:
    _check_unit(unit)
    _update(db, username, "UPDATE users SET unit_code = ?, updated_at = ? WHERE username = ?",
            (unit, state.now_shanghai(), username), "user_set_unit", f"{username} unit={unit}", actor)


def remove_user(db: Path, username: str, *, actor: str = "cli", client: str | None = None) -> None:
    _update(db, username, "DELETE FROM users WHERE username = ?", (username,),
            "user_remove", username, actor, client)


def list_users(db: Path) -> list[dict]:
    conn = state.connect(db)
    try:
        return [dict(r) for r in conn.execute(
            "SELECT username, role, unit_code, created_at, updated_at FROM users ORDER BY username")]
    finally:
        conn.close()


def verify(conn: sqlite3.Connection, username: str, password: str) -> str | None:
    """The user's role when the password is right, else None (same cost either way)."""
    row = conn.execute("SELECT password_hash, role FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return row["role"] if check_password_hash(row["password_hash"], password) else None


IMPORT_COLUMNS = {"name": ("name", "姓名", "用户名"), "role": ("role", "角色"), "unit": ("unit", "单位代码", "单位")}


def read_people_csv(path: Path) -> list[dict]:
    """Rows of a people CSV (UTF-8, with or without BOM; header name,role,unit or 姓名,角色,单位代码)."""
    import csv

    if not path.is_file():
        raise UserError(f"文件不存在 file not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = {(h or "").strip(): h for h in reader.fieldnames or []}
        cols = {}
        for key, names in IMPORT_COLUMNS.items():
            found = next((header[n] for n in names if n in header), None)
            if found is None:
                raise UserError(f"{path.name}: 缺少列 missing column {key!r} (header: name,role,unit)")
            cols[key] = found
        return [{k: (row.get(c) or "").strip() for k, c in cols.items()} for row in reader]


def import_users(db: Path, people: list[dict], *, actor: str = "cli") -> list[tuple[str, str]]:
    """Add every person of ``people`` (dicts: name, role, unit) with a generated password, all or none.

    Every row is checked first (name, role, unit, not yet a user, not twice in the file); one bad row
    adds nobody. Returns (name, password) once: the passwords are not kept anywhere in clear.
    """
    problems, seen = [], set()
    for i, p in enumerate(people, start=2):  # row 1 is the header
        try:
            if not _NAME.match(p["name"]):
                raise UserError(f"invalid name {p['name']!r}")
            _check_role(p["role"])
            _check_unit(p["unit"])
            if p["name"] in seen:
                raise UserError(f"{p['name']!r} listed twice")
        except UserError as exc:
            problems.append(f"第 {i} 行 row {i}: {exc}")
        seen.add(p["name"])
    conn = state.connect(db)
    try:
        with state.transaction(conn):
            taken = [n for n in seen if conn.execute("SELECT 1 FROM users WHERE username = ?", (n,)).fetchone()]
            problems += [f"{n!r}: already a user (fundwatch users passwd/set-role)" for n in sorted(taken)]
            if problems:
                raise UserError("nobody added:\n  " + "\n  ".join(problems))
            now, out = state.now_shanghai(), []
            for p in people:
                password = secrets.token_urlsafe(12)  # 16 characters, ~96 bits
                conn.execute("INSERT INTO users (username, password_hash, role, unit_code, created_at, updated_at)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             (p["name"], generate_password_hash(password, method="scrypt"), p["role"], p["unit"],
                              now, now))
                _audit(conn, actor, "user_add", f"{p['name']} role={p['role']} unit={p['unit']} (import)")
                out.append((p["name"], password))
            return out
    finally:
        conn.close()


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码 / password: ")
    if getpass.getpass("再次输入 / repeat: ") != first:
        raise UserError("the two passwords differ")
    return first


def users_command(home: Home, argv: list[str]) -> int:
    """``fundwatch users add|list|passwd|remove|set-role|set-unit|token|tokens|revoke-token ...``."""
    parser = argparse.ArgumentParser(prog="fundwatch users",
                                     description="Manage who may sign in to the review page.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("add", help="add a user")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--unit", default=scope.PROVINCE,
                   help="6-digit division code deciding what the person sees (default 430000, the province)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser("list", help="list users and roles")
    p = sub.add_parser("passwd", help="set a user's password")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true")
    p = sub.add_parser("remove", help="remove a user (their decisions stay)")
    p.add_argument("name")
    p = sub.add_parser("set-role", help="change a user's role")
    p.add_argument("name")
    p.add_argument("role", choices=ROLES)
    p = sub.add_parser("set-unit", help="change a user's unit (6-digit division code: their scope)")
    p.add_argument("name")
    p.add_argument("unit")
    p = sub.add_parser("token", help="create an API token for a user (printed once, stored hashed)")
    p.add_argument("name")
    p = sub.add_parser("tokens", help="list API tokens (never their secret)")
    p.add_argument("name", nargs="?")
    p = sub.add_parser("revoke-token", help="revoke a user's API tokens, or one token by --id")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("name", nargs="?")
    who.add_argument("--id", type=int, dest="token_id")
    p = sub.add_parser("import", help="add people in bulk from a CSV (name,role,unit); prints one-time passwords")
    p.add_argument("file", type=Path)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    db = home.state_db
    try:
        if args.cmd == "add":
            add_user(db, args.name, _read_password(args), args.role, unit=args.unit)
            print(f"added {args.name} ({args.role}, {args.unit})")
        elif args.cmd == "list":
            rows = list_users(db)
            for r in rows:
                print(f"{r['username']}\t{r['role']}\t{r['unit_code']}\t{r['created_at']}")
            if not rows:
                print("no users yet: fundwatch users add NAME --role admin", file=sys.stderr)
        elif args.cmd == "passwd":
            set_password(db, args.name, _read_password(args))
            print(f"password of {args.name} changed")
        elif args.cmd == "remove":
            remove_user(db, args.name)
            print(f"removed {args.name}")
        elif args.cmd == "set-role":
            set_role(db, args.name, args.role)
            print(f"{args.name} is now {args.role}")
        elif args.cmd == "set-unit":
            set_unit(db, args.name, args.unit)
            print(f"{args.name} now belongs to {args.unit}")
        elif args.cmd == "token":
            try:
                token_id, token = tokens.create(db, args.name)
            except LookupError as exc:
                raise UserError(str(exc)) from None
            print(f"token #{token_id} of {args.name} (shown once, keep it secret):", file=sys.stderr)
            print(token)
        elif args.cmd == "tokens":
            for t in tokens.list_tokens(db, args.name):
                print(f"#{t['id']}\t{t['username']}\t{t['created_at']}\t"
                      f"{'revoked ' + t['revoked_at'] if t['revoked_at'] else 'active'}")
        elif args.cmd == "revoke-token":
            n = tokens.revoke(db, username=args.name, token_id=args.token_id)
            if not n:
                raise UserError("no active token matches")
            print(f"revoked {n} token(s)")
        elif args.cmd == "import":
            added = import_users(db, read_people_csv(args.file))
            print("name\tinitial password (shown once: hand it over, then it is gone)")
            for name, password in added:
                print(f"{name}\t{password}")
            print(f"added {len(added)} people from {args.file.name}", file=sys.stderr)
    except UserError as exc:
        print(f"fundwatch users: {exc}", file=sys.stderr)
        return 1
    return 0
