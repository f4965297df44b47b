"""Blueprint ``admin``: the people of one's scope and the audit log (role ``admin``).

A province admin manages every person and reads every entry; a 市州 or county admin manages only
the people of its scope (adds them only with a unit in its scope; anyone else is 404) and reads
only their entries (``data.audit_entries``). The log is paged and filtered by action, so a flood
of failed sign-ins never hides an unmasking. ``fundwatch users`` on the server does the same
without a scope (the operator's tool).
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from fundwatch import scope
from fundwatch.review import access, data, tokens, users

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_ACTIONS = {
    "unmask": "查看完整号码", "login": "登录", "login_failed": "登录失败", "login_blocked": "登录被限制",
    "export": "导出", "user_add": "添加账号", "user_remove": "删除账号", "user_passwd": "修改密码",
    "passwd_failed": "修改密码失败", "user_set_role": "修改角色", "user_set_unit": "修改单位",
    "token_add": "创建 API 令牌", "token_revoke": "撤销 API 令牌", "upload_download": "下载报送文件",
    "bulk_decide": "批量处理",
}
MESSAGES = {  # users.UserError texts are for operators (English); the page says it in Chinese
    "user name": "用户名：1–64 个字母、数字、汉字或 . - _ @。",
    "already exists": "已有同名账号。",
    "at least": f"密码至少 {users.MIN_PASSWORD} 个字符。",
    "unit must be": "单位代码应为 6 位数字。",
    "unknown role": "未知的角色。",
}


def people_in_scope() -> list[dict]:
    where, params = access.scope_sql("unit_code")
    return [dict(r) for r in access.db().execute(
        f"SELECT username, role, unit_code, created_at, updated_at FROM users WHERE {where} ORDER BY username",
        params)]


@bp.get("/audit")
@access.require("manage_people")
def audit():
    action = (request.args.get("action") or "").strip()
    if action and action not in AUDIT_ACTIONS:
        action = ""
    try:
        page = min(max(1, int(request.args.get("page") or 1)), data.MAX_PAGE)
    except ValueError:
        page = 1
    unit = access.person().unit
    entries, total = data.audit_entries(access.db(), unit, action=action, page=page)
    pages = max(1, -(-total // data.AUDIT_PAGE_SIZE))
    if page > pages:
        page = pages
        entries, total = data.audit_entries(access.db(), unit, action=action, page=page)
    return render_template(
        "audit.html", entries=entries, total=total, page=page, pages=pages, action=action,
        actions=AUDIT_ACTIONS, whole=scope.covers_all(unit),
        qs=lambda **kw: urlencode({k: v for k, v in {"action": action, "page": page, **kw}.items() if v}),
    )


def _state_db():
    return current_app.config["HOME"].state_db


def _people_page(error: str | None = None, status: int = 200):
    return render_template("people.html", people=people_in_scope(), roles=users.ROLES, error=error,
                           tokens={t["username"]: t for t in tokens.list_tokens(_state_db()) if not t["revoked_at"]},
                           whole=access.has_full_scope()), status


def _chinese(exc: users.UserError) -> str:
    return next((v for k, v in MESSAGES.items() if k in str(exc)), "无法完成此操作。")


@bp.get("/people")
@access.require("manage_people")
def people():
    return _people_page()


def _change(change, done: str):
    """Carry out one change to people (a UserError is answered 400 in Chinese), then back to the list."""
    try:
        change(actor=access.person().name, client=access.client_address())
    except users.UserError as exc:
        return _people_page(_chinese(exc), 400)
    flash(done)
    return redirect(url_for("admin.people"))


@bp.post("/people")
@access.require("manage_people")
def add_person():
    name, unit = (request.form.get("username") or "").strip(), (request.form.get("unit") or "").strip()
    if not scope.is_unit_code(unit) or not access.in_scope(unit):
        return _people_page("只能在本单位范围内添加账号（单位代码应为 6 位数字）。", 400)
    return _change(partial(users.add_user, _state_db(), name, request.form.get("password") or "",
                           request.form.get("role") or "", unit=unit), f"已添加账号 {name}。")


@bp.post("/people/<username>/password")
@access.require("manage_people")
def reset_password(username: str):
    name = access.person_in_scope_or_404(username)["username"]
    return _change(partial(users.set_password, _state_db(), name, request.form.get("password") or ""),
                   f"已重设 {name} 的密码，其登录已全部失效。")


@bp.post("/people/<username>/remove")
@access.require("manage_people")
def remove_person(username: str):
    name = access.person_in_scope_or_404(username)["username"]
    if name == access.person().name:
        return _people_page("不能删除自己的账号。", 400)
    return _change(partial(users.remove_user, _state_db(), name), f"已删除账号 {name}（其处理记录保留）。")


@bp.post("/people/<username>/revoke-tokens")
@access.require("manage_people")
def revoke_tokens(username: str):
    name = access.person_in_scope_or_404(username)["username"]
    return _change(partial(tokens.revoke, _state_db(), username=name), f"已撤销 {name} 的 API 令牌。")
