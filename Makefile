# aicommons: `make run` starts the platform with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-sqlite test-postgres lint bench install install-test clean

# torch first and alone: pip then takes the CPU wheel that lies on this kind of machine's disk.
# Resolved together with the project, pip 26 picks PyPI's CUDA build of the same version instead
# (3 GB of NVIDIA wheels, minutes of every clean install). Keep the pin equal to pyproject.toml's.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0

# The platform with City Brain (SUMO from PyPI), so the demo and the console have simulations too.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[citybrain]'
	scripts/ensure-cjk-font.sh
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,citybrain]'
	scripts/ensure-cjk-font.sh
	scripts/ensure-chromium.sh
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/aicommons init --demo
	$(BIN)/aicommons demo --if-new
	$(BIN)/aicommons serve --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/lint-imports

# SQLite runs everything; PostgreSQL runs everything but the slow end-to-end tests and the
# tests that touch no database (they exercise processes, servers and models, not SQL, and
# already ran once). Tests run in one process per core (pytest-xdist; each process has its own
# databases); TEST_WORKERS=0 runs them in one process. With work stealing, a process that runs
# out of tests takes pending ones from the other instead of idling while it finishes a long file.
TEST_WORKERS ?= auto
PYTEST = $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal
test: install-test lint
	$(PYTEST)
	AICOMMONS_TEST_DB_URL="$$(scripts/ensure-postgres.sh)" $(PYTEST) -m "not slow and not no_database"

test-sqlite: install-test
	$(PYTEST)

test-postgres: install-test
	AICOMMONS_TEST_DB_URL="$$(scripts/ensure-postgres.sh)" $(PYTEST)

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,citybrain,bench]'
	touch $@

bench: $(VENV)/.installed-bench
	mkdir -p .bench
	$(BIN)/python bench/jobs.py --json .bench/jobs-sqlite.json
	$(BIN)/python bench/jobs.py --database-url "$$(scripts/ensure-postgres.sh)" --json .bench/jobs-postgresql.json
	$(BIN)/python bench/dedup.py --json .bench/dedup.json
	$(BIN)/python bench/deid.py --json .bench/deid.json
	$(BIN)/python bench/compression.py --json .bench/compression.json
	$(BIN)/python bench/serving.py --json .bench/serving.json
	$(BIN)/python bench/evaluation.py --json .bench/evaluation.json
	$(BIN)/python bench/annotation.py --json .bench/annotation.json
	$(BIN)/python bench/citybrain.py --json .bench/citybrain.json

# docs/cli.md, the CLI reference, regenerated from `aicommons … --help`.
.PHONY: docs
docs: install
	$(BIN)/python scripts/gen_cli_docs.py

clean:
	rm -rf $(VENV) .pytest_cache .bench
