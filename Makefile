# The two commands of the README, on a fresh machine:
#   make demo   installs what is missing (runtime only), generates the demo inbox, runs the daily DAG once
#   make test   installs what is missing (runtime + development), runs lint and the whole test suite
#               (CI runs exactly this)
PYTHON ?= python3
VENV   := .venv
PIP    := $(VENV)/bin/python -m pip --disable-pip-version-check
# uv installs the locks (hash-checked like pip, but in parallel; bytecode compiled as pip does): a fresh
# install in under a minute instead of about three. uv itself comes hash-checked from requirements-uv.lock.
UV_INSTALL := $(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --require-hashes --compile-bytecode
# Stamps: the venv holds exactly these locks (a changed lock or pyproject.toml installs again).
RUNTIME := $(VENV)/.runtime-$(shell cat requirements-uv.lock requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEV     := $(VENV)/.dev-$(shell cat requirements-uv.lock requirements.lock requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test prod-test install install-runtime lock browser lint clean

# Every package pinned with its hashes (hash-checking mode), then this repository, editable.
$(RUNTIME): requirements-uv.lock requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-uv.lock
	$(UV_INSTALL) -r requirements.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.runtime-* $(VENV)/.dev-*
	touch $@

$(DEV): $(RUNTIME) requirements-dev.lock
	$(UV_INSTALL) -r requirements.lock -r requirements-dev.lock
	rm -f $(VENV)/.dev-*
	touch $@

install: $(DEV)
install-runtime: $(RUNTIME)

# Re-lock with every file's hash, without moving any pinned version (how to add or upgrade a
# package: tools/lock.py). uv (requirements-uv.lock) resolves from PyPI for the production image's Python.
LOCK_TOOL := $(VENV)-lock
lock:
	test -x $(LOCK_TOOL)/bin/uv || ($(PYTHON) -m venv $(LOCK_TOOL) && \
	  $(LOCK_TOOL)/bin/pip install --quiet --require-hashes --no-deps -r requirements-uv.lock)
	$(LOCK_TOOL)/bin/python tools/lock.py $(LOCK_TOOL)/bin/uv

# Debian's Chromium drives the review page's end-to-end test (never a downloaded browser build).
browser:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

demo: $(RUNTIME)
	$(VENV)/bin/fundwatch demo

lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/fundwatch lint-sql

# Two workers (pytest-xdist); tests/conftest.py says which tests share a worker and in which order.
TEST_WORKERS ?= 2
test: $(DEV) browser lint
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

# Only the production tests (Celery stack on PostgreSQL + Redis, the TLS proxy); `make test` runs them too.
prod-test: $(DEV)
	$(VENV)/bin/python -m pytest -m production tests/production

clean:
	rm -rf $(VENV) $(LOCK_TOOL) .fundwatch-home
