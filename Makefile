# The verbs of salescoach. Only python3 (3.11+) and make are assumed: the first
# target that needs the environment installs uv into .tools/ and the locked
# dependencies into .venv/.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install run test lint fmt bench migrate docker-config clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "salescoach needs Python 3.11+")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled at install: every process (the sync, the emulator, the API, each test
# that starts one) would otherwise compile its imports again where PYTHONDONTWRITEBYTECODE is set.
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

install: $(VENV)/.synced ## create .venv from the lock file

run: install ## the whole local stack: PostgreSQL, emulator + demo org, first sync, worker, API on :8000
	$(BIN)/salescoach run

migrate: install ## apply migrations to head
	$(BIN)/salescoach db upgrade

# Two test processes (pytest-xdist), a test module each at a time so its module-scoped servers
# start once: many tests wait on a child process (the emulator, a sync, a live API), so two
# workers halve the wall time on a 2-core machine. TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2

test: install ## the test suite (unit, integration against real PostgreSQL and the emulator)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: install ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install ## format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## benchmarks: a table on stdout, JSON in bench-results/
	# Compiled as an installed (non-editable) package is: the sync's start-up is part of what is measured.
	$(BIN)/python -m compileall -q shared services
	$(BIN)/pytest -m bench -p no:cacheprovider --override-ini="addopts=-ra" -o timeout=7200 tests/bench -s

docker-config: ## validate docker-compose.yml (docker compose, or docker-compose v1; skipped without either)
	if docker compose version >/dev/null 2>&1; then docker compose config --quiet; \
	elif command -v docker-compose >/dev/null 2>&1; then docker-compose config --quiet; \
	else echo "docker-config skipped: no compose client (docker compose or docker-compose)"; fi

clean: ## remove the virtual env, tools and local state
	rm -rf $(VENV) $(TOOLS) .salescoach
