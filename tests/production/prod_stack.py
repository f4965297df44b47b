"""The production path without containers: PostgreSQL and Redis from Debian's packages, Airflow's
api-server, dag-processor, scheduler and a Celery worker (CeleryExecutor, as docker-compose.yml),
all on loopback, all stopped again by whoever started them.

Used by test_celery_stack.py. Every process started here carries ``FUNDWATCH_PROD_STACK=<id>`` in
its environment, so the test can prove none of them outlives it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from fw_testdata import (
    free_port,  # one free-port helper for every test stack (tests/production/conftest.py puts it on the path)
)

from fundwatch.airflow_support import airflow_env
from fundwatch.masking import mask_line
from fundwatch.paths import Home

LOOPBACK = "127.0.0.1"
MARKER = "FUNDWATCH_PROD_STACK"


def debian_package(package: str, present) -> None:
    """Install a Debian package (as root, with apt-get) unless ``present()`` already says it is there."""
    if present():
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"{package} is not installed: apt-get install -y {package} (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    if not present():
        raise RuntimeError(f"apt-get install {package} did not provide what the tests need")


def postgres_bindir() -> Path:
    """Debian's PostgreSQL server binaries; installs the `postgresql` package when they are missing."""
    def found() -> list[Path]:
        dirs = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")]
        return sorted(dirs, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)

    debian_package("postgresql", lambda: bool(found()))
    return found()[-1]


def debian_binary(name: str, package: str) -> str:
    """The path of a program from Debian's packages, installing ``package`` when it is missing."""
    debian_package(package, lambda: shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin"))
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin")


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp dir, on a free loopback port, password-protected.

    As root the server runs as the `postgres` user (PostgreSQL refuses root), as anyone else as
    that user. `stop()` is safe to call more than once and after a failed start.
    """

    user = "airflow"
    database = "airflow"

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.root = Path(tempfile.mkdtemp(prefix="fundwatch-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        self._started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        kwargs = {"user": "postgres", "group": "postgres", "extra_groups": []} if self._as_postgres else {}
        return subprocess.run(list(args), check=False, capture_output=True, text=True, timeout=120,
                              cwd=self.root, **kwargs)

    def start(self) -> PostgresServer:
        self.root.chmod(0o755)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self._as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        proc = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile),
                         "--auth=scram-sha-256", "-E", "UTF8", "--no-locale")
        pwfile.unlink()
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed: {proc.stderr[-1500:]}")
        opts = f"-p {self.port} -k {self.root} -c listen_addresses={LOOPBACK} -c fsync=off"
        proc = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                         "-o", opts, "start")
        self._started = True
        if proc.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {proc.stderr[-1500:]} {self.log_tail()}")
        import psycopg2

        conn = psycopg2.connect(host=LOOPBACK, port=self.port, user=self.user, password=self.password,
                                dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {self.database}")
        conn.close()
        return self

    def url(self, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{self.database}"

    def connect(self):
        import psycopg2

        conn = psycopg2.connect(host=LOOPBACK, port=self.port, user=self.user, password=self.password,
                                dbname=self.database)
        conn.autocommit = True
        return conn

    def log_tail(self, lines: int = 20) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self._started and (self.data / "postmaster.pid").exists():
            proc = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
            if proc.returncode != 0 and (self.data / "postmaster.pid").exists():
                pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._started = False
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """A throwaway Redis (Debian's redis-server) on a free loopback port, password-protected, no
    persistence: the Celery broker, as the compose file's redis service."""

    def __init__(self) -> None:
        self.exe = debian_binary("redis-server", "redis-server")
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.root = Path(tempfile.mkdtemp(prefix="fundwatch-redis-"))
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        conf = self.root / "redis.conf"  # the password in a file, not on the command line
        conf.write_text(f"port {self.port}\nbind {LOOPBACK}\nrequirepass {self.password}\nsave \"\"\n"
                        f"appendonly no\ndir {self.root}\nlogfile {self.root / 'redis.log'}\n", encoding="utf-8")
        conf.chmod(0o600)
        self.proc = subprocess.Popen([self.exe, str(conf)], start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.port), timeout=1) as c:
                c.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                if b"+PONG" in c.recv(100):
                    return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {self.log_tail()}")
            time.sleep(0.2)

    def url(self) -> str:
        return f"redis://:{self.password}@{LOOPBACK}:{self.port}/0"

    def log_tail(self, lines: int = 20) -> str:
        log = self.root / "redis.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


class AirflowStack:
    """Airflow 3 components of one home as in docker-compose.yml: PostgreSQL metadata, the
    CeleryExecutor with Redis as broker and PostgreSQL as result backend; `airflow api-server` (the
    Execution API the task runners call), `airflow dag-processor`, `airflow scheduler` and `airflow
    celery worker`, each in its own process group, on loopback ports."""

    def __init__(self, home: Home, db: PostgresServer, broker: RedisServer, extra_env: dict | None = None) -> None:
        self.home = home
        self.db = db
        self.stack_id = secrets.token_hex(8)
        self.api_port = free_port()
        self.health_port = free_port()
        self.exe = Path(sys.executable).with_name("airflow")
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        env = airflow_env(home)  # the project's settings (dags folder, timezone, logs in the home) ...
        env.update(  # ... with the production metadata database and executor
            {
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db.url(),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": broker.url(),
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db.url(),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",  # two task slots: two runs *could* write at once
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{LOOPBACK}:{self.api_port}/execution/",
                "AIRFLOW__API__HOST": LOOPBACK,
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": LOOPBACK,
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.health_port),
                # Only the run the test triggers: no automatic run of the latest interval over empty params.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                MARKER: self.stack_id,
                **(extra_env or {}),
            }
        )
        self.env = env

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """One Airflow CLI command against this stack's metadata; raises with its output on failure."""
        proc = subprocess.run([str(self.exe), *args], env=self.env, cwd=str(self.home.root), capture_output=True,
                              text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args[:3])} failed: {mask_line(proc.stderr[-2000:])}")
        return proc

    def start(self, name: str, *args: str) -> None:
        log = self.home.logs_dir / f"prod-{name}.log"
        self.logs[name] = log
        with log.open("w", encoding="utf-8") as fh:
            self.procs[name] = subprocess.Popen(
                [str(self.exe), *args], env=self.env, cwd=str(self.home.root), stdout=fh, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def wait_http(self, url: str, timeout: float = 120) -> int:
        """Status of the first answer from url (polling while the servers start)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback URL we built
                    return resp.status
            except urllib.error.HTTPError as exc:
                return exc.code
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def log_tail(self, name: str, lines: int = 30) -> str:
        log = self.logs.get(name)
        if not log or not log.exists():
            return ""
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return "\n".join(mask_line(line)[:400] for line in text)

    def stop(self) -> None:
        """SIGTERM to each process group, SIGKILL after 30 s; then anything left carrying the marker."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for pid in marked_processes(self.stack_id):  # children that left the group (task runners)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def marked_processes(stack_id: str) -> list[int]:
    """Live processes whose environment carries this stack's marker."""
    needle = f"{MARKER}={stack_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if needle in environ.split(b"\0") and "\nState:\tZ" not in status:
            pids.append(int(entry.name))
    return pids
