# The two commands of the README, on a fresh machine:
#   make demo   installs what is missing (runtime only), generates the demo inbox, runs the daily DAG once
#   make test   installs what is missing (runtime + development), runs lint and the whole test suite
#               (CI runs exactly this)
PYTHON ?= python3
VENV   := .venv
PIP    := $(VENV)/bin/python -m pip --disable-pip-version-check
# Stamps: the venv holds exactly these locks (a changed lock or pyproject.toml installs again).
RUNTIME := $(VENV)/.runtime-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEV     := $(VENV)/.dev-$(shell cat requirements.lock requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test prod-test install install-runtime lock browser lint clean

# Every package pinned with its hashes (pip's hash-checking mode), then this repository, editable.
$(RUNTIME): requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.runtime-* $(VENV)/.dev-*
	touch $@

$(DEV): $(RUNTIME) requirements-dev.lock
	$(PIP) install --quiet --require-hashes -r requirements.lock -r requirements-dev.lock
	rm -f $(VENV)/.dev-*
	touch $@

install: $(DEV)
install-runtime: $(RUNTIME)

# Re-lock (requirements.lock: runtime, what the production image installs; requirements-dev.lock:
# the `dev` group of pyproject.toml, installed on top) with every file's hashes, without moving any
# pinned version: each pin of the current locks is a constraint. A new package: add it to
# pyproject.toml, run `make lock`. An upgrade: change its pin in pyproject.toml (a direct dependency)
# or delete its line from the lock (an indirect one), run `make lock`. Resolves for the production
# image's Python (Dockerfile) with uv from PyPI; pins and hashes hold on any Linux platform.
LOCK_TOOL  := $(VENV)-lock
UV_COMPILE := $(LOCK_TOOL)/bin/uv pip compile pyproject.toml --python-version 3.11.14 --generate-hashes --no-strip-extras \
              --quiet --custom-compile-command "make lock" -c $(LOCK_TOOL)/pins.txt
lock:
	test -x $(LOCK_TOOL)/bin/uv || ($(PYTHON) -m venv $(LOCK_TOOL) && $(LOCK_TOOL)/bin/pip install --quiet uv==0.13.9)
	sed -n 's/^\([A-Za-z0-9._-]*\)\(\[[^]]*\]\)\{0,1\}\(==[^ ;\\]*\).*/\1\3/p' requirements.lock $(wildcard requirements-dev.lock) \
	    > $(LOCK_TOOL)/pins.txt
	$(UV_COMPILE) --group build -o requirements.lock
	$(UV_COMPILE) --group build --group dev -o requirements-dev.lock \
	    $$(grep -oE '^[A-Za-z0-9._-]+' requirements.lock | sed 's/^/--no-emit-package /')

# Debian's Chromium drives the review page's end-to-end test (never a downloaded browser build).
browser:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

demo: $(RUNTIME)
	$(VENV)/bin/fundwatch demo

lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/fundwatch lint-sql

test: $(DEV) browser lint
	$(VENV)/bin/python -m pytest

# Only the production path (PostgreSQL + real scheduler + api-server); `make test` runs it too.
prod-test: $(DEV)
	$(VENV)/bin/python -m pytest -m production tests/production

clean:
	rm -rf $(VENV) $(LOCK_TOOL) .fundwatch-home
