# Every install step lives here: a fresh clone needs only python3 and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip install --quiet --disable-pip-version-check
STACK ?= dev
BASE ?= origin/main
# `make bench` runs every benchmark; PART=exporter, PART=plan or PART=doctor runs one.
PART ?= all
# Checked before anything is installed or run.
ifeq ($(filter all exporter plan doctor,$(PART)),)
$(error PART=$(PART): use all, exporter, plan or doctor)
endif
# `make doctor`: FORMAT=json prints only the findings as JSON; ARGS passes options through
# (--allow-deploy-role, --before-deploy, --all).
FORMAT ?= text
ARGS ?=
# Two stamps, so that `make plan` alone gets a lean venv: what the program and the offline
# plan import (requirements.txt), and the test tools on top (requirements-dev.txt). The second
# keeps the name `venv/.installed`, which the README and policy_pack/PulumiPolicy.yaml give
# as the way to get every tool.
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.installed

# `make` alone lists the targets rather than installing anything.
.DEFAULT_GOAL := help
.PHONY: help plan validate doctor schema plan-diff test lint typecheck unit bench clean

## List the targets, from the `## ` line above each one.
help:
	@awk '/^## / { text = substr($$0, 4); next } \
		/^[A-Za-z][A-Za-z0-9_-]*:([^=]|$$)/ && text { sub(/:.*/, ""); printf "  %-10s %s\n", $$0, text } \
		{ text = "" }' $(firstword $(MAKEFILE_LIST))

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): requirements.txt | $(PY)
	$(PIP) -r requirements.txt
	touch $@

$(DEV): requirements-dev.txt $(RUNTIME)
	$(PIP) -r requirements-dev.txt
	touch $@

## Offline plan of one stack (STACK=dev): resource table, accounts, build/STACK/*.json.
plan: $(RUNTIME)
	$(PY) -m tools.plan --stack $(STACK)

## Config and cross-stack check of one stack only (STACK=dev), in seconds; writes nothing.
validate: $(RUNTIME)
	$(PY) -m tools.validate --stack $(STACK)

## Read-only checks of one stack's accounts in AWS (STACK=dev, FORMAT=json, ARGS=...); exit 1 on failures.
doctor: $(RUNTIME)
	$(PY) -m tools.doctor --stack $(STACK) --format $(FORMAT)$(if $(ARGS), $(ARGS))

## Regenerate schema/stack.schema.json from the config models in config/.
schema: $(RUNTIME)
	$(PY) -m tools.schema

## What a change does to each stack's offline plan, against BASE=origin/main.
plan-diff: $(RUNTIME)
	$(PY) -m tools.plan_diff --base $(BASE)

## The whole offline suite: lint, types, workflow lint, tests.
test: lint typecheck unit

## ruff, ruff format --check and zizmor on the workflows.
lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/zizmor --offline --no-progress .github/workflows

## mypy --strict.
typecheck: $(DEV)
	$(VENV)/bin/mypy

## pytest.
unit: $(DEV)
	$(PY) -m pytest -q

## Benchmarks: DynamoDB exporter, offline plan (and policy sizes) and doctor at org scale (PART=exporter|plan|doctor: one).
bench: $(DEV)
	$(if $(filter all exporter,$(PART)),$(PY) bench/exporter.py)
	$(if $(filter all plan,$(PART)),$(PY) bench/plan.py)
	$(if $(filter all plan,$(PART)),$(PY) bench/policy_sizes.py)
	$(if $(filter all doctor,$(PART)),$(PY) bench/doctor.py)

## Remove the venv, build/ and the tool caches.
clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
