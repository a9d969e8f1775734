"""schemathesis against the committed OpenAPI file (marker `fuzz`); the figures of the run are printed at
the end (user_properties travel from xdist workers with the reports)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "fuzz: schemathesis over api_docs/openapi.yaml as three principals")


FINDINGS = {
    "ServerError": "server_error",
    "JsonSchemaError": "schema_violation",
    "MalformedJson": "schema_violation",
    "MissingContentType": "schema_violation",
    "UndefinedContentType": "schema_violation",
    "UndefinedStatusCode": "schema_violation",
    "MissingHeaders": "schema_violation",
    "JsonSchemaHeaderError": "schema_violation",
    "IgnoredAuth": "ignored_auth",
}


def _findings(error: BaseException) -> Counter[str]:
    found: Counter[str] = Counter()
    for failure in getattr(error, "exceptions", None) or [error]:
        if getattr(failure, "exceptions", None):
            found.update(_findings(failure))
        else:
            name = type(failure).__name__
            found[f"finding_{FINDINGS.get(name, name)}"] += 1
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """schemathesis raises its findings after the test body (deduplicated): count them here."""
    outcome = yield
    report = outcome.get_result()
    if call.when == "call" and call.excinfo is not None and "fuzz" in item.keywords:
        found = _findings(call.excinfo.value)
        for index, (name, value) in enumerate(report.user_properties):
            if name == "fuzz_figures":
                report.user_properties[index] = (name, json.dumps(Counter(json.loads(value)) + found))
                break
        else:
            report.user_properties.append(("fuzz_figures", json.dumps(found)))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    totals: Counter[str] = Counter()
    operations = 0
    failed_operations = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", []):
                if name == "fuzz_figures":
                    operations += 1
                    totals.update(json.loads(value))
                    if outcome == "failed":
                        failed_operations.append(report.head_line or report.nodeid)
    if not operations:
        return
    terminalreporter.section("schemathesis figures")
    statuses = {k: v for k, v in sorted(totals.items()) if k.startswith("status_")}
    findings = {k: v for k, v in sorted(totals.items()) if k.startswith("finding_")}
    terminalreporter.write_line(
        f"operations {operations}, requests {totals['requests']} "
        f"(lab submitter {totals['as_lab_submitter']}, reviewer {totals['as_reviewer']}, "
        f"regulator {totals['as_regulator']}, plus the checks' own probes)"
    )
    terminalreporter.write_line(f"statuses {statuses}")
    terminalreporter.write_line(
        f"server errors {totals['finding_server_error']}, schema violations "
        f"{totals['finding_schema_violation']}, ignored auth {totals['finding_ignored_auth']}, "
        f"all findings {findings or 0}"
    )
    if failed_operations:
        terminalreporter.write_line(f"operations with findings: {failed_operations}")
