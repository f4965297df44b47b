"""Checks the compose file's Airflow parts against the pinned Airflow, in a child process.

Reads JSON from stdin: {"commands": [[argv...]], "options": [[section, key]], "apps": ["module:attr"]}
and prints JSON: the commands Airflow's own CLI parser refuses, the config options it does not
know, and the objects that do not import. Run by test_compose.py with a scratch AIRFLOW_HOME, so
importing Airflow here touches nothing of the developer's.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys


def main() -> int:
    request = json.load(sys.stdin)
    from airflow.cli.cli_parser import get_parser
    from airflow.configuration import conf

    parser = get_parser()
    bad_commands = []
    for argv in request["commands"]:
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                parser.parse_args(argv)
        except SystemExit:
            bad_commands.append({"argv": argv, "error": err.getvalue().strip()[-300:]})

    known = conf.configuration_description
    bad_options = [
        [section, key] for section, key in request["options"]
        if key.lower() not in known.get(section.lower(), {}).get("options", {})
    ]

    bad_objects = []
    for ref in request["objects"]:
        module, _, attr = ref.partition(":")
        try:
            obj = importlib.import_module(module)
            if attr:
                getattr(obj, attr)
        except (ImportError, AttributeError) as exc:
            bad_objects.append({"ref": ref, "error": repr(exc)})

    json.dump({"commands": bad_commands, "options": bad_options, "objects": bad_objects}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
