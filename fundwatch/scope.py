"""Who sees what: a person's unit decides the findings, files and records in their scope.

The contract is ``../shared/spec/interface.md`` ("People and their scope"):

- ``430000`` (the province) sees everything, including records with no known unit;
- a 市州 code (``43xx00``, e.g. ``430100``) sees its own records and those of the counties under it
  (codes sharing its first four digits);
- any other code (a county, e.g. ``430121``) sees its own only.

Every route, export, document, attachment and upload asks this module; nothing else decides scope.
Out of scope is answered exactly like "does not exist" (404) by the callers.
"""

from __future__ import annotations

import re
from enum import StrEnum

PROVINCE = "430000"
_CODE = re.compile(r"^\d{6}$")


class Level(StrEnum):
    province = "province"
    prefecture = "prefecture"
    county = "county"


def is_unit_code(code: object) -> bool:
    """A 6-digit division code (as text)."""
    return isinstance(code, str) and bool(_CODE.match(code))


def level(unit: str) -> Level:
    """The level of a unit code: the province, a 市州 (``xxyy00``) or a county."""
    if not is_unit_code(unit):
        raise ValueError(f"单位代码必须是 6 位数字 (unit code must be 6 digits): {unit!r}")
    if unit == PROVINCE:
        return Level.province
    if unit.endswith("00"):
        return Level.prefecture
    return Level.county


def covers(viewer_unit: str, unit_code: str | None) -> bool:
    """True when a person of ``viewer_unit`` may see a record of ``unit_code`` (None: unknown unit)."""
    lv = level(viewer_unit)
    if lv is Level.province:
        return True
    if not is_unit_code(unit_code):
        return False
    if lv is Level.prefecture:
        return unit_code[:4] == viewer_unit[:4]
    return unit_code == viewer_unit


def covers_all(viewer_unit: str) -> bool:
    """True when a person of ``viewer_unit`` sees every unit's records (the province)."""
    return level(viewer_unit) is Level.province


def sql_filter(viewer_unit: str, column: str = "unit_code") -> tuple[str, list[str]]:
    """A SQL condition (SQLite or DuckDB) and its parameters restricting ``column`` to the scope.

    ``column`` is an identifier of ours (never user input).
    """
    lv = level(viewer_unit)
    if lv is Level.province:
        return "1 = 1", []
    if lv is Level.prefecture:
        return f"({column} IS NOT NULL AND length({column}) = 6 AND substr({column}, 1, 4) = ?)", [viewer_unit[:4]]
    return f"{column} = ?", [viewer_unit]
