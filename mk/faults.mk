# Fault scenarios (faults/, issue 8) and schemathesis (tests/fuzz). Each scenario starts its own private
# PostgreSQL, Redis and RabbitMQ on free ports (never the machine's servers); see faults/RESULTS.md.
# `make faults` runs the full versions (several minutes each), `make faults-smoke` the CI ones.
.PHONY: faults faults-smoke faults-submitters faults-worker-kill faults-db-restart faults-broker-restart \
	faults-submitters-smoke faults-worker-kill-smoke faults-db-restart-smoke faults-broker-restart-smoke \
	fuzz fuzz-long

FAULTS_OUT ?= var/faults

faults-submitters faults-worker-kill faults-db-restart faults-broker-restart: faults-%: venv
	@mkdir -p $(FAULTS_OUT)
	$(BIN)/python -m faults.$(subst -,_,$*) --json $(FAULTS_OUT)/$(subst -,_,$*).json

faults-submitters-smoke faults-worker-kill-smoke faults-db-restart-smoke faults-broker-restart-smoke: faults-%-smoke: venv
	$(BIN)/python -m faults.$(subst -,_,$*) --smoke

## make faults: every scenario's full version, one after the other (about 20 minutes).
faults: faults-submitters faults-worker-kill faults-db-restart faults-broker-restart

## make faults-smoke: the CI versions, as the pytest tests under tests/faults run them.
faults-smoke: venv
	$(BIN)/python -m pytest -m faults -p no:cacheprovider -q tests/faults

## make fuzz: schemathesis over api_docs/openapi.yaml as three principals (the CI run, bounded).
fuzz: venv
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/fuzz

## make fuzz-long: many more examples, the coverage phase, and the stateful sequences.
fuzz-long: venv
	REDLINE_FUZZ_LONG=1 REDLINE_FUZZ_EXAMPLES=$${REDLINE_FUZZ_EXAMPLES:-60} \
		$(BIN)/python -m pytest -p no:cacheprovider -q tests/fuzz
