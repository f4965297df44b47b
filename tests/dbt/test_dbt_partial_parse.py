"""A new run date keeps dbt's partial parse: the date reaches dbt in the environment, not in --vars
(which make dbt throw the saved parse away and re-parse the whole project every day), and the compiled
SQL in the docs still shows the date the as-of rules used; the templates dbt compiled are read by the
next dbt process, of any home. After a build, the docs of its date are put together from the build's
manifest without running dbt again, and say what dbt's own page says."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import timedelta
from pathlib import Path

from dbt_fixture_raw import RUN_DATE

from fundwatch import warehouse
from fundwatch.paths import Home
from fundwatch.warehouse import dbt_build, dbt_docs, project_fingerprint


def _inlined(page: Path) -> tuple[dict, dict]:
    """(manifest, catalog) as inlined in a static docs page (where dbt's template holds them)."""
    from dbt.task.docs import DOCS_INDEX_FILE_PATH

    template = Path(DOCS_INDEX_FILE_PATH).read_text(encoding="utf-8")
    html = page.read_text(encoding="utf-8")
    m_at = template.index('"MANIFEST.JSON INLINE DATA"')
    gap = template.index('"CATALOG.JSON INLINE DATA"') - (m_at + len('"MANIFEST.JSON INLINE DATA"'))
    manifest, end = json.JSONDecoder().raw_decode(html, m_at)
    catalog, _ = json.JSONDecoder().raw_decode(html, end + gap)
    return manifest, catalog


def _new_home(root: Path, built_home: Home) -> Home:
    home = Home(root).ensure()
    shutil.copyfile(built_home.warehouse, home.warehouse)
    # its incremental tables were built by this project (fundwatch.warehouse's marker), so a build there
    # is a day's incremental build, whose compiled SQL is what `dbt docs generate` compiles
    marker = "fundwatch_incremental_of"
    shutil.copyfile(built_home.dbt_target_dir / marker, home.dbt_target_dir / marker)
    return home


def _unit_tests_run(home: Home) -> list[str]:
    results = json.loads((home.dbt_target_dir / "run_results.json").read_text(encoding="utf-8"))["results"]
    return [r["unique_id"] for r in results if r["unique_id"].startswith("unit_test.")]


def test_the_next_day_and_another_home_reuse_the_parse_and_the_docs_show_its_date(
        built_home, tmp_path, caplog, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))  # what this machine's homes share: nothing yet
    first = _new_home(tmp_path / "first", built_home)
    dbt_build(first, RUN_DATE)  # the day before, in another home: dbt parses the project and saves the parse
    assert _unit_tests_run(first)  # no home of this machine had passed them
    shared = warehouse._shared_dir(project_fingerprint())
    assert shared.parent == cache / "fundwatch" / "dbt"
    assert sorted(f.name for f in shared.iterdir()) == ["partial_parse.msgpack", "templates", "unit_tests_passed"]
    compiled_once = {f.name: f.stat().st_ino for f in (shared / "templates").iterdir()}
    assert len(compiled_once) > 100  # every macro the build called and every node's SQL
    assert (shared / "partial_parse.msgpack").read_bytes() == (
        first.dbt_target_dir / "partial_parse.msgpack").read_bytes()

    # A new home elsewhere (another path to its warehouse), the next day: it starts from that parse.
    home = _new_home(tmp_path / "second" / "home", built_home)
    next_day = RUN_DATE + timedelta(days=1)
    caplog.clear()  # what the day before said (captured when logging is at INFO, as after Airflow set it up)
    with caplog.at_level(logging.INFO, logger="fundwatch.warehouse"):
        dbt_docs(home, next_day)

    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "Found " in said  # dbt parsed the project, and what it said was heard
    assert "沿用本机同一版本项目的解析结果" in said
    assert "Unable to do partial parsing" not in said
    # the saved parse was read, not rewritten (a new parse holds its own time and invocation)
    assert (home.dbt_target_dir / "partial_parse.msgpack").read_bytes() == (
        shared / "partial_parse.msgpack").read_bytes()
    manifest = json.loads((home.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))
    compiled = manifest["nodes"]["model.fundwatch.roster_entries"]["compiled_code"]
    assert f"cast('{next_day.isoformat()}' as date)" in compiled
    assert f"cast('{RUN_DATE.isoformat()}' as date)" not in compiled

    # The daily run: a build, then the docs of its date from the build's own manifest (no dbt run).
    by_dbt = _inlined(home.dbt_docs_dir / "index.html")
    dbt_build(home, next_day)
    assert not _unit_tests_run(home)  # the project version passed them in the other home
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fundwatch.warehouse"):
        page = dbt_docs(home, next_day)
    assert not [r for r in caplog.records if r.getMessage().startswith("running dbt")]
    manifest, catalog = _inlined(page)
    models = {u: n["compiled_code"] for u, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    assert models == {u: n["compiled_code"] for u, n in by_dbt[0]["nodes"].items() if n["resource_type"] == "model"}
    assert f"cast('{next_day.isoformat()}' as date)" in models["model.fundwatch.roster_entries"]
    assert catalog["nodes"] == by_dbt[1]["nodes"]
    # the other home's dbt read the templates the first compiled (none written again)
    assert {f.name: f.stat().st_ino for f in (shared / "templates").iterdir()
            if f.name in compiled_once} == compiled_once
