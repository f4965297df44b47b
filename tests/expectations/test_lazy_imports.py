"""The modules GX imports but the suites never run are deferred in the validation process, and still
loaded, whole, the moment something uses them (``expectations.lazy_imports``).

Each case runs in a fresh interpreter: the finder is process-wide and GX imports once per process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fundwatch.paths import Home

pytestmark = pytest.mark.slow  # each case starts GX in a fresh interpreter


def _fresh(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_validation_process_runs_the_suites_without_executing_the_deferred_modules(tmp_path, build_marts, planted):
    """The validator's own entry (what ``validate_marts`` starts), in-process so its modules can be read."""
    home = Home(tmp_path / "home").ensure()
    build_marts(home.warehouse)
    out = tmp_path / "outcome.json"
    got = _fresh(
        "import json, sys\n"
        "from expectations import validate, lazy_imports\n"
        "rc = validate.main(['--home', sys.argv[1], '--date', '2021-04-30', '--json', sys.argv[2]])\n"
        "print(json.dumps({'rc': rc, 'deferred': {n: lazy_imports.is_deferred(sys.modules.get(n))\n"
        "                                          for n in lazy_imports.DEFERRED},\n"
        "                  'gx': 'great_expectations' in sys.modules,\n"
        "                  'scipy_stats_ran': 'scipy.stats._stats_py' in sys.modules}))\n",
        str(home.root), str(out),
    )
    assert got["rc"] == 0 and got["gx"]
    assert got["deferred"] == {"scipy.stats": True, "altair": True, "jsonschema": True, "mistune": True}
    assert not got["scipy_stats_ran"]
    outcome = json.loads(out.read_text(encoding="utf-8"))
    failing = {r["rule_id"] for r in outcome["rules"] if r["failing"]}
    assert failing == {rid for rid, _, _ in planted}  # the suites' results are untouched


def test_a_deferred_module_is_executed_when_an_expectation_uses_it(tmp_path):
    """GX's KL-divergence expectation (scipy.stats) on DuckDB and its rendered page (altair, and
    jsonschema through altair), then GX's markdown rendering (mistune): each works and each module
    is executed on use."""
    got = _fresh(
        "import json, sys\n"
        "from expectations import lazy_imports\n"
        "lazy_imports.install()\n"
        "import duckdb, great_expectations as gx, great_expectations.expectations as gxe\n"
        "from great_expectations.render.renderer import ValidationResultsPageRenderer\n"
        "from great_expectations.render.view import DefaultJinjaPageView\n"
        "from expectations import gx_duckdb\n"
        "def state():\n"
        "    return {n: lazy_imports.is_deferred(sys.modules.get(n)) for n in lazy_imports.DEFERRED}\n"
        "gx_duckdb.apply()\n"
        "before = state()\n"
        "db = sys.argv[1]\n"
        "with duckdb.connect(db) as con:\n"
        "    con.execute(\"create table t as select case when i % 4 = 0 then 'a' else 'b' end as x\"\n"
        "                \" from range(100) r(i)\")\n"
        "ctx = gx.get_context(mode='ephemeral')\n"
        "ds = ctx.data_sources.add_sql('w', connection_string=f'duckdb:///{db}')\n"
        "batch = ds.add_table_asset('t', table_name='t').add_batch_definition_whole_table('b').get_batch()\n"
        "kl = gxe.ExpectColumnKLDivergenceToBeLessThan(column='x', threshold=0.01,\n"
        "    partition_object={'values': ['a', 'b'], 'weights': [0.5, 0.5]})\n"
        "r = batch.validate(kl)\n"
        "after_validate = state()\n"
        "page = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(\n"
        "    batch.validate(gx.ExpectationSuite(name='s', expectations=[kl]))))\n"
        "after_render = state()\n"
        "md = DefaultJinjaPageView().render_markdown('*GX*')\n"
        "print(json.dumps({'before': before, 'after_validate': after_validate, 'after_render': after_render,\n"
        "                  'after_markdown': state(), 'kl': float(r.result['observed_value']),\n"
        "                  'error': r.exception_info.get('raised_exception'), 'chart': 'vega' in page, 'md': md}))\n",
        str(tmp_path / "kl.duckdb"),
    )
    assert all(got["before"].values())
    assert got["error"] is False
    # 0.25·ln(0.25/0.5) + 0.75·ln(0.75/0.5), computed by scipy.stats.entropy
    assert abs(got["kl"] - 0.130812035941137) < 1e-12
    assert got["after_validate"]["scipy.stats"] is False
    assert got["chart"] and got["after_render"]["altair"] is False and got["after_render"]["jsonschema"] is False
    assert got["md"].strip() == "<p><em>GX</em></p>" and got["after_markdown"]["mistune"] is False


def test_install_is_scoped_to_the_validation_process():
    """Importing the validator (as the pipeline process does) installs nothing; only its entry does."""
    got = _fresh(
        "import json, sys\n"
        "import expectations.validate\n"
        "from expectations import lazy_imports\n"
        "print(json.dumps({'finders': [type(f).__name__ for f in sys.meta_path]}))\n"
    )
    assert "_DeferringFinder" not in got["finders"]

