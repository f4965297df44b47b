"""The dbt docs an auditor opens: one self-contained page, every model and column documented,
the lineage from the raw payments table to the findings mart, descriptions that render as written,
compiled SQL as of the run date; and the marts' enforced contracts, names and YAML layout."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dbt_fixture_raw import RUN_DATE

from fundwatch.catalog import rules
from fundwatch.paths import DBT_PROJECT_DIR, REPO_ROOT
from fundwatch.warehouse import dbt_docs


@pytest.fixture(scope="module")
def docs(built_home):
    page = dbt_docs(built_home, RUN_DATE)
    manifest = json.loads((built_home.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((built_home.dbt_target_dir / "catalog.json").read_text(encoding="utf-8"))
    return page, manifest, catalog


def test_docs_are_one_self_contained_page_in_the_home(docs, built_home):
    page, _, _ = docs
    assert page == built_home.dbt_docs_dir / "index.html"
    html = page.read_text(encoding="utf-8")
    assert "model.fundwatch.fct_findings" in html  # the manifest is inlined, no server needed
    assert "src=\"manifest.json\"" not in html


def test_every_model_source_and_column_is_documented(docs):
    _, manifest, catalog = docs
    undocumented = []
    documented_nodes = {**manifest["nodes"], **manifest["sources"]}
    for uid, node in {**catalog["nodes"], **catalog["sources"]}.items():
        if not uid.startswith(("model.fundwatch.", "source.fundwatch.")):
            continue
        documented = documented_nodes[uid]
        if not documented["description"].strip():
            undocumented.append(uid)
        for col in node["columns"]:
            if not documented["columns"].get(col, {}).get("description", "").strip():
                undocumented.append(f"{uid}.{col}")
    assert undocumented == []


def test_lineage_leads_from_raw_payments_to_the_findings_mart(docs):
    _, manifest, _ = docs
    parents = {uid: n.get("depends_on", {}).get("nodes", []) for uid, n in manifest["nodes"].items()}
    chain = [
        "model.fundwatch.fct_findings",
        "model.fundwatch.payments",
        "model.fundwatch.int_payments_matched",
        "model.fundwatch.stg_raw__payments",
        "source.fundwatch.raw.payments",
    ]
    for child, parent in zip(chain, chain[1:], strict=False):
        assert parent in parents[child], (child, parent)


def test_exposures_cover_export_review_page_and_gx(docs):
    _, manifest, _ = docs
    assert {e.split(".")[-1] for e in manifest["exposures"]} >= {"findings_export", "review_page", "gx_suites"}


def test_compiled_sql_in_the_docs_shows_the_run_date(docs):
    page, manifest, _ = docs
    compiled = {uid: n.get("compiled_code") or "" for uid, n in manifest["nodes"].items()}
    as_of = {uid for uid, sql in compiled.items() if f"cast('{RUN_DATE.isoformat()}' as date)" in sql}
    assert {"model.fundwatch.roster_entries", "model.fundwatch.projects", "model.fundwatch.allocations"} <= as_of
    assert [uid for uid, sql in compiled.items() if "2000-01-01" in sql] == []  # dbt's placeholder date
    assert "cast('2000-01-01' as date)" not in page.read_text(encoding="utf-8")


# What dbt docs' Markdown renderer (marked, bundled in the page) turns into emphasis: any text between
# two asterisks, and an underscore pair opening after a non-word character.
_CODE_SPAN = re.compile(r"(`+)[\s\S]*?\1")
_ESCAPED = re.compile(r"\\[\\`*{}\[\]()#+\-.!_>|]")
_MARKED_EM = re.compile(r"\*|(?<![A-Za-z0-9_])_[^\s_](?:[^_]|__)+?[^\s_]_(?![A-Za-z0-9_])")


def _descriptions(manifest: dict):
    for kind in ("nodes", "sources", "exposures", "macros"):
        for uid, node in manifest[kind].items():
            if uid.split(".")[1] != "fundwatch":
                continue
            yield uid, node.get("description") or ""
            for name, col in (node.get("columns") or {}).items():
                yield f"{uid}.{name}", col.get("description") or ""
    for uid, doc in manifest["docs"].items():
        if uid.startswith("doc.fundwatch."):
            yield uid, doc["block_contents"]


def test_descriptions_render_as_written(docs):
    """``PAY_*`` or a masked ID like 430102********123X outside a code span italicises or bolds half a
    sentence in the dbt docs: every asterisk and underscore pair must be in code or escaped."""
    page, manifest, _ = docs
    emphasised = []
    for uid, text in _descriptions(manifest):
        plain = _ESCAPED.sub("", _CODE_SPAN.sub("", text))
        emphasised += [(uid, plain[max(0, m.start() - 20):m.end() + 20]) for m in _MARKED_EM.finditer(plain)]
    assert emphasised == []
    payments = manifest["nodes"]["model.fundwatch.payments"]["description"]
    assert "`PAY_*`" in payments  # escaped as code, also in the page's inlined manifest
    assert json.dumps("`PAY_*` rule outcomes", ensure_ascii=False)[1:-1] in page.read_text(encoding="utf-8")


def test_the_overview_describes_the_project_as_it_is(docs):
    _, manifest, _ = docs
    overview = manifest["docs"]["doc.fundwatch.__overview__"]["block_contents"]
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    named = set(re.findall(r"`((?:stg|int|fct)_\w+)`", overview)) | set(re.findall(r"\b(int_\w+)", overview))
    assert named <= models  # no dropped model (int_spending_aggregated_by_category) is named
    assert "one\nview per kind" not in overview and "one view per kind" not in overview


SUBJECT_MARTS = sorted({r.mart for r in rules()})


def _architecture_table(header: str) -> dict[str, str]:
    """``column -> type`` of the table in ARCHITECTURE.md whose header row starts with ``header``."""
    lines = (REPO_ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    table = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        table[cells[0]] = cells[1]
    return table


def test_marts_have_enforced_contracts_saying_what_architecture_md_says(docs):
    _, manifest, _ = docs
    for mart in [*SUBJECT_MARTS, "fct_findings"]:
        node = manifest["nodes"][f"model.fundwatch.{mart}"]
        assert node["config"]["contract"]["enforced"] is True, mart
        assert [c for c, col in node["columns"].items() if not col.get("data_type")] == [], mart
    findings = manifest["nodes"]["model.fundwatch.fct_findings"]["columns"]
    assert {c: col["data_type"] for c, col in findings.items()} == _architecture_table("fct_findings column")
    common = _architecture_table("subject mart column")
    for mart in SUBJECT_MARTS:
        types = {c: col["data_type"] for c, col in manifest["nodes"][f"model.fundwatch.{mart}"]["columns"].items()}
        for column, data_type in common.items():
            if column == "rule_<rule_id>":
                for r in rules():
                    if r.mart == mart:
                        assert types[r.column] == data_type, (mart, r.column)
            else:
                assert types[column] == data_type, (mart, column)


def test_a_mart_that_drifts_from_its_contract_fails_the_build(built_home, tmp_path):
    """fct_findings.source_row turned BIGINT in the SQL while the contract says integer: dbt refuses."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project)
    sql = project / "models" / "marts" / "findings" / "fct_findings.sql"
    text = sql.read_text(encoding="utf-8")
    assert "cast(unioned.source_row as integer) as source_row" in text
    sql.write_text(text.replace("cast(unioned.source_row as integer)", "cast(unioned.source_row as bigint)"),
                   encoding="utf-8")
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_home.warehouse, warehouse)
    env = {**os.environ, "FUNDWATCH_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run", "--select", "fct_findings",
         "--project-dir", str(project), "--profiles-dir", str(project), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs"), "--vars", json.dumps({"run_date": RUN_DATE.isoformat()})],
        env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode != 0
    assert "contract" in proc.stdout and "source_row" in proc.stdout


def test_marts_follow_one_naming_scheme(docs):
    """Subject marts are named after their subject (the catalogue's ``mart``), facts start with ``fct_``."""
    _, manifest, _ = docs
    marts = {n["name"] for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["original_file_path"].startswith("models/marts/")}
    assert set(SUBJECT_MARTS) <= marts
    assert [m for m in marts if m not in SUBJECT_MARTS and not m.startswith("fct_")] == []
    assert [m for m in SUBJECT_MARTS if m.startswith(("fct_", "dim_", "int_", "stg_"))] == []


def test_the_mart_columns_check_runs_after_every_mart(docs):
    """It reads every table of the marts schema. dbt builds two models at a time: beside a mart being
    rebuilt it saw that mart's <mart>__dbt_backup table (a day's second build failed at random)."""
    _, manifest, _ = docs
    marts = {uid for uid, n in manifest["nodes"].items()
             if n["resource_type"] == "model" and n["original_file_path"].startswith("models/marts/")}
    check = manifest["nodes"]["test.fundwatch.assert_rule_catalogue_matches_mart_columns"]
    assert len(marts) > 5 and marts <= set(check["depends_on"]["nodes"])


def test_every_model_is_documented_in_a_yaml_file_of_its_own_folder(docs):
    _, manifest, _ = docs
    elsewhere = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["package_name"] != "fundwatch":
            continue
        yaml_dir = os.path.dirname(node["patch_path"].split("://", 1)[1])
        if yaml_dir != os.path.dirname(node["original_file_path"]):
            elsewhere.append((node["name"], node["patch_path"]))
    assert elsewhere == []


def test_after_a_build_only_the_catalog_is_generated_and_the_builds_manifest_is_kept(docs, built_home):
    """The first docs after a build (no catalog for the project yet): dbt builds the catalog without
    compiling again (``--no-compile``); the page inlines the build's manifest, compiled as of the run
    date, which stays as the build wrote it."""
    target = built_home.dbt_target_dir
    (target / "fundwatch_catalog_of").unlink()
    (target / "catalog.json").unlink()
    manifest = (target / "manifest.json").read_bytes()
    page = dbt_docs(built_home, RUN_DATE)
    assert (target / "manifest.json").read_bytes() == manifest
    assert (target / "catalog.json").exists() and (target / "fundwatch_catalog_of").exists()
    html = page.read_text(encoding="utf-8")
    assert f"cast('{RUN_DATE.isoformat()}' as date)" in html and "model.fundwatch.fct_findings" in html
    assert json.loads((target / "catalog.json").read_text(encoding="utf-8"))["nodes"]
