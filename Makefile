# Weir: the two commands a newcomer needs are `make run` and `make test` (see README.md).
# Everything here delegates to ops/stack.py, which records and stops every process by pid.

PYTHON ?= python3
VENV_PYTHON := .venv/bin/python

.PHONY: setup run test bench up down status

setup:
	@$(PYTHON) ops/stack.py setup

run: setup
	@$(VENV_PYTHON) ops/stack.py run

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
