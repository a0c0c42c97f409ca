# The two commands (see README): `make run` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv/bin

.PHONY: help setup run test test-deps lint typecheck pytest doctor clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup:  ## install Python dependencies (and Python itself if missing)
	@scripts/setup.sh

run: setup  ## install what is missing, then serve on PORT (3000) with the embedded defaults
	$(VENV)/parley serve

test: setup test-deps lint typecheck pytest  ## install what is missing, then lint, type-check and run every test

test-deps:  ## install the database servers the tests start by themselves, Janus and Chromium
	@scripts/install-test-deps.sh

lint:  ## ruff: lint and formatting
	$(VENV)/ruff check src tests
	$(VENV)/ruff format --check src tests

typecheck:  ## mypy --strict
	$(VENV)/mypy

pytest:  ## the test suite
	$(VENV)/pytest

doctor: setup  ## what is installed, configured and reachable
	$(VENV)/parley doctor

clean:  ## remove the virtualenvs and caches (not the data in var/)
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache .schemathesis
