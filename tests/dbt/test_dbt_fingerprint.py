"""The project fingerprint (a change rebuilds everything with --full-refresh and re-runs the unit tests)
follows the project's own files, not what a dbt run by hand leaves in the project folder."""

from __future__ import annotations

import shutil

from fundwatch import warehouse
from fundwatch.paths import DBT_PROJECT_DIR


def test_the_fingerprint_follows_the_project_not_dbts_by_products(tmp_path, monkeypatch):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("logs", "target", ".user.yml"))
    monkeypatch.setattr(warehouse, "DBT_PROJECT_DIR", project)
    before = warehouse.project_fingerprint()

    (project / ".user.yml").write_text("id: 0c0ffee\n", encoding="utf-8")  # dbt's anonymous user id
    (project / "logs").mkdir()
    (project / "logs" / "dbt.log").write_text("a manual dbt ls\n", encoding="utf-8")
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}", encoding="utf-8")
    assert warehouse.project_fingerprint() == before

    model = project / "models" / "marts" / "payments" / "payments.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert warehouse.project_fingerprint() != before
