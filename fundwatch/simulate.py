"""`fundwatch simulate`: a month of daily runs on an inbox that grows day by day.

One demo province is generated once; its files are split into ``days`` deliveries in the order a
province's clerks really send them (allocation documents and project documents first, then bank
credits month by month, rosters, postings, payments city by city, vouchers, collective decisions,
final reports and the external registers; supplements and copies after the originals of their
kind). Before the run of day ``k`` the files of delivery ``k`` are *copied* into one growing inbox
(relative paths kept), and the daily DAG runs for that date: through Airflow (``airflow dags test``,
exactly as ``fundwatch run``) or with the pipeline stages in-process, in DAG order.

After every run the simulation checks what an auditor relies on:

- the export lists every finding once (no duplicate ``finding_id``), and each ``finding_id`` is the
  hash of its (rule_id, subject_type, subject_key);
- a finding keeps its ``finding_id`` and ``first_seen`` from day to day (also when it closes and
  comes back), and a finding seen for the first time has ``first_seen`` = that day;
- ``state.sqlite`` holds each finding once, and ``finding_history`` holds one row per
  (run_date, finding_id): as many rows for the day as the export has findings, also after the
  same day is run again (``rerun_day``);
- the day's "new" and "closed" counts of the state store agree with the exports of yesterday
  and today;
- the decisions recorded on ``decision_day`` (one confirmed, one dismissed with a reason, one
  resolved) are the status of those findings in every later export that lists them.

The curve (files, rows, findings, seconds per stage and in total, per day) is written to
``HOME/simulate/curve.csv`` and drawn in ``HOME/simulate/curve.svg`` (hand-written SVG: no
plotting library is installed); the printed summary gives the least-squares slope of a run's
time in seconds per day and the ratio of the last five days' mean to the first five days'.
"""

from __future__ import annotations

import csv
import re
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from fundwatch.export import unguard
from fundwatch.paths import Home
from fundwatch.pipeline import STAGE_NAMES, run_day

# Delivery order of the kinds (source-files.md kinds, named by their raw table).
KIND_ORDER = (
    "allocations", "projects", "credits", "roster", "postings", "payments", "expenditures",
    "decisions", "final_reports", "deaths", "staff",
)
# Folders whose files arrive after the originals of their kind (supplements, copies).
LATE_FOLDERS = ("补报材料", "备份", "重复报送")

DECISIONS = (
    ("confirmed", "模拟复核：情况属实，已确认（simulated review: confirmed）"),
    ("dismissed", "模拟复核：经核实为正常业务，驳回（simulated review: dismissed, normal business）"),
    ("resolved", "模拟复核：单位已整改完毕（simulated review: resolved by the unit）"),
)
DECIDED_BY = "simulate"


class SimulationError(RuntimeError):
    """The simulation cannot start or go on (message in Chinese and English)."""


@dataclass(frozen=True)
class ManifestFile:
    path: str  # posix, relative to the inbox
    kind: str  # raw table name; "" when the file is meant to be rejected
    status: str  # data | duplicate | rejected


@dataclass(frozen=True)
class DayResult:
    """One simulated day: what was in the inbox, what the run found, how long it took."""

    day: int  # 1-based
    run_date: date
    files_delivered: int  # copied into the inbox before this day's run
    files_in_inbox: int
    rows_loaded: int  # rows of the current file versions in the raw layer after the run
    findings: int  # rows of the day's findings.csv
    new: int  # first seen today (state store)
    closed: int  # closed today (state store)
    seconds: float  # wall time of the whole run (Airflow start-up included when through Airflow)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per pipeline stage
    status: str = "success"
    decisions_checked: int = 0  # decided findings listed today whose status was checked
    problems: tuple[str, ...] = ()  # broken invariants (English, engineer-facing)
    rerun_seconds: float | None = None  # wall time of the same day run again, when rerun_day

    @property
    def stage_seconds(self) -> float:
        return sum(self.stages.values())


# -- deliveries ---------------------------------------------------------------------------------------

def read_manifest(path: Path) -> list[ManifestFile]:
    with Path(path).open(encoding="utf-8", newline="") as fh:
        return [ManifestFile(r["path"], r["kind"], r["status"]) for r in csv.DictReader(fh)]


def _phase(f: ManifestFile) -> tuple[int, int, str]:
    """Sort key of a file in the delivery order: kind, originals before supplements/copies, path."""
    kind = f.kind
    if not kind:  # a file the pipeline rejects: sent with what its name says it is, else last
        name = f.path
        kind = ("payments" if "发放" in name else "roster" if "名单" in name
                else "expenditures" if "支出" in name else "final_reports")
    late = int(f.status == "duplicate" or any(part in LATE_FOLDERS for part in f.path.split("/")[:-1]))
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), late, f.path


def plan_deliveries(files: Sequence[ManifestFile], days: int) -> list[list[str]]:
    """Split the files into ``days`` deliveries in a realistic, deterministic order.

    File ``i`` of the ordered list goes to day ``i * days // n``: every day gets a share (when
    there are at least as many files as days) and the order is kept across days.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    ordered = sorted(files, key=_phase)
    plan: list[list[str]] = [[] for _ in range(days)]
    for i, f in enumerate(ordered):
        plan[i * days // len(ordered)].append(f.path)
    return plan


def deliver(source_inbox: Path, inbox: Path, paths: Sequence[str]) -> None:
    """Copy (never move) the day's files into the growing inbox, keeping relative paths."""
    for rel in paths:
        target = inbox / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        shutil.copy2(source_inbox / rel, tmp)
        tmp.replace(target)  # the pipeline never sees half a file


# -- one day's run --------------------------------------------------------------------------------------

_STAGE_LINE = re.compile(rf"\[({'|'.join(STAGE_NAMES)})\] .*\((\d+(?:\.\d+)?) s\) \[fundwatch\.pipeline\]")


def stage_seconds_from_log(text: str) -> dict[str, float]:
    """Seconds per stage from an Airflow run log (the last attempt of each task wins)."""
    out: dict[str, float] = {}
    for m in _STAGE_LINE.finditer(text):
        out[m.group(1)] = float(m.group(2))
    return {s: out[s] for s in STAGE_NAMES if s in out}


def _run_airflow(home: Home, inbox: Path, run_date: date, out: Path) -> tuple[str, dict[str, float]]:
    from fundwatch.airflow_support import run_dag

    state = run_dag(home, inbox, run_date, out)
    log_path = home.logs_dir / f"run-{run_date.isoformat()}.log"
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    return state, stage_seconds_from_log(text)


def _run_in_process(home: Home, inbox: Path, run_date: date, out: Path,
                    skip: Sequence[str]) -> tuple[str, dict[str, float]]:
    results = run_day(home, inbox, f"simulate__{run_date.isoformat()}", run_date, out,
                      stages=[s for s in STAGE_NAMES if s not in skip])
    return "success", {name: r.seconds for name, r in results.items()}


def read_export(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def rows_loaded(home: Home) -> int:
    import duckdb

    if not home.warehouse.exists():
        return 0
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        n = con.execute("select coalesce(sum(rows_loaded), 0) from raw.files "
                        "where is_current and status = 'loaded'").fetchone()[0]
    return int(n)


# -- invariants -------------------------------------------------------------------------------------------

@dataclass
class Tracker:
    """What earlier days established, to check each new day against."""

    first_seen: dict[str, str] = field(default_factory=dict)  # finding_id -> first run date seen
    yesterday: set[str] = field(default_factory=set)
    decided: dict[str, str] = field(default_factory=dict)  # finding_id -> decided status
    history_rows: int = 0  # expected total rows of finding_history


def check_day(home: Home, run_date: date, rows: list[dict[str, str]], tr: Tracker) -> tuple[list[str], int, int, int]:
    """Check the day's export and state store; returns (problems, new, closed, decisions checked)."""
    from fundwatch.state import finding_id

    day = run_date.isoformat()
    problems: list[str] = []
    ids = [r["finding_id"] for r in rows]
    today = set(ids)
    if len(today) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        problems.append(f"duplicate finding_id in export: {dup[:5]}")
    for r in rows:
        fid = r["finding_id"]
        if fid != finding_id(r["rule_id"], r["subject_type"], unguard(r["subject_key"])):
            problems.append(f"{fid}: finding_id is not the hash of its rule/subject")
        seen = tr.first_seen.get(fid)
        if seen is None:
            if r["first_seen"] != day:
                problems.append(f"{fid}: first seen today but first_seen={r['first_seen']}")
        elif r["first_seen"] != seen:
            problems.append(f"{fid}: first_seen moved from {seen} to {r['first_seen']}")
        want = tr.decided.get(fid, "open")
        if r["status"] != want:
            problems.append(f"{fid}: status {r['status']!r}, expected {want!r}")
    checked = sum(1 for fid in tr.decided if fid in today)

    conn = sqlite3.connect(f"file:{home.state_db}?mode=ro", uri=True)
    try:
        n, distinct, keys = conn.execute(
            "SELECT count(*), count(DISTINCT finding_id), "
            "count(DISTINCT rule_id || '|' || subject_type || '|' || subject_key) FROM findings").fetchone()
        if not n == distinct == keys:
            problems.append(f"state findings table: {n} rows, {distinct} ids, {keys} subjects")
        h_day, h_total, h_distinct = conn.execute(
            "SELECT sum(run_date = ?), count(*), count(DISTINCT run_date || '|' || finding_id) "
            "FROM finding_history", (day,)).fetchone()
        if (h_day or 0) != len(rows):
            problems.append(f"finding_history has {h_day} rows for {day}, export has {len(rows)}")
        if h_total != h_distinct:
            problems.append(f"finding_history: {h_total} rows but {h_distinct} (run_date, finding_id)")
        if h_total != tr.history_rows + len(rows):
            problems.append(f"finding_history grew to {h_total} rows, expected {tr.history_rows + len(rows)}")
        new = conn.execute(
            "SELECT count(*) FROM finding_history h JOIN findings f USING (finding_id) "
            "WHERE h.run_date = ? AND f.first_seen = ?", (day, day)).fetchone()[0]
        closed = conn.execute("SELECT count(*) FROM findings WHERE closed_on = ?", (day,)).fetchone()[0]
    finally:
        conn.close()
    never_seen = len(today - tr.first_seen.keys())
    if new != never_seen:
        problems.append(f"state says {new} new, exports say {never_seen} never seen before")
    if closed != len(tr.yesterday - today):
        problems.append(f"state says {closed} closed, exports say {len(tr.yesterday - today)} gone since yesterday")
    return problems, new, closed, checked


def _accept_day(rows: list[dict[str, str]], tr: Tracker) -> None:
    for r in rows:
        tr.first_seen.setdefault(r["finding_id"], r["first_seen"])
    tr.yesterday = {r["finding_id"] for r in rows}
    tr.history_rows += len(rows)


def choose_for_decisions(rows: list[dict[str, str]], n: int = len(DECISIONS)) -> list[str]:
    """Findings to decide on, as a reviewer would pick them: the rarest rules first (the specific
    cases, not the mass findings of a half-delivered inbox), one per rule, longest open first."""
    per_rule = Counter(r["rule_id"] for r in rows)
    ordered = sorted(rows, key=lambda r: (per_rule[r["rule_id"]], r["first_seen"], r["rule_id"], r["finding_id"]))
    chosen: list[str] = []
    rules: set[str] = set()
    for r in ordered:
        if r["rule_id"] not in rules and len(chosen) < n:
            chosen.append(r["finding_id"])
            rules.add(r["rule_id"])
    for r in ordered:  # fewer rules than decisions: fill up
        if len(chosen) < n and r["finding_id"] not in chosen:
            chosen.append(r["finding_id"])
    return chosen


def record_decisions(home: Home, rows: list[dict[str, str]], tr: Tracker) -> dict[str, str]:
    """One confirmed, one dismissed (with its reason) and one resolved finding, via the state API."""
    from fundwatch.state import add_decision

    made: dict[str, str] = {}
    for fid, (action, comment) in zip(choose_for_decisions(rows), DECISIONS, strict=False):
        add_decision(home.state_db, finding_id=fid, action=action, comment=comment, username=DECIDED_BY)
        made[fid] = action
    tr.decided.update(made)
    return made


# -- curve and summary -------------------------------------------------------------------------------------

def slope(ys: Sequence[float]) -> float:
    """Least-squares slope of ys against 1, 2, 3 ... (units of y per day)."""
    n = len(ys)
    if n < 2:
        return 0.0
    mx = (n + 1) / 2
    my = sum(ys) / n
    sxx = sum((i + 1 - mx) ** 2 for i in range(n))
    return sum((i + 1 - mx) * (y - my) for i, y in enumerate(ys)) / sxx


def flatness(ys: Sequence[float], k: int = 5) -> tuple[float, float]:
    """(slope in seconds per day, mean of the last k ÷ mean of the first k)."""
    if not ys:
        return 0.0, 1.0
    k = max(1, min(k, len(ys) // 2 or 1))
    first, last = sum(ys[:k]) / k, sum(ys[-k:]) / k
    return slope(ys), (last / first if first else float("nan"))


CSV_COLUMNS = ("day", "run_date", "files_delivered", "files_in_inbox", "rows_loaded", "findings", "new",
               "closed", *[f"{s}_s" for s in STAGE_NAMES], "stage_s", "total_s", "status", "problems")


def write_curve_csv(results: Sequence[DayResult], path: Path) -> Path:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in results:
            w.writerow([r.day, r.run_date.isoformat(), r.files_delivered, r.files_in_inbox, r.rows_loaded,
                        r.findings, r.new, r.closed,
                        *[f"{r.stages[s]:.2f}" if s in r.stages else "" for s in STAGE_NAMES],
                        f"{r.stage_seconds:.2f}", f"{r.seconds:.2f}", r.status, len(r.problems)])
    tmp.replace(path)
    return path


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_curve_svg(results: Sequence[DayResult], path: Path, *, width: int = 720, height: int = 300) -> Path:
    """Line chart: a run's wall time and its pipeline-stage time (left axis, s), findings (right axis)."""
    left, right, top, bottom = 52, 56, 28, 44
    pw, ph = width - left - right, height - top - bottom
    n = max(len(results), 1)
    smax = max([r.seconds for r in results] + [1.0]) * 1.1
    fmax = max([r.findings for r in results] + [1]) * 1.1

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def ys(v: float) -> float:
        return top + ph - ph * v / smax

    def yf(v: float) -> float:
        return top + ph - ph * v / fmax

    def line(points: list[tuple[float, float]], colour: str, dash: str = "") -> str:
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2"{extra} points="{pts}"/>'

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#888"/>',
             f'<line x1="{left + pw}" y1="{top}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>']
    for i in range(5):
        v = smax * i / 4
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{ys(v):.1f}" y2="{ys(v):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{ys(v) + 4:.1f}" text-anchor="end" fill="#1f5fa8">{v:.0f}</text>'
                     f'<text x="{left + pw + 4}" y="{yf(fmax * i / 4) + 4:.1f}" fill="#c0392b">'
                     f'{fmax * i / 4:.0f}</text>')
    every = max(1, round(n / 10))
    for i, r in enumerate(results):
        if i % every == 0 or i == n - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{top + ph + 14}" text-anchor="middle" fill="#444">'
                         f'{r.run_date.isoformat()[5:]}</text>')
    if results:
        parts.append(line([(x(i), ys(r.seconds)) for i, r in enumerate(results)], "#1f5fa8"))
        parts.append(line([(x(i), ys(r.stage_seconds)) for i, r in enumerate(results)], "#5dade2", "4 3"))
        parts.append(line([(x(i), yf(r.findings)) for i, r in enumerate(results)], "#c0392b"))
        s, ratio = flatness([r.seconds for r in results])
        title = (f"每日运行用时与问题数（run time and findings per day）：斜率 slope {s:+.2f} s/day，"
                 f"后5日/前5日 {ratio:.2f}")
    else:
        title = "尚无运行（no runs yet）"
    parts.append(f'<text x="{left}" y="16" fill="#222">{_esc(title)}</text>')
    parts.append(f'<text x="{left}" y="{height - 8}" fill="#1f5fa8">— 整次运行秒数 wall s</text>'
                 f'<text x="{left + 170}" y="{height - 8}" fill="#5dade2">- - 各阶段合计 stage s</text>'
                 f'<text x="{left + 340}" y="{height - 8}" fill="#c0392b">— 问题数 findings（右轴）</text>')
    parts.append("</svg>\n")
    tmp = path.with_suffix(".svg.tmp")
    tmp.write_text("".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path


def format_row(r: DayResult) -> str:
    st = " ".join(f"{r.stages[s]:6.1f}" if s in r.stages else "     -" for s in STAGE_NAMES)
    flag = "" if not r.problems and r.status == "success" else f"  !{r.status} {len(r.problems)} problem(s)"
    if r.rerun_seconds is not None:
        flag += f"  (run again: {r.rerun_seconds:.1f} s)"
    return (f"{r.day:3d} {r.run_date.isoformat()} {r.files_delivered:3d} {r.files_in_inbox:4d} "
            f"{r.rows_loaded:8d} {r.findings:6d} {r.new:4d} {r.closed:4d} {st} {r.seconds:7.1f}{flag}")


_SHORT = {"dbt_build": "dbt", "validate": "valid"}
HEADER = (f"{'day':>3} {'run_date':10} {'+f':>3} {'files':>4} {'rows':>8} {'finds':>6} {'new':>4} "
          f"{'cls':>4} {' '.join(f'{_SHORT.get(s, s)[:6]:>6}' for s in STAGE_NAMES)} {'total_s':>7}")


def summary_lines(results: Sequence[DayResult]) -> list[str]:
    ok = [r for r in results if r.status == "success"]
    walls = [r.seconds for r in ok]
    stages = [r.stage_seconds for r in ok]
    s_wall, ratio_wall = flatness(walls)
    s_stage, ratio_stage = flatness(stages)
    problems = sum(len(r.problems) for r in results)
    lines = [
        f"days={len(results)} succeeded={len(ok)} invariant_problems={problems}",
        f"run wall time: mean {sum(walls) / max(len(walls), 1):.1f} s, slope {s_wall:+.3f} s/day, "
        f"last5/first5 = {ratio_wall:.2f}",
        f"pipeline stages only: mean {sum(stages) / max(len(stages), 1):.1f} s, slope {s_stage:+.3f} s/day, "
        f"last5/first5 = {ratio_stage:.2f}",
    ]
    for stage in STAGE_NAMES:
        vals = [r.stages[stage] for r in ok if stage in r.stages]
        if vals:
            s, ratio = flatness(vals)
            lines.append(f"  {stage:9} mean {sum(vals) / len(vals):6.2f} s, slope {s:+.3f} s/day, "
                         f"last5/first5 = {ratio:.2f}")
    if results:
        last = results[-1]
        lines.append(f"final day {last.run_date}: {last.files_in_inbox} files, {last.rows_loaded} rows, "
                     f"{last.findings} findings; decided findings checked on later days: "
                     f"{sum(r.decisions_checked for r in results)}")
    return lines


# -- the month ---------------------------------------------------------------------------------------------

def simulate_month(home: Home, *, days: int = 30, payments: int = 2000, seed: int = 2020,
                   start: date = date(2021, 4, 1), through_airflow: bool = True,
                   progress: Callable[[str], None] = print, decision_day: int = 5,
                   rerun_day: int | None = None, skip_stages: Sequence[str] = ()) -> list[DayResult]:
    """Run the daily DAG ``days`` times on a growing inbox; check invariants; write the curve.

    ``home`` must be a new home (no ``state.sqlite`` yet): the simulation owns its findings and
    decisions. Everything it writes is under ``home`` (the province in ``simulate/province``, the
    growing inbox in ``simulate/inbox``, each day's export in ``simulate/exports/<date>.csv``,
    ``simulate/curve.csv`` and ``simulate/curve.svg``, rewritten after every day so that a
    partial month can be read while it runs). ``decision_day`` (1-based) is the day whose open
    findings get the three decisions; ``rerun_day`` (1-based) is a day run twice, the second
    run checked like the first; ``skip_stages`` leaves stages out of in-process runs (tests only;
    the export is always run). Broken invariants are listed in each day's ``problems``.
    """
    from fundwatch.generator import generate

    home = Home(Path(home.root)).ensure()
    if home.state_db.exists():
        raise SimulationError(f"模拟需要一个新的安装目录（the simulation needs a new home; "
                              f"{home.state_db} exists）")
    if not set(skip_stages) <= {"validate", "docs"}:
        raise ValueError("only validate and docs may be skipped")
    sim = home.root / "simulate"
    sim.mkdir(parents=True, exist_ok=True)
    province, inbox, out, exports = sim / "province", sim / "inbox", sim / "out", sim / "exports"
    for d in (inbox, exports):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    last_date = start + timedelta(days=days - 1)
    t0 = time.perf_counter()
    gen = generate(province, seed=seed, payments=payments, as_of=last_date)
    manifest = read_manifest(province / "manifest.csv")
    listed = {f.path for f in manifest}
    extra = sorted(p.relative_to(gen.inbox).as_posix() for p in gen.inbox.rglob("*") if p.is_file())
    manifest += [ManifestFile(p, "", "rejected") for p in extra if p not in listed]
    plan = plan_deliveries(manifest, days)
    progress(f"province: seed={seed}, {payments} payments, {len(manifest)} files, generated in "
             f"{time.perf_counter() - t0:.1f} s; {days} days from {start} "
             f"({'through Airflow' if through_airflow else 'in-process'})")
    progress(HEADER)

    def run_once(run_date: date) -> tuple[str, dict[str, float], float]:
        for stale in (out / "findings.csv", out / "findings.xlsx"):
            stale.unlink(missing_ok=True)  # a failed run must not leave an older export looking current
        t = time.perf_counter()
        if through_airflow:
            state, stages = _run_airflow(home, inbox, run_date, out)
        else:
            try:
                state, stages = _run_in_process(home, inbox, run_date, out, skip_stages)
            except Exception as exc:  # noqa: BLE001 - a failed day is recorded and the month goes on
                from fundwatch.warehouse import mask_line

                progress(f"    ! {run_date}: {type(exc).__name__}: {mask_line(str(exc)[:300])}")
                state, stages = f"failed ({type(exc).__name__})", {}
        took = time.perf_counter() - t
        if state == "success" and not (out / "findings.csv").exists():
            state = "no-export"
        return state, stages, took

    tr = Tracker()
    results: list[DayResult] = []
    in_inbox = 0
    for k in range(days):
        run_date = start + timedelta(days=k)
        deliver(gen.inbox, inbox, plan[k])
        in_inbox += len(plan[k])
        status, stages, took = run_once(run_date)
        problems: list[str] = []
        new = closed = checked = findings = 0
        rerun_took = None
        if status == "success":
            rows = read_export(out / "findings.csv")
            shutil.copyfile(out / "findings.csv", exports / f"{run_date.isoformat()}.csv")
            findings = len(rows)
            problems, new, closed, checked = check_day(home, run_date, rows, tr)
            if rerun_day == k + 1:
                status2, _stages2, rerun_took = run_once(run_date)
                if status2 != "success":
                    problems.append(f"re-run of {run_date} ended {status2}")
                else:
                    rows2 = read_export(out / "findings.csv")
                    again, new2, closed2, _ = check_day(home, run_date, rows2, tr)
                    problems += [f"re-run: {p}" for p in again]
                    if rows2 != rows or (new2, closed2) != (new, closed):
                        problems.append("re-run of the same day changed the export or its new/closed counts")
            _accept_day(rows, tr)
            if k + 1 == decision_day:
                made = record_decisions(home, rows, tr)
                progress(f"    decisions on {run_date}: "
                         + ", ".join(f"{fid} -> {a}" for fid, a in made.items()))
        else:
            problems.append(f"run of {run_date} ended {status}")
        res = DayResult(day=k + 1, run_date=run_date, files_delivered=len(plan[k]), files_in_inbox=in_inbox,
                        rows_loaded=rows_loaded(home), findings=findings, new=new, closed=closed,
                        seconds=took, stages=stages, status=status, decisions_checked=checked,
                        problems=tuple(problems), rerun_seconds=rerun_took)
        results.append(res)
        progress(format_row(res))
        for p in problems[:10]:
            progress(f"    ! {p}")
        write_curve_csv(results, sim / "curve.csv")
        write_curve_svg(results, sim / "curve.svg")

    for line in summary_lines(results):
        progress(line)
    if results and results[-1].status == "success":
        from fundwatch.compare import compare

        cmp = compare(gen.expected_findings, exports / f"{last_date.isoformat()}.csv")
        (sim / "compare.txt").write_text(cmp.report(limit=50) + "\n", encoding="utf-8")
        progress(f"final export vs generator's expected findings (as of {last_date}): "
                 f"{'EXACT MATCH' if cmp.exact else 'differences'}; missing {len(cmp.missing)}, "
                 f"unexpected {len(cmp.unexpected)}, amount {len(cmp.amount_diffs)}, "
                 f"lineage {len(cmp.lineage_diffs)} -> {sim / 'compare.txt'}")
    progress(f"curve: {sim / 'curve.csv'}  chart: {sim / 'curve.svg'}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fundwatch.simulate --home DIR [--days N] [--payments N] [--in-process]``."""
    import argparse
    import logging

    p = argparse.ArgumentParser(prog="fundwatch simulate", description=__doc__.splitlines()[0])
    p.add_argument("--home", required=True)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--payments", type=int, default=2000)
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--start", type=date.fromisoformat, default=date(2021, 4, 1))
    p.add_argument("--in-process", action="store_true")
    p.add_argument("--rerun-day", type=int)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = simulate_month(Home.resolve(args.home), days=args.days, payments=args.payments, seed=args.seed,
                             start=args.start, through_airflow=not args.in_process, rerun_day=args.rerun_day,
                             progress=lambda m: print(m, flush=True))
    bad = [r for r in results if r.problems or r.status != "success"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
