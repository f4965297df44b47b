"""The `fundwatch` command line (../shared/spec/interface.md). A thin layer over the packages."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from fundwatch.paths import Home

DEMO_DATE = date(2021, 4, 30)
DEMO_SEED = 2020
DEMO_PAYMENTS = 2000


def _home(args) -> Home:
    return Home.resolve(args.home).ensure()


def _say(msg: str) -> None:
    print(msg, flush=True)


def cmd_run(args) -> int:
    from fundwatch.airflow_support import run_dag

    home = _home(args)
    inbox = Path(args.inbox).resolve()
    if not inbox.is_dir():
        _say(f"错误：收件箱目录不存在（inbox not found）：{inbox}")
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in (out / "findings.csv", out / "findings.xlsx"):
        stale.unlink(missing_ok=True)  # a failed run must not leave an older export looking current
    t0 = time.perf_counter()
    state = run_dag(home, inbox, args.date, out)
    took = time.perf_counter() - t0
    if state != "success" or not (out / "findings.csv").exists():
        _say(f"运行失败（run failed, state={state}，{took:.0f} s）。日志：{home.logs_dir / 'airflow'}")
        return 1
    _say(f"运行完成（run succeeded，{took:.0f} s）")
    _where(home, out)
    return 0


def _where(home: Home, out: Path) -> None:
    _say(f"  问题清单 findings export : {out / 'findings.csv'}")
    _say(f"                            {out / 'findings.xlsx'}")
    _say(f"  dbt 文档 dbt docs        : {home.dbt_docs_dir / 'index.html'}")
    _say(f"  GX 校验报告 Data Docs    : {home.gx_docs_dir / 'index.html'}")
    _say(f"  审核页面 review page     : .venv/bin/fundwatch serve --home {home.root}")
    _say(f"    （首次使用先添加用户 first add a user: .venv/bin/fundwatch users --home {home.root} "
         "add 王审核 --role reviewer）")


def cmd_ingest(args) -> int:
    from ingestion import load_inbox

    home = _home(args)
    run_id = args.run_id or f"manual__{time.strftime('%Y%m%dT%H%M%S')}"
    report = load_inbox(Path(args.inbox).resolve(), home.warehouse, run_id=run_id, progress=_say)
    _say(report.summary_zh())
    return 0


def cmd_generate(args) -> int:
    from fundwatch.generator import generate

    out = Path(args.out).resolve()
    res = generate(out, seed=args.seed, payments=args.payments, as_of=args.as_of, progress=_say)
    _say(f"已生成收件箱 inbox: {res.inbox}")
    _say(f"预期问题清单 expected findings: {res.expected_findings}")
    return 0


def cmd_demo(args) -> int:
    """Generate the demo province and run the daily DAG once on it."""
    from fundwatch.generator import generate

    home = _home(args)
    demo = home.root / "demo"
    if demo.exists():
        shutil.rmtree(demo)
    _say(f"生成演示数据（seed={DEMO_SEED}，{DEMO_PAYMENTS} 笔发放）…")
    res = generate(demo, seed=DEMO_SEED, payments=DEMO_PAYMENTS, as_of=DEMO_DATE, progress=_say)
    _say(f"运行每日 DAG（logical date {DEMO_DATE}）…")
    run_args = argparse.Namespace(home=str(home.root), inbox=str(res.inbox), date=DEMO_DATE,
                                  out=str(home.default_out))
    return cmd_run(run_args)


def cmd_serve(args) -> int:
    from fundwatch import inuse
    from fundwatch.review import serve

    home = _home(args)
    with inuse.hold(home, f"fundwatch serve（审核页面 review page，port {args.port}）", wait_s=60):
        if args.production or args.workers:
            from fundwatch.review.production import serve_production

            serve_production(home, host=args.host, port=args.port, workers=args.workers or 2,
                             proxies=args.proxies)
        else:
            serve(home, host=args.host, port=args.port, proxies=args.proxies)
    return 0


def cmd_users(args) -> int:
    from fundwatch import inuse
    from fundwatch.review import users_command

    # interface.md puts --home last (`fundwatch users add NAME ... --home DIR`): take it from there too.
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--home")
    known, rest = pre.parse_known_args(args.rest)
    if known.home:
        args.home = known.home
    home = _home(args)
    with inuse.hold(home, "fundwatch users", wait_s=60):
        return users_command(home, rest)


def cmd_backup(args) -> int:
    from fundwatch.backup import BackupError, backup

    home = Home.resolve(args.home)
    dest = Path(args.to) if args.to else home.backups_dir / f"manual-{time.strftime('%Y%m%dT%H%M%S')}.tar.gz"
    try:
        info = backup(home, dest)
    except BackupError as exc:
        _say(f"备份失败（backup failed）：{exc}")
        return 1
    _say(f"备份完成（backup written）：{info.text()}")
    return 0


def cmd_restore(args) -> int:
    from fundwatch.backup import BackupError, restore
    from fundwatch.inuse import HomeInUse

    home = Home.resolve(args.home)
    try:
        info = restore(home, Path(args.from_))
    except HomeInUse as exc:
        _say(str(exc))
        return 3
    except BackupError as exc:
        _say(f"恢复失败，安装目录未改动（restore failed, the home is unchanged）：{exc}")
        return 1
    _say(f"恢复完成（restored）：{info.text()}")
    _say("  仓库、文档和导出由下一次每日运行重建（warehouse, docs and export are rebuilt by the next run）。")
    return 0


def cmd_simulate(args) -> int:
    from fundwatch.simulate import SimulationError, simulate_month

    try:
        results = simulate_month(Home.resolve(args.home), days=args.days, payments=args.payments, seed=args.seed,
                                 start=args.start, through_airflow=not args.in_process,
                                 rerun_day=args.rerun_day, progress=_say)
    except SimulationError as exc:
        _say(str(exc))
        return 2
    return 1 if any(r.problems or r.status != "success" for r in results) else 0


def cmd_compare(args) -> int:
    from fundwatch.compare import compare

    result = compare(Path(args.expected), Path(args.actual))
    _say(result.report())
    return 0 if result.exact else 1


def cmd_lint_sql(args) -> int:
    from fundwatch.warehouse import lint_sql

    return lint_sql()


def cmd_bench(args) -> int:
    from fundwatch.bench import run_bench

    return run_bench(Home.resolve(args.home), payments=args.payments, airflow=not args.no_airflow)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fundwatch", description="计生协项目资金每日监督 / daily audit of project money")
    sub = p.add_subparsers(dest="command", required=True)

    def with_home(sp):
        sp.add_argument("--home", help="安装目录：仓库、Airflow 元数据、审核记录 (default: .fundwatch-home)")
        return sp

    r = with_home(sub.add_parser("run", help="run the daily DAG once through Airflow"))
    r.add_argument("--inbox", required=True)
    r.add_argument("--date", required=True, type=date.fromisoformat, help="logical date YYYY-MM-DD")
    r.add_argument("--out", required=True)
    r.set_defaults(func=cmd_run)

    i = with_home(sub.add_parser("ingest", help="load an inbox into the raw layer (no Airflow)"))
    i.add_argument("--inbox", required=True)
    i.add_argument("--run-id")
    i.set_defaults(func=cmd_ingest)

    g = sub.add_parser("generate", help="generate a demo-province inbox with known violations")
    g.add_argument("--out", required=True)
    g.add_argument("--seed", type=int, default=DEMO_SEED)
    g.add_argument("--payments", type=int, default=400)
    g.add_argument("--as-of", type=date.fromisoformat, default=DEMO_DATE)
    g.set_defaults(func=cmd_generate)

    d = with_home(sub.add_parser("demo", help="generate the demo inbox and run the daily DAG on it"))
    d.set_defaults(func=cmd_demo)

    s = with_home(sub.add_parser("serve", help="serve the supervision office's review page"))
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8050)
    s.add_argument("--production", action="store_true",
                   help="serve under gunicorn (workers, access log without query strings) instead of werkzeug")
    s.add_argument("--workers", type=int, help="gunicorn worker processes (implies --production; default 2)")
    s.add_argument("--proxies", type=int,
                   help="number of reverse proxies in front (trusted for X-Forwarded-For/-Proto); "
                        "default $FUNDWATCH_TRUSTED_PROXIES or 0; 1 behind the compose TLS proxy")
    s.set_defaults(func=cmd_serve)

    u = with_home(sub.add_parser("users", help="review-page people and API tokens"))
    u.add_argument("rest", nargs=argparse.REMAINDER)
    u.set_defaults(func=cmd_users)

    bk = with_home(sub.add_parser("backup", help="back up what cannot be rebuilt (state, attachments, uploads)"))
    bk.add_argument("--to", help="backup file to write (default: <home>/backups/manual-<time>.tar.gz)")
    bk.set_defaults(func=cmd_backup)

    rs = with_home(sub.add_parser("restore", help="restore a backup into a home nobody is using"))
    rs.add_argument("--from", dest="from_", required=True, help="backup file written by fundwatch backup")
    rs.set_defaults(func=cmd_restore)

    b = with_home(sub.add_parser("bench", help="scale benchmark against the plain-DuckDB lower bound"))
    b.add_argument("--payments", type=int, required=True)
    b.add_argument("--no-airflow", action="store_true", help="skip the run through Airflow (its overhead per run)")
    b.set_defaults(func=cmd_bench)

    m = sub.add_parser("simulate", help="a month of daily runs on a growing inbox: invariants and the time curve")
    m.add_argument("--home", required=True, help="新的安装目录 (a NEW home folder: the simulation owns its state)")
    m.add_argument("--days", type=int, default=30)
    m.add_argument("--payments", type=int, default=DEMO_PAYMENTS)
    m.add_argument("--seed", type=int, default=DEMO_SEED)
    m.add_argument("--start", type=date.fromisoformat, default=date(2021, 4, 1), help="first run date YYYY-MM-DD")
    m.add_argument("--in-process", action="store_true", help="run the stages in-process instead of through Airflow")
    m.add_argument("--rerun-day", type=int, help="run this day (1-based) twice and check nothing changes")
    m.set_defaults(func=cmd_simulate)

    c = sub.add_parser("compare", help="compare a findings export with an expected-findings file")
    c.add_argument("--expected", required=True)
    c.add_argument("--actual", required=True)
    c.set_defaults(func=cmd_compare)

    lint = sub.add_parser("lint-sql", help="sqlfluff (dbt templater, duckdb dialect) over the dbt models")
    lint.set_defaults(func=cmd_lint_sql)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
