"""The review page as production serves it, on loopback: `fundwatch serve --production` (gunicorn) and,
in front of it, nginx from Debian's packages running the compose proxy's own template with a
self-signed certificate. Used by test_proxy.py (and the restore test serves a restored home with it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from compose_model import COMPOSE_FILE, ENV_EXAMPLE, REPO, interpolate, read_env_file
from prod_stack import LOOPBACK, debian_binary, free_port

from fundwatch.paths import Home

PROXY_TEMPLATE = REPO / "deploy" / "proxy" / "default.conf.template"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (fullchain.pem, privkey.pem, as the proxy expects)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fundwatch test proxy")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class Process:
    """A server in its own process group, its output in a log file; stopped with its children."""

    def __init__(self, argv: list[str], log: Path, env: dict | None = None) -> None:
        self.log = log
        with log.open("wb") as fh:
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True, cwd=str(log.parent))

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout=10)


def wait_http(url: str, proc: Process, timeout: float = 60, context=None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not proc.alive():
            raise RuntimeError(f"server exited:\n{proc.text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5, context=context):  # noqa: S310 - loopback
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def start_gunicorn(home: Home, workdir: Path, proxies: int = 1) -> tuple[Process, int]:
    """`fundwatch serve --production` as compose runs it, on a free loopback port."""
    port = free_port()
    exe = Path(sys.executable).with_name("fundwatch")
    proc = Process([str(exe), "serve", "--home", str(home.root), "--host", LOOPBACK, "--port", str(port),
                    "--production", "--workers", "2", "--proxies", str(proxies)], workdir / "gunicorn.log")
    wait_http(f"http://{LOOPBACK}:{port}/login", proc)
    return proc, port


def proxy_environment(upstream_port: int, cert: Path, key: Path) -> dict[str, str]:
    """The proxy service's environment from docker-compose.yml (with .env.example), pointed at loopback."""
    compose = interpolate(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")), read_env_file(ENV_EXAMPLE))
    env = dict(compose["services"]["proxy"]["environment"])
    env.update({
        "FUNDWATCH_REVIEW_UPSTREAM": f"{LOOPBACK}:{upstream_port}",
        "FUNDWATCH_PROXY_HTTP_PORT": f"{LOOPBACK}:{free_port()}",
        "FUNDWATCH_PROXY_HTTPS_PORT": f"{LOOPBACK}:{free_port()}",
        "FUNDWATCH_TLS_CERT_FILE": str(cert),
        "FUNDWATCH_TLS_KEY_FILE": str(key),
    })
    return env


def render_template(env: dict[str, str]) -> str:
    """What the nginx image's 20-envsubst-on-templates.sh makes of the template: envsubst of the
    defined variables whose names match NGINX_ENVSUBST_FILTER."""
    names = [k for k in env if re.search(env.get("NGINX_ENVSUBST_FILTER", ""), k)]
    shell_format = " ".join(f"${{{k}}}" for k in names)
    proc = subprocess.run([debian_binary("envsubst", "gettext-base"), shell_format],
                          input=PROXY_TEMPLATE.read_text(encoding="utf-8"), capture_output=True, text=True,
                          env={**os.environ, **env}, check=True)
    return proc.stdout


# The official image's /etc/nginx/nginx.conf around conf.d, with the paths of a scratch folder; its
# http-level access log (format "main", which holds the request line) must stay unused.
MAIN_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log notice;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"';
    access_log {root}/http-level-access.log main;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    sendfile on;
    keepalive_timeout 65;
    include {root}/conf.d/*.conf;
}}
"""


def start_nginx(workdir: Path, env: dict[str, str]) -> Process:
    nginx = debian_binary("nginx", "nginx")
    root = workdir / "nginx"
    (root / "conf.d").mkdir(parents=True)
    (root / "tmp").mkdir(mode=0o777)
    (root / "tmp").chmod(0o777)  # nginx's workers run as an unprivileged user
    (root / "conf.d" / "default.conf").write_text(render_template(env), encoding="utf-8")
    (root / "nginx.conf").write_text(MAIN_CONF.format(root=root), encoding="utf-8")
    test = subprocess.run([nginx, "-t", "-e", str(root / "error.log"), "-c", str(root / "nginx.conf")],
                          capture_output=True, text=True, check=False)
    assert test.returncode == 0, test.stderr
    proc = Process([nginx, "-e", str(root / "error.log"), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
                   workdir / "nginx.log")
    return proc
