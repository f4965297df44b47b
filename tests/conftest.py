"""How the whole suite shares two workers (`make test`: pytest -n 2 --dist loadgroup, pytest-xdist).

A worker is handed whole work units, one at a time. Every test belongs to one unit:

- a production test (marker ``production``) is in unit "production": one stack after another;
- a test marked ``xdist_group(name)`` is in unit ``name`` (tests/dags/test_daily_run.py: one per seed,
  so the two real Airflow runs go to the two workers);
- a module where a test uses one of SHARED_FIXTURES is in that fixture's unit: a session fixture is
  built once per worker, so all its users go to one worker and it is built once, as in a serial run;
- any other test is in its module's unit, so module-scoped fixtures are built once too.

The units go out longest first: the production stack (marker ``production``: it mostly waits on its
services), then the units holding a ``slow`` test or a shared fixture, then the rest in collection
order, which fill the gaps at the end.

xdist 3.8.0's own loadgroup no longer groups under pytest 9.2 (it renames node ids, which pytest 9.2
no longer lets it do; pytest-xdist issue 1386): the units are therefore written by the workers, which
collect, to a folder the controller names (``pytest_configure_node``), and read by the scheduler below.
A run without them fails rather than silently spreading a unit over both workers.
Without xdist nothing changes but the marks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Session fixtures of tens of seconds that several modules use; name -> the unit of their users.
SHARED_FIXTURES = {
    "real_run": "real-run",  # tests/review/conftest.py: one real pipeline run over the demo province
    "built_home": "dbt-built-home",  # tests/dbt/conftest.py: one real dbt build over the hand-made raw layer
}
UNITS_DIR = "fundwatch_units_dir"  # the key of the workers' input naming the folder
_units_key = pytest.StashKey[str]()  # the controller's folder


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _named_unit(item: pytest.Item) -> str | None:
    if item.get_closest_marker("production"):
        return "production"  # the stacks install Debian packages (apt-get: one at a time) and run one after another
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    return None


def _units(items: list[pytest.Item]) -> dict[pytest.Item, str]:
    """Every test's unit: its own, else its shared fixture's (for its whole module), else its module."""
    shared = {}
    for item in items:
        for fixture, unit in SHARED_FIXTURES.items():
            if fixture in item.fixturenames and _named_unit(item) is None:
                shared.setdefault(_module(item), unit)
    return {item: _named_unit(item) or shared.get(_module(item)) or _module(item) for item in items}


def _rank(item: pytest.Item, unit: str) -> int:
    if item.get_closest_marker("production"):
        return 0
    if item.get_closest_marker("slow") or unit in SHARED_FIXTURES.values():
        return 1
    return 2


def _loadgroup(config: pytest.Config) -> bool:
    """The controller of a loadgroup run (its workers run with dist "no")."""
    return getattr(config.option, "dist", "no") == "loadgroup" and not hasattr(config, "workerinput")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    units = _units(items)
    for item, unit in units.items():
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(unit))
    result = yield  # pytest orders by parametrized fixtures (and deselects) meanwhile
    workerinput = getattr(config, "workerinput", {})
    if UNITS_DIR not in workerinput:  # not a worker of a loadgroup run (the controller names the folder then)
        return result
    rank: dict[str, int] = {}
    for item in items:
        rank[units[item]] = min(_rank(item, units[item]), rank.get(units[item], 2))
    items.sort(key=lambda item: rank[units[item]])  # stable: pytest's order within a rank
    # The scheduler takes the units in this order (loadscope_reorder off).
    folder = Path(workerinput[UNITS_DIR])
    part = folder / f".{workerinput['workerid']}.json"
    part.write_text(json.dumps({item.nodeid: units[item] for item in items}), encoding="utf-8")
    part.replace(folder / f"{workerinput['workerid']}.json")
    return result


def pytest_configure(config: pytest.Config) -> None:
    if _loadgroup(config):
        config.stash[_units_key] = tempfile.mkdtemp(prefix="fundwatch-xdist-units-")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_units_key, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    node.workerinput[UNITS_DIR] = node.config.stash[_units_key]


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if not _loadgroup(config):
        return None
    from xdist.scheduler import LoadGroupScheduling

    class UnitScheduling(LoadGroupScheduling):
        """xdist's loadgroup with the units the workers wrote, in their order."""

        def __init__(self, config: pytest.Config, log) -> None:
            super().__init__(config, log)
            config.option.loadscopereorder = False
            self._units: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._units is None:
                folder = config.stash[_units_key]
                parts = sorted(f for f in os.listdir(folder) if f.endswith(".json") and not f.startswith("."))
                if not parts:
                    raise RuntimeError(f"no worker wrote its work units to {folder} (tests/conftest.py)")
                self._units = json.loads(Path(folder, parts[0]).read_text(encoding="utf-8"))
            if nodeid in self._units:
                return self._units[nodeid]
            return super()._split_scope(nodeid)  # an xdist that renames node ids itself again

    return UnitScheduling(config, log)
