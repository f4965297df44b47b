# The two commands of the README, on a fresh machine:
#   make demo   installs what is missing, generates the demo inbox, runs the daily DAG once
#   make test   installs what is missing, runs lint and the whole test suite (CI runs exactly this)
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test prod-test install browser lint clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium drives the review page's end-to-end test (never a downloaded browser build).
browser:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

demo: $(STAMP)
	$(VENV)/bin/fundwatch demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/fundwatch lint-sql

test: $(STAMP) browser lint
	$(VENV)/bin/python -m pytest

# Only the production tests (Celery stack on PostgreSQL + Redis, the TLS proxy); `make test` runs them too.
prod-test: $(STAMP)
	$(VENV)/bin/python -m pytest -m production tests/production

clean:
	rm -rf $(VENV) .fundwatch-home
