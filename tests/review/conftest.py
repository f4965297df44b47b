"""Fixtures for the review page: a home with two recorded runs and one user per role."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# The test modules import their shared synthetic data from review_data.py beside this file;
# with --import-mode=importlib test folders are not on sys.path, so put this one there.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from review_data import DAY1, DAY1_FINDINGS, DAY2, DAY2_FINDINGS, PASSWORD, login

from fundwatch import state
from fundwatch.paths import Home
from fundwatch.review import create_app
from fundwatch.review.users import add_user


@pytest.fixture(scope="session")
def template_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("review-template")).ensure()
    state.record_run(home.state_db, run_id="scheduled__2021-04-29", run_date=DAY1, findings=DAY1_FINDINGS)
    state.record_run(home.state_db, run_id="scheduled__2021-04-30", run_date=DAY2, findings=DAY2_FINDINGS)
    for name, role in (("reviewer1", "reviewer"), ("auditor1", "auditor"), ("admin1", "admin")):
        add_user(home.state_db, name, PASSWORD, role)
    return home


@pytest.fixture
def home(template_home, tmp_path) -> Home:
    """A fresh copy of the template home for each test (decisions never leak between tests)."""
    root = tmp_path / "home"
    shutil.copytree(template_home.root, root)
    return Home(root)


@pytest.fixture
def app(home):
    app = create_app(home)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def as_role(app):
    """as_role('reviewer') -> a test client signed in with that role."""
    def make(role: str):
        client = app.test_client()
        resp = login(client, f"{role}1")
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client
    return make
