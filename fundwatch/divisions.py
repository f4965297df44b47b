"""Hunan's administrative divisions as of 2020 (GB/T 2260), from ``ingestion/reference/``.

The one reader of ``hunan_divisions_2020.csv`` for the product package (names and levels of the
units the review service shows, the folders uploads land in, the names the rectification documents
and the digest address). Scope itself is ``fundwatch.scope``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from fundwatch import paths


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str
    prefecture_code: str
    prefecture_name: str


@lru_cache(maxsize=1)
def divisions() -> dict[str, Division]:
    """Hunan's 2020 divisions (GB/T 2260) by code."""
    path = paths.REFERENCE_DIR / "hunan_divisions_2020.csv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {r["code"]: Division(r["code"], r["name"], r["level"], r["prefecture_code"] or "",
                                    r["prefecture_name"] or "") for r in csv.DictReader(fh)}


def place_name(code: str | None) -> str:
    """The full place name: 湖南省, 长沙市, 长沙市长沙县; the code itself when unknown."""
    d = divisions().get(code or "")
    if d is None:
        return f"单位{code}" if code else "（未知单位）"
    if d.level == "county":
        return f"{d.prefecture_name}{d.name}"
    return d.name


def association_name(code: str | None) -> str:
    """The association of a unit, as a document addresses it: 长沙市长沙县计划生育协会."""
    return f"{place_name(code)}计划生育协会"
