"""Browser tests: Playwright drives Debian's chromium (never a downloaded browser) against pytest-django's
live server, which serves the real pages, /static/ included, from the test database.

Every page opened through the `browsing` fixture records Content-Security-Policy violations (the DOM
`securitypolicyviolation` event, reported through a Playwright binding so that nothing is lost when the
page navigates away, plus chromium's console reports) and uncaught script errors; a test ends with
`browsing.assert_clean()`. Each journey step is screenshotted (full page) to
var/test-artifacts/screenshots/<test>/<nn>-<step>.png.

Chromium missing: the tests skip with the reason, unless REDLINE_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    Browsing,
    chromium_missing_reason,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives chromium through Playwright against the live server (make test-browser)"
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium per test process (xdist worker); each user gets a fresh context."""
    reason = chromium_missing_reason()
    if reason:
        if os.environ.get("REDLINE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"REDLINE_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    # The sync Playwright API keeps an asyncio loop in the test thread; Django's ORM (factories, the
    # transactional flush after each test) would otherwise refuse to run there.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def browsing(browser: Any, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    session = Browsing(browser=browser, base_url=live_server.url, folder=folder)
    yield session
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        session.shoot_open_pages("failure")
    session.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep the call phase's report on the item, so `browsing` screenshots the pages of a failed test."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
