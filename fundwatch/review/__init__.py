"""The supervision office's review page (issue 7), served by ``fundwatch serve``.

It reads only ``HOME/state.sqlite`` and the built docs under ``HOME/docs/``, never the DuckDB
warehouse, so it neither blocks the daily DAG nor waits for it. Users, decisions and the audit
log live in ``state.sqlite`` too (schema: ``fundwatch.state``; users: ``fundwatch.review.users``).
"""

from __future__ import annotations

from fundwatch.paths import Home
from fundwatch.review.app import create_app
from fundwatch.review.users import users_command

__all__ = ["create_app", "serve", "users_command"]


def serve(home: Home, host: str = "127.0.0.1", port: int = 8050, proxies: int | None = None) -> None:
    """Serve the review page with werkzeug's threaded server until interrupted (production:
    ``fundwatch.review.production``, gunicorn)."""
    from werkzeug.serving import run_simple

    app = create_app(home, trusted_proxies=proxies)
    print(f"fundwatch review page: http://{host}:{port}/  (home {home.root})", flush=True)
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
