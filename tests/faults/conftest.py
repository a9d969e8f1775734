"""The fault scenarios' smoke versions as tests (marker `faults`): each runs `python -m faults.<name>
--smoke` in a subprocess, which starts its own private PostgreSQL / Redis / RabbitMQ on free ports, and
passes when the scenario's bars hold. Its figures are printed (`-s`, or in the report of a failure)."""

from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "faults: a fault scenario's smoke version (private servers, gunicorn, Celery workers)"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print every scenario's figures at the end of the run, also under xdist (user_properties travel
    with the reports from the workers)."""
    lines = [
        value
        for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == "fault_figures"
    ]
    if lines:
        terminalreporter.section("fault scenario figures (smoke)")
        for line in lines:
            terminalreporter.write_line(line)
