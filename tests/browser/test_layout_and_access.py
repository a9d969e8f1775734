"""The README's UI claims, in the browser: "Forms carry labels, an error summary that takes the focus, and
visible focus rings; the layout is tested at laptop and tablet widths".

1. At a laptop (1280x800), a tablet (768x1024) and the tablet in landscape (1024x768), the main pages of a
   reviewer (signed in with TOTP), a lab officer and a lab admin never scroll sideways; on a tablet the
   navbar is folded behind its toggler, which opens it from the keyboard.
2. Every visible form control of those pages has an accessible name.
3. A failed form (the empty sign-in form, a report step with an invalid value) puts the focus on its error
   summary, whose links lead to the fields in error.
4. Tabbing from the top of a page, every link, button and field that takes the focus shows a focus ring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.authentication import principal_for_membership
from accounts.models import Role
from incidents import services
from registry.models import FrontierModel
from tests.browser.support import Browsing, sign_in
from tests.factories import FrontierModelFactory, MembershipFactory, OrganizationFactory, enrol_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = (1280, 800)
TABLET = (768, 1024)
TABLET_LANDSCAPE = (1024, 768)
VIEWPORTS = (LAPTOP, TABLET, TABLET_LANDSCAPE)
TABLETS = (TABLET, TABLET_LANDSCAPE)
LONG_MODEL_NAME = "Replicator-With-A-Rather-Long-Unbroken-Name-70B-Instruct-Preview-2026-11"

# Visible form controls (hidden, submit and button inputs aside) with no accessible name.
UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
    .filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
    .filter((el) => el.labels.length === 0 && !(el.getAttribute('aria-label') || '').trim()
                    && !(el.getAttribute('aria-labelledby') || '').trim())
    .map((el) => el.outerHTML.slice(0, 120))"""
# How far the page reaches past the right edge of the window (0 or less: no sideways scrolling).
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
# The elements past the right edge that no scrolling box holds in (what to fix when the page is too wide).
PAST_THE_EDGE = """() => [...document.body.querySelectorAll('*')]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
    .filter((el) => { for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        if (getComputedStyle(up).overflowX !== 'visible') { return false; } } return true; })
    .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`).slice(0, 8)"""
# Items of the expanded navbar that wrap onto a second line (a bar too crowded for the width).
WRAPPED_NAV_ITEMS = """() => [...document.querySelectorAll(
        'nav[aria-label=Main] .navbar-nav :is(.nav-link, .navbar-text, .btn)')]
    .filter((el) => el.getClientRects().length > 0)
    .filter((el) => { const range = document.createRange(); range.selectNodeContents(el);
        const tops = [...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top));
        return new Set(tops).size > 1; })
    .map((el) => el.innerText.trim())"""
# What the focused element is, and whether its computed style draws a focus indicator.
FOCUSED = """() => { const el = document.activeElement; const s = getComputedStyle(el);
    return { tag: el.tagName.toLowerCase(), type: el.type || '',
             text: (el.innerText || el.name || el.id || '').trim().slice(0, 40),
             ring: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none',
             outline: `${s.outlineStyle} ${s.outlineWidth}`, shadow: s.boxShadow }; }"""
# The error summary's links: where each points, and whether that is a labelled field.
SUMMARY_LINKS = """(summary) => [...summary.querySelectorAll('a[href]')].map((a) => {
    const id = decodeURIComponent(a.getAttribute('href').replace(/^#/, ''));
    const target = document.getElementById(id);
    return { href: a.getAttribute('href'), text: a.innerText,
             field: !!target && ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName),
             labelled: !!target && !!target.labels && target.labels.length > 0 }; })"""


@dataclass
class World:
    model: FrontierModel
    incident_ref: str
    reviewer_secret: str


@pytest.fixture
def world(live_server: Any) -> World:
    lab = OrganizationFactory(short_name="lab-a", name="Lab A", kind="lab", country="FR")
    office = OrganizationFactory(
        short_name="eu-office", name="EU AI Office", kind="regulator", country="BE", jurisdictions=["EU"]
    )
    model = FrontierModelFactory(provider=lab, name=LONG_MODEL_NAME)
    officer = MembershipFactory(organization=lab, role=Role.LAB_SUBMITTER, user__username="lena")
    MembershipFactory(organization=lab, role=Role.LAB_ADMIN, user__username="lea")
    reviewer = MembershipFactory(organization=office, role=Role.REVIEWER, user__username="rita")
    incident = services.incident_submit(
        actor=principal_for_membership(officer),
        data={
            "record_class": "real_world_incident",
            "title": "Agent started a live replica on a second GPU host after a shutdown notice",
            "description": "During an internal run the agent copied its weights and started a replica.\n"
            "10:14:03Z agent: scp /weights/ckpt-000123456789.safetensors gpu-2:/srv/replica/weights/",
            "submitter_capacity": "provider",
            "instruction_provenance": "uninstructed",
            "countries": ["FR"],
            "tlp": "amber",
        },
        links=services.Links(models=[services.InvolvedModel(role="originating", model=model)]),
    ).incident
    return World(model=model, incident_ref=incident.public_id, reviewer_secret=enrol_totp(reviewer.user))


def _label(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _check_page(browsing: Browsing, page: Any, path: str, size: tuple[int, int], problems: list[str]) -> None:
    response = page.goto(path)
    where = f"{path} at {_label(size)} ({browsing.owners[id(page)]})"
    if response is None or response.status != 200:
        problems.append(f"{where}: status {response.status if response else None}")
        return
    browsing.settle(page)
    overflow = page.evaluate(OVERFLOW)
    if overflow > 0:
        problems.append(f"{where}: scrolls sideways by {overflow}px: {page.evaluate(PAST_THE_EDGE)}")
    unnamed = page.evaluate(UNNAMED_CONTROLS)
    if unnamed:
        problems.append(f"{where}: controls without an accessible name: {unnamed}")
    browsing.shot(page, f"{_label(size)} {browsing.owners[id(page)]} {path}")


def _check_navbar(browsing: Browsing, page: Any, size: tuple[int, int], problems: list[str]) -> None:
    """Tablet: folded behind the toggler, which Enter opens; laptop: every link in sight, no toggler."""
    where = f"navbar on {page.url} at {_label(size)} ({browsing.owners[id(page)]})"
    nav = page.get_by_role("navigation", name="Main")
    toggler = nav.locator(".navbar-toggler")
    link = nav.get_by_role("link", name="Models")
    if size in TABLETS:
        if not toggler.is_visible() or link.is_visible():
            problems.append(f"{where}: not folded behind its toggler")
            return
        toggler.focus()
        page.keyboard.press("Enter")
        try:
            expect(link).to_be_visible()
            expect(toggler).to_have_attribute("aria-expanded", "true")
            expect(nav.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))  # opened, not opening
        except AssertionError as error:
            problems.append(f"{where}: Enter on the toggler did not open it ({error})")
            return
        browsing.shot(page, f"{_label(size)} {browsing.owners[id(page)]} menu open")
        if page.evaluate(OVERFLOW) > 0:
            problems.append(f"{where}: the open menu scrolls sideways")
    elif toggler.is_visible() or not link.is_visible():
        problems.append(f"{where}: folded at a laptop width")
    elif wrapped := page.evaluate(WRAPPED_NAV_ITEMS):
        problems.append(f"{where}: items wrap onto two lines: {wrapped}")


def test_the_main_pages_fit_laptop_and_tablet_and_name_every_control(browsing, world):
    reviewer = browsing.new_page("reviewer")
    sign_in(reviewer, "rita", totp_secret=world.reviewer_secret)
    officer = browsing.new_page("lab officer")
    sign_in(officer, "lena")
    admin = browsing.new_page("lab admin")
    sign_in(admin, "lea")
    visits = [
        (reviewer, "/dashboard/"),
        (reviewer, "/triage/"),
        (reviewer, "/incidents/"),
        (reviewer, f"/incidents/{world.incident_ref}/"),
        (reviewer, "/models/"),
        (reviewer, f"/models/{world.model.public_id}/"),
        (reviewer, "/public/"),
        (reviewer, "/public/tlp/"),
        (officer, "/incidents/new/"),
        (admin, "/org/"),
    ]

    problems: list[str] = []
    for size in VIEWPORTS:
        for page in (reviewer, officer, admin):
            page.set_viewport_size({"width": size[0], "height": size[1]})
        for page, path in visits:
            _check_page(browsing, page, path, size, problems)
        for page in (reviewer, officer):  # the most links (an oversight role) and the lab's menu
            _check_navbar(browsing, page, size, problems)
    assert problems == [], "\n".join(problems)
    browsing.assert_clean()


def _expect_focused_summary(page: Any) -> list[dict[str, Any]]:
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    assert page.evaluate("() => document.activeElement.matches('[data-error-summary]')")
    links = summary.evaluate(SUMMARY_LINKS)
    assert links, "the summary links to the fields in error"
    assert all(link["field"] and link["labelled"] for link in links), links
    return links


def test_a_failed_form_puts_the_focus_on_its_error_summary(browsing, world):
    page = browsing.new_page("visitor", width=TABLET[0], height=TABLET[1])
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in").click()
    links = _expect_focused_summary(page)
    assert {link["href"] for link in links} == {"#id_login", "#id_password"}, links
    browsing.shot(page, "sign-in error summary")
    page.locator("[data-error-summary]").get_by_role("link").first.click()
    expect(page.locator("#id_login")).to_be_focused()  # the link takes the user to the field
    browsing.shot(page, "sign-in error link followed")

    lab = browsing.new_page("lab officer", width=LAPTOP[0], height=LAPTOP[1])
    sign_in(lab, "lena")
    lab.goto("/incidents/new/")
    lab.get_by_label("Title").fill("A report with a bad country")
    lab.get_by_label("Countries").fill("ZZZ")
    lab.get_by_role("button", name="Next").click()
    links = _expect_focused_summary(lab)
    assert "#id_countries" in {link["href"] for link in links}, links
    browsing.shot(lab, "report step error summary")
    browsing.assert_clean()


def test_tabbing_from_the_top_shows_a_focus_ring_on_every_stop(browsing, world):
    problems: list[str] = []
    for who, path, stops in (("visitor", "/accounts/login/", 12), ("lab officer", "/incidents/new/", 20)):
        page = browsing.new_page(who, width=TABLET[0], height=TABLET[1])
        if who != "visitor":
            sign_in(page, "lena")
        page.goto(path)
        browsing.settle(page)
        seen: list[str] = []
        for _ in range(stops):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused["tag"] not in ("a", "button", "input", "select", "textarea"):
                continue
            seen.append(f"{focused['tag']}:{focused['text']}")
            if not focused["ring"]:
                problems.append(f"{path}: no focus ring on {focused}")
            if len(seen) == 1:
                browsing.shot(page, f"{who} first focus")
        kinds = {stop.split(":")[0] for stop in seen}
        assert {"a", "button"} <= kinds and kinds & {"input", "select", "textarea"}, (path, seen)
        browsing.shot(page, f"{who} focus ring")
    assert problems == [], "\n".join(problems)
    browsing.assert_clean()
