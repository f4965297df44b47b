"""Fixtures of this folder: a local SMTP server (aiosmtpd) and a home with findings in two branches."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

# With --import-mode=importlib test folders are not on sys.path: put this one there for fw_testdata.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fw_testdata import ALL, Inbox, free_port, today

from fundwatch import state
from fundwatch.paths import Home


@pytest.fixture()
def smtp():
    """(controller, inbox): a real SMTP server on a free loopback port."""
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.fixture()
def rhome(tmp_path) -> Home:
    """A home whose latest run (today) found ALL; nothing decided yet."""
    home = Home(tmp_path / "home").ensure()
    state.record_run(home.state_db, run_id="r0", run_date=today(), findings=ALL)
    return home


@pytest.fixture()
def conn(rhome):
    c = state.connect(rhome.state_db)
    yield c
    c.close()


