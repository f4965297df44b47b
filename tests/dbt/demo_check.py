"""Manual end-to-end check (not part of the test run): generator -> ingestion -> dbt, compared with
the generator's independent expected findings.

    .venv/bin/python tests/dbt/demo_check.py [PAYMENTS] [SEED] [WORK_DIR]

Prints the findings dbt produced that were not expected (+) and those missing (-); the keys may
hold ID numbers, so they are masked.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from fundwatch.generator import generate
from fundwatch.paths import Home
from fundwatch.warehouse import dbt_build, mask_line
from ingestion.load import load_inbox


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 2020
    root = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(tempfile.mkdtemp(prefix="fundwatch-demo-check-"))
    home = Home(root / "home").ensure()
    home.warehouse.unlink(missing_ok=True)
    gen = generate(root / "gen", payments=n, seed=seed)
    t0 = time.perf_counter()
    load_inbox(gen.inbox, home.warehouse, run_id="demo-check")
    t1 = time.perf_counter()
    dbt_build(home, date(2021, 4, 30))
    t2 = time.perf_counter()
    con = duckdb.connect(str(home.warehouse), read_only=True)
    got = {
        (r, t, k, str(a), f or "", "" if row is None else str(row))
        for r, t, k, a, f, row in con.execute(
            "select rule_id, subject_type, subject_key, amount_at_risk, source_file, source_row from marts.fct_findings"
        ).fetchall()
    }
    con.close()
    with gen.expected_findings.open(encoding="utf-8") as fh:
        expected = {
            (r["rule_id"], r["subject_type"], r["subject_key"],
             str(Decimal(r["amount_at_risk"]).quantize(Decimal("0.01"))), r["source_file"], r["source_row"])
            for r in csv.DictReader(fh)
        }
    print(f"ingest {t1 - t0:.1f}s, dbt build {t2 - t1:.1f}s; findings {len(got)}, expected {len(expected)}")
    for sign, rows in (("-", expected - got), ("+", got - expected)):
        for row in sorted(rows):
            print(sign, mask_line(" ".join(row)))
    return 0 if got == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
