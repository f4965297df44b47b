"""`fundwatch bench` keeps the interface.md contract: a table of stages, last line ratio_vs_duckdb=X.XX."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_prints_every_stage_and_ends_with_the_ratio(tmp_path):
    exe = str(Path(sys.executable).with_name("fundwatch"))
    proc = subprocess.run([exe, "bench", "--payments", "300", "--home", str(tmp_path / "home")],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert re.fullmatch(r"ratio_vs_duckdb=\d+\.\d\d", lines[-1]), lines[-1]
    stages = {ln.split()[0] for ln in lines}
    assert {"ingest", "dbt_build", "validate", "export", "docs"} <= stages
    ingest = next(ln for ln in lines if ln.startswith("ingest"))
    seconds, per_s, peak_mb = (float(x.replace(",", "")) for x in ingest.split()[1:4])
    assert seconds > 0 and per_s > 0 and peak_mb > 10  # measured, not made up
    # issue 6: GX's checkpoint run beside the same work in plain DuckDB, and their ratio
    validation = next(ln for ln in lines if ln.startswith("validation: GX checkpoint"))
    gx_s, plain_s, ratio = (float(x) for x in re.findall(r"(\d+\.\d+)", validation))
    assert gx_s > 0 and plain_s > 0 and abs(ratio - gx_s / plain_s) < 0.05 * ratio + 0.02
    # issue 17: the day after (one new file of 2,000 payments, every stage again) against the full run,
    # just before the last line; and Airflow's own overhead per run, measured through a real run
    day_after = re.fullmatch(r"day_after: seconds=(\d+\.\d\d) full=(\d+\.\d\d) ratio=(\d+\.\d+)", lines[-2])
    assert day_after, lines[-2]
    after_s, full_s, share = (float(x) for x in day_after.groups())
    assert 0 < after_s and 0 < full_s and abs(share - after_s / full_s) < 0.002
    stages_after = next(ln for ln in lines if ln.startswith("day_after stages: "))
    assert "2,000 new payments" in stages_after and "dbt_build" in stages_after
    airflow = next(ln for ln in lines if ln.startswith("airflow: one run "))
    wall, stages, overhead = (float(x) for x in re.findall(r"(\d+\.\d) s", airflow)[:3])
    assert wall > stages > 0 and abs(overhead - (wall - stages)) < 0.11


def test_state_history_bench_records_the_days_and_prints_its_slope(tmp_path, capsys):
    """``python -m fundwatch.bench_state``: each day recorded as the export stage records it (the state
    then says what fired), and a last line with the slope of the daily seconds and the state's growth."""
    from fundwatch import bench_state, state

    db = tmp_path / "state.sqlite"
    out = bench_state.run(findings=400, days=4, db=db)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and lines[0].startswith("day   1:")
    assert re.fullmatch(r"state_history: findings=400 days=4 mean_s=\d+\.\d\d slope_s_per_day=[+-]\d+\.\d{3} "
                        r"state_mb_per_day=[+-]\d+\.\d\d", lines[-1]), lines[-1]
    assert out["mean_s"] > 0
    firing = int(re.search(r"firing (\d+)", lines[-2]).group(1))
    assert len(state.export_rows(db)) == firing > 0
