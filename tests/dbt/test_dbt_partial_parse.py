"""A new run date keeps dbt's partial parse: the date reaches dbt in the environment, not in --vars
(which make dbt throw the saved parse away and re-parse the whole project every day), and the compiled
SQL in the docs still shows the date the as-of rules used."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import timedelta

from dbt_fixture_raw import RUN_DATE

from fundwatch.paths import Home
from fundwatch.warehouse import dbt_docs


def test_the_next_day_reuses_the_partial_parse_and_the_docs_show_its_date(built_home, tmp_path, caplog):
    home = Home(tmp_path / "home").ensure()
    shutil.copyfile(built_home.warehouse, home.warehouse)
    dbt_docs(home, RUN_DATE)  # the day before: dbt parses the project and saves the parse
    saved = home.dbt_target_dir / "partial_parse.msgpack"
    before = saved.stat().st_mtime_ns
    next_day = RUN_DATE + timedelta(days=1)

    with caplog.at_level(logging.INFO, logger="fundwatch.warehouse"):
        dbt_docs(home, next_day)

    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "Unable to do partial parsing" not in said
    assert saved.stat().st_mtime_ns == before  # the saved parse was read, not rewritten
    manifest = json.loads((home.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))
    compiled = manifest["nodes"]["model.fundwatch.roster_entries"]["compiled_code"]
    assert f"cast('{next_day.isoformat()}' as date)" in compiled
    assert f"cast('{RUN_DATE.isoformat()}' as date)" not in compiled
