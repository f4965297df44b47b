"""The review page in production: gunicorn, behind a TLS reverse proxy (``fundwatch serve --production``).

- **Workers**: gunicorn's threaded workers (``gthread``), the app loaded once in the master before
  the fork (a broken home fails at start, not at the first request).
- **Access log without personal data**: a search (``q=``) can hold a name or an ID number, and the
  Referer header carries the previous page's query. The access log therefore has a fixed set of
  fields — client address, time, method, path (personal numbers masked), status, bytes, duration —
  and never the query string, the Referer, the user agent or any header, whatever the format says.
- **Proxies**: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are trusted from exactly ``proxies`` hops
  (werkzeug's ``ProxyFix`` in ``create_app``), never from anyone when ``proxies`` is 0. gunicorn's
  own handling of those headers is switched off, so ProxyFix is the one place that decides. The
  page must then be reachable only through the proxy (compose publishes the proxy's port only).
- **Secure cookies**: every cookie of a response to a request that came over https (as the trusted
  proxy says) is marked ``Secure`` (``app.secure_cookies``).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import unquote

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from fundwatch.masking import mask_line
from fundwatch.paths import Home

ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
_LOGGED_ATOMS = ("h", "t", "m", "U", "s", "B", "b", "M", "L", "T", "D", "p")


class AccessLogger(Logger):
    """gunicorn's logger with an access log that can only ever hold the fields listed above."""

    def atoms(self, resp, req, environ, request_time: dt.timedelta) -> dict:
        full = super().atoms(resp, req, environ, request_time)
        out = {k: full[k] for k in _LOGGED_ATOMS if k in full}
        out["U"] = mask_line(unquote(environ.get("PATH_INFO") or "/", errors="replace"))
        return out


class _Gunicorn(BaseApplication):
    def __init__(self, app, options: dict) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def gunicorn_options(host: str, port: int, workers: int) -> dict:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 300,  # the xlsx of a long queue takes a while
        "graceful_timeout": 30,
        "preload_app": True,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": AccessLogger,
        # ProxyFix (with the configured count) is the one judge of forwarded headers.
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "proc_name": "fundwatch-review",
        "control_socket_disable": True,  # one shared socket path per user would clash between homes
    }


def serve_production(home: Home, host: str = "127.0.0.1", port: int = 8050, workers: int = 2,
                     proxies: int | None = None) -> None:
    """Serve the review page under gunicorn until SIGTERM/SIGINT (graceful: requests finish);
    ``proxies``: hops of forwarded headers to trust (``create_app``'s ``trusted_proxies``)."""
    from fundwatch.review import create_app

    app = create_app(home, trusted_proxies=proxies)
    print(f"fundwatch review page (gunicorn, {workers} workers): http://{host}:{port}/ (home {home.root})",
          flush=True)
    _Gunicorn(app, gunicorn_options(host, port, workers)).run()
