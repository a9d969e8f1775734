# Production topology and hardening (issue 8): the dependency audit and the topology run as processes.
.PHONY: audit topology-check topology-smoke deploy-test

## make audit: pip-audit over every locked package (runtime and dev), from uv.lock through a hashed export.
## pip-audit asks PyPI's vulnerability data about each pinned version; a known vulnerability fails the target,
## and so does a package it could not ask about (--strict: "not checked" is never reported as clean). The
## development machines reach PyPI's package index only, not its JSON API or OSV, so here it fails loudly.
AUDIT_FLAGS ?= --strict
audit: venv
	@mkdir -p var
	$(BIN)/uv export --frozen --all-groups --no-emit-project --quiet -o var/requirements-audit.txt
	$(BIN)/pip-audit --requirement var/requirements-audit.txt --disable-pip --progress-spinner off $(AUDIT_FLAGS)

## make topology-check: two gunicorn web instances and two Celery workers (and beat) on one fresh PostgreSQL
## database (redline_topology) and the machine's RabbitMQ and Redis, 3000 submissions, one web instance and
## one worker SIGKILLed mid-load; prints the figures (requests, lost, duplicated, 5xx, recovery times).
topology-check: venv
	$(BIN)/python deploy/topology_check.py $(TOPOLOGY_ARGS)

## make topology-smoke: the same with 150 submissions (under two minutes), for CI.
topology-smoke: venv
	$(BIN)/python deploy/topology_check.py --smoke $(TOPOLOGY_ARGS)

## make deploy-test: the manifest, health, log, metrics and hardening tests alone.
deploy-test: venv
	$(BIN)/python -m pytest -q tests/deploy tests/test_settings.py tests/accounts/test_lockout.py \
		tests/core/test_security_headers.py tests/core/test_throttles.py
