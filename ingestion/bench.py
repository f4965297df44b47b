"""Measure ingestion speed and peak memory on a generated payments file.

    .venv/bin/python -m ingestion.bench --rows 1000000 --format csv --dir /tmp/fw-bench

Writes ``DIR/inbox/payments.<fmt>`` (synthetic data) unless it already exists, loads it into a fresh
``DIR/warehouse.duckdb`` and prints rows/s and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

from ingestion.load import load_inbox
from ingestion.normalise import id_check_char

HEADER = ["交易流水号", "发放批次", "项目编码", "姓名", "公民身份号码", "银行账号", "开户银行",
          "金额（元）", "发放日期", "发放单位代码", "备注"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def _rows(n: int, seed: int = 7):
    rnd = random.Random(seed)  # noqa: S311 - synthetic data, not security
    start = date(2020, 3, 1)
    for i in range(n):
        first17 = f"4301{rnd.randint(10, 99)}{rnd.randint(1940, 2005)}{rnd.randint(1, 12):02d}" \
                  f"{rnd.randint(1, 28):02d}{rnd.randint(0, 999):03d}"
        yield [f"HN{i:012d}", f"第{i % 4 + 1}批", f"P2020{i % 300:03d}",
               rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
               first17 + id_check_char(first17), f"621799{rnd.randint(10**12, 10**13 - 1)}",
               "中国邮政储蓄银行", f"{rnd.choice((300, 500, 1200, 3000, 5000))}.00",
               (start + timedelta(days=i % 200)).isoformat(), f"4301{i % 20 + 1:02d}", ""]


def write_payments(path: Path, n: int, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            w.writerows(_rows(n))
    else:
        import xlsxwriter

        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        ws = wb.add_worksheet("发放明细")
        ws.write_row(0, 0, HEADER)
        for r, row in enumerate(_rows(n), start=1):
            row[7] = float(row[7])  # a number cell, as Excel holds money
            ws.write_row(r, 0, row)
        wb.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    ap.add_argument("--dir", type=Path, required=True)
    args = ap.parse_args()
    inbox = args.dir / "inbox"
    f = inbox / f"payments.{args.format}"
    if not f.exists():
        t = time.monotonic()
        write_payments(f, args.rows, args.format)
        print(f"generated {f} ({f.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - t:.1f} s")
    wh = args.dir / "warehouse.duckdb"
    for p in (wh, wh.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(args.dir / "warehouse.duckdb.tmp", ignore_errors=True)
    report = load_inbox(inbox, wh, run_id="bench", progress=print)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows_loaded={report.rows_loaded} seconds={report.seconds:.1f} "
          f"rows_per_s={report.rows_loaded / report.seconds:,.0f} peak_rss_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
