"""The findings state over many days: does a day's ``record_run`` follow what changed, or history?

``python -m fundwatch.bench_state --findings 200000 --days 30 --db SCRATCH/state.sqlite``

A synthetic province: ``--findings`` subjects of which about half fire; each day about 1 % of them
change (half change their amount, half start or stop firing), and the day is recorded as the export
stage records it (``fundwatch.pipeline.iter_findings``): findings whose fingerprint the state holds
come as id and fingerprint only, the others whole. Prints each day's seconds (wall and CPU) and the
state's size, then the least-squares slope of the seconds per day and the growth of the file per day
(issue 17: year three must not cost three years). Synthetic data only (no personal data).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import date, timedelta
from pathlib import Path

from fundwatch import state

CHANGING = 0.01  # share of the subjects changing a day


def _finding(i: int, amount: str) -> dict:
    return {"rule_id": "PAY_LATE", "rule_name": "超期发放", "severity": "warning", "subject_type": "payment",
            "subject_key": f"BENCH{i:08d}", "project_code": f"P{i % 300:03d}", "unit_code": "430121",
            "amount_at_risk": amount, "source_file": "bench/payments.csv", "source_row": i,
            "detail": "应于2021-03-31前发放，实际未发放。", "evidence_json": '{"subject": []}',
            "content_hash": f"h{amount}"}


def _slope(ys: list[float]) -> float:
    n = len(ys)
    if n < 2:
        return 0.0
    mx, my = (n - 1) / 2, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in enumerate(ys)) / sum((x - mx) ** 2 for x in range(n))


def run(findings: int, days: int, db: Path, seed: int = 1) -> dict:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    amount = dict.fromkeys(range(findings), "10.00")
    firing = {i for i in range(findings) if rng.random() < 0.5}
    seconds, sizes = [], []
    for day in range(days):
        changed = set(rng.sample(range(findings), int(findings * CHANGING))) if day else set()
        for i in changed:
            if rng.random() < 0.5:
                amount[i] = f"{rng.randint(1, 99_999)}.00"
            else:
                firing.symmetric_difference_update({i})
        items = [_finding(i, amount[i]) if day == 0 or i in changed
                 else {"finding_id": state.finding_id("PAY_LATE", "payment", f"BENCH{i:08d}"),
                       "content_hash": f"h{amount[i]}"}
                 for i in sorted(firing)]
        t0, c0 = time.perf_counter(), os.times()
        summary = state.record_run(db, run_id=f"bench-{day}", run_date=date(2021, 1, 1) + timedelta(days=day),
                                   findings=items)
        c1 = os.times()
        wall, cpu = time.perf_counter() - t0, c1.user - c0.user + c1.system - c0.system
        size = db.stat().st_size  # the last connection closed: the WAL is checkpointed into the file
        print(f"day {day + 1:3d}: {wall:6.2f} s ({cpu:5.2f} s CPU), firing {summary.firing:,} (new {summary.new:,}, "
              f"closed {summary.closed:,}), state {size / 1e6:7.1f} MB", flush=True)
        if day:  # the first day records everything: not a daily cost
            seconds.append(wall)
            sizes.append(size / 1e6)
    out = {"slope_s_per_day": _slope(seconds), "mb_per_day": _slope(sizes),
           "mean_s": sum(seconds) / len(seconds) if seconds else 0.0}
    print(f"state_history: findings={findings} days={days} mean_s={out['mean_s']:.2f} "
          f"slope_s_per_day={out['slope_s_per_day']:+.3f} state_mb_per_day={out['mb_per_day']:+.2f}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=200_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--db", type=Path, required=True, help="a state file to create (replaced if it exists)")
    args = ap.parse_args()
    run(args.findings, args.days, args.db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
