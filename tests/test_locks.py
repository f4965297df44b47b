"""The locks (README "Dependencies"): runtime for the production image, development on top, and the
installer (uv) that make installs them with.

Every pin carries its hashes (pip's hash-checking mode); nothing the product runs needs a package
that only the development lock installs; pyproject.toml's pins are the locks' pins.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fundwatch.paths import REPO_ROOT

DEV_TOOLS = {"pytest", "pytest-xdist", "ruff", "playwright", "openpyxl", "aiosmtpd", "sqlfluff",
             "sqlfluff-templater-dbt"}


def _lock(name: str) -> dict[str, tuple[str, int]]:
    """package -> (version, number of hashes)."""
    out: dict[str, tuple[str, int]] = {}
    current = None
    for line in (REPO_ROOT / name).read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^([A-Za-z0-9._-]+)(?:\[[^]]*\])?==([^ ;\\]+)", line):
            current = canonicalize_name(m[1])
            out[current] = (m[2], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            out[current] = (out[current][0], out[current][1] + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"{name}: unexpected line {line!r}")
    return out


RUNTIME, DEV, INSTALLER = _lock("requirements.lock"), _lock("requirements-dev.lock"), _lock("requirements-uv.lock")
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock", "requirements-uv.lock"])
def test_every_pin_carries_its_hashes(lock):
    pins = _lock(lock)
    assert pins
    assert [p for p, (_, hashes) in pins.items() if hashes == 0] == []


def test_the_runtime_lock_holds_no_development_tool_and_the_locks_do_not_overlap():
    assert DEV_TOOLS <= set(DEV)
    assert DEV_TOOLS & set(RUNTIME) == set()
    assert set(RUNTIME) & set(DEV) == set()
    assert set(INSTALLER) == {"uv"}  # uv alone: pip installs it with its hashes, uv the rest


def test_pyproject_pins_are_the_locks_pins():
    groups = PYPROJECT["dependency-groups"]
    for reqs, lock in ((PYPROJECT["project"]["dependencies"] + groups["build"], RUNTIME), (groups["dev"], DEV),
                       (groups["installer"], INSTALLER)):
        for text in reqs:
            req = Requirement(text)
            name = canonicalize_name(req.name)
            assert name in lock, f"{name} is not in its lock"
            assert str(req.specifier) == f"=={lock[name][0]}", f"{name}: {req.specifier} vs {lock[name][0]}"


def _top_level_imports() -> set[str]:
    names: set[str] = set()
    for pkg in ("fundwatch", "ingestion", "expectations", "dags"):
        for path in (REPO_ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names


def test_the_product_imports_nothing_only_the_development_lock_installs():
    """openpyxl, pytest, playwright ... are for tests: the production image does not have them."""
    dev_only_modules = {
        module for module, dists in md.packages_distributions().items()
        if {canonicalize_name(d) for d in dists} <= set(DEV)
    }
    assert {"openpyxl", "pytest", "playwright", "sqlfluff"} <= dev_only_modules
    assert sorted(_top_level_imports() & dev_only_modules) == []
