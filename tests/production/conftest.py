"""Fixtures for the production deployment tests: docker-compose.yml read as Docker Compose reads it.

Docker does not run on these machines, so the compose file is checked against the project instead
(tests/production/test_compose.py), and the production path itself (PostgreSQL metadata, the real
scheduler, a Celery worker, the TLS proxy) is run without containers (test_celery_stack.py, test_proxy.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

# pytest may run with --import-mode=importlib: make the helper modules importable by the tests here,
# and the SMTP inbox of tests/fundwatch (fw_testdata) for the alert mails of the Celery stack.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent / "fundwatch"))
from compose_model import COMPOSE_FILE, ENV_EXAMPLE, interpolate, read_env_file  # noqa: E402


def pytest_configure(config):
    # Also registered in pyproject.toml by the lead; registering here keeps --strict-markers happy alone.
    config.addinivalue_line(
        "markers",
        "production: the Celery stack (PostgreSQL, Redis, scheduler, worker) and the TLS proxy, for real (minutes)",
    )


@pytest.fixture(scope="session")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="session")
def compose(compose_text, env_example) -> dict:
    """The compose model as `docker compose config` would see it with .env copied from .env.example."""
    return interpolate(yaml.safe_load(compose_text), env_example)


@pytest.fixture(scope="session")
def services(compose) -> dict[str, dict]:
    return compose["services"]
