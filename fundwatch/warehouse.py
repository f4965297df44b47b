"""Glue between the pipeline and the dbt project (``dbt_project/``) on the home's DuckDB warehouse.

dbt always runs as a subprocess of the ``dbt`` executable installed next to this interpreter, in
the warehouse's folder with ``FUNDWATCH_WAREHOUSE`` naming the warehouse file there (a relative
name: see ``_dbt_env``), and its target/log folders inside the home (two homes share no data). Its
output is streamed to the logger with long digit runs masked, so that no ID number or bank account
reaches a log.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

# dbt attaches the warehouse with the load's row groups and keeps its compiled templates
from fundwatch.dbt_cli import ROW_GROUP_ENV, TEMPLATE_CACHE_ENV
from fundwatch.masking import mask_line
from fundwatch.paths import DBT_PROJECT_DIR, REPO_ROOT, Home

log = logging.getLogger(__name__)

_BIN_DIR = Path(sys.executable).parent
# The run date reaches dbt in the environment, not as --vars: dbt re-parses the whole project when
# --vars change, and the macro fw_run_date() reads this variable only while executing, so a new day
# keeps the partial parse (target/partial_parse.msgpack) of the day before.
RUN_DATE_ENV = "FUNDWATCH_RUN_DATE"


class WarehouseError(RuntimeError):
    """dbt failed; the message (Chinese + English) lists the failing nodes."""


def _dbt_env(warehouse: Path, target_dir: Path, log_dir: Path, run_date: date | None = None,
             relative: bool = True, row_group_size: int | None = None, fingerprint: str | None = None,
             ) -> dict[str, str]:
    """dbt's environment. The warehouse is named relative to the folder dbt runs in (``_run``'s
    ``cwd=warehouse.parent``): the path is part of the profile, whose every value dbt hashes to decide
    whether its saved parse still holds, so an absolute path would make a home copied, restored or
    moved elsewhere (and every new home) parse the whole project again (~5 s); a relative one keeps
    the profile the same for every home, and a home can start from the parse of another (``_shared_dir``).
    ``row_group_size``: the warehouse's recorded one (``ingestion.load``), for ``fundwatch.dbt_cli``;
    ``fingerprint``: the project version, whose shared folder keeps dbt's compiled templates (``_shared_dir``)."""
    env = dict(os.environ)
    env.pop(RUN_DATE_ENV, None)  # never a date inherited from the caller's environment
    if run_date is not None:
        env[RUN_DATE_ENV] = run_date.isoformat()
    env.pop(ROW_GROUP_ENV, None)
    if row_group_size:
        env[ROW_GROUP_ENV] = str(row_group_size)
    env.pop(TEMPLATE_CACHE_ENV, None)
    if fingerprint:
        env[TEMPLATE_CACHE_ENV] = str(_shared_dir(fingerprint) / _TEMPLATES)
    env.update(
        FUNDWATCH_WAREHOUSE=warehouse.name if relative else str(warehouse),
        DBT_TARGET_PATH=str(target_dir),
        DBT_LOG_PATH=str(log_dir),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
        DBT_PARTIAL_PARSE="true",
    )
    return env


def _home_dirs(home: Home) -> tuple[Path, Path]:
    target_dir = home.dbt_target_dir
    log_dir = home.logs_dir / "dbt"
    target_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    return target_dir, log_dir


def _run(args: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """Run dbt (``args``: ``["dbt", command, ...]``) with this interpreter through fundwatch.dbt_cli (dbt's
    own command line, without the interpreter's teardown) in ``cwd`` (the warehouse's folder: the
    profile names the warehouse relative to it), streaming its masked output to the logger."""
    cmd = [sys.executable, "-m", "fundwatch.dbt_cli", *args[1:]]
    log.info("running %s", " ".join(args[:2]))
    lines: list[str] = []
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        encoding="utf-8", errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = mask_line(raw.rstrip("\n"))
            lines.append(line)
            log.info("%s", line)
        rc = proc.wait()
    return rc, lines


def _dbt_args(command: Sequence[str], target_dir: Path, log_dir: Path) -> list[str]:
    return [
        "dbt", *command,
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--project-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_dir),
        "--log-path", str(log_dir),
        # No dbt.log file: its only log is the masked stream below (no personal data in logs).
        "--log-level-file", "none",
    ]


def _failing_nodes(target_dir: Path) -> list[str]:
    results = target_dir / "run_results.json"
    if not results.exists():
        return []
    data = json.loads(results.read_text(encoding="utf-8"))
    return [
        f"{r['unique_id']} ({r['status']})"
        for r in data.get("results", [])
        if r.get("status") in {"error", "fail", "runtime error"}
    ]


def _models_built(target_dir: Path) -> bool:
    """Whether the last dbt run built every model of the project (run_results.json)."""
    results = target_dir / "run_results.json"
    if not results.exists():
        return False
    data = json.loads(results.read_text(encoding="utf-8"))
    models = [r for r in data.get("results", []) if r["unique_id"].startswith("model.")]
    return bool(models) and all(r["status"] == "success" for r in models)


# What a dbt run by hand leaves in the project folder (its own files, not the project's): never part
# of the fingerprint, else one manual `dbt ls` would rebuild everything (--full-refresh) the next day.
_BY_PRODUCTS = {"__pycache__", "logs", "target", ".user.yml"}


def _by_product(path: Path) -> bool:
    return not _BY_PRODUCTS.isdisjoint(path.relative_to(DBT_PROJECT_DIR).parts)


def project_fingerprint() -> str:
    """SHA-256 over every file of the dbt project and the versions of dbt, its DuckDB adapter and
    DuckDB: all that parsing, compiling, the unit tests, the docs' catalog (columns and types, no
    statistics on DuckDB) and what the SQL computes depend on, the data aside."""
    h = hashlib.sha256()
    for package in ("dbt-core", "dbt-duckdb", "duckdb"):
        h.update(f"{package}=={importlib.metadata.version(package)}\0".encode())
    for f in sorted(p for p in DBT_PROJECT_DIR.rglob("*") if p.is_file() and not _by_product(p)):
        h.update(f.relative_to(DBT_PROJECT_DIR).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


# What the homes of this machine share about a project version (its fingerprint: every project file and
# the dbt, adapter and DuckDB versions) in this checkout (the saved parse holds the absolute paths of
# the project and of dbt's own macros in this environment), in ``~/.cache/fundwatch/dbt/<key>/`` —
# nothing of any home's data:
# - dbt's saved parse (``partial_parse.msgpack``): a home without one (new, or its target folder lost)
#   starts from the parse another home made instead of parsing the whole project (~4-5 s). dbt checks a
#   saved parse as it always does (dbt version, profile, vars, every file's checksum) and parses again
#   what differs, so a parse from elsewhere can cost time, never correctness.
# - that the project's unit tests passed (``unit_tests_passed``): they test the SQL on fixtures, so
#   their outcome is the project version's, whatever home ran them; a new home does not run them again.
# - the templates dbt compiles (``templates/``: fundwatch.dbt_cli, Jinja's bytecode cache), which every
#   dbt process would otherwise compile again (0.4-0.5 s of a 1M build).
# Best effort: a cache that cannot be read or written is skipped (a home then parses and tests alone).
_SAVED_PARSE = "partial_parse.msgpack"
_SHARED_UNIT_TESTS = "unit_tests_passed"
_TEMPLATES = "templates"
_VERSIONS_KEPT = 4  # project versions kept (a developer switching branches)


def _shared_dir(fingerprint: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(f"{fingerprint}\0{DBT_PROJECT_DIR}\0{sys.prefix}".encode()).hexdigest()
    return cache / "fundwatch" / "dbt" / key


def _share(fingerprint: str, name: str, source: Path | None) -> None:
    """Put ``source``'s bytes (or an empty marker) in the shared folder as ``name``, whole or not at all
    whatever other homes do at the same time; keep the folders of the last few project versions."""
    shared = _shared_dir(fingerprint)
    if (shared / name).exists():
        return
    try:
        shared.mkdir(parents=True, exist_ok=True)
        tmp = shared / f".{name}.{os.getpid()}.tmp"
        if source is None:
            tmp.write_bytes(b"")
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, shared / name)
        versions = sorted(shared.parent.iterdir(), key=lambda d: d.stat().st_mtime, reverse=True)
        for old in versions[_VERSIONS_KEPT:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        log.warning("dbt cache not written: %s", exc)


def _reuse_parse(target_dir: Path, fingerprint: str) -> None:
    saved, shared = target_dir / _SAVED_PARSE, _shared_dir(fingerprint) / _SAVED_PARSE
    if saved.exists() or not shared.exists():
        return
    try:
        tmp = saved.with_suffix(".tmp")
        shutil.copyfile(shared, tmp)
        os.replace(tmp, saved)
        log.info("dbt：沿用本机同一版本项目的解析结果（the parse of this project made by another home）")
    except OSError as exc:
        log.warning("dbt cache not read: %s", exc)


def _share_parse(target_dir: Path, fingerprint: str) -> None:
    saved = target_dir / _SAVED_PARSE
    if saved.exists():
        _share(fingerprint, _SAVED_PARSE, saved)


# What the last successful build left in the target folder, beside dbt's own artifacts.
_UNIT_TESTS_PASSED = "fundwatch_unit_tests_passed"  # the project fingerprint whose unit tests passed
_BUILT = "fundwatch_built.json"  # run date and project fingerprint of manifest.json
_CATALOG_OF = "fundwatch_catalog_of"  # the project fingerprint of catalog.json
_INCREMENTAL_OF = "fundwatch_incremental_of"  # the project fingerprint whose models built the incremental tables


def dbt_build(home: Home, run_date: date) -> None:
    """Seed and build the dbt project (models, dbt tests) as of ``run_date``; the unit tests too when
    this project version has not passed them yet, in this home or another of this machine (they test
    the SQL on fixtures, not the data, so an unchanged project needs no second run).

    The incremental models keep their rows from day to day; when the project changed since they
    were last built (or that is not known), everything is rebuilt (``--full-refresh``), so that no
    row computed by an older model, nor checked only by an older data test, is kept.

    After a build of the same project that succeeded, only what can have changed is built (with its
    tests): what depends on a raw table whose rows changed since, and, on a new run date, what reads
    the run date (``fw_run_date``, the as-of rules) and what depends on it (``_changed_since``). A
    node whose inputs, SQL and date are those of the last build would compute the rows it holds.
    Without such a build (first run, a failure, a dbt run by hand since, a new warehouse) everything is
    built.

    Raises WarehouseError listing the failing nodes when anything fails.
    """
    target_dir, log_dir = _home_dirs(home)
    fingerprint = project_fingerprint()
    passed = target_dir / _UNIT_TESTS_PASSED
    unit_tests = ((not passed.exists() or passed.read_text(encoding="utf-8") != fingerprint)
                  and not (_shared_dir(fingerprint) / _SHARED_UNIT_TESTS).exists())
    incremental_of = target_dir / _INCREMENTAL_OF
    full_refresh = (not incremental_of.exists() or incremental_of.read_text(encoding="utf-8") != fingerprint)
    before = _previous_manifest(target_dir, fingerprint)
    raw, last, row_group_size = _raw_state(home.warehouse)
    select = None
    if before is not None and last is not None and last["fingerprint"] == fingerprint and not (
            full_refresh or unit_tests):
        select = _changed_since(before, last, raw, run_date)
        if not select:
            log.info("dbt：原始数据、项目与运行日期均未变化，无需重建（nothing changed since the last build）")
            return
        log.info("dbt：只重建变化所及的部分（building what changed）：%s", " ".join(select))
    (target_dir / _BUILT).unlink(missing_ok=True)
    (target_dir / "run_results.json").unlink(missing_ok=True)  # what this run writes, not an earlier run's
    if full_refresh:
        incremental_of.unlink(missing_ok=True)
    env = _dbt_env(home.warehouse, target_dir, log_dir, run_date, row_group_size=row_group_size,
                   fingerprint=fingerprint)
    args = _dbt_args(["build", *([] if unit_tests else ["--exclude-resource-type", "unit_test"]),
                      *(["--full-refresh"] if full_refresh else []),
                      *(["--select", *select] if select else [])], target_dir, log_dir)
    _reuse_parse(target_dir, fingerprint)
    rc, lines = _run(args, env, home.warehouse.parent)
    if rc == 0:
        _share_parse(target_dir, fingerprint)
    if full_refresh and _models_built(target_dir):
        incremental_of.write_text(fingerprint, encoding="utf-8")
    if rc != 0:
        failing = _failing_nodes(target_dir)
        if not failing:  # failed before running nodes (parse/compile error): show the tail
            failing = [ln for ln in lines if ln.strip()][-5:]
        raise WarehouseError(
            f"dbt build 失败（dbt build failed, exit {rc}）：" + "；".join(failing)
        )
    if unit_tests:
        passed.write_text(fingerprint, encoding="utf-8")
        _share(fingerprint, _SHARED_UNIT_TESTS, None)
    if select and before is not None:
        _keep_compiled_sql(target_dir / "manifest.json", before)
    _record_last_build(home.warehouse, fingerprint, run_date, raw, row_group_size)
    built = {"run_date": run_date.isoformat(), "fingerprint": fingerprint}
    (target_dir / _BUILT).write_text(json.dumps(built), encoding="utf-8")


# The last successful build, in the warehouse it built (a new or replaced warehouse has none): the
# project fingerprint, the run date and a signature of every relation of the raw schema as it was read.
# Every dbt run drops it when it starts (on-run-start, macro fw_forget_last_build: the same name), so a
# run that fails, or any dbt run by hand, leaves none, and the next build builds everything.
_LAST_BUILD = "incremental.fw_last_build"
_RUN_DATE_MACRO = "macro.fundwatch.fw_run_date"


def _raw_state(warehouse: Path) -> tuple[dict[str, str | None], dict | None, int | None]:
    """The signature of every relation of the raw schema (``ingestion.schema.raw_signatures``; None when
    it cannot be read), the record of the last successful build (None if there is none) and the
    row-group size the last load recorded (``ingestion.load.recorded_row_group_size``)."""
    import duckdb

    if not warehouse.exists():
        return {}, None, None
    from ingestion.load import recorded_row_group_size
    from ingestion.schema import raw_signatures

    with duckdb.connect(str(warehouse), read_only=True) as con:
        raw = raw_signatures(con)
        row_group_size = recorded_row_group_size(con)
        known = con.execute("select 1 from information_schema.tables where table_schema = 'incremental' "
                            "and table_name = 'fw_last_build'").fetchone()
        last = con.execute(f"select fingerprint, run_date, raw from {_LAST_BUILD}").fetchone() if known else None
    if last is None:
        return raw, None, row_group_size
    return raw, {"fingerprint": last[0], "run_date": last[1], "raw": json.loads(last[2])}, row_group_size


def _record_last_build(warehouse: Path, fingerprint: str, run_date: date, raw: dict[str, str | None],
                       row_group_size: int | None) -> None:
    from ingestion.load import connect

    with connect(warehouse, row_group_size) as con:
        con.execute("create schema if not exists incremental")
        con.execute(f"create or replace table {_LAST_BUILD} as select ?::varchar as fingerprint, "
                    "?::date as run_date, ?::varchar as raw", [fingerprint, run_date, json.dumps(raw)])


def _previous_manifest(target_dir: Path, fingerprint: str) -> dict | None:
    """The manifest of the last build if it was of this project."""
    built, manifest = target_dir / _BUILT, target_dir / "manifest.json"
    if not (built.exists() and manifest.exists()):
        return None
    if json.loads(built.read_text(encoding="utf-8")).get("fingerprint") != fingerprint:
        return None
    return json.loads(manifest.read_text(encoding="utf-8"))


def _changed_since(manifest: dict, last: dict, raw: dict[str, str | None], run_date: date) -> list[str]:
    """dbt selectors (each with its descendants) of what the raw rows and the run date can have changed
    since the last build: the sources whose relation's signature differs (or came or went), and on a
    new date every node that calls fw_run_date, directly or through other macros."""
    changed = {name for name in raw.keys() | last["raw"].keys()
               if raw.get(name) is None or raw.get(name) != last["raw"].get(name)}
    select = sorted(f"source:{s['source_name']}.{s['name']}+" for s in manifest["sources"].values()
                    if s["schema"] == "raw" and s["identifier"] in changed)
    if run_date != last["run_date"]:
        uses = {_RUN_DATE_MACRO}
        grew = True
        while grew:
            more = {uid for uid, m in manifest["macros"].items() if uses & set(m["depends_on"]["macros"])}
            grew = not more <= uses
            uses |= more
        select += sorted(f"{n['name']}+" for n in manifest["nodes"].values()
                         if n["resource_type"] in ("model", "test", "seed", "snapshot")
                         and uses & set(n["depends_on"].get("macros", [])))
    return select


def _keep_compiled_sql(manifest_path: Path, before: dict) -> None:
    """After a build of what changed: the nodes it did not compile keep the SQL of the build that made
    their rows (the docs show each node's compiled SQL)."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    kept = 0
    for uid, node in manifest["nodes"].items():
        old = before["nodes"].get(uid)
        if not node.get("compiled") and old and old.get("compiled"):
            for field in ("compiled", "compiled_code", "compiled_path", "extra_ctes_injected", "extra_ctes"):
                if field in old:
                    node[field] = old[field]
            kept += 1
    if kept:
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def dbt_docs(home: Home, run_date: date) -> Path:
    """The dbt docs as one self-contained page; return HOME/docs/dbt/index.html.

    Compiled as of ``run_date``, like the build: the compiled SQL auditors read in the docs shows the
    run date the as-of rules used, not dbt's placeholder. After a build of the same date and project,
    the page is put together from that build's manifest (compiled as of the date) and the catalog of
    the project (columns and types: they change only with the project), as `dbt docs generate
    --static` puts it together; dbt generates the catalog only when the project has none yet
    (``--no-compile``: the build compiled everything already, and its manifest is kept). Without
    such a build, dbt generates both.
    """
    target_dir, log_dir = _home_dirs(home)
    fingerprint = project_fingerprint()
    built = target_dir / _BUILT
    catalog_of = target_dir / _CATALOG_OF
    manifest = target_dir / "manifest.json"
    compiled = (built.exists() and manifest.exists() and json.loads(built.read_text(encoding="utf-8"))
                == {"run_date": run_date.isoformat(), "fingerprint": fingerprint})
    has_catalog = (catalog_of.exists() and catalog_of.read_text(encoding="utf-8") == fingerprint
                   and (target_dir / "catalog.json").exists())
    if compiled and not has_catalog:
        kept = manifest.read_bytes()  # `--no-compile` writes a manifest without compiled SQL
        try:
            _generate_docs(home, run_date, fingerprint, ["--no-compile"])
        finally:
            manifest.write_bytes(kept)
        catalog_of.write_text(fingerprint, encoding="utf-8")
    if compiled:
        page = _static_page(manifest, target_dir / "catalog.json")
    else:
        _generate_docs(home, run_date, fingerprint, [])
        catalog_of.write_text(fingerprint, encoding="utf-8")
        page = (target_dir / "static_index.html").read_bytes()
    home.dbt_docs_dir.mkdir(parents=True, exist_ok=True)
    out = home.dbt_docs_dir / "index.html"
    out.write_bytes(page)
    return out


def _generate_docs(home: Home, run_date: date, fingerprint: str, options: list[str]) -> None:
    """`dbt docs generate --static` as of ``run_date``: catalog.json, manifest.json, static_index.html."""
    target_dir, log_dir = _home_dirs(home)
    from ingestion.load import warehouse_row_group_size

    env = _dbt_env(home.warehouse, target_dir, log_dir, run_date,
                   row_group_size=warehouse_row_group_size(home.warehouse), fingerprint=fingerprint)
    static = target_dir / "static_index.html"
    static.unlink(missing_ok=True)
    _reuse_parse(target_dir, fingerprint)
    rc, lines = _run(_dbt_args(["docs", "generate", "--static", *options], target_dir, log_dir), env,
                     home.warehouse.parent)
    if rc == 0:
        _share_parse(target_dir, fingerprint)
    if rc != 0 or not static.exists():
        tail = "；".join(ln for ln in lines if ln.strip())[-500:]
        raise WarehouseError(f"dbt 文档生成失败（dbt docs generate failed, exit {rc}）：{tail}")


def _static_page(manifest: Path, catalog: Path) -> bytes:
    """What `dbt docs generate --static` writes: dbt's docs page with both artifacts inlined."""
    from dbt.task.docs import DOCS_INDEX_FILE_PATH

    page = Path(DOCS_INDEX_FILE_PATH).read_text(encoding="utf-8")
    page = page.replace('"MANIFEST.JSON INLINE DATA"', manifest.read_text(encoding="utf-8"))
    page = page.replace('"CATALOG.JSON INLINE DATA"', catalog.read_text(encoding="utf-8"))
    return page.encode("utf-8")


def lint_sql() -> int:
    """sqlfluff lint of dbt_project/models (dbt templater, duckdb dialect) on a scratch DuckDB.

    Never touches a live warehouse. Prints the violations; returns sqlfluff's exit code.
    sqlfluff is a development tool (requirements-dev.lock): without it, says so and returns 2.
    """
    if not (_BIN_DIR / "sqlfluff").exists():
        print("sqlfluff 未安装（a development tool: `make install` installs requirements-dev.lock）")
        return 2
    with tempfile.TemporaryDirectory(prefix="fundwatch-lint-") as tmp:
        scratch = Path(tmp)
        # sqlfluff runs in the repository (its .sqlfluff), so the scratch warehouse is named in full
        env = _dbt_env(scratch / "lint.duckdb", scratch / "target", scratch / "logs", relative=False)
        cmd = [str(_BIN_DIR / "sqlfluff"), "lint", "dbt_project/models", "--disable-progress-bar"]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
        out = (proc.stdout + proc.stderr).strip()
        if out:
            print(mask_line(out))
        return proc.returncode
