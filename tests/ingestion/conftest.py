"""Fixtures for ingestion tests: an empty inbox and a warehouse bound to it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest may run with --import-mode=importlib: make the helper module importable by the tests here.
sys.path.insert(0, str(Path(__file__).parent))
from ingest_helpers import Warehouse  # noqa: E402


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    p = tmp_path / "inbox"
    p.mkdir()
    return p


@pytest.fixture
def wh(inbox: Path, tmp_path: Path) -> Warehouse:
    return Warehouse(inbox, tmp_path / "home" / "warehouse.duckdb")
