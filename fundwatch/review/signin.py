"""Blueprint ``signin``: signing in (throttled), signing out, changing one's own password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from fundwatch.review import access, throttle, users

bp = Blueprint("signin", __name__)


def _throttle_db():
    return current_app.config["HOME"].review_sessions_db


def _next() -> str:
    nxt = request.values.get("next") or ""
    if not nxt.startswith("/") or nxt.startswith("//") or nxt.startswith("/\\") or urlsplit(nxt).netloc:
        return url_for("queue.index")
    return nxt


@bp.route("/login", methods=["GET", "POST"])
@access.public
def login():
    nxt = _next()
    if request.method == "GET":
        if g.person is not None:
            return redirect(nxt)
        return render_template("login.html", next=nxt, error=None)
    name = (request.form.get("username") or "").strip()[:64]
    client = access.client_address()
    wait = throttle.wait_seconds(_throttle_db(), client, name)
    if wait:
        access.audit("login_blocked", None, f"{name}（需等待 {wait} 秒）", who=name or "-")
        minutes = max(1, -(-wait // 60))
        resp = Response(render_template("login.html", next=nxt, error=(
            f"登录失败次数过多，请约 {minutes} 分钟后再试（其他电脑不受影响）。")), status=429)
        resp.headers["Retry-After"] = str(wait)
        return resp
    role = users.verify(access.db(), name, request.form.get("password") or "")
    if role is None:
        throttle.failed(_throttle_db(), client, name)
        access.audit("login_failed", None, name, who=name or "-")
        return render_template("login.html", next=nxt, error="用户名或密码错误。"), 401
    throttle.succeeded(_throttle_db(), client, name)
    stamp = access.db().execute("SELECT updated_at FROM users WHERE username = ?", (name,)).fetchone()[0]
    session.renew()  # a new session id at every sign-in
    session.update(user=name, stamp=stamp)
    access.csrf_token()
    access.audit("login", None, role, who=name)
    return redirect(nxt)


@bp.get("/favicon.ico")
@access.public
def favicon():
    return Response(status=204)


@bp.post("/logout")
def logout():
    session.clear()  # the server-side session is deleted, the cookie with it
    return redirect(url_for("signin.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    """A person changes their own password: every session of theirs ends, this one too."""
    if access.person().via != "session":
        abort(404)
    if request.method == "GET":
        return render_template("password.html", error=None)
    me = access.person()
    if users.verify(access.db(), me.name, request.form.get("current") or "") is None:
        access.audit("passwd_failed", None, "当前密码错误")
        return render_template("password.html", error="当前密码不正确。"), 400
    new = request.form.get("new") or ""
    if new != (request.form.get("repeat") or ""):
        return render_template("password.html", error="两次输入的新密码不一致。"), 400
    try:
        users.set_password(current_app.config["HOME"].state_db, me.name, new, actor=me.name)
    except users.UserError:
        return render_template("password.html", error=f"新密码至少 {users.MIN_PASSWORD} 个字符。"), 400
    session.renew()  # set_password ended every session of this person; this one starts anew, signed out
    flash("密码已修改，请用新密码重新登录。")
    return redirect(url_for("signin.login"))
