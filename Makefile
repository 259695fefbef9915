# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck contracts pytest schema bench bench-search-1m bench-detector bench-value bench-statements clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Migrate, seed a demo bank if the database is empty, serve GraphiQL on http://127.0.0.1:8000/graphql
demo: install
	$(BIN)/quanjing demo

## Exactly what CI runs: lint, types, layer contracts, the whole test suite
test: install lint typecheck contracts pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest

## Rewrite schema.graphql and the generated tables of docs/security.md (tests fail while stale)
schema: install
	$(BIN)/quanjing export-schema --output schema.graphql
	$(BIN)/quanjing security-doc docs/security.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

## Benchmarks (not part of the test suite): quanjing vs the hand-written baseline, side by side.
## BENCH_ARGS="--quick" for a 2,000-customer smoke run.
bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The search goal is set at 1,000,000 customers: a dataset of its own (about 10 GB, built once).
bench-search-1m: install
	QUANJING_BENCH_HOME=$${QUANJING_BENCH_HOME:-.quanjing-bench-1m} $(BIN)/python -m benchmarks \
		--customers 1000000 --ops search --workers 1 --concurrency 1,8,32 --save-as search_1m

bench-detector: install
	$(BIN)/python -m benchmarks.detector $(BENCH_ARGS)

bench-value: install
	$(BIN)/python -m benchmarks.value $(BENCH_ARGS)

bench-statements: install
	$(BIN)/python -m benchmarks.statement_cost $(BENCH_ARGS)
