from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib: make the reader module importable by the tests here.
sys.path.insert(0, str(Path(__file__).parent))

from fundwatch.generator import GeneratedInbox, generate


@dataclass(frozen=True)
class Generated:
    result: GeneratedInbox
    root: Path
    findings: list[dict[str, str]]
    manifest: list[dict[str, str]]


def _load(root: Path, result: GeneratedInbox) -> Generated:
    with open(result.expected_findings, encoding="utf-8", newline="") as fh:
        findings = list(csv.DictReader(fh))
    with open(root / "manifest.csv", encoding="utf-8", newline="") as fh:
        manifest = list(csv.DictReader(fh))
    return Generated(result, root, findings, manifest)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """The demo inbox at test size (seed 2020, 400 payments, run date 2021-04-30)."""
    root = tmp_path_factory.mktemp("demo")
    return _load(root, generate(root, seed=2020, payments=400))
