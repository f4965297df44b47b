"""docker-compose.yml, checked against the project (Docker cannot run here, see ../shared/stack-notes.md).

What an operator would hit on `docker compose up`: a file that does not parse, a command or flag
that does not exist in the image, a mount of a folder the repo lacks, an image that moves under
them (`latest`), a variable .env.example forgets, a secret written into the file, a service that
starts before the one it needs is healthy.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from compose_model import COMPOSE_FILE, DOCKERFILE, REPO, referenced_vars

from fundwatch.cli import build_parser
from fundwatch.paths import Home

IMAGE_APP_ROOT = PurePosixPath("/opt/fundwatch")  # WORKDIR of the Dockerfile, where the repo is installed
CONTAINER_HOME = "/data/home"
CONTAINER_INBOX = "/data/inbox"

# What the official images ship, for the commands run inside them (docs of the images on Docker Hub).
OFFICIAL_IMAGE_COMMANDS = {
    "postgres": {"pg_isready", "postgres", "docker-entrypoint.sh"},
    "redis": {"redis-server", "redis-cli"},
    "nginx": {"nginx", "curl"},
}
# Which Airflow component each role of the issue is, by its command.
AIRFLOW_ROLES = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler",),
    "dag-processor": ("dag-processor",),
    "triggerer": ("triggerer",),
    "worker": ("celery", "worker"),
}
SECRET_WORDS = re.compile(
    r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$|CONN$|BROKER_URL|RESULT_BACKEND|REDISCLI_AUTH|NOTIFY_URLS")
PINNED_TAG = re.compile(r"^\d+(\.\d+)+([-.][a-z0-9.]+)*$")


def _argv(test) -> list[str]:
    """A command or healthcheck test as argv (CMD-SHELL strings split as the shell would)."""
    if isinstance(test, str):
        return shlex.split(test)
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return shlex.split(test[1])
    return list(test)


def _all_commands(services) -> list[tuple[str, str, list[str]]]:
    """(service, 'command'|'healthcheck', argv) for everything compose will execute in a container."""
    out = []
    for name, svc in services.items():
        if "command" in svc:
            out.append((name, "command", _argv(svc["command"])))
        if "healthcheck" in svc:
            out.append((name, "healthcheck", _argv(svc["healthcheck"]["test"])))
    return out


def _official(image: str) -> tuple[str, str]:
    """(repository, tag) of an official Docker Hub image reference; fails for any other."""
    ref = image.removeprefix("docker.io/").removeprefix("library/")
    repo, _, tag = ref.partition(":")
    assert "/" not in repo and "@" not in ref, f"{image}: not an official (library) image"
    return repo, tag


def _project_image_services(services) -> set[str]:
    return {n for n, s in services.items() if "build" in s}


# --- the file parses and has the parts the issue asks for ---------------------------------------


def test_compose_file_parses_into_the_services_of_the_issue(services):
    airflow_cmds = {n: _argv(s["command"])[1:] for n, s in services.items()
                    if "command" in s and _argv(s["command"])[0] == "airflow"}
    for role, words in AIRFLOW_ROLES.items():
        assert any(tuple(cmd[: len(words)]) == words for cmd in airflow_cmds.values()), f"no Airflow {role}"
    images = {_official(s["image"])[0] for s in services.values() if "build" not in s}
    assert {"postgres", "redis"} <= images
    serve = [n for n, s in services.items() if _argv(s.get("command", ["-"]))[:2] == ["fundwatch", "serve"]]
    assert serve, "no review page service (fundwatch serve)"
    assert "nginx" in images, "no TLS reverse proxy"


def test_airflow_services_use_the_celery_executor_with_postgres_and_redis(services):
    for name, svc in services.items():
        env = svc.get("environment") or {}
        if "AIRFLOW__CORE__EXECUTOR" not in env:
            continue
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379/" in env[
            "AIRFLOW__CELERY__BROKER_URL"], name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
    assert "airflow-apiserver" in services


# --- images --------------------------------------------------------------------------------------


def test_images_are_official_at_pinned_tags(services):
    for name, svc in services.items():
        if "build" in svc:
            assert svc["build"]["dockerfile"] == DOCKERFILE.name and (REPO / svc["build"]["context"]).is_dir()
            assert not svc["image"].endswith(":latest") and ":" in svc["image"], name
            continue
        repo, tag = _official(svc["image"])
        assert PINNED_TAG.match(tag), f"{name}: image {svc['image']} is not pinned to a version"


def test_dockerfile_builds_from_an_official_pinned_image_and_installs_the_lock():
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert froms, "Dockerfile has no FROM"
    for image in froms:
        repo, tag = _official(image)
        assert PINNED_TAG.match(tag), f"FROM {image} is not pinned"
        assert repo == "python" and tag.startswith("3.11."), "the image must run the project's Python 3.11"
    assert "pip install --require-hashes -r requirements.lock" in text
    assert "requirements-dev.lock" not in text, "the image installs the runtime lock only"
    assert f"WORKDIR {IMAGE_APP_ROOT}" in text
    # paths.py finds dags/ and dbt_project/ beside the package; setuptools comes from the lock
    assert "pip install --no-deps --no-build-isolation -e ." in text


@pytest.mark.parametrize(
    "package",
    [
        pytest.param("apache-airflow-providers-celery", id="celery-executor"),
        pytest.param("apache-airflow-providers-postgres", id="postgres-provider"),
        pytest.param("psycopg2-binary", id="psycopg2-metadata-driver"),
        pytest.param("asyncpg", id="asyncpg-api-server-driver"),
        pytest.param("redis", id="redis-broker-client"),
        pytest.param("celery", id="celery"),
    ],
)
def test_the_image_gets_what_the_compose_file_needs_from_the_lock(package):
    # The image installs requirements.lock only: a package missing there is missing in production.
    pins = {
        re.split(r"[=<>\[; ]", line, maxsplit=1)[0].strip().lower().replace("_", "-")
        for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", " "))  # not the hash and comment lines
    }
    assert package in pins, f"{package} is not pinned in requirements.lock"


# --- commands exist in the project --------------------------------------------------------------


def test_fundwatch_commands_exist_in_the_cli_parser(services):
    parser = build_parser()
    seen = 0
    for name, _kind, argv in _all_commands(services):
        if argv[0] != "fundwatch":
            continue
        args = parser.parse_args(argv[1:])  # exits (fails the test) on an unknown subcommand or flag
        seen += 1
        if args.command == "serve":
            assert args.home == CONTAINER_HOME and args.host == "0.0.0.0", name
            # gunicorn, trusting exactly the one proxy in front of it (X-Forwarded-Proto -> Secure cookies)
            assert args.production and args.workers >= 2 and args.proxies == 1, name
    assert seen


def test_airflow_commands_options_and_apps_exist_in_the_pinned_airflow(services, tmp_path):
    commands, objects, options = [], {"airflow.providers.celery.executors.celery_executor:CeleryExecutor"}, set()
    for _name, _kind, argv in _all_commands(services):
        if argv[0] == "airflow":
            commands.append(argv[1:])
        elif argv[0] == "celery":
            objects.add(argv[argv.index("--app") + 1].rpartition(".")[0] + ":app")
    for svc in services.values():
        for key in svc.get("environment") or {}:
            if key.startswith("AIRFLOW__"):
                section, _, option = key.removeprefix("AIRFLOW__").partition("__")
                options.add((section, option))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("airflow_cli_check.py"))],
        input=json.dumps({"commands": commands, "options": sorted(options), "objects": sorted(objects)}),
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(commands) >= 7
    assert result == {"commands": [], "options": [], "objects": []}


def test_other_commands_exist_in_their_images(services):
    exe_dir = Path(sys.executable).parent
    for name, kind, argv in _all_commands(services):
        svc = services[name]
        if "build" not in svc:
            repo, _ = _official(svc["image"])
            assert argv[0] in OFFICIAL_IMAGE_COMMANDS[repo], f"{name} {kind}: {argv[0]} not in image {repo}"
        elif argv[0] == "python" and argv[1] == "-c":
            compile(argv[2], f"<{name} {kind}>", "exec")
        elif argv[0] == "python" and argv[1] == "-m":
            help_text = subprocess.run([sys.executable, "-m", argv[2], "--help"], capture_output=True, text=True,
                                       timeout=30, check=True).stdout
            for flag in (a for a in argv[3:] if a.startswith("--")):
                assert flag in help_text, f"{name}: python -m {argv[2]} has no {flag}"
        elif argv[0] == "celery":
            assert (exe_dir / "celery").exists(), "celery's console script is not installed"
        else:
            assert argv[0] in {"airflow", "fundwatch"}, f"{name} {kind}: unknown command {argv[0]}"
            assert (exe_dir / argv[0]).exists()


def test_healthchecks_probe_the_port_each_service_listens_on(services):
    for name, svc in services.items():
        argv = _argv(svc.get("command", ["-"]))
        check = _argv(svc.get("healthcheck", {}).get("test", ["-"]))
        urls = re.findall(r"http://localhost:(\d+)(/\S*?)'", " ".join(check))
        if not urls:
            continue
        port = urls[0][0]
        if "--port" in argv:
            assert argv[argv.index("--port") + 1] == port, name
        elif "http.server" in argv:
            assert argv[argv.index("http.server") + 1] == port, name
        elif argv[:2] == ["airflow", "scheduler"]:
            assert port == "8974" and svc["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"


# --- mounts and paths ---------------------------------------------------------------------------


def test_every_bind_mount_exists_in_the_repo_and_named_volumes_are_declared(compose, services, env_example):
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for spec in svc.get("volumes", []):
            source, target = spec.split(":")[:2]
            if source == env_example["FUNDWATCH_TLS_DIR"]:
                # The only host folder outside the repo: the certificate and key (secrets, never committed).
                assert name == "proxy" and spec.endswith(":ro"), f"{name}: {spec}"
            elif source.startswith((".", "/")):
                path = (COMPOSE_FILE.parent / source).resolve()
                assert path.exists() and path.is_relative_to(REPO), f"{name}: {source} is not in the repo"
                rel = path.relative_to(REPO).as_posix()
                if "build" in svc:
                    assert target == str(IMAGE_APP_ROOT / rel), f"{name}: {source} must mount where the image has it"
                else:
                    assert spec.endswith(":ro"), f"{name}: a file of the repo is mounted read-only: {spec}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"


def _mounts(svc) -> dict[str, str]:
    return {spec.split(":")[1]: spec.split(":")[0] for spec in svc.get("volumes", [])}


def test_the_worker_sees_the_inbox_home_and_export_where_the_dag_looks(services):
    home = Home(Path(CONTAINER_HOME))
    workers = [s for s in services.values() if _argv(s.get("command", ["-"]))[1:3] == ["celery", "worker"]]
    assert workers
    for svc in workers:
        env, mounts = svc["environment"], _mounts(svc)
        # Scheduled runs have empty params: run_settings() falls back to these variables.
        assert env["FUNDWATCH_HOME"] == CONTAINER_HOME and env["FUNDWATCH_INBOX"] == CONTAINER_INBOX
        assert mounts[CONTAINER_INBOX] and mounts[CONTAINER_HOME]
        assert mounts[str(home.default_out)] not in (mounts[CONTAINER_HOME], mounts[CONTAINER_INBOX])
        assert f"{mounts[CONTAINER_INBOX]}:{CONTAINER_INBOX}:ro" in svc["volumes"], "the inbox is read-only"
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(IMAGE_APP_ROOT / "dags")


def test_the_review_page_serves_the_home_and_backups_the_pipeline_writes(services):
    home = Home(Path(CONTAINER_HOME))
    worker = next(s for s in services.values() if _argv(s.get("command", ["-"]))[1:3] == ["celery", "worker"])
    review = next(s for s in services.values() if _argv(s.get("command", ["-"]))[:2] == ["fundwatch", "serve"])
    for folder in (CONTAINER_HOME, str(home.backups_dir)):
        assert _mounts(review)[folder] == _mounts(worker)[folder], folder
    # Backups live on their own volume (another disk), not inside the home they protect.
    assert _mounts(worker)[str(home.backups_dir)] != _mounts(worker)[CONTAINER_HOME]
    # The built docs are under the home the page serves them from (/docs/dbt/, /docs/gx/ behind sign-in).
    assert home.dbt_docs_dir.is_relative_to(home.root) and home.gx_docs_dir.is_relative_to(home.root)


# --- variables and secrets ----------------------------------------------------------------------


def test_every_variable_the_file_uses_is_in_env_example(compose_text, env_example):
    used = referenced_vars(compose_text)
    assert used - set(env_example) == set(), "missing from .env.example"
    assert set(env_example) - used == set(), "unused in docker-compose.yml"


def test_no_secret_is_written_into_the_compose_file(compose_text, env_example):
    import yaml

    raw = yaml.safe_load(compose_text)
    envs = [raw.get("x-airflow-env", {})] + [s.get("environment") or {} for s in raw["services"].values()]
    for env in envs:
        for key, value in env.items():
            if key != "<<" and SECRET_WORDS.search(key) and not key.endswith("_FILE"):
                value = str(value)
                if "://" in value:  # a URL: its user:password part comes from .env, the rest is topology
                    userinfo = value.split("://", 1)[1].rpartition("@")[0]
                    assert re.fullmatch(r"(\$\{[^}]*\})?:?(\$\{[^}]*\})?", userinfo), f"{key}: credential in the file"
                else:
                    assert re.fullmatch(r"\$\{[^}]*\}", value), f"{key}: must come from .env"
    for key, value in env_example.items():
        if SECRET_WORDS.search(key):
            assert value == "change-me", f".env.example {key} must be a placeholder"


def test_published_ports_bind_to_the_configured_address_only(services, env_example):
    assert env_example["FUNDWATCH_BIND_ADDRESS"] == env_example["FUNDWATCH_PUBLIC_ADDRESS"] == "127.0.0.1"
    for name, svc in services.items():
        address = env_example["FUNDWATCH_PUBLIC_ADDRESS" if name == "proxy" else "FUNDWATCH_BIND_ADDRESS"]
        for spec in svc.get("ports", []):
            assert spec.startswith(address + ":"), f"{name}: {spec}"
    # Nothing but the proxy and Airflow's own UI is published; the review page only through the proxy.
    assert {n for n, s in services.items() if s.get("ports")} == {"proxy", "airflow-apiserver"}


# --- start order ----------------------------------------------------------------------------------


def test_depends_on_waits_for_health_and_every_server_has_a_healthcheck(services):
    for name, svc in services.items():
        if svc.get("restart") != "no":
            assert "healthcheck" in svc, f"{name} has no healthcheck"
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            cond = spec["condition"]
            if cond == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
            else:
                assert cond == "service_completed_successfully" and services[dep].get("restart") == "no"
    airflow = [n for n, s in services.items() if _argv(s.get("command", ["-"]))[0] == "airflow"]
    for name in airflow:
        deps = services[name].get("depends_on") or {}
        assert deps["postgres"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
            assert deps["redis"]["condition"] == "service_healthy", name


def test_start_order_has_no_cycle(services):
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"depends_on cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for dep in services[name].get("depends_on") or {}:
            visit(dep, (*path, name))
        done.add(name)

    for name in services:
        visit(name, ())



# --- the TLS proxy in front of the review page ------------------------------------------------------

PROXY_TEMPLATE = REPO / "deploy" / "proxy" / "default.conf.template"


def test_the_proxy_renders_its_template_from_its_own_variables_only(services):
    proxy = services["proxy"]
    env = proxy["environment"]
    source = _mounts(proxy)["/etc/nginx/templates/default.conf.template"]
    assert (COMPOSE_FILE.parent / source).resolve() == PROXY_TEMPLATE
    text = PROXY_TEMPLATE.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(\w+)\}", text))
    substituted = {k for k in env if re.search(env["NGINX_ENVSUBST_FILTER"], k)}
    assert used == substituted, "every ${VAR} of the template is set by the service, and only those"
    # The filter leaves nginx's own $variables ($host, $scheme ...) alone.
    assert not {v for v in re.findall(r"\$(\w+)", text) if v.startswith("FUNDWATCH_")} - used


def test_the_proxy_sends_everything_to_gunicorn_over_tls_on_the_published_ports(services):
    proxy, review = services["proxy"], services["review"]
    env = proxy["environment"]
    argv = _argv(review["command"])
    assert env["FUNDWATCH_REVIEW_UPSTREAM"] == f"review:{argv[argv.index('--port') + 1]}"
    assert proxy["depends_on"]["review"]["condition"] == "service_healthy"
    certs = PurePosixPath(next(t for t in _mounts(proxy) if t.startswith("/etc/nginx/certs")))
    for key in ("FUNDWATCH_TLS_CERT_FILE", "FUNDWATCH_TLS_KEY_FILE"):
        assert PurePosixPath(env[key]).parent == certs, key
    published = {spec.rsplit(":", 1)[1] for spec in proxy["ports"]}
    assert published == {env["FUNDWATCH_PROXY_HTTPS_PORT"], env["FUNDWATCH_PROXY_HTTP_PORT"]}
    check = " ".join(_argv(proxy["healthcheck"]["test"]))
    assert f"https://localhost:{env['FUNDWATCH_PROXY_HTTPS_PORT']}/login" in check
    text = PROXY_TEMPLATE.read_text(encoding="utf-8")
    assert re.search(r"listen \$\{FUNDWATCH_PROXY_HTTPS_PORT\} ssl;", text)
    assert "return 301 https://" in text  # plain http only redirects
    # Forwarded headers are set by the proxy (the page trusts exactly one hop: --proxies 1).
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text


def test_the_proxy_logs_no_query_string_and_allows_an_upload(services):
    text = PROXY_TEMPLATE.read_text(encoding="utf-8")
    formats = dict(re.findall(r"log_format (\w+) '([^']*)'", text))
    for fmt in formats.values():
        for leaky in ("$request ", "$request_uri", "$args", "$query_string", "$http_referer", "$arg_"):
            assert leaky not in fmt + " ", f"access log format holds {leaky.strip()}"
    logs = re.findall(r"access_log (\S+) (\w+);", text)
    assert logs and all(fmt in formats for _, fmt in logs)
    assert len(re.findall(r"^\s*server \{", text, flags=re.MULTILINE)) == len(logs)
    from fundwatch.uploads.guard import MAX_BYTES

    body = re.search(r"client_max_body_size (\d+)m;", text)
    assert body and int(body.group(1)) * 1024 * 1024 > MAX_BYTES  # the largest upload and its envelope


def test_the_alerts_reach_the_office_from_every_airflow_service(services):
    for name, svc in services.items():
        if _argv(svc.get("command", ["-"]))[0] == "airflow":
            assert svc["environment"]["FUNDWATCH_NOTIFY_URLS"], name
    # The failure callback runs in the dag-processor: it reads the task's log and the home (read-only).
    mounts = services["airflow-dag-processor"]["volumes"]
    assert f"fundwatch-home:{CONTAINER_HOME}:ro" in mounts
    assert any(m.startswith("airflow-logs:") for m in mounts)
