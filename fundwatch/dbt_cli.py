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

A model whose config says ``meta={'fw_exclusive': true}`` is never built while another such model is
(the others go on side by side as dbt's threads allow): the models that read every payment or roster
entry (``stg_raw__payments`` and ``stg_raw__roster_entries``, then ``int_payments_matched`` and
``int_roster_entries_paid``). Side by side they share DuckDB's memory and the two cores and spill:
at 10M payments the two int models took 3 min that way against 2 min one after the other
(README, Measurements). A lock rather than a ``depends_on`` between them: the lineage stays what the
data says, and a failed test of one never skips the other.

With ``FUNDWATCH_ROW_GROUP_SIZE`` set (``fundwatch.warehouse``: the last load wrote row groups of that
many rows, ``ingestion.load``), dbt-duckdb opens an in-memory database and attaches the warehouse
under its own name with that row-group size, each cursor using it: a checkpoint of a connection of
DuckDB's default size would merge the load's small row groups (1.2 s of a 1M build), and a small
inbox's models build faster in small groups.

The profile's database-wide DuckDB settings are set once on the database, not on every node's cursor
(``_global_settings_once``), and with ``FUNDWATCH_TEMPLATE_CACHE`` set (``fundwatch.warehouse``: the
project version's shared folder) the templates dbt compiles are kept in Jinja's bytecode cache for the
next dbt process (``_templates_compiled_once``).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading


def _manifest_written_once() -> None:
    """``dbt build`` parses without writing manifest.json (the build writes it when it ends)."""
    from dbt.cli import requires

    parse = requires.parse_manifest

    def parse_manifest(runtime_config, write_perf_info, write, write_json, active_integrations):
        return parse(runtime_config, write_perf_info, write, False, active_integrations)

    requires.parse_manifest = parse_manifest


EXCLUSIVE = "fw_exclusive"  # the config meta key of a model built alone among such models


def _exclusive_models_one_at_a_time() -> None:
    """Models with ``meta={'fw_exclusive': true}`` are built one at a time: a lock around their compile
    and run, taken before either is timed (so run_results.json shows when each really ran)."""
    from dbt.task.run import ModelRunner

    build, alone = ModelRunner.compile_and_execute, threading.Lock()

    def compile_and_execute(self, manifest, ctx):
        if not (self.node.config.meta or {}).get(EXCLUSIVE):
            return build(self, manifest, ctx)
        with alone:
            return build(self, manifest, ctx)

    ModelRunner.compile_and_execute = compile_and_execute


def _global_settings_once() -> None:
    """The profile's database-wide DuckDB settings (``memory_limit``, ``preserve_insertion_order``: scope
    GLOBAL in ``duckdb_settings()``) are set once, when dbt-duckdb opens the database, instead of again on
    the cursor dbt-duckdb opens for every node: a SET of the memory limit while other nodes run costs
    about 4 ms, and the 1M full dbt stage took 9.9 s against 9.4 s (README, Measurements). A setting of a
    connection's own scope is still set on every cursor, as dbt-duckdb does."""
    import dataclasses

    from dbt.adapters.duckdb.environments import Environment
    from dbt.adapters.duckdb.utils import escape_sql_string

    init_db, init_cursor = Environment.initialize_db.__func__, Environment.initialize_cursor.__func__
    database_wide: set[str] = set()

    def initialize_db(cls, creds, plugins=None):
        conn = init_db(cls, creds, plugins)
        scopes = dict(conn.execute("select name, scope from duckdb_settings()").fetchall())
        for key, value in (creds.settings or {}).items():
            if scopes.get(key) == "GLOBAL":
                conn.execute(f"SET {key} = '{escape_sql_string(value)}'")
                database_wide.add(key)
        return conn

    def initialize_cursor(cls, creds, cursor, plugins=None, registered_df=None):
        own = {k: v for k, v in (creds.settings or {}).items() if k not in database_wide}
        return init_cursor(cls, dataclasses.replace(creds, settings=own or None), cursor, plugins,
                           {} if registered_df is None else registered_df)

    Environment.initialize_db = classmethod(initialize_db)
    Environment.initialize_cursor = classmethod(initialize_cursor)


# The folder of the compiled templates (fundwatch.warehouse: the project version's shared folder).
TEMPLATE_CACHE_ENV = "FUNDWATCH_TEMPLATE_CACHE"


def _templates_compiled_once(folder: str) -> None:
    """Jinja's bytecode cache for the templates dbt compiles from text: every macro it calls (the
    project's and dbt's own) and each node's SQL are compiled by every dbt process again (330 templates,
    0.5 s of one core in a 1M build, 0.36 s in the 10M day after) because dbt makes them with
    ``from_string``, which Jinja's own cache skips. Here they go through that cache all the same
    (``jinja2.bccache``: its file format, which checks Jinja's and Python's versions and the source's
    checksum), keyed by the source, dbt-common's version and every setting of the environment that
    shapes the code Jinja generates. A template that does not compile raises as before and is not kept; with dbt's
    MACRO_DEBUGGING on, nothing is cached (it wants the generated code in ``linecache``)."""
    import hashlib
    import importlib.metadata

    import jinja2
    from dbt_common.clients.jinja import MACRO_DEBUGGING
    from jinja2.bccache import Bucket, FileSystemBytecodeCache

    if MACRO_DEBUGGING:
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return  # best effort, as the rest of the shared folder: without it dbt compiles as it always did
    cache, compile_ = FileSystemBytecodeCache(folder, "%s.jinja"), jinja2.Environment.compile
    # dbt's environments, parser and extensions are dbt-common's, whose version the project's folder
    # (dbt-core's, dbt-duckdb's and DuckDB's) does not name
    versions = (jinja2.__version__, importlib.metadata.version("dbt-common"))

    def shape(env, name, filename, defer_init) -> bytes:
        return repr((
            versions, type(env).__module__, type(env).__qualname__, name, filename, defer_init,
            sorted(env.extensions), env.optimized, env.is_async, env.finalize is None,
            env.autoescape if isinstance(env.autoescape, bool) else "by name",
            sorted((k, getattr(f, "__qualname__", repr(f))) for k, f in env.filters.items()),
            sorted(env.tests), env.block_start_string, env.block_end_string, env.variable_start_string,
            env.variable_end_string, env.comment_start_string, env.comment_end_string,
            env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks,
            env.newline_sequence, env.keep_trailing_newline,
        )).encode()

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        if raw or not isinstance(source, str):
            return compile_(self, source, name, filename, raw, defer_init)
        text = source.encode("utf-8", "surrogatepass")
        key = hashlib.sha256(shape(self, name, filename, defer_init) + b"\0" + text).hexdigest()
        bucket = Bucket(self, key, cache.get_source_checksum(source))
        try:
            cache.load_bytecode(bucket)
        except OSError:
            bucket.reset()
        if bucket.code is None:
            bucket.code = compile_(self, source, name, filename, raw, defer_init)
            try:
                cache.dump_bytecode(bucket)
            except OSError:
                pass  # a cache that cannot be written only costs the next run the compile
        return bucket.code

    jinja2.Environment.compile = compile


# The rows per row group to attach the warehouse with, when the last load chose other than DuckDB's
# default (ingestion.load records it; fundwatch.warehouse sets this variable from the record).
ROW_GROUP_ENV = "FUNDWATCH_ROW_GROUP_SIZE"


def _warehouse_row_groups(rows: int) -> None:
    """dbt-duckdb's database: an in-memory one with the warehouse (its profile's ``path``) attached
    under the profile's database name with row groups of ``rows`` rows, the default of every cursor."""
    import dataclasses

    from dbt.adapters.duckdb.environments import Environment

    init_db, init_cursor = Environment.initialize_db.__func__, Environment.initialize_cursor.__func__

    def initialize_db(cls, creds, plugins=None):
        conn = init_db(cls, dataclasses.replace(creds, path=":memory:"), plugins)
        path = creds.path.replace("'", "''")
        conn.execute(f"SET temp_directory = '{path}.tmp'")  # where DuckDB spills for a file of its own
        conn.execute(f"ATTACH '{path}' AS \"{creds.database}\" (ROW_GROUP_SIZE {rows})")
        conn.execute(f'USE "{creds.database}"')
        return conn

    def initialize_cursor(cls, creds, cursor, plugins=None, registered_df=None):
        cursor = init_cursor(cls, creds, cursor, plugins, {} if registered_df is None else registered_df)
        cursor.execute(f'USE "{creds.database}"')
        return cursor

    Environment.initialize_db = classmethod(initialize_db)
    Environment.initialize_cursor = classmethod(initialize_cursor)


def _unheard_events_unbuilt() -> None:
    """An event no log writes is neither built nor formatted: dbt builds a protobuf message of every
    event when it is created, and again with its text and metadata when it is fired, then each log
    drops what is below its level (the SQL of every query, the connections, at debug level)."""
    from dbt.tracking import track_behavior_change_warn
    from dbt_common.events.base_types import BaseEvent, EventLevel
    from dbt_common.events.event_manager import EventManager

    init, attribute, fire = BaseEvent.__init__, BaseEvent.__getattr__, EventManager.fire_event
    low = (EventLevel.DEBUG, EventLevel.TEST)

    def lazy_init(self, *args, **kwargs):  # the message is built when first read, as it would have been
        self.__dict__["_fw_pending"] = (args, kwargs)

    def lazy_attribute(self, key):
        pending = self.__dict__.pop("_fw_pending", None)
        if pending is not None:
            init(self, *pending[0], **pending[1])
        return attribute(self, key)

    def fire_event(self, e, level=None, node=None, force_warn_or_error_handling=False):
        # dbt's own callback (tracking) reads one kind of event only, at warn level
        if (not force_warn_or_error_handling and (level or e.level_tag()) in low
                and all(logger.level not in low for logger in self.loggers)
                and all(callback is track_behavior_change_warn for callback in self.callbacks)):
            return
        fire(self, e, level, node, force_warn_or_error_handling)

    BaseEvent.__init__, BaseEvent.__getattr__ = lazy_init, lazy_attribute
    EventManager.fire_event = fire_event


def main() -> None:
    gc.disable()
    from dbt.cli.main import cli

    if sys.argv[1:2] == ["build"]:
        _manifest_written_once()
    _unheard_events_unbuilt()
    _exclusive_models_one_at_a_time()
    _global_settings_once()
    if folder := os.environ.get(TEMPLATE_CACHE_ENV):
        _templates_compiled_once(folder)
    if rows := int(os.environ.get(ROW_GROUP_ENV) or 0):
        _warehouse_row_groups(rows)

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
