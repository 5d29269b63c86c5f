# Every install step lives here: a fresh clone needs only python3 and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
# Installs come from lock files with hashes: every package, direct or pulled in, at the version
# and with the file hashes the lock names (docs/pipeline.md, "Lock files"; `make lock`).
PIP := $(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes
STACK ?= dev
BASE ?= origin/main
# `make bench` runs every benchmark; PART=exporter, PART=plan or PART=doctor runs one.
PART ?= all
# Checked before anything is installed or run.
ifeq ($(filter all exporter plan doctor,$(PART)),)
$(error PART=$(PART): use all, exporter, plan or doctor)
endif
# `make doctor`: FORMAT=json prints only the findings as JSON; ARGS passes options through
# (--allow-deploy-role, --before-deploy, --all; for `make pipeline-policies`: --pipeline-account,
# --repository).
FORMAT ?= text
ARGS ?=
# Two stamps, so that `make plan` alone gets a lean venv: what the program and the offline
# plan import (requirements.lock), and the test tools on top (requirements-dev.lock). The second
# keeps the name `venv/.installed`, which the README and policy_pack/PulumiPolicy.yaml give
# as the way to get every tool.
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.installed
# `make lock`: pip-tools in a venv of its own, on the Python the workflows use (3.11: a lock is
# resolved for the interpreter that compiles it). The pip configuration of the machine is
# ignored, so that the default index alone decides and every machine gets the same lock.
LOCK_PYTHON ?= python3.11
LOCK_VENV := build/lock-venv
PIP_TOOLS := pip-tools==7.6.2
COMPILE := env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-trusted-host --no-emit-find-links

# `make` alone lists the targets rather than installing anything.
.DEFAULT_GOAL := help
.PHONY: help plan validate doctor schema plan-diff pipeline-policies test lint typecheck unit bench lock clean

## List the targets, from the `## ` line above each one.
help:
	@awk '/^## / { text = substr($$0, 4); next } \
		/^[A-Za-z][A-Za-z0-9_-]*:([^=]|$$)/ && text { sub(/:.*/, ""); printf "  %-18s %s\n", $$0, text } \
		{ text = "" }' $(firstword $(MAKEFILE_LIST))

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): requirements.lock | $(PY)
	$(PIP) -r requirements.lock
	touch $@

$(DEV): requirements-dev.lock $(RUNTIME)
	$(PIP) -r requirements-dev.lock
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

## IAM documents of the pipeline's roles for one stack (STACK=dev, ARGS=--pipeline-account ...), as JSON.
pipeline-policies: $(RUNTIME)
	$(PY) -m tools.pipeline_policies --stack $(STACK)$(if $(ARGS), $(ARGS))

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

$(LOCK_VENV)/bin/pip-compile:
	@$(LOCK_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "make lock: LOCK_PYTHON=$(LOCK_PYTHON) is not Python 3.11, the workflows' version"; exit 2; }
	$(LOCK_PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check $(PIP_TOOLS)

## Regenerate the lock files with hashes after editing a requirements*.txt (pip-compile).
lock: $(LOCK_VENV)/bin/pip-compile
	$(COMPILE) --output-file requirements-dev.lock requirements-dev.txt
	$(COMPILE) --constraint requirements-dev.lock --output-file requirements.lock requirements.txt
	$(COMPILE) --constraint requirements-dev.lock --output-file policy_pack/requirements.lock \
		requirements.txt policy_pack/requirements.txt

## Remove the venv, build/ and the tool caches.
clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
