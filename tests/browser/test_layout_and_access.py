"""The layout and the keyboard: the main pages fit a tablet (portrait and landscape) and a laptop without
sideways scrolling, the navbar folds behind a toggler that opens from the keyboard, every form control
has an accessible name, a failed form puts the focus on its error summary, and the focused control shows
a focus ring."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Role
from tests.browser.support import sign_in
from tests.factories import FrontierModelFactory, MembershipFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ("/dashboard/", "/incidents/", "/incidents/new/", "/models/", "/org/", "/public/", "/public/tlp/")
UNNAMED_CONTROLS = """() => [...document.querySelectorAll('main input, main select, main textarea')]
    .filter((el) => !['hidden', 'submit', 'button'].includes(el.type) && el.offsetParent !== null)
    .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')
                    && !el.getAttribute('aria-labelledby'))
    .map((el) => el.name || el.id)"""
FOCUS_RING = """() => { const s = getComputedStyle(document.activeElement);
    return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; }"""


def _overflow(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1024, 768), (768, 1024)])
def test_the_main_pages_fit_the_screen_and_name_every_control(browsing, width, height):
    lab = OrganizationFactory(short_name="fit-lab", kind="lab", country="FR")
    MembershipFactory(organization=lab, role=Role.LAB_ADMIN, user__username="lea")
    FrontierModelFactory(provider=lab, name="Replicator-With-A-Rather-Long-Name-70B-Instruct")
    page = browsing.new_page("lab", width=width, height=height)
    sign_in(page, "lea")

    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert _overflow(page) <= 0, f"{path} scrolls sideways at {width}x{height}"
        assert page.evaluate(UNNAMED_CONTROLS) == [], f"controls without a name on {path}"
        browsing.shot(page, f"{width}x{height}{path}")

    toggler = page.locator(".navbar-toggler")
    models_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Models")
    if width < 992:  # Bootstrap's navbar-expand-lg: folded below 992 px
        assert toggler.is_visible() and not models_link.is_visible()
        toggler.focus()
        page.keyboard.press("Enter")
        models_link.wait_for(state="visible")
        browsing.shot(page, f"{width}x{height}-menu-open")
    else:
        assert not toggler.is_visible() and models_link.is_visible()
    browsing.assert_clean()


def test_a_failed_form_focuses_its_error_summary_and_focus_is_visible(browsing):
    page = browsing.new_page(width=768, height=1024)
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in").click()
    summary = page.locator("[data-error-summary]")
    summary.wait_for(state="visible")
    assert page.evaluate("() => document.activeElement.hasAttribute('data-error-summary')")
    browsing.shot(page, "error-summary")

    page.goto("/accounts/login/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "id_login":
            break
    assert page.evaluate("() => document.activeElement.id") == "id_login", (
        "the username field is reachable by Tab"
    )
    assert page.evaluate(FOCUS_RING), "the focused field shows a focus ring"
    browsing.shot(page, "focus-ring")
    browsing.assert_clean()
