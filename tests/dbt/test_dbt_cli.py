"""fundwatch.dbt_cli runs dbt's own command line and ends without the interpreter's teardown: dbt's exit
code is kept and the warehouse is closed (checkpointed, no WAL left) as on a normal exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dbt_fixture_raw import RUN_DATE, write_raw

from fundwatch.dbt_cli import EXCLUSIVE
from fundwatch.paths import Home
from fundwatch.warehouse import dbt_build
from ingestion.load import SMALL_ROW_GROUP, connect


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


def test_the_models_that_read_every_payment_are_built_one_at_a_time(built_home: Home):
    """The models that read every payment or roster entry (meta fw_exclusive) are never built side by
    side (from compiling to the end of their run, in the build's run_results.json), and the two that
    could run together, each pair, are not each other's ancestors: a lock orders them, not the lineage."""
    target = built_home.dbt_target_dir
    nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    exclusive = {n["unique_id"] for n in nodes.values() if (n["config"].get("meta") or {}).get(EXCLUSIVE)}
    assert {uid.rsplit(".", 1)[1] for uid in exclusive} == {
        "stg_raw__payments", "stg_raw__roster_entries", "int_payments_matched", "int_roster_entries_paid"}
    for pair in (("stg_raw__payments", "stg_raw__roster_entries"), ("int_payments_matched", "int_roster_entries_paid")):
        a, b = (f"model.fundwatch.{name}" for name in pair)
        assert a not in nodes[b]["depends_on"]["nodes"] and b not in nodes[a]["depends_on"]["nodes"]
    spans = []
    for result in json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]:
        if result["unique_id"] in exclusive:
            timing = {t["name"]: t for t in result["timing"]}
            spans.append((timing["compile"]["started_at"], timing["execute"]["completed_at"]))
    spans.sort()
    assert len(spans) == 4
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, f"built side by side: {spans}"


def _row_groups(warehouse: Path, table: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{table}')").fetchone()[0]


@pytest.mark.parametrize("recorded", [SMALL_ROW_GROUP, None])
def test_a_build_keeps_the_row_groups_the_load_wrote(tmp_path: Path, recorded):
    """A warehouse whose last load wrote small row groups (recorded in raw_history.storage) is built by
    dbt attached with the same size: its checkpoint leaves them as they are. Without the record (DuckDB's
    default size) the same build's checkpoint merges them: what the record spares a 1M build (1.2 s)."""
    home = Home(tmp_path / "home").ensure()
    write_raw(home.warehouse)
    with connect(home.warehouse, SMALL_ROW_GROUP) as con:  # as a load of small files writes them
        con.execute("CREATE SCHEMA IF NOT EXISTS raw_history")
        con.execute("CREATE TABLE raw_history.fw_probe AS SELECT range AS n FROM range(40000)")
        con.execute("CREATE TABLE IF NOT EXISTS raw_history.storage (row_group_size INTEGER)")
        con.execute("DELETE FROM raw_history.storage")
        if recorded:
            con.execute("INSERT INTO raw_history.storage VALUES (?)", [recorded])
    assert _row_groups(home.warehouse, "raw_history.fw_probe") == 3
    dbt_build(home, RUN_DATE)
    assert _row_groups(home.warehouse, "raw_history.fw_probe") == (3 if recorded else 1)
    assert not Path(f"{home.warehouse}.wal").exists()


# Run in its own interpreter: fundwatch.dbt_cli changes dbt's event classes for the whole process.
_EVENTS_PROBE = """
import io, json, sys
from fundwatch import dbt_cli
dbt_cli._unheard_events_unbuilt()
import dbt_common.events.event_manager as em
from dbt.adapters.events.types import SQLQuery
from dbt.tracking import track_behavior_change_warn
from dbt_common.events.base_types import EventLevel
from dbt_common.events.logger import LoggerConfig
from dbt_common.events.types import Note

built = []
msg = em.msg_from_base_event
em.msg_from_base_event = lambda e, level=None: built.append(type(e).__name__) or msg(e, level=level)
level, callback = sys.argv[1], sys.argv[2]
manager, out, heard = em.EventManager(), io.StringIO(), []
manager.add_logger(LoggerConfig(name="probe", level=EventLevel(level), output_stream=out))
manager.add_callback(track_behavior_change_warn)
if callback == "yes":
    manager.add_callback(lambda m: heard.append(m.info.name))
query = SQLQuery(conn_name="probe", sql="select 4242", node_info={})
pending = "_fw_pending" in query.__dict__
manager.fire_event(query)
unbuilt_after_firing = "_fw_pending" in query.__dict__
manager.fire_event(Note(msg="hello clerk"))
manager.fire_event(Note(msg="as debug"), level=EventLevel.DEBUG)
print(json.dumps({"pending": pending, "unbuilt_after_firing": unbuilt_after_firing, "sql": query.sql,
                  "built": built, "heard": heard, "out": out.getvalue()}))
"""


def _probe(level: str, callback: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _EVENTS_PROBE, level, callback],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_event_no_log_writes_is_neither_built_nor_formatted():
    """At dbt's usual info level a debug event (the SQL of a query) is not built or formatted; an info
    event is written as before, and a debug event still has its content when something reads it."""
    got = _probe("info", "no")
    assert got["pending"] and got["unbuilt_after_firing"]
    assert got["sql"] == "select 4242"  # built when read, with what it was given
    assert got["built"] == ["Note"]
    assert "hello clerk" in got["out"] and "4242" not in got["out"] and "as debug" not in got["out"]


@pytest.mark.parametrize(("level", "callback"), [("debug", "no"), ("info", "yes")])
def test_an_event_a_log_or_a_listener_wants_is_fired_as_dbt_fires_it(level, callback):
    """A log at debug level (``--debug``, ``--log-level debug``) or any listener besides dbt's own
    tracking gets every event, debug ones included."""
    got = _probe(level, callback)
    assert got["built"] == ["SQLQuery", "Note", "Note"]
    assert not got["unbuilt_after_firing"]
    if level == "debug":
        assert "select 4242" in got["out"] and "as debug" in got["out"]
    else:
        assert got["heard"] == ["SQLQuery", "Note", "Note"]


# Run in its own interpreter too: the probe changes dbt-duckdb's Environment for the whole process.
_SETTINGS_PROBE = """
import json, sys
from fundwatch import dbt_cli
dbt_cli._global_settings_once()
if sys.argv[2] == "row groups":
    dbt_cli._warehouse_row_groups(2048)
from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.adapters.duckdb.environments import Environment

class Recorded:  # a cursor that remembers what it was told
    def __init__(self, cursor):
        self.cursor, self.said = cursor, []
    def execute(self, sql, *args):
        self.said.append(sql)
        return self.cursor.execute(sql, *args)

settings = {"memory_limit": "1111MB", "preserve_insertion_order": "false", "progress_bar_time": "1234"}
creds = DuckDBCredentials(path=sys.argv[1], database="warehouse", settings=settings)
conn = Environment.initialize_db(creds)
seen = []
for _ in range(2):
    cursor = Recorded(conn.cursor())
    Environment.initialize_cursor(creds, cursor)
    values = [cursor.execute(f"select current_setting('{k}')::varchar").fetchone()[0] for k in settings]
    seen.append({"values": values, "sets": [s for s in cursor.said if s.upper().startswith("SET ")]})
print(json.dumps(seen))
"""


@pytest.mark.parametrize("attached", ["plain", "row groups"])
def test_the_profiles_settings_hold_on_every_nodes_cursor(tmp_path: Path, attached):
    """The profile's database-wide settings (memory limit, insertion order) are set once, on the database
    dbt-duckdb opens, and hold on every node's cursor; a setting of a connection's own scope is still set
    on each cursor. With the warehouse attached with the load's row groups, or opened as it is."""
    done = subprocess.run([sys.executable, "-c", _SETTINGS_PROBE, str(tmp_path / "w.duckdb"), attached],
                          capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    with duckdb.connect() as con:  # what DuckDB itself makes of the same values
        con.execute("SET memory_limit = '1111MB'")
        expected = [con.execute("select current_setting('memory_limit')::varchar").fetchone()[0], "false", "1234"]
    assert [cursor["values"] for cursor in seen] == [expected, expected]
    assert [cursor["sets"] for cursor in seen] == [["SET progress_bar_time = '1234'"]] * 2


# In its own interpreter: the probe changes Jinja's Environment for the whole process.
_TEMPLATES_PROBE = """
import json, sys
import jinja2
from fundwatch import dbt_cli
generated = []
generate = jinja2.Environment._generate
jinja2.Environment._generate = lambda self, *a, **k: generated.append(1) or generate(self, *a, **k)
dbt_cli._templates_compiled_once(sys.argv[1])
from dbt_common.clients.jinja import get_template
source = "{% if true %}\\n{{ x | upper }}{% endif %}"
out = {"plain": get_template(source, {"x": "a"}).render({}),
       "trimmed": jinja2.Environment(trim_blocks=True).from_string(source).render(x="a")}
try:
    get_template("{% if %}", {})
except Exception as exc:
    out["broken"] = type(exc).__name__
out["generated"] = len(generated)
print(json.dumps(out))
"""


def test_dbts_templates_are_compiled_once_and_kept_by_their_source_and_settings(tmp_path: Path):
    """A template compiled by one dbt process is read by the next instead of compiled again; the same text
    in an environment of other settings (trim_blocks) is kept apart, as it compiles to other code; a
    template that does not compile raises as before and leaves nothing behind."""
    folder = tmp_path / "templates"

    def probe() -> dict:
        done = subprocess.run([sys.executable, "-c", _TEMPLATES_PROBE, str(folder)],
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = probe()
    assert first == {"plain": "\nA", "trimmed": "A", "broken": "CompilationError", "generated": 2}
    kept = {f.name: f.stat().st_ino for f in folder.iterdir()}
    assert len(kept) == 2 and all(name.endswith(".jinja") for name in kept)
    second = probe()
    assert second == {**first, "generated": 0}  # no code generated again
    assert {f.name: f.stat().st_ino for f in folder.iterdir()} == kept  # read, not written again
    # a folder that cannot be made (here under a file): dbt compiles as it always did
    (tmp_path / "a file").write_text("not a folder", encoding="utf-8")
    folder = tmp_path / "a file" / "templates"
    assert probe() == first
