"""The package import graph of ARCHITECTURE.md ("Package imports"), read from the source.

- The contract modules (``fundwatch.paths``, ``fundwatch.catalog``, ``fundwatch.masking``,
  ``ingestion.kinds``) import nothing of the project but each other: every part may use them.
- ``ingestion`` and ``expectations`` import nothing of ``fundwatch`` but the contract modules.
- ``fundwatch`` runs the heavy parts only inside functions: ``expectations`` only from the
  validation stage and its benchmark, ``ingestion`` (but its kinds) only from the stages and commands
  that load files (and the dbt stage reading the raw layer's signature); ``fundwatch.uploads`` (the
  upload check: ingestion's check on one file) is the one part that uses the readers and the checker
  at module level.
- No cycle among module-level imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from fundwatch.paths import REPO_ROOT

PACKAGES = ("fundwatch", "ingestion", "expectations")
CONTRACTS = {"fundwatch.paths", "fundwatch.catalog", "fundwatch.masking", "ingestion.kinds"}
# module -> packages it may import inside functions (it runs that part's work)
LAZY_EXPECTATIONS = {"fundwatch.pipeline", "fundwatch.bench"}
# fundwatch.warehouse: the dbt stage asks the raw layer for its signature (ingestion.schema.raw_signatures)
LAZY_INGESTION = {"fundwatch.pipeline", "fundwatch.bench", "fundwatch.cli", "fundwatch.warehouse"}
# The upload check is ingestion's own check applied to one file: fundwatch.uploads uses the readers and
# the checker at module level; the review page imports fundwatch.uploads only inside its routes.
INGESTION_USERS = ("fundwatch.uploads",)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import of the project's packages in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                # `from fundwatch import state` imports fundwatch.state
                names = [f"{child.module}.{a.name}" if _is_module(f"{child.module}.{a.name}") else child.module
                         for a in child.names]
            out.extend((n, top) for n in names if n.split(".")[0] in PACKAGES)
            visit(child, inner)

    visit(tree, True)
    return out


def _is_module(name: str) -> bool:
    base = REPO_ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


GRAPH = {
    _module_name(p): _imports(p)
    for pkg in PACKAGES
    for p in sorted((REPO_ROOT / pkg).rglob("*.py"))
}


def test_the_graph_is_read():
    assert {"fundwatch.pipeline", "fundwatch.catalog", "expectations.validate", "ingestion.load"} <= set(GRAPH)
    assert ("fundwatch.catalog", True) in GRAPH["expectations.suites"]
    assert ("expectations.validate", False) in GRAPH["fundwatch.pipeline"]


@pytest.mark.parametrize("module", sorted(CONTRACTS))
def test_contract_modules_import_only_each_other(module):
    assert {m for m, _ in GRAPH[module]} <= CONTRACTS - {module}, GRAPH[module]


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.split(".")[0] in ("ingestion", "expectations")))
def test_ingestion_and_expectations_use_only_the_contracts_of_fundwatch(module):
    reach = sorted({m for m, _ in GRAPH[module] if m.split(".")[0] == "fundwatch" and m not in CONTRACTS})
    assert reach == [], f"{module} reaches into {reach}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.split(".")[0] == "fundwatch"))
def test_fundwatch_runs_the_heavy_parts_only_inside_its_stages(module):
    for imported, top in GRAPH[module]:
        if imported in CONTRACTS or imported.split(".")[0] == "fundwatch":
            continue
        if imported.split(".")[0] == "ingestion" and module.startswith(INGESTION_USERS):
            continue
        assert not top, f"{module} imports {imported} at module level"
        allowed = LAZY_EXPECTATIONS if imported.startswith("expectations") else LAZY_INGESTION
        assert module in allowed, f"{module} imports {imported}"


def test_no_cycle_among_module_level_imports():
    edges = {m: {i for i, top in imps if top and i in GRAPH and i != m} for m, imps in GRAPH.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(edges[m]):
            assert state.get(n) != 1, "import cycle: " + " -> ".join([*path, m, n])
            if n not in state:
                visit(n, [*path, m])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [])


def test_the_review_page_loads_neither_gx_nor_ingestion():
    code = ("import sys, fundwatch.review, fundwatch.review.app; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'expectations', 'ingestion', "
            "'great_expectations', 'dbt'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
