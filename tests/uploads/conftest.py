"""Fixtures for the upload tests: a fresh home, and files filled like a clerk fills a template."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The test modules import their builders from upload_files.py beside this file (importlib mode).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fundwatch.paths import Home


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Home:
    monkeypatch.delenv("FUNDWATCH_INBOX", raising=False)
    return Home(tmp_path / "home").ensure()
