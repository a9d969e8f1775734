# Security suite (issue 8 items 3 and 4): the access matrix generated from tests/security/policy.yaml
# (with the meta-tests that fail on any route, method or workflow action missing from it), the
# mass-assignment tests and the hostile input corpus. `make test` runs them too (they live under tests/).
# The figures (cases, time ratios) are printed in the "security figures" section of the summary.
.PHONY: security

security: venv
	$(BIN)/python -m pytest -n $${PYTEST_WORKERS:-2} --dist loadfile -q tests/security
