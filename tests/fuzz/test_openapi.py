"""schemathesis against the committed OpenAPI file (api_docs/openapi.yaml), in process over WSGI, as
three principals: a lab submitter, a reviewer and a regulator (each with its own API key).

Every generated request is sent once per principal, and, for an operation with path parameters, once
more with a real object of the seeded world in place of the generated value (a generated `ref` mostly
names nothing, which only exercises the 404 path). Checks: no server error, status codes, content types,
headers and bodies as the schema declares them, and no ignored authentication (the same request without
credentials, or with broken ones, must not succeed where the schema requires them).

Bounded and derandomized for CI (REDLINE_FUZZ_EXAMPLES, default 4 per operation); `make fuzz-long` runs
many more examples and the stateful run (test_stateful_*), which is skipped otherwise.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.world import PRINCIPALS, World, build_world

OPENAPI = "api_docs/openapi.yaml"
EXAMPLES = int(os.environ.get("REDLINE_FUZZ_EXAMPLES", "4"))
LONG = bool(os.environ.get("REDLINE_FUZZ_LONG"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
schema = schemathesis.openapi.from_path(OPENAPI)
schema.app = WSGIHandler()
schema.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
# The coverage phase (boundary and negative values of every parameter) is the long run's: dozens of
# requests per operation regardless of max_examples.
schema.config.phases.coverage.enabled = LONG
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # a finding is reported, not shrunk
)

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]


@pytest.fixture
def world(db: Any) -> Iterator[World]:
    """The seeded world, with Django's per-request connection handling off: requests run in process, inside
    the test's transaction (as Django's own test client does it)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield build_world()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _record(request: pytest.FixtureRequest, figures: Counter[str]) -> None:
    properties = [p for p in request.node.user_properties if p[0] != "fuzz_figures"]
    properties.append(("fuzz_figures", json.dumps(figures)))
    request.node.user_properties[:] = properties


@pytest.fixture
def figures() -> Counter[str]:
    """Requests and statuses of one test, reported as a user property (tests/fuzz/conftest.py sums them)."""
    return Counter()


@schema.parametrize()
@SETTINGS
def test_operation_as_three_principals(
    case: Any, world: World, figures: Counter[str], request: pytest.FixtureRequest
) -> None:
    generated = dict(case.path_parameters or {})
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    try:
        for principal in PRINCIPALS:
            variants = [generated]
            real = {name: world.real(case.path, name, principal) for name in generated}
            if generated and all(real.values()):
                variants.append({name: str(value) for name, value in real.items()})
            for path_parameters in variants:
                case.path_parameters = path_parameters
                case.headers = dict(headers)
                # Passed to the call, not set on the case: explicit credentials, which the ignored-auth
                # check then removes and breaks to see the operation refuse.
                response = case.call_and_validate(
                    headers={"Authorization": world.keys[principal]}, checks=CHECKS
                )
                figures["requests"] += 1
                figures[f"as_{principal}"] += 1
                figures[f"status_{response.status_code}"] += 1
    finally:
        _record(request, figures)


@pytest.mark.skipif(not LONG, reason="the stateful run is `make fuzz-long` (REDLINE_FUZZ_LONG=1)")
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_stateful_sequences_as_each_principal(
    principal: str, world: World, figures: Counter[str], request: pytest.FixtureRequest
) -> None:
    """Sequences of calls linked through their responses (schemathesis' stateful phase): what one call
    returns (a created incident's id) feeds the next (its detail, its workflow actions)."""
    key = world.keys[principal]

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": key}}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            figures["requests"] += 1
            figures[f"as_{principal}"] += 1
            figures[f"status_{response.status_code}"] += 1
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    try:
        run_state_machine_as_test(
            Workflow,
            settings=hypothesis.settings(
                max_examples=int(os.environ.get("REDLINE_FUZZ_STATEFUL_EXAMPLES", "30")),
                stateful_step_count=int(os.environ.get("REDLINE_FUZZ_STATEFUL_STEPS", "8")),
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        _record(request, figures)
