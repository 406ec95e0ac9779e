# Two commands on a fresh machine:  `make run`  and  `make test`.
# Each creates its own environment from the lock file (uv.lock) first.

PYTHON        ?= python3.11
UV_VERSION    := 0.13.8
TOOLS         := .tools
UV            := $(TOOLS)/bin/uv
VENV          := .venv
BIN           := $(VENV)/bin
TEST_PG_URL   ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
HOST          ?= 127.0.0.1
PORT          ?= 8000

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test test-sqlite test-postgres lint system-deps bench bench-smoke bytecode clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# --compile-bytecode: with no .pyc files (or PYTHONDONTWRITEBYTECODE set, as on our CI
# machines) every start compiles FastAPI, SQLAlchemy and pydantic again: ~1.2 s of a 2.5 s import.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

# Our own package is installed editable; compile it too (only changed files are redone).
bytecode: $(VENV)/.synced
	@$(BIN)/python -m compileall -q api

## Start the service on SQLite: migrate, seed, serve on http://$(HOST):$(PORT)
run: bytecode
	$(BIN)/advocacy migrate
	$(BIN)/advocacy seed
	$(BIN)/advocacy serve --host $(HOST) --port $(PORT)

## The whole suite: system packages, lint, types, Dockerfile lint, then the tests on SQLite and
## on PostgreSQL at the same time (each run has its own database, temporary folders and ports;
## make prints each one's output whole when it ends, and fails if either fails), then the fault
## suite (tests/faults: timeouts measured on real processes) on each, one after the other, with
## the machine to itself. TEST_JOBS=1: everything one after the other. Nothing by hand: missing
## packages are installed (as root) or named.
TEST_JOBS ?= 2
PYTEST_ARGS ?=

test: system-deps lint
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target \
		test-sqlite test-postgres PYTEST_ARGS="-m 'not faults'"
	$(MAKE) --no-print-directory test-sqlite test-postgres PYTEST_ARGS="-m faults"

system-deps:
	.ci/system-deps

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

# On `bytecode`: every `advocacy` process the tests start (servers, migrate, seed, worker)
# imports the app, and without its .pyc files compiles it again (~1.2 s each).
test-sqlite: bytecode
	env -u TEST_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: bytecode
	TEST_DATABASE_URL=$(TEST_PG_URL) FUZZ_EXAMPLES=25 $(BIN)/pytest $(PYTEST_ARGS)

## Benchmarks (bench/README.md): the full run prints the table and writes var/bench/; results
## go in BENCHMARKS.md. wrk comes from Debian and is installed when missing.
BENCH_WRK := command -v wrk >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends wrk; }

bench: bytecode
	@$(BENCH_WRK)
	$(BIN)/python -m bench.run

## The same code, a few seconds per scenario and small N (CI): fails on errors, not on speed.
bench-smoke: bytecode
	@$(BENCH_WRK)
	$(BIN)/python -m bench.run --smoke

clean:
	rm -rf $(VENV) $(TOOLS) var .pytest_cache .mypy_cache .ruff_cache
