"""The review service's Flask app: configuration, blueprints, the one permission check, headers.

Each concern is a blueprint in its own module (ARCHITECTURE.md "Review service"): ``signin``,
``queue``, ``finding``, ``admin``, ``docs``, ``api``, ``submission`` (报送: uploads, templates).
Every request first passes ``access.load_person`` (who asks; CSRF); views then use
``access.require``/``access.can`` for rights and ``access.finding_in_scope_or_404``/
``access.filters``/``access.scope_sql`` for scope.
"""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from fundwatch import state
from fundwatch.paths import Home
from fundwatch.review import (
    access,
    admin,
    api,
    data,
    display,
    docs,
    errors,
    finding,
    queue,
    rectify,
    sessions,
    signin,
    submission,
    users,
)

BLUEPRINTS = (signin.bp, queue.bp, finding.bp, admin.bp, docs.bp, api.bp, submission.bp, rectify.bp)


def create_app(home: Home, *, trusted_proxies: int | None = None) -> Flask:
    """The review service over ``home.state_db`` and the built docs of ``home``.

    ``trusted_proxies``: how many reverse proxies in front set ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` (default ``$FUNDWATCH_TRUSTED_PROXIES`` or 0; ``fundwatch serve
    --proxies N``); the client address in the audit log and the sign-in throttle come from there,
    and every cookie of a request that came over https is ``Secure``.
    """
    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_NAME="fundwatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("FUNDWATCH_COOKIE_SECURE", "") == "1",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        SESSION_IDLE_MINUTES=120,
        MAX_CONTENT_LENGTH=64 * 1024,
        HOME=home,
        # How long a write (decision, sign-in log) waits while a run commits before answering 503.
        STATE_BUSY_TIMEOUT_MS=10_000,
    )
    state.connect(home.state_db).close()  # schema exists before the first request
    app.session_interface = sessions.ServerSessions(home.review_sessions_db)
    app.wsgi_app = secure_cookies(app.wsgi_app)  # type: ignore[method-assign]
    proxies = trusted_proxies if trusted_proxies is not None else int(os.environ.get("FUNDWATCH_TRUSTED_PROXIES") or 0)
    if proxies:  # outside secure_cookies: it sees the scheme the proxy reported
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.json.ensure_ascii = False
    app.json.sort_keys = False  # the export's column order
    app.jinja_env.filters.update(money=display.money_fmt, yuan=display.yuan, sentence=display.money_sentence,
                                 unit=data.unit_label, field=display.field_fmt,
                                 ts=lambda v: (v or "").replace("T", " "))
    app.jinja_env.globals.update(
        SEVERITY_LABELS=data.SEVERITY_LABELS, STATUS_LABELS=data.STATUS_LABELS,
        ACTION_LABELS=data.ACTION_LABELS, SUBJECT_LABELS=data.SUBJECT_LABELS,
        ROLE_LABELS=users.ROLE_LABELS, FIELD_LABELS=display.FIELD_LABELS,
        csrf_token=access.csrf_token, can=access.can,
        full_scope=access.has_full_scope,
    )
    app.before_request(access.load_person)
    app.teardown_appcontext(access.close_db)
    app.after_request(_headers)
    errors.register(app)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    return app


def _headers(resp: Response) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith("/static/"):
        resp.headers["Cache-Control"] = "no-store"
    if request.path.startswith("/docs/"):
        resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return resp


def secure_cookies(wsgi_app):
    """WSGI middleware: ``Secure`` on every Set-Cookie of a response to an https request (as seen
    directly or as a trusted proxy reports it), whatever sets the cookie."""

    def app(environ, start_response):
        if environ.get("wsgi.url_scheme") != "https":
            return wsgi_app(environ, start_response)

        def start(status, headers, exc_info=None):
            headers = [(k, v if k.lower() != "set-cookie" or "secure" in v.lower().replace(" ", "").split(";")
                        else f"{v}; Secure") for k, v in headers]
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    return app
