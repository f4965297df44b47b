"""`fundwatch bench`: the whole daily pipeline at scale, beside the plain-DuckDB lower bound.

For a generated province of N payments it times every stage of the daily pipeline (each in a child
process, so its peak memory is its own) and, beside it, the same work done by plain DuckDB with no
framework around it:

- ingest: ``ingestion.load_inbox`` (recognise, normalise, lineage, rejects, dedup) against
  ``read_csv`` of every CSV into a text table, and every xlsx read with calamine;
- dbt_build: ``dbt build`` (models and tests) against the compiled SQL of every model, run in
  dependency order;
- validate: the GX suites over the marts and Data Docs against one query per suite over the same
  batches computing the same counts, amounts and masked samples (a line of its own compares GX's
  checkpoint run with those queries, the validation benchmark of issue 6);
- export: findings recorded in the state store, CSV and xlsx, against ``COPY fct_findings TO csv``;
- docs (and any stage without a plain equivalent): timed, not in the ratio.

Every stage runs through ``fundwatch.pipeline.run_day`` (one stage per child process), as the DAG
runs it.

Then the day after: one new file of 2,000 payments arrives in the same inbox and every stage runs
again for the next date (``day_after: seconds=S full=F ratio=R``, both sums over every stage), and
the DAG runs once more through Airflow (``airflow dags test``) to show Airflow's own overhead per
run: its wall time less the stages' own seconds.

The last line is ``ratio_vs_duckdb=X.XX``: pipeline time (without docs) ÷ lower bound.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from fundwatch.paths import Home
from fundwatch.pipeline import STAGE_NAMES

RUN_DATE = date(2021, 4, 30)
BOUNDED = ("ingest", "dbt_build", "validate", "export")  # the stages with a plain-DuckDB lower bound
NEXT_DAY_ROWS = 2_000  # the file that arrives the day after


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM: since exec, so not the forking parent's) and of
    the largest child it waited for (dbt, the GX process)."""
    own_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            own_kb = int(line.split()[1])
    kids_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own_kb, kids_kb) / 1024


def _child(stage: str, home: Path, inbox: Path, payments: int = 0, run_date: date = RUN_DATE) -> dict:
    """Run one stage (or its lower bound) in a fresh process; returns seconds and peak MB."""
    proc = subprocess.run(
        [sys.executable, "-m", "fundwatch.bench", stage, str(home), str(inbox), str(payments), run_date.isoformat()],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench stage {stage} failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _stage(stage: str, home: Home, inbox: Path, run_date: date) -> dict | None:
    """One stage of the day, exactly as the DAG's task runs it; the validate stage also reports GX's
    own timings."""
    from fundwatch.pipeline import run_day

    result = run_day(home, inbox, f"bench-{run_date}", run_date, home.root / "bench-out", stages=(stage,))[stage]
    return result.detail.get("timings")


def _linked_inbox(generated: Path, inbox: Path) -> None:
    """The generated inbox as hard links (the generated one stays as generated, for the next bench)."""
    shutil.rmtree(inbox, ignore_errors=True)
    for f in sorted(generated.rglob("*")):
        target = inbox / f.relative_to(generated)
        if f.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, target)
        except OSError:
            shutil.copy2(f, target)


def _next_day_file(home: Home, inbox: Path) -> Path:
    """The file that arrives the day after: 2,000 payments to people on the rosters (a supplementary
    batch with new 交易流水号, paid the day after the run date), the same for the same warehouse."""
    import duckdb

    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        people = con.execute(f"""SELECT project_code, name, id_number, account_no, bank_name, approved_amount,
                unit_code FROM raw.roster WHERE account_no IS NOT NULL
            ORDER BY hash(project_code, id_number), project_code, id_number LIMIT {NEXT_DAY_ROWS}""").fetchall()
    path = inbox / "补报材料" / "次日补发明细.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["交易流水号", "发放批次", "项目编码", "姓名", "公民身份号码", "银行账号", "开户银行", "金额（元）",
                    "发放日期", "发放单位代码", "备注"])
        paid_on = (RUN_DATE + timedelta(days=1)).isoformat()
        for i, (project, name, idn, account, bank, amount, unit) in enumerate(people):
            w.writerow([f"BF{RUN_DATE:%Y%m%d}{i:06d}", "次日补发", project, name, idn, account, bank or "",
                        f"{amount:.2f}", paid_on, unit, "补发"])
    return path


def _airflow_overhead(work: Home, inbox: Path, run_date: date) -> str:
    """One more day through Airflow (``airflow dags test``, as ``fundwatch run``): its wall time less
    the stages' own seconds (from the run's log) is Airflow's overhead per run."""
    from fundwatch.airflow_support import ensure_metadata, run_dag, stage_seconds

    t0 = time.perf_counter()
    ensure_metadata(work)
    migrate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = run_dag(work, inbox, run_date, work.root / "bench-out", quiet=True)
    wall = time.perf_counter() - t0
    stages = stage_seconds(work.logs_dir / f"run-{run_date.isoformat()}.log")
    if state != "success":
        raise RuntimeError(f"bench: the run through Airflow ended {state}")
    return (f"airflow: one run {wall:.1f} s, its stages {sum(stages.values()):.1f} s, Airflow's own overhead "
            f"{wall - sum(stages.values()):.1f} s per run (its metadata database, once per home: {migrate_s:.1f} s)")


def _plain_validation(home: Home) -> dict:
    """The GX suites' work in plain DuckDB: over the very batches GX validates (the same SQL), every
    rule's count of failing subjects, amount at risk and 20 smallest masked labels, and the rows of each
    mart, one query per suite."""
    import duckdb

    from expectations.batches import MART_ROWS_COLUMN, batch_query, fen_column
    from fundwatch.catalog import by_suite

    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        # Timed from an open warehouse, like GX's run (GX connects while its data source is added).
        t0 = time.perf_counter()
        for suite, rules in by_suite().items():
            aggs = ", ".join(
                f'count("{r.rule_id}"), sum({fen_column(r)}), '
                f'min("{r.rule_id}", 20)'
                for r in rules
            )
            marts = ", ".join(f"sum({MART_ROWS_COLUMN}) filter (where mart = '{m}')"
                              for m in sorted({r.mart for r in rules}))
            con.execute(f"select count(*), {marts}, {aggs} from ({batch_query(suite)})").fetchall()
        return {"queries_s": time.perf_counter() - t0}


def _bound(stage: str, home: Home, inbox: Path) -> dict | None:
    import duckdb

    scratch = home.root / "bench-bound.duckdb"
    if stage == "ingest":
        scratch.unlink(missing_ok=True)
        with duckdb.connect(str(scratch)) as con:
            for i, f in enumerate(sorted(inbox.rglob("*.csv"))):
                try:
                    con.execute(
                        f"create table t{i} as select * from read_csv(?, all_varchar=true, header=false, "
                        "null_padding=true, ignore_errors=true, strict_mode=false)", [str(f)])
                except duckdb.Error:
                    pass  # GB18030 files DuckDB cannot decode: the bound skips them (favouring DuckDB)
        from python_calamine import CalamineWorkbook

        for f in sorted(inbox.rglob("*.xlsx")):
            try:
                CalamineWorkbook.from_path(str(f)).get_sheet_by_index(0).to_python()
            except Exception as exc:  # noqa: BLE001 - a broken xlsx costs the bound nothing
                print(f"bound skips {f.name}: {type(exc).__name__}", file=sys.stderr)
    elif stage == "dbt_build":
        manifest = json.loads((home.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))
        nodes = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
        order: list[str] = []
        seen: set[str] = set()

        def visit(k: str) -> None:
            if k in seen or k not in nodes:
                return
            seen.add(k)
            for dep in nodes[k]["depends_on"]["nodes"]:
                visit(dep)
            order.append(k)

        for k in sorted(nodes):
            visit(k)
        # A copy under the same file name, so the compiled SQL's catalog ("warehouse") resolves.
        copy = home.root / "bound" / home.warehouse.name
        copy.parent.mkdir(exist_ok=True)
        import shutil

        shutil.copyfile(home.warehouse, copy)
        from ingestion.load import connect, warehouse_row_group_size

        # with the row groups the pipeline's dbt uses (the load's: fundwatch.dbt_cli), so that neither
        # pays a merge of the other's
        with connect(copy, warehouse_row_group_size(copy)) as con:
            for k in order:
                n = nodes[k]
                sql = n.get("compiled_code")
                if not sql:
                    continue
                kind = "view" if n["config"].get("materialized") == "view" else "table"
                con.execute(f"create schema if not exists {n['schema']}")
                con.execute(f"create or replace {kind} {n['schema']}.{n['alias']} as {sql}")
    elif stage == "validate":
        return _plain_validation(home)
    elif stage == "export":
        with duckdb.connect(str(home.warehouse), read_only=True) as con:
            con.execute(f"copy (select * from marts.fct_findings) to '{home.root / 'bound.csv'}' (header)")


def run_bench(home: Home, *, payments: int, seed: int = 2020, airflow: bool = True) -> int:
    """Generate, run every stage and its lower bound, print the table; last line is the ratio."""
    home = home.ensure()
    gen_dir = home.root / f"bench-{payments}"
    stamp = gen_dir / "bench-params.json"
    params = json.dumps({"seed": seed, "payments": payments, "as_of": RUN_DATE.isoformat()})
    if stamp.exists() and stamp.read_text(encoding="utf-8") == params:
        print(f"generate: reusing {gen_dir} (same seed and size; the generator is deterministic)", flush=True)
    else:
        t0 = time.perf_counter()
        got = _child("generate", gen_dir, Path(str(seed)), payments=payments)
        stamp.write_text(params, encoding="utf-8")
        print(f"generate: {payments:,} payments in {time.perf_counter() - t0:.1f} s, "
              f"peak {got['peak_mb']:.0f} MB", flush=True)
    work = Home(home.root / f"bench-home-{payments}")
    if work.root.exists():
        shutil.rmtree(work.root)
    work.ensure()
    inbox = work.root / "inbox"
    _linked_inbox(gen_dir / "inbox", inbox)
    rows = []
    print(f"{'stage':10} {'seconds':>9} {'payments/s':>11} {'peak MB':>8} {'duckdb s':>9} {'ratio':>6}",
          flush=True)
    total = bound_total = 0.0
    for stage in STAGE_NAMES:
        got = _child(stage, work.root, inbox)
        low = _child(f"bound:{stage}", work.root, inbox) if stage in BOUNDED else None
        ratio = got["seconds"] / low["seconds"] if low and low["seconds"] > 0 else None
        rows.append((stage, got, low))
        if low:
            total += got["seconds"]
            bound_total += low["seconds"]
        print(
            f"{stage:10} {got['seconds']:9.2f} {payments / got['seconds']:11,.0f} {got['peak_mb']:8.0f} "
            f"{(low['seconds'] if low else float('nan')):9.2f} {(ratio or float('nan')):6.1f}",
            flush=True,
        )
    # Issue 6's validation benchmark: GX's checkpoint run (every rule of every suite) against the same
    # outputs computed by plain DuckDB over the same batches; GX's fixed costs around it shown beside.
    by = {stage: (got, low) for stage, got, low in rows}
    gx_t, plain_t = by["validate"][0]["detail"], by["validate"][1]["detail"]
    print(f"validation: GX checkpoint {gx_t['gx_validate_s']:.3f} s, plain DuckDB {plain_t['queries_s']:.3f} s "
          f"(same counts, amounts and masked samples over the same batches), "
          f"ratio {gx_t['gx_validate_s'] / plain_t['queries_s']:.2f}", flush=True)
    print(f"validation: fixed GX costs around it: import {gx_t['gx_import_s']:.2f} s, context and suites "
          f"{gx_t['gx_setup_s']:.2f} s, Data Docs {gx_t['gx_docs_s']:.2f} s; whole stage "
          f"{by['validate'][0]['seconds']:.2f} s in its own process", flush=True)
    # The rules phase: dbt computes every rule's outcome, GX asserts them; against the same SQL bare.
    rules_s = by["dbt_build"][0]["seconds"] + by["validate"][0]["seconds"]
    rules_bound = by["dbt_build"][1]["seconds"] + by["validate"][1]["seconds"]
    print(f"rules_phase: dbt+GX {rules_s:.2f} s, plain DuckDB {rules_bound:.2f} s, "
          f"ratio {rules_s / rules_bound:.2f}", flush=True)
    print(f"payments={payments} pipeline_s={total:.2f} duckdb_s={bound_total:.2f} "
          f"payments_per_s={payments / total:,.0f}", flush=True)
    # The day after: one new file arrives; every stage runs again, as of the next date.
    full = sum(got["seconds"] for _, got, _ in rows)
    _next_day_file(work, inbox)
    next_day = RUN_DATE + timedelta(days=1)
    after = {stage: _child(stage, work.root, inbox, run_date=next_day)["seconds"] for stage in STAGE_NAMES}
    print("day_after stages: " + ", ".join(f"{s} {t:.2f} s" for s, t in after.items())
          + f" ({NEXT_DAY_ROWS:,} new payments, as of {next_day})", flush=True)
    if airflow:
        print(_airflow_overhead(work, inbox, next_day + timedelta(days=1)), flush=True)
    seconds = sum(after.values())
    print(f"day_after: seconds={seconds:.2f} full={full:.2f} ratio={seconds / full:.3f}", flush=True)
    print(f"ratio_vs_duckdb={total / bound_total:.2f}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    """Child-process entry: ``python -m fundwatch.bench STAGE HOME INBOX PAYMENTS RUN_DATE``."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    stage, home, inbox = argv[0], Home(Path(argv[1])), Path(argv[2])
    run_date = date.fromisoformat(argv[4]) if len(argv) > 4 else RUN_DATE
    t0 = time.perf_counter()
    if stage == "generate":  # here home is the output folder and inbox carries the seed
        from fundwatch.generator import generate

        generate(home.root, seed=int(inbox.name), payments=int(argv[3]), as_of=RUN_DATE)
        detail = None
    elif stage.startswith("bound:"):
        detail = _bound(stage.split(":", 1)[1], home, inbox)
    else:
        detail = _stage(stage, home, inbox, run_date)
    print(json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb(), "detail": detail or {}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
