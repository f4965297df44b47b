"""Defer the modules GX imports at module level but the fundwatch suites never run.

``import great_expectations`` executes every expectation module GX ships, so the validation process
would pay for scipy.stats (the KL-divergence and KS-test expectations), altair (the KL-divergence
expectation's chart), jsonschema (the JSON-schema expectation) and mistune (markdown in rendered
content) on every run: about 1 s of CPU of a ~3 s import (README, "Speed"). The suites here use one
expectation, :class:`expectations.suites.ExpectRuleNotToFire`, which needs none of them.

:func:`install` puts a finder in front of ``sys.meta_path`` that hands out these modules through
:class:`importlib.util.LazyLoader`: the import succeeds at once and the module is executed, whole and
unchanged, the first time anything reads one of its attributes. Nothing is stubbed: code that uses
one of them gets the real module (``tests/expectations/test_lazy_imports.py`` proves each is still
loaded on use). Only the validation process installs it (``expectations.validate.main``), before GX
is imported; no other process is touched.

Only modules reached by ``import X`` or ``from package import X`` gain anything: ``from X import name``
reads an attribute and executes X at once. A module listed here that GX starts reading at import
time simply stops being deferred (the test on the validation process then fails, saying which).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from types import ModuleType

# The exact module names deferred (not their submodules: once one is executed, its own imports are
# ordinary ones).
DEFERRED = ("scipy.stats", "altair", "jsonschema", "mistune")


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds a deferred module with the finders after it and wraps its loader in a LazyLoader."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in DEFERRED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return spec  # a loader LazyLoader cannot wrap: imported as usual
            spec.loader = importlib.util.LazyLoader(spec.loader)
            return spec
        return None


def install() -> None:
    """Defer the modules of ``DEFERRED`` in this process from now on (idempotent)."""
    if not any(isinstance(f, _DeferringFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeferringFinder())


def is_deferred(module: ModuleType | None) -> bool:
    """True while ``module`` was imported through the finder and has not been executed yet."""
    return isinstance(module, importlib.util._LazyModule)  # noqa: SLF001 - the only way to tell
