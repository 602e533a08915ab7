# PXM: two commands on a fresh machine with Python 3.11 and make.
#   make demo   - virtual environment, locked dependencies, SQLite database, demo organization, web app
#   make test   - test dependencies, lint (ruff, mypy, import-linter) and the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PXM    := $(BIN)/pxm

.PHONY: demo test lint pytest serve clean bench lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.lock
	$(BIN)/pip install --quiet -r requirements-test.lock
	touch $@

demo: $(VENV)/.installed
	$(PXM) demo

serve: $(VENV)/.installed
	$(PXM) serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(VENV)/.installed-test
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint pytest

bench: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -r requirements-bench.lock
	$(BIN)/python benchmarks/run_all.py

lock:
	rm -rf /tmp/pxm-lock && $(PYTHON) -m venv /tmp/pxm-lock
	/tmp/pxm-lock/bin/pip install --quiet . && /tmp/pxm-lock/bin/pip freeze --exclude pxm > requirements.lock
	/tmp/pxm-lock/bin/pip install --quiet '.[test]' && /tmp/pxm-lock/bin/pip freeze --exclude pxm > requirements-test.lock
	/tmp/pxm-lock/bin/pip install --quiet '.[bench]' && /tmp/pxm-lock/bin/pip freeze --exclude pxm > requirements-bench.lock

clean:
	rm -rf $(VENV) var
