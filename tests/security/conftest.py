"""The security suite's fixtures: the world built once per module inside a transaction that is rolled back
at the end of the module (each test runs in a savepoint of it, through pytest-django's `db`), and the
figures printed at the end of the run (cases, time ratios)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from tests.security.world import World, build_world

FIGURES_KEY = "security_figures"


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    """Like Django's TestCase.setUpTestData: the world is written once, never committed, and every test
    sees it as it was built (its own changes roll back with its savepoint)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer._from_testcase = True  # as TestCase's own: services' durable blocks may open inside it
        outer.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def w(world: World, db: Any) -> World:
    """The module's world, inside this test's savepoint."""
    return world


@pytest.fixture
def figures(request: Any) -> Any:
    """record(name, value): a figure shown in the terminal summary (carried on the test report, so it
    also reaches the summary from pytest-xdist workers)."""

    def record(name: str, value: Any) -> None:
        request.node.user_properties.append((FIGURES_KEY, (name, value)))

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines: list[str] = []
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        if getattr(report, "when", "call") != "call":
            continue
        for key, value in getattr(report, "user_properties", []):
            if key == FIGURES_KEY:
                name, figure = value
                lines.append(f"{name}: {figure}")
    if lines:
        terminalreporter.section("security figures")
        for line in sorted(lines):
            terminalreporter.write_line(line)
