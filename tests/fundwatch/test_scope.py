"""fundwatch.scope: the three levels of interface.md, in Python and as SQL on the same cases."""

from __future__ import annotations

import sqlite3

import pytest

from fundwatch import scope

CASES = [
    pytest.param("430000", "430121", True, id="province-sees-county"),
    pytest.param("430000", None, True, id="province-sees-unknown-unit"),
    pytest.param("430100", "430100", True, id="city-sees-itself"),
    pytest.param("430100", "430121", True, id="city-sees-its-county"),
    pytest.param("430100", "430221", False, id="city-not-other-city-county"),
    pytest.param("430100", "430000", False, id="city-not-province"),
    pytest.param("430100", None, False, id="city-not-unknown-unit"),
    pytest.param("433100", "433122", True, id="xiangxi-sees-its-county"),
    pytest.param("430121", "430121", True, id="county-sees-itself"),
    pytest.param("430121", "430122", False, id="county-not-neighbour"),
    pytest.param("430121", "430100", False, id="county-not-its-city"),
    pytest.param("430121", "4301211", False, id="county-not-a-longer-code"),
]


@pytest.mark.parametrize(("viewer", "unit", "expected"), CASES)
def test_covers_and_sql_agree(viewer, unit, expected):
    assert scope.covers(viewer, unit) is expected
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (unit_code TEXT)")
    con.execute("INSERT INTO t VALUES (?)", (unit,))
    where, params = scope.sql_filter(viewer)
    assert con.execute(f"SELECT count(*) FROM t WHERE {where}", params).fetchone()[0] == int(expected)


@pytest.mark.parametrize("bad", ["43000", "4300000", "abcdef", "", None])
def test_a_viewer_needs_a_six_digit_unit(bad):
    with pytest.raises(ValueError):
        scope.level(bad)


def test_levels():
    assert scope.level("430000") is scope.Level.province
    assert scope.level("431300") is scope.Level.prefecture
    assert scope.level("431321") is scope.Level.county
