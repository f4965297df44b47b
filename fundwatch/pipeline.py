"""The daily pipeline: its stages, in order, and the one way to run a day (``run_day``).

``STAGES`` (at the end of this module) is the only place the sequence is written: the DAG makes one
task per stage from it and each task runs its stage by name (``run_stage``); ``fundwatch bench``,
``fundwatch simulate`` and the tests call ``run_day``. Adding a stage is one line in ``STAGES``.

Every stage is keyed on the run date it is given (the Airflow logical date), never the wall clock,
and can be re-run: re-running a day loads nothing new, rebuilds the same marts and records the same
findings. The DAG imports this module when Airflow parses it, so nothing heavy is imported at
module level (each stage imports what it needs; ``tests/dags`` checks this).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fundwatch.paths import Home

log = logging.getLogger(__name__)
# DuckDB's cap when the export reads the findings. DuckDB keeps the warehouse blocks it read up to its cap:
# at 10M payments the first export peaked at 3.6-3.8 GB with 4 GB, 2.5 GB with 3 GB, as fast (22.5-24 s);
# reading every finding's evidence (1.06M records grouped per finding) ran out of memory at 1.5 GB.
EXPORT_DUCKDB_MEMORY = "3GB"
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


class RunRefused(RuntimeError):
    """A stage cannot run and retrying will not help (a configuration error, e.g. no inbox folder):
    the DAG fails the run at once, so the alert goes out at once (Chinese message, English beside)."""


def _timed(stage: str):
    """Time and log a stage; while it works it holds its home (``fundwatch.inuse``: no restore meanwhile)."""
    def wrap(fn):
        def inner(home: Home, *args, **kwargs) -> StageResult:
            from fundwatch import inuse

            t0 = time.perf_counter()
            with inuse.hold(home, f"每日运行 daily run（{stage}）"):
                summary, detail = fn(home, *args, **kwargs)
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

    if not Path(inbox).is_dir():
        raise RunRefused(f"收件箱目录不存在（inbox folder not found）：{inbox}；检查 FUNDWATCH_INBOX 或运行参数 inbox")
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
    import duckdb

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
        "timings": outcome.timings,  # seconds of GX's own steps (import, setup, run, Data Docs): bench
    }


# Each finding with its evidence (dbt model marts.fct_finding_evidence, one row per record) as one
# JSON object: one key per evidence kind, each a list of records (source_file, source_row, fields;
# money as 2-decimal text). The records are JSON text already: they are joined as text, never parsed,
# so nothing turns an amount into a float. Stored unmasked in state.sqlite; the page masks by role.
# {only}: nothing, or the condition that keeps the findings whose ids are in the temp table ``wanted``
# ({only_evidence}: the same on the evidence, by its finding_id column, the same id).
# Each list is gathered unordered and sorted as a list (by record_seq, then by kind: both unique, and
# never NULL, dbt's tests on fct_finding_evidence), not by ordered aggregates: at 10M payments (1.04M
# records, 400 MB of JSON) 3.5 s instead of 5.5 s, the same text for every finding.
EVIDENCE_SQL = """
with evidence_lists as (
    select
        finding_id, evidence_kind,
        '[' || array_to_string(list_transform(list_sort(list({{'s': record_seq, 'j': record_json}})),
            lambda r: r.j), ',') || ']' as records
    from marts.fct_finding_evidence
    where true {only_evidence}
    group by finding_id, evidence_kind
),
evidence as (
    select
        finding_id,
        '{{' || array_to_string(list_transform(list_sort(list({{'k': evidence_kind, 'r': records}})),
            lambda e: to_json(e.k)::varchar || ':' || e.r), ',') || '}}' as evidence_json
    from evidence_lists
    group by finding_id
)
select
    f.finding_id, f.rule_id, f.rule_name, f.severity, f.subject_type, f.subject_key, f.project_code,
    f.unit_code, f.amount_at_risk, f.source_file, f.source_row, f.detail,
    coalesce(evidence.evidence_json, '{{}}') as evidence_json
from marts.fct_findings as f
left join evidence using (finding_id)
where true {only}
"""
# Each finding's id and the fingerprint of everything the state stores of it, in two parts,
# ``<attributes>:<evidence>``: an MD5 of its attributes (fct_findings.attributes_md5) and one of its
# evidence records (incremental.evidence_fingerprints, dbt_project/macros/incremental.sql): both
# computed by dbt where the finding or its evidence is written, so that a day reads one row per finding
# instead of hashing every finding's attributes and 1.06M evidence records (10M payments: 0.8 s of the
# day after's export stage). A finding whose fingerprint the state holds already is recorded without
# being read again; one whose evidence part is the same (an amount or a sentence that moved, as an
# allocation's shortfall) without its evidence being read. A finding without an evidence fingerprint
# (none is missing after a build) has none: it is read and written whole.
FINGERPRINT_SQL = """
select f.finding_id, f.attributes_md5 || ':' || e.evidence_md5 as content_hash
from marts.fct_findings as f
left join incremental.evidence_fingerprints as e using (finding_id)
order by f.finding_id
"""
# The day's counts of findings as the state's history_daily keeps them (``state.Held.offer``).
DAILY_SQL = "select rule_id, severity, unit_code, project_code, count(*) from marts.fct_findings group by all"
# Both reads come ordered by finding_id, the key of the state's tables: SQLite then inserts the findings
# (finding_rows, finding_evidence, the run's _fired) in key order instead of scattered over the B-trees:
# at 380,000 findings the first recording took 35-38 s instead of 41 s, a day's 12.0 instead of 12.4 s
# (its _fired inserts 0.7 instead of 2.5 s).
# The attributes of the findings whose ids are in the temp table ``wanted`` (their evidence as stored).
ATTRIBUTES_SQL = """
select
    finding_id, rule_id, rule_name, severity, subject_type, subject_key, project_code, unit_code,
    amount_at_risk, source_file, source_row, detail
from marts.fct_findings
where finding_id in (select finding_id from wanted)
"""


def iter_findings(warehouse: Path, known: Mapping[str, str] | None = None, batch: int = 20_000) -> Iterator:
    """fct_findings with each finding's evidence (fct_finding_evidence) as JSON text, read-only, in batches,
    each as the row the state records (``state.FindingRow``) with its ``content_hash`` (``FINGERPRINT_SQL``).

    A finding whose fingerprint is in ``known`` (finding_id -> content_hash: what the state holds, as
    ``state.record_run`` reads it inside its transaction) comes as just ``{"finding_id", "content_hash"}``:
    it is not read again (``state.record_run`` records it as stored); when ``known`` is the state's own
    (``state.Held``, as ``record_run`` gives it), all of them are handed over at once (``Held.offer``,
    with the day's counts, ``DAILY_SQL``, from the same read) and none is yielded. One whose stored
    fingerprint has the same evidence part comes with its attributes and no evidence (None: the evidence
    as stored), which is not read again either. Streams, so that a day with hundreds of thousands of findings never
    holds them all as Python objects (``state.record_run`` writes them batch by batch); DuckDB's own memory
    is capped too.
    """
    import duckdb

    from fundwatch.state import Held, evidence_part

    known = {} if known is None else known  # not ``or``: the length of a Held is a read of the state
    spill = warehouse.parent / "tmp"
    spill.mkdir(exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # A read-only connection spills nowhere unless told: give it a folder of the home.
        con.execute(f"set memory_limit = '{EXPORT_DUCKDB_MEMORY}'")
        con.execute(f"set temp_directory = '{spill}'")
        con.execute("set preserve_insertion_order = false")
        con.execute("begin transaction")  # both reads below see the same warehouse
        pairs = con.execute(FINGERPRINT_SQL).fetchall()
        hashes = dict(pairs)
        changed, attributes_only = [], []
        if isinstance(known, Held):  # the unchanged recorded by the state in one go, the others returned
            others = known.offer(pairs, daily=con.execute(DAILY_SQL).fetchall())
        else:
            others = {}
            for fid, h in pairs:
                if known.get(fid) == h:
                    yield {"finding_id": fid, "content_hash": h}
                else:
                    others[fid] = known.get(fid)
        del pairs
        for fid, stored in others.items():
            h = hashes[fid]
            if evidence_part(h) is not None and evidence_part(stored) == evidence_part(h):
                attributes_only.append(fid)
            else:
                changed.append(fid)
        con.execute("create temp table wanted (finding_id varchar)")
        if attributes_only:
            con.execute("insert into wanted select unnest(?::varchar[])", [attributes_only])
            yield from _read(con, [ATTRIBUTES_SQL], hashes, batch, evidence=False)
        if not changed:
            return
        wanted = ""
        if len(changed) < len(hashes):
            con.execute("delete from wanted")
            con.execute("insert into wanted select unnest(?::varchar[])", [changed])
            wanted = " in (select finding_id from wanted)"
        reads = []
        for lo, hi in _id_ranges(sorted(changed)):
            only = _in_range("f.finding_id", lo, hi) + (f" and f.finding_id{wanted}" if wanted else "")
            only_evidence = _in_range("finding_id", lo, hi) + (f" and finding_id{wanted}" if wanted else "")
            reads.append(EVIDENCE_SQL.format(only=only, only_evidence=only_evidence))
        yield from _read(con, reads, hashes, batch)


# The findings with their evidence are read a range of ids at a time (the ids are uniform: hex digits of
# a SHA-256), each range by one query in key order, and the next range while the state writes the last:
# at most EVIDENCE_READ_FINDINGS a range, and EVIDENCE_READ_RANGES ranges of 5,000 or more once there are
# that many. At 10M payments (381,739 findings, 1.06M evidence records) 8 ranges took 2.8 s of queries
# against one query's 4.4 s (each groups and sorts an eighth), most of it while SQLite writes; 38 ranges
# cost more (each range's filter then hashed every finding's key; it reads fct_findings.finding_id now).
# At 1M (37,871 findings) 4 ranges: the export 2.0-2.15 s against 2.3 s in one, its peak 650 -> 410 MB.
EVIDENCE_READ_FINDINGS = 50_000
EVIDENCE_READ_RANGES = 4


def _id_ranges(ids: list[str]) -> list[tuple[str | None, str | None]]:
    """Ranges [lo, hi) of sorted ``ids`` (None: unbounded), as many as the constants above say."""
    k = max(1, -(-len(ids) // EVIDENCE_READ_FINDINGS), min(EVIDENCE_READ_RANGES, len(ids) // 5_000))
    bounds = [None, *(ids[len(ids) * i // k] for i in range(1, k)), None]
    return list(zip(bounds, bounds[1:], strict=False))


def _in_range(column: str, lo: str | None, hi: str | None) -> str:
    """SQL: `` and`` conditions keeping ``column`` in [lo, hi) (hex ids: nothing to quote)."""
    return (f" and {column} >= '{lo}'" if lo else "") + (f" and {column} < '{hi}'" if hi else "")


def _read(con, reads: list[str], hashes: Mapping[str, str], batch: int, *,
          evidence: bool = True) -> Iterator[tuple]:
    """The findings the queries ``reads`` give (each a range of ids, in order), in batches, as the state
    records them (``state.FindingRow``: its id as fct_findings holds it, the amount as 2-place text, the
    evidence JSON or, without ``evidence``, None: as stored), each with its ``content_hash``, in the
    order of the state's keys (FINGERPRINT_SQL). No dict per finding: at 10M payments (385,733
    findings) the dicts took ~2.5 s of a first recording.

    A thread of its own runs the queries on ``con`` (which nothing else uses meanwhile: the same
    transaction) and fetches their rows, a few batches ahead: DuckDB computes the next range while
    the caller writes this one."""
    import queue
    import threading

    from fundwatch.state import FindingRow

    ahead: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for sql in reads:
                if stop.is_set():
                    return
                cur = con.execute(f"""
                    select
                        finding_id as fw_finding_id, rule_id, rule_name, severity, subject_type,
                        subject_key, project_code, unit_code, cast(amount_at_risk as varchar), source_file,
                        source_row, detail, {"evidence_json" if evidence else "null"}
                    from ({sql}) order by fw_finding_id""")
                while not stop.is_set() and (rows := cur.fetchmany(batch)):
                    ahead.put(rows)
            ahead.put(None)
        except BaseException as exc:  # noqa: BLE001 - raised again in the reading thread
            ahead.put(exc)

    reader = threading.Thread(target=fetch, name="fw-findings-read", daemon=True)
    reader.start()
    try:
        while (rows := ahead.get()) is not None:
            if isinstance(rows, BaseException):
                raise rows
            for row in rows:
                yield FindingRow((*row, hashes[row[0]]))
    finally:
        stop.set()
        while reader.is_alive():  # a put waiting for room returns; a query running ends
            try:
                ahead.get(timeout=0.05)
            except queue.Empty:
                pass
        reader.join()


def project_list(warehouse: Path) -> list[tuple]:
    """(code, name, unit) of every project in force, for the upload templates' drop-down."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT project_code, project_name, unit_code FROM raw.projects ORDER BY 1").fetchall()


@_timed("export")
def export(home: Home, run_id: str, run_date: date, out_dir: Path):
    """Record the run's findings in the state store (ids, first_seen, history) and write the export;
    keep the project list for the upload templates (the review service never opens the warehouse);
    then the daily digest per unit (``fundwatch.digest.after_run``: stored, sent where configured;
    a configured channel that fails fails this stage after every unit was tried, and a retry sends
    only what was not delivered)."""
    from fundwatch import digest, state
    from fundwatch.export import ExportRows, refresh_export, reusable
    from fundwatch.uploads.projects import save_projects

    summary = state.record_run(home.state_db, run_id=run_id, run_date=run_date,
                               findings=lambda known: iter_findings(home.warehouse, known))
    save_projects(home, project_list(home.warehouse))
    # One read of the rows and their fingerprint: the run date changes as-of details, so most days the
    # export changes and is written (reading a fingerprint first, then the rows, cost a second read).
    # Only the rows of the parts that the files there do not hold already are read.
    read = state.export_parts(home.state_db, reusable(out_dir))
    rows = ExportRows(read, lambda: state.export_parts(home.state_db))  # the files' columns from the rows as read
    csv_path, xlsx_path, _ = refresh_export(rows, out_dir, read.fingerprint)
    n = len(rows)
    sent = digest.after_run(home, run_date)
    return (
        f"导出 {n} 条问题线索（新增 {summary.new}，关闭 {summary.closed}）→ {csv_path}；"
        f"监督日报 {sent['digests']} 份，推送 {sent['sent']} 份",
        {"findings": n, "new": summary.new, "closed": summary.closed,
         "csv": str(csv_path), "xlsx": str(xlsx_path), "digests": sent["digests"], "digests_sent": sent["sent"]},
    )


@_timed("backup")
def backup(home: Home, run_date: date):
    """A backup of what cannot be rebuilt (state, attachments, uploads) into the home's backups folder;
    the last 30 are kept (``fundwatch.backup``)."""
    from fundwatch.backup import KEEP, backup_after_run

    info = backup_after_run(home, run_date)
    return f"备份完成（保留最近 {KEEP} 份）：{info.text()}", {"backup": str(info.path), "bytes": info.bytes}


@_timed("docs")
def docs(home: Home, run_date: date):
    """The dbt docs as one self-contained page, compiled as of the run date (GX Data Docs are built by
    the validate stage)."""
    from fundwatch.warehouse import dbt_docs

    index = dbt_docs(home, run_date)
    return f"dbt 文档已生成：{index}", {"dbt_docs": str(index), "gx_docs": str(home.gx_docs_dir / "index.html")}


# -- the sequence ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """One day's run: everything a stage may need."""

    home: Home
    inbox: Path
    run_id: str
    run_date: date
    out: Path


@dataclass(frozen=True)
class Stage:
    name: str  # the DAG's task id and the tag of the stage's log line
    run: Callable[[Day], StageResult]
    doc: str  # one line for the DAG's documentation in the Airflow UI
    retries: int | None = None  # None: the DAG's default (2, after 30 s); 0: fail the run at once


STAGES: tuple[Stage, ...] = (
    Stage("ingest", lambda d: ingest(d.home, d.inbox, d.run_id, d.run_date),
          "入库: new and corrected files → raw layer; rejected files/rows kept with a Chinese reason"),
    Stage("dbt_build", lambda d: build(d.home, d.run_date),
          "建模: staging → intermediate → marts, dbt tests, as of the run date"),
    Stage("validate", lambda d: validate(d.home, d.run_date),
          "校验: Great Expectations suites over the marts, GX Data Docs; an erroring check fails the run",
          retries=0),  # a broken check is not transient
    Stage("export", lambda d: export(d.home, d.run_id, d.run_date, d.out),
          "导出: findings recorded (stable `finding_id`, `first_seen`, history); `findings.csv`/`.xlsx`"),
    Stage("docs", lambda d: docs(d.home, d.run_date), "文档: regenerates the dbt docs auditors browse"),
    Stage("backup", lambda d: backup(d.home, d.run_date),
          "备份: state, attachments and uploads into the home's backups folder (the last 30 kept)"),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def run_stage(name: str, day: Day) -> StageResult:
    """Run one stage of ``day`` by name (what each of the DAG's tasks does)."""
    for s in STAGES:
        if s.name == name:
            return s.run(day)
    raise ValueError(f"unknown stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")


def run_day(home: Home, inbox: Path, run_id: str, run_date: date, out: Path, *,
            stages: Iterable[str] = STAGE_NAMES) -> dict[str, StageResult]:
    """Run the day's stages in-process, in pipeline order (``stages`` picks some; the order is
    always the pipeline's). Returns each stage's result by name; a stage that raises stops the day."""
    wanted = set(stages)
    if unknown := wanted - set(STAGE_NAMES):
        raise ValueError(f"unknown stage(s) {', '.join(sorted(unknown))}; the stages are {', '.join(STAGE_NAMES)}")
    day = Day(home, inbox, run_id, run_date, out)
    return {s.name: s.run(day) for s in STAGES if s.name in wanted}
