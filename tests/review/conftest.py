"""Fixtures for the review page: a home with two recorded runs and one user per role (synthetic
findings), a home per scope, and the state of one real pipeline run (``real_run``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# The test modules import their shared synthetic data from review_data.py beside this file;
# with --import-mode=importlib test folders are not on sys.path, so put this one there.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from review_data import (
    DAY1,
    DAY1_FINDINGS,
    DAY2,
    DAY2_FINDINGS,
    PASSWORD,
    SCOPE_FINDINGS,
    SCOPE_ROLES,
    SCOPE_UNITS,
    login,
    person_name,
)

from fundwatch import pipeline, state
from fundwatch.generator import generate
from fundwatch.paths import Home
from fundwatch.review import create_app, tokens
from fundwatch.review.users import add_user


@pytest.fixture(scope="session")
def template_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("review-template")).ensure()
    state.record_run(home.state_db, run_id="scheduled__2021-04-29", run_date=DAY1, findings=DAY1_FINDINGS)
    state.record_run(home.state_db, run_id="scheduled__2021-04-30", run_date=DAY2, findings=DAY2_FINDINGS)
    for name, role in (("reviewer1", "reviewer"), ("auditor1", "auditor"), ("admin1", "admin")):
        add_user(home.state_db, name, PASSWORD, role)
    return home


def _copy(template: Home, root: Path) -> Home:
    shutil.copytree(template.root, root)
    return Home(root)


@pytest.fixture
def home(template_home, tmp_path) -> Home:
    """A fresh copy of the template home for each test (decisions never leak between tests)."""
    return _copy(template_home, tmp_path / "home")


@pytest.fixture
def app(home):
    app = create_app(home)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def token_of(home):
    """token_of('reviewer1') -> the Authorization header of a new API token of that person."""
    def make(name: str) -> dict:
        return {"Authorization": f"Bearer {tokens.create(home.state_db, name)[1]}"}
    return make


@pytest.fixture
def as_role(app):
    """as_role('reviewer') -> a test client signed in with that role."""
    def make(role: str):
        client = app.test_client()
        resp = login(client, f"{role}1")
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client
    return make


@pytest.fixture(scope="session")
def scope_template(tmp_path_factory) -> Home:
    """A home with one finding per unit of review_data.SCOPE_FINDINGS and every role at every unit."""
    home = Home(tmp_path_factory.mktemp("review-scope")).ensure()
    state.record_run(home.state_db, run_id="scheduled__2021-04-30", run_date=DAY2,
                     findings=list(SCOPE_FINDINGS.values()))
    add_user(home.state_db, person_name(SCOPE_ROLES[0], SCOPE_UNITS[0]), PASSWORD, SCOPE_ROLES[0],
             unit=SCOPE_UNITS[0])
    conn = state.connect(home.state_db)
    with state.transaction(conn):  # the others share that password hash (scrypt is slow on purpose)
        hashed = conn.execute("SELECT password_hash, created_at FROM users").fetchone()
        conn.executemany(
            "INSERT INTO users (username, password_hash, role, unit_code, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(person_name(role, unit), hashed[0], role, unit, hashed[1], hashed[1])
             for unit in SCOPE_UNITS for role in SCOPE_ROLES if (role, unit) != (SCOPE_ROLES[0], SCOPE_UNITS[0])])
    conn.close()
    return home


@pytest.fixture
def scope_home(scope_template, tmp_path) -> Home:
    return _copy(scope_template, tmp_path / "scope-home")


REAL_RUN_DATE = DAY2


@pytest.fixture(scope="session")
def real_run(tmp_path_factory) -> Home:
    """The state of one real run of the pipeline over the demo province (400 payments, every rule
    fires): generated inbox -> ingest -> dbt build -> export into state.sqlite, in-process, once
    per test session (about 45 s). GX validation is left out: it writes nothing the page reads.
    Read-only for the tests: one that writes copies it (``review_data.copy_state``).
    """
    base = tmp_path_factory.mktemp("review-real-run")
    generate(base / "generated", payments=400)
    home = Home(base / "home").ensure()
    pipeline.run_day(home, base / "generated" / "inbox", "scheduled__2021-04-30", REAL_RUN_DATE, base / "out",
                     stages=("ingest", "dbt_build", "export"))
    for name, role in (("reviewer1", "reviewer"), ("auditor1", "auditor")):
        add_user(home.state_db, name, PASSWORD, role)
    return home

