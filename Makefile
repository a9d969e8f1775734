# The two commands: `make run` (service with demo data) and `make test` (the whole suite).
# Everything else here is what they are made of, plus the checks CI runs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.synced-$(shell cat uv.lock pyproject.toml | sha256sum | cut -c1-16)
export XDG_RUNTIME_DIR ?= /tmp
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: run test test-browser venv lint typecheck migrations-check contract contract-check check ci-checks schema-warnings clean-db inspect-logs

$(STAMP): uv.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv sync --frozen --quiet
	@rm -f $(VENV)/.synced-* && touch $(STAMP)

venv: $(STAMP)

## make run: embedded PostgreSQL (unless DATABASE_URL is set), migrations, demo data, server on $(PORT).
run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo --port $(PORT)
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

## make test: the whole suite, in parallel, on the embedded PostgreSQL or on DATABASE_URL.
test: venv
	$(BIN)/python -m pytest -n $${PYTEST_WORKERS:-auto} --dist loadfile -q

## make test-browser: only the Playwright journeys (tests/browser), driving Debian's chromium
## (/usr/bin/chromium, or REDLINE_CHROMIUM; never a downloaded browser). Screenshots: var/test-artifacts/.
test-browser: venv
	$(BIN)/python -m pytest -m browser -n $${PYTEST_WORKERS:-2} --dist loadfile -q tests/browser

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy core accounts registry incidents coordination api_docs config

migrations-check: venv
	$(BIN)/python manage.py makemigrations --check --dry-run

## Regenerate the committed OpenAPI file and JSON Schemas.
contract: venv
	$(BIN)/python manage.py export_api_contract

contract-check: venv
	$(BIN)/python manage.py spectacular --fail-on-warn --validate --file /dev/null
	$(BIN)/python manage.py export_api_contract --check

## Everything CI runs besides the tests.
check: lint typecheck migrations-check contract-check

## Regenerate the Inspect AI fixture logs with the real inspect_ai package.
inspect-logs: venv
	$(BIN)/python scripts/make_inspect_logs.py

clean-db:
	rm -rf .pgdata

# Separately runnable suites (benchmarks, security, fault scenarios, deployment): one file each in mk/.
-include mk/*.mk
