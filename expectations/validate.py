"""Run the GX suites over the marts of a built warehouse and build the Data Docs.

A check that errors (GX ``exception_info``) is a *broken check*: :class:`BrokenCheckError` is raised
and the run fails. It is never reported as data that failed or data that passed. The GX counts and
amounts are also cross-checked against ``marts.fct_findings``, so the export and the suites can never
silently disagree.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from expectations.data_docs import add_overview, localise
from expectations.run_archive import archive_old_runs, results_dir, run_name
from fundwatch.catalog import SUITES, by_id, by_suite
from fundwatch.paths import Home

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
DOCS_SITE = "fundwatch"
# The Data Docs index lists the runs of the last DOCS_INDEX_DAYS days (one result per suite a day;
# FUNDWATCH_DOCS_INDEX_DAYS overrides the quarter). GX reads every result it lists each day to build
# the index: with a year of runs that was 3.6 s of the stage against 0.3 s (README, Measurements).
# Older runs' results and pages move to the archive (expectations.run_archive): GX lists every stored
# key each run, so the stores hold only the runs the index lists.
DOCS_INDEX_DAYS = int(os.environ.get("FUNDWATCH_DOCS_INDEX_DAYS") or 92)
CHECKPOINT = "fundwatch_daily"
BROKEN_EXIT = 3


class BrokenCheckError(RuntimeError):
    """A check could not be evaluated: the run must fail, with the reason."""


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    rule_name: str
    severity: str
    suite: str
    failing: int
    amount_at_risk: Decimal
    sample: tuple[str, ...] = field(default_factory=tuple)
    mart: str = ""
    mart_rows: int = 0  # rows of the rule's own mart (its subjects checked)

    @property
    def success(self) -> bool:
        return self.failing == 0


@dataclass(frozen=True)
class ValidationOutcome:
    run_date: date
    rules: tuple[RuleResult, ...]
    docs_index: Path
    timings: dict[str, float] = field(default_factory=dict)  # seconds of each GX step (import, setup, ...)

    @property
    def failing_rules(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if not r.success)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_date": self.run_date.isoformat(),
            "docs_index": str(self.docs_index),
            "timings": self.timings,
            "rules": [
                {**asdict(r), "amount_at_risk": str(r.amount_at_risk), "sample": list(r.sample)} for r in self.rules
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ValidationOutcome:
        return cls(
            run_date=date.fromisoformat(data["run_date"]),
            docs_index=Path(data["docs_index"]),
            timings=data.get("timings", {}),
            rules=tuple(
                RuleResult(**{**r, "amount_at_risk": Decimal(r["amount_at_risk"]), "sample": tuple(r["sample"])})
                for r in data["rules"]
            ),
        )

    def summary_zh(self) -> str:
        n = sum(r.failing for r in self.rules)
        return (
            f"GX 校验完成：{len(self.rules)} 条规则，{len(self.failing_rules)} 条未通过，"
            f"共 {n} 个违规对象（{self.run_date}）"
        )


def _quiet_gx() -> None:
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _raised(exception_info: Any) -> str | None:
    """The message of an exception GX caught while evaluating a check, if any."""
    if not exception_info:
        return None
    if isinstance(exception_info, dict):
        if "raised_exception" in exception_info:
            if exception_info.get("raised_exception"):
                return str(exception_info.get("exception_message") or "unknown error")
            return None
        for value in exception_info.values():  # keyed by metric id in some result shapes
            msg = _raised(value)
            if msg:
                return msg
        return None
    if getattr(exception_info, "raised_exception", False):
        return str(getattr(exception_info, "exception_message", "unknown error"))
    return None


def _context(home: Home) -> Any:
    """An ephemeral GX context: suites, data source and checkpoint are built from the catalogue in
    memory each run (nothing to go stale); only validation results and Data Docs go to disk, under
    ``<home>/gx``, so the Data Docs index lists the earlier runs (those of the last ``DOCS_INDEX_DAYS``
    days; older runs' pages and results are in the archive).

    A file context costs about a second per run in YAML reads and store writes and would keep
    checkpoint and suite files that the catalogue already defines.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars={"globally": False, "metric_calculations": False},
        data_docs_sites={
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(home.gx_docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                                       "validation_results_limit": DOCS_INDEX_DAYS * len(SUITES)},
            }
        },
    )
    config.stores[config.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(results_dir(home))},
    }
    return gx.get_context(project_config=config, mode="ephemeral")


def _run_checkpoint(home: Home, run_date: date, timings: dict[str, float]) -> Any:
    t0 = perf_counter()
    # GX is imported here, in the validation process only: the pipeline process that starts it
    # never pays GX's ~3 s import.
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    from expectations import gx_duckdb
    from expectations.batches import batch_query, suite_name
    from expectations.suites import RESULT_FORMAT, build_suite

    gx_duckdb.apply()
    timings["gx_import_s"] = perf_counter() - t0
    t0 = perf_counter()
    ctx = _context(home)
    ds = ctx.data_sources.add_sql(
        "warehouse",
        connection_string=f"duckdb:///{home.warehouse}",
        kwargs={"connect_args": {"read_only": True}},
    )
    vds = []
    for suite in SUITES:
        asset = ds.add_query_asset(name=suite, query=batch_query(suite))
        batch = asset.add_batch_definition_whole_table("whole")
        expectation_suite = ctx.suites.add(build_suite(suite))
        vds.append(
            ctx.validation_definitions.add(
                gx.ValidationDefinition(name=suite_name(suite), data=batch, suite=expectation_suite)
            )
        )
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(
            name=CHECKPOINT,
            validation_definitions=vds,
            actions=[],  # Data Docs are built once below, not once per suite
            result_format=RESULT_FORMAT,
        )
    )
    timings["gx_setup_s"] = perf_counter() - t0
    t0 = perf_counter()
    run_time = datetime.combine(run_date, time(6, 0), tzinfo=SHANGHAI)
    result = checkpoint.run(run_id=RunIdentifier(run_name=run_name(run_date), run_time=run_time))
    timings["gx_validate_s"] = perf_counter() - t0
    t0 = perf_counter()
    # This run's pages and the index, in one build (older runs' pages are already on disk).
    ctx.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=list(result.run_results))
    localise(home.gx_docs_dir)
    # What the index no longer lists leaves the stores GX lists on every run (kept in the archive).
    archive_old_runs(home, DOCS_INDEX_DAYS, run_name(run_date))
    timings["gx_docs_s"] = perf_counter() - t0
    return result


def _findings_totals(warehouse: Path) -> dict[str, tuple[int, Decimal]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select rule_id, count(*), coalesce(sum(amount_at_risk), 0) from marts.fct_findings group by 1"
        ).fetchall()
    return {r[0]: (int(r[1]), Decimal(r[2]).quantize(Decimal("0.01"))) for r in rows}


def validate_marts(home: Home, run_date: date) -> ValidationOutcome:
    """Validate the marts with the GX suites as of ``run_date``; build Data Docs; cross-check findings.

    Runs in a child process, so that GX's persisted read-only DuckDB connection (gx_duckdb) and its
    file lock end with it. Raises :class:`BrokenCheckError` when any check errored or GX and
    ``fct_findings`` disagree.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "outcome.json"
        proc = subprocess.run(
            [sys.executable, "-m", "expectations.validate", "--home", str(home.root),
             "--date", run_date.isoformat(), "--json", str(out)],
            capture_output=True, text=True, check=False,
        )
        for line in proc.stderr.splitlines()[-40:]:
            log.info("gx: %s", line)
        if proc.returncode == BROKEN_EXIT:
            raise BrokenCheckError(out.read_text(encoding="utf-8"))
        if proc.returncode != 0:
            raise BrokenCheckError(
                f"GX 校验进程异常退出（validation process failed, exit {proc.returncode}）：{proc.stderr[-2000:]}"
            )
        outcome = ValidationOutcome.from_json(json.loads(out.read_text(encoding="utf-8")))
    _cross_check(outcome, _findings_totals(home.warehouse))
    return outcome  # the pipeline stage logs its summary


def _cross_check(outcome: ValidationOutcome, findings: dict[str, tuple[int, Decimal]]) -> None:
    """GX's count and amount per rule must equal those of marts.fct_findings."""
    disagree = []
    for r in outcome.rules:
        n, amt = findings.get(r.rule_id, (0, Decimal("0.00")))
        if (n, amt) != (r.failing, r.amount_at_risk):
            disagree.append(f"{r.rule_id}: GX {r.failing} 个/¥{r.amount_at_risk} ≠ fct_findings {n} 个/¥{amt}")
    if disagree:
        reason = "GX 校验结果与 fct_findings 不一致（suites and findings disagree）："
        raise BrokenCheckError(reason + "; ".join(disagree))


def _validate_in_process(home: Home, run_date: date) -> ValidationOutcome:
    _quiet_gx()
    timings: dict[str, float] = {}
    result = _run_checkpoint(home, run_date, timings)
    catalogue = by_id()
    suite_of = {r.rule_id: s for s, rules in by_suite().items() for r in rules}
    counts: dict[str, int] = {}
    amounts: dict[str, Decimal] = {}
    samples: dict[str, tuple[str, ...]] = {}
    mart_rows: dict[str, int] = {}
    broken: list[str] = []
    for vr in result.run_results.values():
        for er in vr.results:
            cfg = er.expectation_config
            rule_id = (cfg.meta or {}).get("rule_id", "?")
            msg = _raised(er.exception_info)
            if msg:
                broken.append(f"{rule_id} ({cfg.type}): {msg}")
                continue
            res = er.result or {}
            counts[rule_id] = int(res.get("unexpected_count") or 0)
            mart_rows[rule_id] = int(res.get("element_count") or 0)
            amounts[rule_id] = Decimal(res.get("amount_at_risk") or "0.00")
            samples[rule_id] = tuple(str(v) for v in res.get("partial_unexpected_list") or ())
    missing = sorted(set(catalogue) - set(counts))
    if broken or missing:
        raise BrokenCheckError(
            "规则校验本身出错，本次运行作废（a check errored; the run is failed, not reported as data）："
            + "; ".join(broken + [f"{m}: 无结果 (no result)" for m in missing])
        )

    rules = tuple(
        RuleResult(
            rule_id=r.rule_id,
            rule_name=r.rule_name,
            severity=r.severity,
            suite=suite_of[r.rule_id],
            failing=counts[r.rule_id],
            amount_at_risk=amounts.get(r.rule_id, Decimal("0.00")),
            sample=samples.get(r.rule_id, ()),
            mart=r.mart,
            mart_rows=mart_rows.get(r.rule_id, 0),
        )
        for r in catalogue.values()
    )
    outcome = ValidationOutcome(
        run_date=run_date, rules=rules, docs_index=home.gx_docs_dir / "index.html", timings=timings
    )
    add_overview(
        home.gx_docs_dir,
        run_name(run_date),
        [{**asdict(r), "requirement": catalogue[r.rule_id].requirement} for r in rules],
    )
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Child-process entry: validate, write the outcome (or the broken-check reason) to --json."""
    parser = argparse.ArgumentParser(prog="python -m expectations.validate")
    parser.add_argument("--home", required=True)
    parser.add_argument("--date", required=True, type=date.fromisoformat)
    parser.add_argument("--json", required=True, type=Path)
    args = parser.parse_args(argv)
    # Before GX is imported: the modules GX imports but the suites never run stay unexecuted.
    from expectations import lazy_imports

    lazy_imports.install()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        outcome = _validate_in_process(Home.resolve(args.home), args.date)
    except BrokenCheckError as exc:
        args.json.write_text(str(exc), encoding="utf-8")
        return BROKEN_EXIT
    args.json.write_text(json.dumps(outcome.to_json(), ensure_ascii=False), encoding="utf-8")
    return 0


def _exit(code: int) -> None:
    """End the process as any exit does (exit handlers, logging flushed, output flushed), without
    Python's teardown of GX's modules and objects: at 1M payments that took 0.5-0.6 s after the work
    was done, on every run (the parent waits for the process to end). The DuckDB connection is
    read-only: nothing is left to write. ``fundwatch.dbt_cli`` ends dbt's process the same way; these
    few lines are this package's own, as it uses only fundwatch's contracts (tests/test_architecture.py)."""
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        _code = main()
    except SystemExit as exc:  # argparse's own exits
        _code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported on stderr as an uncaught error would be
        import traceback

        traceback.print_exc()
        _code = 1
    _exit(_code)
