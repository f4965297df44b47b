"""fundwatch.dbt_cli runs dbt's own command line and ends without the interpreter's teardown: dbt's exit
code is kept and the warehouse is closed (checkpointed, no WAL left) as on a normal exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fundwatch.paths import Home


def test_the_exit_code_is_dbts():
    ours = subprocess.run([sys.executable, "-m", "fundwatch.dbt_cli", "no-such-command"],
                          capture_output=True, text=True, check=False)
    theirs = subprocess.run([str(Path(sys.executable).parent / "dbt"), "no-such-command"],
                            capture_output=True, text=True, check=False)
    assert ours.returncode == theirs.returncode == 2
    assert "No such command" in ours.stderr


def test_a_build_leaves_the_warehouse_checkpointed(built_home: Home):
    assert built_home.warehouse.exists()
    assert not Path(f"{built_home.warehouse}.wal").exists()
