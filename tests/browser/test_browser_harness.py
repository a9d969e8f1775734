"""The harness itself: the live server serves /static/ so Bootstrap, htmx and redline.js load under the strict
CSP, and the CSP listener really catches a violation (and keeps it across a navigation)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_static_assets_load_and_run_under_the_csp(browsing):
    page = browsing.new_page()
    response = page.goto("/")

    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.evaluate("typeof htmx") == "object"
    assert page.evaluate("typeof bootstrap") == "object"
    # redline.css and Bootstrap applied: the navbar has its colour, the skip link is visually hidden.
    navbar_colour = page.locator("nav.navbar").evaluate("(nav) => getComputedStyle(nav).backgroundColor")
    assert navbar_colour not in ("", "rgba(0, 0, 0, 0)", "transparent")
    skip_link = page.get_by_role("link", name="Skip to content").bounding_box()
    assert skip_link is not None and skip_link["width"] <= 1
    for asset in ("/static/vendor/htmx-2.0.11/htmx.min.js", "/static/css/redline.css"):
        assert page.request.get(asset).status == 200
    browsing.shot(page, "home")
    browsing.assert_clean()


def test_the_csp_listener_catches_an_inline_script_and_keeps_it_across_navigation(browsing):
    page = browsing.new_page()
    page.goto("/")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__inlineRan = true";
          document.body.appendChild(script);
        }"""
    )
    page.wait_for_function("() => window.__cspViolations.length > 0")
    assert page.evaluate("window.__inlineRan === undefined"), "the CSP blocked the inline script"
    browsing.settle(page)

    page.goto("/accounts/login/")  # window state is gone; the binding already reported the violation
    assert page.evaluate("window.__cspViolations.length") == 0
    browsing.settle(page)

    assert len(browsing.violations) == 1
    assert browsing.violations[0]["directive"].startswith("script-src")
    assert browsing.violations[0]["page"].endswith("/")
    assert any("Content Security Policy" in report for report in browsing.console_reports)
    with pytest.raises(AssertionError, match="CSP violations"):
        browsing.assert_clean()


def test_an_anonymous_visitor_is_sent_to_sign_in(browsing):
    page = browsing.new_page()
    page.goto("/")
    navigation = page.get_by_role("navigation", name="Main")
    assert navigation.get_by_role("link", name="Sign in").is_visible()
    assert navigation.get_by_role("link", name="Dashboard").count() == 0
    browsing.shot(page, "home")

    page.goto("/dashboard/")
    assert page.url.endswith("/accounts/login/?next=/dashboard/")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    browsing.shot(page, "sign-in-required")

    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").or_(page.locator("[data-error-summary]"))).to_contain_text("not correct")
    assert "/accounts/login/" in page.url
    browsing.shot(page, "wrong-password")
    browsing.assert_clean()
