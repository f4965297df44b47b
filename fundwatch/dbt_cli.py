"""``python -m fundwatch.dbt_cli ARGS``: dbt's own command line (what the ``dbt`` executable runs), ended
without Python's interpreter teardown.

After a build, tearing down dbt's objects (the manifest, the Jinja environments) takes longer than the
work of many models (about a second on two busy cores). Here dbt runs exactly as ``dbt ARGS`` does; then
the exit handlers run as on any exit (dbt-duckdb's closes the warehouse, so DuckDB checkpoints it and
leaves no WAL), the output is flushed and the process ends with dbt's exit code.

Python's cyclic garbage collector is off in this process: every node dbt runs builds a Jinja context of
every macro of the project (cycles that only the collector frees), and each collection walks the whole
manifest again: with it on, the day after at 1M payments took 13.6 s of CPU, off 11.8 s. What it
leaves is some 170 KB per node (that build peaks 25 MB higher, of some 800 MB), and the process ends
with the build.

``dbt build`` writes manifest.json twice: once when the project is parsed, again when the build ends
(with the SQL it compiled). Here only the second is written: the first costs some 0.3 s of a 2 MB
JSON dump that the second overwrites (a build that stops before its end writes no manifest, and
fundwatch.warehouse then trusts no manifest: it removed the build's marker before the run).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys


def _manifest_written_once() -> None:
    """``dbt build`` parses without writing manifest.json (the build writes it when it ends)."""
    from dbt.cli import requires

    parse = requires.parse_manifest

    def parse_manifest(runtime_config, write_perf_info, write, write_json, active_integrations):
        return parse(runtime_config, write_perf_info, write, False, active_integrations)

    requires.parse_manifest = parse_manifest


def main() -> None:
    gc.disable()
    from dbt.cli.main import cli

    if sys.argv[1:2] == ["build"]:
        _manifest_written_once()

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
