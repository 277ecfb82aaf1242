PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint format clean mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

## Serve API + admin + worker on http://$(HOST):$(PORT) with the SQLite default and a demo workspace.
run: $(VENV)/.installed
	$(BIN)/contactmerge db upgrade
	$(BIN)/contactmerge serve --host $(HOST) --port $(PORT) --demo

## Run the whole test suite (PostgreSQL tests skip unless CONTACTMERGE_TEST_POSTGRES_URL is set).
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(VENV)/.installed $(VENV)/.installed-dev $@

## Benchmarks: prints JSON and a short table (BENCH_ARGS="merge-heavy import" picks some).
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

## Mutation testing of the domain rules ([tool.mutmut] in pyproject.toml: identity, identifiers, merging,
## the link rule: linking, names; the exact-key clusters: dedupe; the brute-force limits: rate_limits)
## by the fast tests; MUTANTS='contactmerge.domain.merging*' narrows it. Prints killed/total per file.
mutation: $(VENV)/.installed-dev
	rm -rf mutants && mkdir mutants
	$(BIN)/mutmut run $(MUTANTS) > mutants/run.log 2>&1 || (tail -n 40 mutants/run.log; exit 1)
	$(BIN)/python tools/mutation_report.py --check tools/equivalent_mutants.txt

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

clean:
	rm -rf $(VENV) contactmerge.db contactmerge.db-wal contactmerge.db-shm
