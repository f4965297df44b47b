"""The warehouse's project list for the upload templates' 项目编码 drop-down (``templates``): the daily
run's export stage keeps it in ``HOME/uploads/projects.json``, so the review service never opens the
warehouse. A module of its own, light to import (the export stage needs nothing else of uploads)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fundwatch.paths import Home


@dataclass(frozen=True)
class Project:
    code: str
    name: str
    unit_code: str | None


def projects_file(home: Home) -> Path:
    return home.uploads_dir / "projects.json"


def save_projects(home: Home, rows: Sequence[tuple[str, str | None, str | None]]) -> Path:
    """Keep the warehouse's project list (code, name, unit) for the drop-down; written by the daily
    run's export stage, so the review service never opens the warehouse."""
    path = projects_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps([list(r) for r in rows], ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def known_projects(home: Home) -> list[Project]:
    """The projects of the latest daily run (``save_projects``); none before the first run."""
    try:
        return [Project(*p) for p in json.loads(projects_file(home).read_text(encoding="utf-8"))]
    except FileNotFoundError:
        return []
