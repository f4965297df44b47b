"""Runs older than the Data Docs index leave the folders GX lists each run; nothing is lost."""

from __future__ import annotations

from datetime import date, timedelta

from expectations.run_archive import archive_old_runs, results_dir, run_date_of, run_name
from fundwatch.paths import Home

SUITES = ("fundwatch_files", "fundwatch_payments")
FIRST = date(2021, 1, 1)
STAMP = "20201231T220000.000000Z"  # one folder per run time; its name does not matter here


def _stored(home: Home, days: int, first: int = 0) -> list[str]:
    """Daily runs ``first`` .. ``days - 1`` as GX stores them: a result per suite and its Data Docs page."""
    names = [run_name(FIRST + timedelta(days=i)) for i in range(first, days)]
    for suite in SUITES:
        for name in names:
            result = results_dir(home) / suite / name / STAMP / "warehouse.json"
            page = home.gx_docs_dir / "validations" / suite / name / STAMP / "warehouse.html"
            for path, text in ((result, f'{{"run": "{name}"}}'), (page, f"<html>{name}</html>")):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return names


def _runs(folder) -> set[str]:
    return {p.name for p in folder.glob("*/*") if p.is_dir()}


def test_the_stores_keep_the_newest_days_whatever_was_run_before(tmp_path):
    home = Home(tmp_path / "h").ensure()
    names = _stored(home, 200)
    (results_dir(home) / ".ge_store_backend_id").write_text("store_backend_id = x\n", encoding="utf-8")
    (results_dir(home) / SUITES[0] / "not-a-run").mkdir()

    assert archive_old_runs(home, 92, names[-1]) == 200 - 92
    assert _runs(results_dir(home)) == set(names[-92:]) | {"not-a-run"}  # not a run of ours: left alone
    assert _runs(home.gx_docs_dir / "validations") == set(names[-92:])
    archived = home.gx_archive_dir / "validations"
    assert _runs(archived) == _runs(home.gx_docs_archive_dir / "validations") == set(names[:-92])
    one = f"{SUITES[1]}/{names[0]}/{STAMP}"
    assert (archived / one / "warehouse.json").read_text(encoding="utf-8") == f'{{"run": "{names[0]}"}}'
    page = home.gx_docs_archive_dir / "validations" / one / "warehouse.html"
    assert page.read_text(encoding="utf-8") == f"<html>{names[0]}</html>"
    assert (results_dir(home) / ".ge_store_backend_id").exists()

    # a day later: one more run in, one out; nothing else moves
    [new] = _stored(home, 201, first=200)
    assert archive_old_runs(home, 92, new) == 1
    assert _runs(results_dir(home)) - {"not-a-run"} == set(names[-91:]) | {new}


def test_a_re_run_of_an_archived_date_stays_for_its_own_index_then_replaces_the_archived_copy(tmp_path):
    home = Home(tmp_path / "h").ensure()
    names = _stored(home, 5)
    archive_old_runs(home, 2, names[-1])
    result = results_dir(home) / SUITES[0] / names[0] / STAMP / "warehouse.json"
    result.parent.mkdir(parents=True)
    result.write_text('{"run": "again"}', encoding="utf-8")  # GX's result of the re-run

    assert archive_old_runs(home, 2, names[0]) == 0  # this run's own: the index's overview links to it
    assert archive_old_runs(home, 2, run_name(FIRST + timedelta(days=5))) == 1
    archived = home.gx_archive_dir / "validations" / SUITES[0] / names[0] / STAMP / "warehouse.json"
    assert archived.read_text(encoding="utf-8") == '{"run": "again"}'
    assert _runs(results_dir(home)) == set(names[-2:])


def test_run_names_round_trip():
    assert run_name(date(2021, 4, 30)) == "fundwatch-2021-04-30"
    assert run_date_of("fundwatch-2021-04-30") == date(2021, 4, 30)
    assert run_date_of("fundwatch-latest") is None and run_date_of("other-2021-04-30") is None
