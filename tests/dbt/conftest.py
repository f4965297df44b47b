"""One real `dbt build` over the hand-made raw fixture, shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from dbt_fixture_raw import RUN_DATE, write_raw

from fundwatch.paths import Home
from fundwatch.warehouse import dbt_build


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
