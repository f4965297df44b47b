"""One table of cases per fact that Python and dbt both implement, run through both.

The dbt side renders the project's own macro file with plain Jinja (the macros use no dbt context;
StrictUndefined fails the test the day one does) and runs the SQL on DuckDB, the engine dbt uses.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import duckdb
import jinja2
import pytest

from fundwatch.paths import DBT_PROJECT_DIR

HERE = Path(__file__).parent


def read_cases(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def dbt_macro_sql(macro_file: str, call: str) -> str:
    """The SQL a macro call of ``dbt_project/macros/<macro_file>`` compiles to."""
    source = (DBT_PROJECT_DIR / "macros" / macro_file).read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string(source + "{{ " + call + " }}").render().strip()


@pytest.fixture(scope="module")
def run_macro() -> Callable[[str, str, list[str | None]], list[str | None]]:
    """``run_macro(macro_file, macro_name, inputs)``: the macro applied to each input, in order."""
    con = duckdb.connect()

    def run(macro_file: str, macro: str, inputs: list[str | None]) -> list[str | None]:
        con.execute("create or replace temp table cases (i integer, input varchar)")
        con.executemany("insert into cases values (?, ?)", list(enumerate(inputs)))
        sql = dbt_macro_sql(macro_file, f"{macro}('input')")
        return [r[0] for r in con.execute(f"select {sql} from cases order by i").fetchall()]

    yield run
    con.close()
