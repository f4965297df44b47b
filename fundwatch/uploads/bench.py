"""Upload benchmark: the report for an N-row xlsx (default 5,000), end to end, as a clerk waits for it.

``python -m fundwatch.uploads.bench [--rows N] [--repeat K]`` builds a 发放明细 xlsx of N synthetic
rows (1 % of them with a mistake, a 合计 line), then times ``fundwatch.uploads.submit.receive`` (guard, zip
inflation, the ingestion check, atomic placement, the log) and the annotated download, in a
scratch home. The target is ≤ 5 s for 5,000 rows on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import xlsxwriter

from fundwatch.paths import Home
from fundwatch.uploads import store
from fundwatch.uploads.annotate import annotated_xlsx
from fundwatch.uploads.submit import receive
from ingestion.kinds import KINDS_BY_TABLE
from ingestion.normalise import id_check_char


def payments_xlsx(rows: int) -> bytes:
    """A payments file as a county's bank export looks: title row, header, rows, a 合计 line."""
    kind = KINDS_BY_TABLE["payments"]
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet("发放明细")
    text, day = wb.add_format({"num_format": "@"}), wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_string(0, 0, "长沙县2020年金秋助学发放明细")
    for c, col in enumerate(kind.columns):
        ws.write_string(1, c, col.header)
    total = 0
    for i in range(rows):
        first17 = f"430121{1960 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        amount = 1000 + (i % 7) * 100
        total += amount
        values = [f"TX2020{i:08d}", "第一批", "P2020-CSX-01", "张三丰"[: 2 + i % 2], first17 + id_check_char(first17),
                  f"62170000{i:011d}", "中国农业银行", amount, date(2020, 6, 1) + timedelta(days=i % 90), "430121", ""]
        if i % 100 == 7:
            values[7] = "一千"  # a mistake the report must name
            total -= amount
        r = i + 2
        for c, v in enumerate(values):
            if isinstance(v, date):
                ws.write_datetime(r, c, v, day)  # type: ignore[arg-type]
            elif isinstance(v, int):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, v, text)
    ws.write_string(rows + 2, 0, "合计")
    ws.write_number(rows + 2, 7, total)
    wb.close()
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    data = payments_xlsx(args.rows)
    print(f"file: {args.rows:,} rows, {len(data) / 1024:.0f} KiB xlsx")
    report_s, annotate_s = [], []
    with tempfile.TemporaryDirectory(prefix="fundwatch-upload-bench-") as tmp:
        home = Home(Path(tmp)).ensure()
        for i in range(args.repeat):
            t0 = time.perf_counter()
            up = receive(home, username="bench", unit_code="430121", data=data, filename=f"发放明细{i}.xlsx")
            report_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            annotated_xlsx(store.kept_path(home, up.sha256, up.file_type), up.inbox_path or "", up.report,
                           title="bench", meta={})
            annotate_s.append(time.perf_counter() - t0)
        rep = up.report
        print(f"report: status={rep.status} kind={rep.kind} rows_read={rep.rows_read} rows_loaded={rep.rows_loaded} "
              f"rows_rejected={len(rep.rows_rejected)} total_mismatches={len(rep.total_mismatches)}")
    print(f"upload_report_seconds median={statistics.median(report_s):.2f} max={max(report_s):.2f}")
    print(f"annotated_download_seconds median={statistics.median(annotate_s):.2f} max={max(annotate_s):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
