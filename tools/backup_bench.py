"""The daily backup's cost with N MB of uploads (README "Measurements").

A temporary home with one run and ``--mb`` MB of synthetic uploads kept as the page keeps them
(random bytes, as incompressible as xlsx, 50 KB–2 MB each, content-addressed), then three daily
backups: the first, one after 10 MB more arrived, one after nothing arrived. Prints wall and CPU
time, the day's tar and the whole backups folder. Needs about twice ``--mb`` of disk; the home is
deleted at the end.

    .venv/bin/python tools/backup_bench.py --mb 1000 --home /tmp/backup-bench
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import time
from datetime import date
from pathlib import Path

from fundwatch import backup, state
from fundwatch.paths import Home
from fundwatch.uploads.store import keep


def add_uploads(home: Home, mb: int, seed: int) -> None:
    rnd, total = random.Random(seed), 0  # noqa: S311 (file sizes, not secrets)
    while total < mb * 1e6:
        data = os.urandom(rnd.randint(50_000, 2_000_000))
        keep(home, data, hashlib.sha256(data).hexdigest(), "xlsx")
        total += len(data)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=500, help="MB of uploads before the first backup")
    ap.add_argument("--home", required=True, help="temporary home (deleted at the end)")
    args = ap.parse_args()
    root = Path(args.home)
    shutil.rmtree(root, ignore_errors=True)
    home = Home(root).ensure()
    try:
        state.record_run(home.state_db, run_id="d1", run_date=date(2021, 4, 30), findings=[])
        add_uploads(home, args.mb, 1)
        for day, new_mb in ((1, 0), (2, 10), (3, 0)):
            add_uploads(home, new_mb, 100 + day)
            time.sleep(1.1)  # backup names carry the second they were taken
            os.sync()
            t0, c0 = time.perf_counter(), time.process_time()
            info = backup.backup_after_run(home, date(2021, 5, day))
            stored = info.stored or (0, 0)
            print(f"uploads={args.mb}MB day{day} (+{new_mb}MB): wall={time.perf_counter() - t0:.2f}s "
                  f"cpu={time.process_time() - c0:.2f}s tar={info.bytes / 1e6:.1f}MB "
                  f"backups_dir={folder_bytes(home.backups_dir) / 1e6:.1f}MB "
                  f"stored={stored[0]}/{stored[1] / 1e6:.1f}MB", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
