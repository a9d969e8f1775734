"""What the browser tests share: chromium's location and flags, the per-test `Browsing` session (a context
per user, CSP and script-error records, numbered full-page screenshots) and the sign-in steps."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Debian's package (apt-get install -y chromium); REDLINE_CHROMIUM points elsewhere.
DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM = os.environ.get("REDLINE_CHROMIUM") or (
    DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).is_file() else shutil.which("chromium") or DEBIAN_CHROMIUM
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
TIMEOUT_MS = 45_000  # generous: CI runs these beside the rest of the suite, fault scenarios included

# Runs in every page before its own scripts (Playwright injects it, so the page's CSP does not apply to it).
CSP_LISTENER = """
(() => {
  window.__cspViolations = window.__cspViolations || [];
  document.addEventListener("securitypolicyviolation", (event) => {
    const violation = {
      directive: event.violatedDirective,
      blocked: event.blockedURI,
      source: event.sourceFile,
      line: event.lineNumber,
      sample: event.sample,
      page: location.href,
    };
    window.__cspViolations.push(violation);
    if (window.__redlineCspViolation) { window.__redlineCspViolation(violation); }
  }, true);
})();
"""


def chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (uv sync installs the dev dependencies)"
    return None


@dataclass
class Browsing:
    """The pages of one test: a context per user, CSP/script-error records, numbered screenshots."""

    browser: Any
    base_url: str
    folder: Path
    violations: list[dict[str, Any]] = field(default_factory=list)
    console_reports: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)
    shots: int = 0
    owners: dict[int, str] = field(default_factory=dict)

    def new_page(self, who: str = "visitor", *, width: int = 1280, height: int = 900) -> Any:
        """A page in a new browser context (own cookies): one per user of the journey."""
        context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": width, "height": height}, accept_downloads=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.expose_binding(
            "__redlineCspViolation",
            lambda source, violation: self.violations.append({**violation, "who": who}),
        )
        context.add_init_script(CSP_LISTENER)
        self.contexts.append(context)
        page = context.new_page()
        self.owners[id(page)] = who
        page.on("console", lambda message: self._console(who, message))
        page.on("pageerror", lambda error: self.page_errors.append(f"{who}: {error}"))
        return page

    def _console(self, who: str, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console_reports.append(f"{who}: {message.text}")

    def shot(self, page: Any, step: str) -> Path:
        """Screenshot the whole page as <nn>-<step>.png in this test's folder."""
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def shoot_open_pages(self, step: str) -> None:
        """Screenshot every page still open (a failed test's last state), named after its user."""
        for context in self.contexts:
            for page in context.pages:
                if not page.is_closed():
                    try:
                        self.shot(page, f"{step}-{self.owners.get(id(page), 'page')}")
                    except Exception:  # noqa: S112 - a page that cannot be drawn any more
                        continue

    def settle(self, page: Any) -> None:
        """Let late CSP reports (a style applied after load, an htmx swap) reach the binding."""
        page.wait_for_load_state("load")
        page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 50)))")

    def assert_clean(self) -> None:
        for context in self.contexts:
            for page in context.pages:
                if not page.is_closed():
                    self.settle(page)
        assert self.violations == [], f"CSP violations: {self.violations}"
        assert self.console_reports == [], f"CSP reports on the console: {self.console_reports}"
        assert self.page_errors == [], f"uncaught script errors: {self.page_errors}"

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def fresh_totp(secret: str) -> str:
    """The current code, waiting out the last seconds of a period (allauth's tolerance is 0 periods)."""
    from allauth.mfa import app_settings

    from tests.factories import totp_code

    period = app_settings.TOTP_PERIOD
    left = period - time.time() % period
    if left < 3:
        time.sleep(left + 0.1)
    return totp_code(secret)


SIGN_IN_STEPS = ("/accounts/login/", "/accounts/2fa/authenticate/")


def sign_in(page: Any, username: str, *, totp_secret: str | None = None, password: str = PASSWORD) -> None:
    """Through the real login form (then the TOTP step when the account has one)."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if totp_secret is not None:
        page.wait_for_url("**/accounts/2fa/authenticate/")
        page.locator("input[name=code]").fill(fresh_totp(totp_secret))
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: not urlsplit(url).path.startswith(SIGN_IN_STEPS))
