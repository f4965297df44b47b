"""Blueprint ``admin``: the people of one's scope and the audit log (role ``admin``).

A province admin sees every person and every entry; a 市州 or county admin sees only the people
of its scope and their entries (``data.audit_entries``). The log is paged and filtered by action,
so a flood of failed sign-ins never hides an unmasking.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, render_template, request

from fundwatch import scope
from fundwatch.review import access, data

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_ACTIONS = {
    "unmask": "查看完整号码", "login": "登录", "login_failed": "登录失败", "login_blocked": "登录被限制",
    "export": "导出", "user_add": "添加账号", "user_remove": "删除账号", "user_passwd": "修改密码",
    "passwd_failed": "修改密码失败", "user_set_role": "修改角色", "user_set_unit": "修改单位",
    "token_add": "创建 API 令牌", "token_revoke": "撤销 API 令牌",
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
        actions=AUDIT_ACTIONS, people=people_in_scope(), whole=scope.covers_all(unit),
        qs=lambda **kw: urlencode({k: v for k, v in {"action": action, "page": page, **kw}.items() if v}),
    )
