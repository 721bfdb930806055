# Conveyor: `make up` runs everything, `make test` runs the whole suite.
# Both create the virtualenv, install, and make sure RabbitMQ and PostgreSQL are reachable.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: up test lint format typecheck services services-stop migrate bench clean venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## up: services, migrations, gateway + a worker per queue + scheduler, in the foreground
up: venv
	$(BIN)/conveyor up

## test: the whole suite against real RabbitMQ and PostgreSQL
test: venv
	$(BIN)/conveyor services --test-tools
	$(BIN)/python -m pytest

## services: find RabbitMQ (console on) and PostgreSQL, or start them locally
services: venv
	$(BIN)/conveyor services

## services-stop: stop the RabbitMQ and PostgreSQL that `make services` started (never others)
services-stop: venv
	$(BIN)/conveyor services --stop

migrate: services
	$(BIN)/conveyor migrate

## bench: throughput and latency figures, Conveyor beside bare Dramatiq on the same broker
bench: services
	$(BIN)/python -m tests.bench

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
