"""Where everything of one installation lives (see ARCHITECTURE.md, "Home layout").

All state of an installation is under one home folder; two homes never see each other's data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = REPO_ROOT / ".fundwatch-home"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DAGS_DIR = REPO_ROOT / "dags"
RULE_CATALOG_CSV = DBT_PROJECT_DIR / "seeds" / "rule_catalog.csv"
REFERENCE_DIR = REPO_ROOT / "ingestion" / "reference"
REVIEW_SESSIONS_FILE = "review_sessions.sqlite"


@dataclass(frozen=True)
class Home:
    """The folder holding one installation's warehouse, state, Airflow metadata and outputs."""

    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None = None) -> Home:
        """Home from an explicit path, else $FUNDWATCH_HOME, else the git-ignored default."""
        raw = path or os.environ.get("FUNDWATCH_HOME") or DEFAULT_HOME
        return cls(Path(raw).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def state_db(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def review_sessions_db(self) -> Path:
        """Signed-in sessions and the sign-in throttle of the review service (ephemeral)."""
        return self.root / REVIEW_SESSIONS_FILE

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def gx_dir(self) -> Path:
        return self.root / "gx"

    @property
    def gx_archive_dir(self) -> Path:
        """Validation results (``validations/``) and their Data Docs pages (``docs/validations/``) of the
        runs older than the Data Docs index, out of the folders GX lists each run (expectations.run_archive)."""
        return self.gx_dir / "archive"

    @property
    def gx_docs_archive_dir(self) -> Path:
        """Archived Data Docs pages, served under ``/docs/gx/`` at the URL they had in ``gx_docs_dir``."""
        return self.gx_archive_dir / "docs"

    @property
    def dbt_docs_dir(self) -> Path:
        return self.root / "docs" / "dbt"

    @property
    def gx_docs_dir(self) -> Path:
        return self.root / "docs" / "gx"

    @property
    def default_out(self) -> Path:
        return self.root / "out"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def dbt_target_dir(self) -> Path:
        return self.root / "dbt" / "target"

    @property
    def inbox(self) -> Path:
        """The default inbox (the scheduler's, and where accepted uploads land): $FUNDWATCH_INBOX wins."""
        return Path(os.environ.get("FUNDWATCH_INBOX") or self.root / "inbox").expanduser().resolve()

    @property
    def attachments_dir(self) -> Path:
        """Rectification attachments: outside every served folder, read only through a scoped route."""
        return self.root / "attachments"

    @property
    def uploads_dir(self) -> Path:
        """Uploaded files as sent and their annotated copies (never served directly)."""
        return self.root / "uploads"

    @property
    def backups_dir(self) -> Path:
        """Backups the DAG takes after each run (the last 30 are kept)."""
        return self.root / "backups"

    def ensure(self) -> Home:
        for p in (self.root, self.airflow_home, self.gx_dir, self.dbt_docs_dir, self.gx_docs_dir,
                  self.default_out, self.logs_dir, self.dbt_target_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self
