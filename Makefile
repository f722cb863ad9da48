# SafetyNet: `make up` / `make demo` / `make test` — see README.md.
SHELL := /bin/bash
ROOT := $(shell pwd)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python

.PHONY: up down clean test lint proto proto-check bench burst demo venv unit integration chaos tools

venv:
	@bash deploy/local/bootstrap.sh

# System tools the tests need (promtool, chromium); each installs only when missing.
tools:
	@bash deploy/local/tools.sh

up: venv
	@bash deploy/local/stack.sh up

down:
	@bash deploy/local/stack.sh down

clean: down
	rm -rf .local

proto: venv
	@bash scripts/gen_proto.sh

proto-check: venv
	@$(VENV)/bin/buf lint proto
	@bash scripts/check_proto.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --cache-dir=/dev/null libs services tests bench

unit: venv
	$(VENV)/bin/pytest -q tests/unit

# lint (mypy: one core) runs while the stack starts (mostly waiting on Kafka and Temporal).
test: venv proto-check tools
	@$(MAKE) --no-print-directory -j2 lint up
	$(VENV)/bin/pytest -q -ra tests/unit tests/integration tests/security tests/e2e tests/chaos

# The fault suite, full form (>= 20,000 events, Kafka stopped 30 s) on its own stack in .local/chaos.
chaos: venv
	$(PY) -m tests.chaos.run --events 20000

bench: tools up
	$(PY) -m bench.run

# 10^6 department events through the stack's own services (bench/burst.py; BURST_EVENTS etc.); not in make test.
burst: tools up
	$(PY) -m bench.burst

demo: up
	$(PY) -m safetynet_cli.demo
