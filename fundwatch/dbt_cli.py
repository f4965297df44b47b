"""``python -m fundwatch.dbt_cli ARGS``: dbt's own command line (what the ``dbt`` executable runs), ended
without Python's interpreter teardown.

After a build, tearing down dbt's objects (the manifest, the Jinja environments) takes longer than the
work of many models (about a second on two busy cores). Here dbt runs exactly as ``dbt ARGS`` does; then
the exit handlers run as on any exit (dbt-duckdb's closes the warehouse, so DuckDB checkpoints it and
leaves no WAL), the output is flushed and the process ends with dbt's exit code.
"""

from __future__ import annotations

import atexit
import os
import sys


def main() -> None:
    from dbt.cli.main import cli

    code = 0
    try:
        cli()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
