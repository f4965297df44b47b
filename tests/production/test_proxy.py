"""The review page as compose serves it, for real on loopback: gunicorn (`fundwatch serve --production
--proxies 1`) behind nginx (Debian's package) running deploy/proxy/default.conf.template with the
proxy service's variables and a self-signed certificate.

What it proves: pages and the docs route answer through TLS; cookies are Secure through the proxy
and not on plain http; a client cannot forge the forwarded headers past the proxy; neither access
log holds a searched name or ID number; plain http only redirects.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
from datetime import date
from decimal import Decimal

import pytest
import requests
from web_stack import proxy_environment, self_signed, start_gunicorn, start_nginx, wait_http

from fundwatch import state
from fundwatch.paths import Home
from fundwatch.review.users import add_user

ID_NUMBER = "430121198505051236"  # synthetic
NAME = "刘建国"  # synthetic
PASSWORD = "correct-horse-9"
FORGED_IP = "203.0.113.66"  # documentation range


def _finding() -> dict:
    return {
        "rule_id": "PAY_LATE", "rule_name": "超期发放", "severity": "error", "subject_type": "payment",
        "subject_key": "TX1", "project_code": "P1", "unit_code": "430121", "amount_at_risk": Decimal("3000.00"),
        "source_file": "a.csv", "source_row": 2, "detail": f"{NAME} 超期发放",
        "evidence": {"source_row": {"name": NAME, "id_number": ID_NUMBER}},
    }


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    work = tmp_path_factory.mktemp("web")
    home = Home(work / "home").ensure()
    state.record_run(home.state_db, run_id="r1", run_date=date(2021, 4, 30), findings=[_finding()])
    add_user(home.state_db, "reviewer1", PASSWORD, "reviewer")
    cert, key = self_signed(work / "certs")
    gunicorn, port = start_gunicorn(home, work)
    env = proxy_environment(port, cert, key)
    nginx = start_nginx(work, env)
    https = f"https://{env['FUNDWATCH_PROXY_HTTPS_PORT']}"
    try:
        wait_http(f"{https}/login", nginx, context=ssl.create_default_context(cafile=str(cert)))
        yield {"https": https, "http": f"http://{env['FUNDWATCH_PROXY_HTTP_PORT']}", "direct": f"http://127.0.0.1:{port}",
               "gunicorn": gunicorn, "nginx": nginx, "cert": str(cert), "work": work}
    finally:
        nginx.stop()
        gunicorn.stop()


def _client(cert: str) -> requests.Session:
    """A client trusting only the test's certificate (REQUESTS_CA_BUNDLE of the machine would win over
    Session.verify, hence trust_env off)."""
    s = requests.Session()
    s.trust_env = False
    s.verify = cert
    return s


def _sign_in(base: str, cert: str) -> requests.Session:
    s = _client(cert)
    page = s.get(f"{base}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = s.post(f"{base}/login", data={"username": "reviewer1", "password": PASSWORD, "csrf_token": token,
                                          "next": "/"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    return s


def _set_cookies(resp: requests.Response) -> list[str]:
    return resp.raw.headers.getlist("Set-Cookie")


@pytest.mark.production
def test_the_page_answers_through_tls_with_secure_cookies(web):
    s = _client(web["cert"])
    resp = s.get(f"{web['https']}/login", timeout=10)
    assert resp.status_code == 200 and "登录" in resp.text
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    cookies = _set_cookies(resp)
    assert cookies and all("; Secure" in c for c in cookies), cookies
    # A client claiming plain http is not believed: the proxy sets X-Forwarded-Proto itself.
    forged = s.get(f"{web['https']}/login", headers={"X-Forwarded-Proto": "http"}, timeout=10)
    assert all("; Secure" in c for c in _set_cookies(forged))
    # Straight to gunicorn over http (never published in compose): no Secure, or the browser would drop it.
    direct = _client(web["cert"]).get(f"{web['direct']}/login", timeout=10)
    assert direct.status_code == 200 and not any("Secure" in c for c in _set_cookies(direct))


@pytest.mark.production
def test_signed_in_through_the_proxy_the_queue_search_and_docs_route_work(web):
    s = _sign_in(web["https"], web["cert"])
    queue = s.get(f"{web['https']}/", params={"q": ID_NUMBER}, headers={"X-Forwarded-For": FORGED_IP}, timeout=10)
    assert queue.status_code == 200 and "PAY_LATE" in queue.text
    queue = s.get(f"{web['https']}/", params={"q": NAME}, timeout=10)
    assert queue.status_code == 200
    # The built docs are behind sign-in through the page (not built here: the page says so).
    assert s.get(f"{web['https']}/docs/dbt/", timeout=10).status_code == 404
    anonymous = _client(web["cert"]).get(f"{web['https']}/docs/dbt/", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.mark.production
def test_plain_http_only_redirects_to_https(web):
    resp = _client(web["cert"]).get(f"{web['http']}/?q={ID_NUMBER}", allow_redirects=False, timeout=10)
    assert resp.status_code == 301 and resp.headers["Location"].startswith("https://")


@pytest.mark.production
def test_no_access_log_holds_a_searched_name_or_id_number(web):
    test_signed_in_through_the_proxy_the_queue_search_and_docs_route_work(web)
    secrets_ = [ID_NUMBER, NAME, urllib.parse.quote(NAME), "q=", FORGED_IP]
    nginx_log, gunicorn_log = web["nginx"].text(), web["gunicorn"].text()
    assert '"GET /" 200' in nginx_log and '"POST /login" 302' in nginx_log
    assert '"GET /" 200' in gunicorn_log and '"POST /login" 302' in gunicorn_log
    for text in (nginx_log, gunicorn_log):
        for secret in secrets_:
            assert secret not in text
    # gunicorn logs the client the proxy saw (ProxyFix trusts one hop), never a forged address.
    assert re.search(r'^127\.0\.0\.1 .*"GET /" 200', gunicorn_log, flags=re.MULTILINE)
    assert not (web["work"] / "nginx" / "http-level-access.log").read_text(encoding="utf-8")
