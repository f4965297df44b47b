"""The stages of the daily pipeline. The DAG's tasks and the CLI call these and nothing else.

Every stage is keyed on the run date it is given (the Airflow logical date), never the wall clock,
and can be re-run: re-running a day loads nothing new, rebuilds the same marts and records the same
findings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from fundwatch.paths import Home

log = logging.getLogger(__name__)
EXPORT_DUCKDB_MEMORY = "4GB"  # the same cap as dbt (profiles.yml)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class StageResult:
    stage: str
    seconds: float
    summary: str
    detail: dict

    def to_xcom(self) -> dict:
        """Small and JSON-able: XCom carries references and counts, never data."""
        return {"stage": self.stage, "seconds": round(self.seconds, 2), "summary": self.summary, **self.detail}


def _timed(stage: str):
    def wrap(fn):
        def inner(*args, **kwargs) -> StageResult:
            t0 = time.perf_counter()
            summary, detail = fn(*args, **kwargs)
            res = StageResult(stage, time.perf_counter() - t0, summary, detail)
            log.info("[%s] %s (%.1f s)", stage, summary, res.seconds)
            return res

        inner.__name__ = fn.__name__
        inner.__doc__ = fn.__doc__
        return inner

    return wrap


@_timed("ingest")
def ingest(home: Home, inbox: Path, run_id: str, run_date: date):
    """Load the inbox into the raw layer (new and corrected files only)."""
    from ingestion import load_inbox

    home.ensure()
    loaded_at = datetime.now(SHANGHAI).replace(tzinfo=None)  # lineage: when the bytes were loaded
    report = load_inbox(inbox, home.warehouse, run_id=run_id, loaded_at=loaded_at, progress=log.info)
    return report.summary_zh(), {
        "files_seen": report.files_seen,
        "files_loaded": report.files_loaded,
        "files_rejected": report.files_rejected,
        "rows_loaded": report.rows_loaded,
        "rows_rejected": report.rows_rejected,
    }


@_timed("dbt_build")
def build(home: Home, run_date: date):
    """dbt seed + build of every model and dbt test, as of the run date."""
    from fundwatch.warehouse import dbt_build

    dbt_build(home, run_date)
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        n = con.execute("select count(*) from marts.fct_findings").fetchone()[0]
    return f"dbt build 完成：{n} 条问题线索（as of {run_date}）", {"findings": int(n)}


@_timed("validate")
def validate(home: Home, run_date: date):
    """GX suites over the marts; Data Docs; broken checks fail the run."""
    from expectations.validate import validate_marts

    outcome = validate_marts(home, run_date)
    return outcome.summary_zh(), {
        "failing_rules": [r.rule_id for r in outcome.failing_rules],
        "gx_docs": str(outcome.docs_index),
    }


# Evidence shown on a finding's page: the subject's own source row, the roster entry, the project
# document and the matched credits. Stored unmasked in state.sqlite; the review page masks by role.
EVIDENCE_SQL = """
with f as (
    select * from marts.fct_findings
),
refs as (
    select distinct subject_type, source_file, source_row from f where source_file is not null
),
-- Only the raw rows that findings point at are turned into JSON (a whole table would cost GBs).
src as (
    select 'allocation' as st, t.source_file, t.source_row, to_json(t) as j
    from raw.allocations t semi join refs r
        on r.subject_type = 'allocation' and r.source_file = t.source_file and r.source_row = t.source_row
    union all
    select 'transfer', t.source_file, t.source_row, to_json(t) from raw.credits t semi join refs r
        on r.subject_type = 'transfer' and r.source_file = t.source_file and r.source_row = t.source_row
    union all
    select 'payment', t.source_file, t.source_row, to_json(t) from raw.payments t semi join refs r
        on r.subject_type = 'payment' and r.source_file = t.source_file and r.source_row = t.source_row
    union all
    select 'roster_entry', t.source_file, t.source_row, to_json(t) from raw.roster t semi join refs r
        on r.subject_type = 'roster_entry' and r.source_file = t.source_file and r.source_row = t.source_row
    union all
    select 'expenditure', t.source_file, t.source_row, to_json(t) from raw.expenditures t semi join refs r
        on r.subject_type = 'expenditure' and r.source_file = t.source_file and r.source_row = t.source_row
    union all
    select 'row', t.source_file, t.source_row, to_json(t) from raw.rejected_rows t semi join f
        on f.subject_type = 'row' and f.subject_key = t.source_file || '|' || t.source_row
),
files as (
    select source_file, to_json(t) as j from raw.files t semi join f
        on f.subject_type = 'file' and f.subject_key = t.source_file
    where is_current
),
payer as (
    select p.source_file, p.source_row, p.project_code, p.id_number from raw.payments p semi join refs r
        on r.subject_type = 'payment' and r.source_file = p.source_file and r.source_row = p.source_row
),
roster_keys as (
    select project_code, id_number from payer
    union
    select split_part(subject_key, '|', 1), split_part(subject_key, '|', 2) from f
    where subject_type = 'roster_entry'
),
roster as (
    select t.project_code, t.id_number, to_json(t) as j from raw.roster t semi join roster_keys k
        on k.project_code = t.project_code and k.id_number = t.id_number
),
projects as (
    select project_code, to_json(t) as j from raw.projects t
),
credits as (
    select c.matched_allocation_key, c.matched_project_code, to_json(r) as j
    from intermediate.int_credits_matched_to_allocations as c
    inner join raw.credits as r on r.txn_ref = c.txn_ref
),
credits_by_allocation as (
    select matched_allocation_key as k, list(j) as credits from credits
    where matched_allocation_key is not null group by 1
),
credits_by_project as (
    select matched_project_code as k, list(j) as credits from credits
    where matched_project_code is not null group by 1
)
select
    f.rule_id, f.rule_name, f.severity, f.subject_type, f.subject_key, f.project_code, f.unit_code,
    f.amount_at_risk, f.source_file, f.source_row, f.detail,
    json_object(
        'source_row', coalesce(src.j, src_row.j, files.j),
        'roster_entry', coalesce(roster_self.j, roster_of_payment.j),
        'project', projects.j,
        'credits', coalesce(ca.credits, cp.credits, []::json[])
    )::varchar as evidence_json
from f
left join src
    on src.st = f.subject_type and src.source_file = f.source_file and src.source_row = f.source_row
left join src as src_row
    on f.subject_type = 'row' and src_row.st = 'row'
    and f.subject_key = src_row.source_file || '|' || src_row.source_row
left join files on f.subject_type = 'file' and files.source_file = f.subject_key
left join roster as roster_self
    on f.subject_type = 'roster_entry' and f.subject_key = roster_self.project_code || '|' || roster_self.id_number
left join payer
    on f.subject_type = 'payment' and payer.source_file = f.source_file and payer.source_row = f.source_row
left join roster as roster_of_payment
    on roster_of_payment.project_code = payer.project_code and roster_of_payment.id_number = payer.id_number
left join projects on projects.project_code = f.project_code
left join credits_by_allocation as ca on f.subject_type = 'allocation' and ca.k = f.subject_key
left join credits_by_project as cp on f.subject_type = 'project' and cp.k = f.subject_key
"""


def iter_findings(warehouse: Path, batch: int = 20_000) -> Iterator[dict]:
    """fct_findings with each finding's evidence as JSON text (money exact), read-only, in batches.

    Streams, so that a day with hundreds of thousands of findings never holds them all as Python
    objects; DuckDB's own memory is capped too.
    """
    spill = warehouse.parent / "tmp"
    spill.mkdir(exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # A read-only connection spills nowhere unless told: give it a folder of the home.
        con.execute(f"set memory_limit = '{EXPORT_DUCKDB_MEMORY}'")
        con.execute(f"set temp_directory = '{spill}'")
        con.execute("set preserve_insertion_order = false")
        cur = con.execute(EVIDENCE_SQL)
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(batch):
            for row in rows:
                yield dict(zip(names, row, strict=True))


def project_list(warehouse: Path) -> list[tuple]:
    """(code, name, unit) of every project in force, for the upload templates' drop-down."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT project_code, project_name, unit_code FROM raw.projects ORDER BY 1").fetchall()


@_timed("export")
def export(home: Home, run_id: str, run_date: date, out_dir: Path):
    """Record the run's findings in the state store (ids, first_seen, history) and write the export;
    keep the project list for the upload templates (the review service never opens the warehouse)."""
    from fundwatch import state
    from fundwatch.export import write_export
    from fundwatch.uploads.templates import save_projects

    summary = state.record_run(home.state_db, run_id=run_id, run_date=run_date,
                               findings=iter_findings(home.warehouse))
    save_projects(home, project_list(home.warehouse))
    rows = state.export_rows(home.state_db)
    csv_path, xlsx_path = write_export(rows, out_dir)
    return (
        f"导出 {len(rows)} 条问题线索（新增 {summary.new}，关闭 {summary.closed}）→ {csv_path}",
        {"findings": len(rows), "new": summary.new, "closed": summary.closed,
         "csv": str(csv_path), "xlsx": str(xlsx_path)},
    )


@_timed("docs")
def docs(home: Home, run_date: date):
    """The dbt docs as one self-contained page, compiled as of the run date (GX Data Docs are built by
    the validate stage)."""
    from fundwatch.warehouse import dbt_docs

    index = dbt_docs(home, run_date)
    return f"dbt 文档已生成：{index}", {"dbt_docs": str(index), "gx_docs": str(home.gx_docs_dir / "index.html")}
