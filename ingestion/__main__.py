"""``python -m ingestion --inbox DIR [--home DIR] [--run-id ID]``: load an inbox without Airflow.

``fundwatch ingest`` and the DAG call the same :func:`ingestion.load_inbox`; this entry point is
for engineers (progress on stderr, the one-line Chinese summary on stdout).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from fundwatch.paths import Home
from ingestion.load import SHANGHAI, load_inbox


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ingestion", description="收件箱 -> 数据仓库 raw 层")
    ap.add_argument("--inbox", type=Path, required=True, help="landing folder (sub-folders included)")
    ap.add_argument("--home", type=Path, default=None, help="installation home (warehouse.duckdb inside)")
    ap.add_argument("--run-id", default=None, help="load run id recorded in the lineage columns")
    args = ap.parse_args(argv)
    home = Home.resolve(args.home)
    home.root.mkdir(parents=True, exist_ok=True)
    run_id = args.run_id or f"ingest-{datetime.now(SHANGHAI):%Y%m%dT%H%M%S}"
    report = load_inbox(args.inbox, home.warehouse, run_id=run_id,
                        progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(report.summary_zh())
    return 0


if __name__ == "__main__":
    sys.exit(main())
