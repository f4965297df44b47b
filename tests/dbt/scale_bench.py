"""Scale benchmark of `dbt build` on a synthetic raw layer (not part of the test run).

    .venv/bin/python tests/dbt/scale_bench.py 200000 [HOME_DIR]

Builds the raw schema with N payments (and N roster entries, N/200 projects, N/20 vouchers,
N/40 allocations and credits) in SQL with generate_series, then times the real dbt build.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
from dbt_fixture_raw import store_raw  # tests/dbt is on the path when run from there

from fundwatch.paths import Home
from fundwatch.warehouse import dbt_build
from ingestion.load import ensure_schema

FILL_SQL = """
insert into fill_projects
select 'P' || lpad(i::varchar, 6, '0'), '项目' || i, '金秋助学', '43' || lpad((i % 9000)::varchar, 4, '0'), '协会',
    date '2020-01-01', date '2020-12-31', 100000000.00, 3000.00, date '2020-10-31', 7, date '2021-03-31',
    '补助发放、宣传费', null, 'p.xlsx', i + 2, 'sha', 'run', null
from generate_series(1, {projects}) t(i);

insert into fill_roster
select 'P' || lpad((i % {projects} + 1)::varchar, 6, '0'), '张' || (i % 97),
    '43' || lpad(i::varchar, 15, '0') || 'X', null,
    '6217' || lpad(i::varchar, 12, '0'), '邮储', 3000.00,
    '430102', null, date '2020-05-01', date '2020-05-07', 'r.xlsx', i + 2, 'sha', 'run', null
from generate_series(1, {n}) t(i);

insert into fill_payments
select 'T' || i, '1', 'P' || lpad(((i % {n}) % {projects} + 1)::varchar, 6, '0'), '张' || ((i % {n}) % 97),
    '43' || lpad((i % {n})::varchar, 15, '0') || 'X',
    '6217' || lpad((case when i % 500 = 0 then 1 else i % {n} end)::varchar, 12, '0'), '邮储',
    case when i % 300 = 0 then 3500.00 else 3000.00 end,
    date '2020-06-01' + (i % 200)::integer, '430102', null, 'pay/' || (i // 10000) || '.xlsx', i % 10000 + 3,
    'sha', 'run', null
from generate_series(1, {n}) t(i);

insert into fill_expenditures
select 'V' || i, 'P' || lpad((i % {projects} + 1)::varchar, 6, '0'), date '2020-03-01' + (i % 300)::integer,
    case when i % 50 = 0 then '餐费' else '宣传费' end, (i % 90000 + 100)::decimal(18, 2), '公司', null,
    case when i % 3 = 0 then 'D' || i end, 'v.xlsx', i + 2, 'sha', 'run', null
from generate_series(1, {vouchers}) t(i);

insert into fill_decisions
select 'D' || i, '43' || lpad(((i % {projects}) % 9000)::varchar, 4, '0'), date '2020-02-01', '会长办公会', '事项',
    null, null, 'd.xlsx', i + 2, 'sha', 'run', null
from generate_series(1, {vouchers}) t(i) where i % 3 = 0;

insert into fill_allocations
select '湘财社指〔2020〕' || i || '号', date '2020-03-01', '湖南省财政厅', 2020, '430102', '协会',
    'P' || lpad((i % {projects} + 1)::varchar, 6, '0'), 50000.00, null, 'a.xlsx', i + 2, 'sha', 'run', null
from generate_series(1, {allocations}) t(i);

insert into fill_credits
select 'C' || i, date '2020-03-20' + (i % 30)::integer, '财政厅', '430102', '协会', 50000.00,
    case when i % 2 = 0 then '湘财社指〔2020〕' || i || '号' end,
    case when i % 2 = 1 then '拨付湘财社指【2020】' || i || '号资金' end, null, 'c.csv', i + 2, 'sha', 'run', null
from generate_series(1, {allocations}) t(i);

insert into fill_postings
select 'P' || lpad(i::varchar, 6, '0'), '项目挂牌', date '2020-01-05', null, null, null, 'g.xlsx', i + 2, 'sha',
    'run', null
from generate_series(1, {projects}) t(i);

insert into raw.files
select distinct source_file, 'sha-' || source_file, 1, 'payments', 'loaded', null, 1, 0, true, 'run',
    now()::timestamp
from fill_payments;
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="fundwatch-bench-"))
    home = Home(root).ensure()
    home.warehouse.unlink(missing_ok=True)
    con = duckdb.connect(str(home.warehouse))
    ensure_schema(con)  # the raw layer exactly as ingestion creates it
    t0 = time.perf_counter()
    kinds = ("projects", "roster", "payments", "expenditures", "decisions", "allocations", "credits", "postings")
    for kind in kinds:  # rows shaped like raw.<kind>, then stored as ingestion stores them
        con.execute(f"create temp table fill_{kind} as select * from raw.{kind} limit 0")
    con.execute(FILL_SQL.format(n=n, projects=max(n // 200, 1), vouchers=max(n // 20, 1),
                                allocations=max(n // 40, 1)))
    for kind in kinds:
        con.execute(f"update fill_{kind} set file_sha256 = 'sha-' || source_file")  # one version per file
        store_raw(con, kind, f"fill_{kind}")
    con.close()
    t1 = time.perf_counter()
    dbt_build(home, date(2021, 4, 30))
    t2 = time.perf_counter()
    con = duckdb.connect(str(home.warehouse), read_only=True)
    findings = con.execute("select rule_id, count(*) from marts.fct_findings group by 1 order by 1").fetchall()
    con.close()
    print(f"payments={n} fill={t1 - t0:.1f}s dbt_build={t2 - t1:.1f}s home={root}")
    for rule_id, count in findings:
        print(f"  {rule_id}: {count}")


if __name__ == "__main__":
    main()
