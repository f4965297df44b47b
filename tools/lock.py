"""`make lock`: write requirements.lock (runtime), requirements-dev.lock (development) and
requirements-uv.lock (the installer), with hashes.

Run by ``make lock`` with uv (pinned in the Makefile). Both locks are resolved from pyproject.toml
for the production image's Python (see the Dockerfile), with every pin of the current locks as a
constraint, so nothing moves that nobody asked to move:

- a new package: add it to pyproject.toml, run ``make lock``;
- an upgrade: change its pin in pyproject.toml (a direct dependency) or delete its entry from the lock
  (an indirect one), run ``make lock``.

``requirements.lock`` holds ``[project] dependencies`` and the ``build`` group (the editable install);
``requirements-dev.lock`` the ``dev`` group less everything already in the runtime lock (it is
installed on top: ``-r requirements.lock -r requirements-dev.lock``); ``requirements-uv.lock`` the
``installer`` group alone: uv, which ``make`` installs first (with pip) and installs the others with.
Every file of every pinned version is hashed, so ``--require-hashes`` works on any Linux platform.

pip's hash-checking mode wants a package asked for with extras (``celery[redis]``) and without them
(``celery``) pinned as two requirements; uv writes one entry, so each entry with extras is repeated
here without them (same version, same hashes).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME, DEV, INSTALLER = ROOT / "requirements.lock", ROOT / "requirements-dev.lock", ROOT / "requirements-uv.lock"
PYTHON_VERSION = "3.11.14"  # the Dockerfile's python image
ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?P<extras>\[[^]]*\])?==(?P<version>[^ ;\\]+)", re.MULTILINE)


def pins(*locks: Path) -> list[str]:
    """``name==version`` of every entry of the given locks (missing files hold none)."""
    return sorted({f"{m['name']}=={m['version']}" for lock in locks if lock.exists()
                   for m in ENTRY.finditer(lock.read_text(encoding="utf-8"))})


def with_plain_entries(text: str) -> str:
    """Repeat each entry that carries extras without them (the requirement line and its hashes)."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.rstrip("\n"))
    out: list[str] = []
    for entry in entries:
        out.append(entry)
        m = ENTRY.match(entry)
        if m and m["extras"]:
            lines = [ln for ln in entry.splitlines() if not ln.lstrip().startswith("#")]
            out.append("\n".join([lines[0].replace(m["extras"], "", 1), *lines[1:]])
                       + "\n    # via the entry above (pip's hash mode wants it without extras too)")
    return "\n".join(out) + "\n"


def compile_lock(uv: str, constraints: Path, output: Path, groups: list[str], exclude: list[str],
                 *, project: bool = True) -> None:
    """Lock the groups, with the project's dependencies unless ``project`` is false."""
    cmd = [uv, "pip", "compile", *([str(ROOT / "pyproject.toml")] if project else []),
           "--python-version", PYTHON_VERSION,
           "--generate-hashes", "--no-strip-extras", "--quiet", "--custom-compile-command", "make lock",
           "-c", str(constraints), "-o", str(output)]
    for group in groups:
        cmd += ["--group", group]
    for name in exclude:
        cmd += ["--no-emit-package", name]
    subprocess.run(cmd, check=True, cwd=ROOT)
    text = output.read_text(encoding="utf-8").replace(f"-c {constraints}", "the pin before (make lock)")
    output.write_text(with_plain_entries(text), encoding="utf-8")


def main(uv: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "pins.txt"
        constraints.write_text("\n".join(pins(RUNTIME, DEV, INSTALLER)) + "\n", encoding="utf-8")
        compile_lock(uv, constraints, RUNTIME, ["build"], [])
        runtime = sorted({m["name"] for m in ENTRY.finditer(RUNTIME.read_text(encoding="utf-8"))})
        compile_lock(uv, constraints, DEV, ["build", "dev"], runtime)
        compile_lock(uv, constraints, INSTALLER, ["installer"], [], project=False)
    print(f"{RUNTIME.name}: {len(pins(RUNTIME))} packages; {DEV.name}: {len(pins(DEV))} packages; "
          f"{INSTALLER.name}: {len(pins(INSTALLER))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "uv"))
