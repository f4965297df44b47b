# Two commands on a fresh machine (see README):
#   make demo   installs what is missing, generates the demo inbox, runs the daily DAG once
#   make test   installs what is missing, runs lint and the whole test suite
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade "pip==26.3"
	$(VENV)/bin/python -m pip install --quiet -r requirements.lock
	$(VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/fundwatch demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/fundwatch lint-sql

test: $(STAMP) lint
	$(VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) .fundwatch-home
