# Every install step lives here: a fresh clone needs only python3 and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STACK ?= dev
BASE ?= origin/main
STAMP := $(VENV)/.installed

.PHONY: plan validate plan-diff test lint typecheck unit bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Offline plan of one stack under Pulumi mocks: a resource table and build/$(STACK)/*.json.
plan: $(STAMP)
	$(PY) -m tools.plan --stack $(STACK)

## Config and cross-stack check of one stack only, in seconds; writes nothing.
validate: $(STAMP)
	$(PY) -m tools.validate --stack $(STACK)

## Policy documents changed between BASE and the working tree, per stack.
plan-diff: $(STAMP)
	$(PY) -m tools.plan_diff --base $(BASE)

## The whole offline suite: lint, types, workflow lint, tests.
test: lint typecheck unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/zizmor --offline --no-progress .github/workflows

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q

## DynamoDB exporter at scale against moto_server on 127.0.0.1.
bench: $(STAMP)
	$(PY) bench/exporter.py

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
