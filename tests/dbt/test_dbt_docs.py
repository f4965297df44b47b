"""The dbt docs an auditor opens: one self-contained page, every model and column documented,
and the lineage from the raw payments table to the findings mart."""

from __future__ import annotations

import json

import pytest

from fundwatch.warehouse import dbt_docs


@pytest.fixture(scope="module")
def docs(built_home):
    page = dbt_docs(built_home)
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
