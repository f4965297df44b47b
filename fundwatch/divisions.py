"""Hunan's administrative divisions as of 2020 (GB/T 2260), from ``ingestion/reference/``.

The one reader of ``hunan_divisions_2020.csv`` for the product package (names and levels of the
units the review service shows and the folders uploads land in). Scope itself is ``fundwatch.scope``.
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
