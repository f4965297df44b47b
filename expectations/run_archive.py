"""Runs older than the Data Docs window leave GX's stores, for an archive GX never walks.

On every run GX lists the key of every stored validation result (several times: the page builder,
the index builder) and of every Data Docs page, parsing each key's run time, and the index builder
deletes any page whose result it does not find. With a year of daily runs that listing alone cost
~1 s of CPU a run, growing every day (README, Measurements). So after each run the results of the
runs outside the newest ``keep`` run dates (the runs the index lists) move, with their pages, to

- ``HOME/gx/archive/validations/<suite>/<run>/...``: the validation results, as GX wrote them;
- ``HOME/gx/archive/docs/validations/<suite>/<run>/...``: their Data Docs pages, already localised.

Nothing is deleted: an auditor traces a finding to any day's result on disk, and the review page
serves an archived page at the URL it had under ``/docs/gx/`` (``fundwatch.review.docs``). Re-running
an archived date makes GX write its result and page anew; the next run archives them again, in place
of the earlier copies.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from fundwatch.paths import Home

RUN_PREFIX = "fundwatch-"


def run_name(run_date: date) -> str:
    """The GX run name of a day's validation (a folder name in the stores and the archive)."""
    return f"{RUN_PREFIX}{run_date.isoformat()}"


def run_date_of(name: str) -> date | None:
    """The run date of a run name, None for a folder that is not one of our runs."""
    if not name.startswith(RUN_PREFIX):
        return None
    try:
        return date.fromisoformat(name[len(RUN_PREFIX):])
    except ValueError:
        return None


def results_dir(home: Home) -> Path:
    """The validation results store GX lists on every run."""
    return home.gx_dir / "validations"


def _dirs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


def _move(src: Path, dst: Path) -> None:
    """``src`` to ``dst``, replacing an earlier copy there (a re-run of an archived date)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        shutil.rmtree(dst)
    src.rename(dst)


def archive_old_runs(home: Home, keep: int, current: str) -> int:
    """Move the results and pages of every run but the newest ``keep`` run dates and ``current`` (this
    run's name: the index's overview links to its pages) to the archive; returns the runs moved.

    Only the stores' own folders are listed (a bounded number of runs), never the archive. A page moves
    before its result: GX deletes a page whose result it no longer finds in the store.
    """
    runs = {run.name for suite in _dirs(results_dir(home)) for run in _dirs(suite) if run_date_of(run.name)}
    kept = set(sorted(runs, key=run_date_of, reverse=True)[:keep]) | {current}
    moved = set()
    for suite in _dirs(results_dir(home)):
        for run in _dirs(suite):
            if run.name not in runs or run.name in kept:
                continue
            page = home.gx_docs_dir / "validations" / suite.name / run.name
            if page.is_dir():
                _move(page, home.gx_docs_archive_dir / "validations" / suite.name / run.name)
            _move(run, home.gx_archive_dir / "validations" / suite.name / run.name)
            moved.add(run.name)
    return len(moved)
