# Weir: the two commands a newcomer needs are `make run` and `make test` (see README.md);
# `make check` is the fast loop while developing (no Kafka, Redis or browser; under a minute).
# Everything here delegates to ops/stack.py, which records and stops every process by pid.

PYTHON ?= python3
VENV_PYTHON := .venv/bin/python

.PHONY: setup run check test bench up down status

setup:
	@$(PYTHON) ops/stack.py setup

run: setup
	@$(VENV_PYTHON) ops/stack.py run

# ruff, ruff format, import contracts, mypy, Django's checks, migrations, node --test and
# every test that needs no stack. Starts nothing.
check: setup
	@$(VENV_PYTHON) ops/stack.py check

# `make check`, then the integration and browser suites against a Kafka + Redis of its own.
test: setup
	@$(VENV_PYTHON) ops/stack.py test

bench: setup
	@$(VENV_PYTHON) ops/stack.py bench

# Infrastructure only (Kafka + Redis of the test profile) in the background, for working on tests.
up: setup
	@$(VENV_PYTHON) ops/stack.py up test

down:
	@$(VENV_PYTHON) ops/stack.py down test

status:
	@$(VENV_PYTHON) ops/stack.py status test
