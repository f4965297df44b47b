"""Fixtures for ingestion tests: an empty inbox and a warehouse bound to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import Warehouse


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    p = tmp_path / "inbox"
    p.mkdir()
    return p


@pytest.fixture
def wh(inbox: Path, tmp_path: Path) -> Warehouse:
    return Warehouse(inbox, tmp_path / "home" / "warehouse.duckdb")
