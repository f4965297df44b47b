"""One real `dbt build` over the hand-made raw fixture, shared by the whole session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from fundwatch.paths import Home
from fundwatch.warehouse import dbt_build

# pytest runs with --import-mode=importlib: make the fixture module importable by the tests here.
sys.path.insert(0, str(Path(__file__).parent))
from dbt_fixture_raw import RUN_DATE, write_raw  # noqa: E402


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("dbt-home")).ensure()
    write_raw(home.warehouse)
    dbt_build(home, RUN_DATE)
    return home


@pytest.fixture(scope="session")
def warehouse(built_home: Home) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(built_home.warehouse), read_only=True)
    yield con
    con.close()
