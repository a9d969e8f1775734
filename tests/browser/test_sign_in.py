"""Signing in through the real pages: a new reviewer is held at the MFA gate until they enrol an authenticator
app (reauthentication, the secret, the code, the recovery codes); an enrolled reviewer gives the password
and then the code; a lab member needs no second factor."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from accounts.mfa import needs_enrolment
from accounts.models import Role
from tests.browser.support import PASSWORD, fresh_totp, sign_in
from tests.factories import MembershipFactory, enrol_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_reviewer_enrols_totp_through_the_pages_before_reaching_anything(browsing, regulator_org):
    reviewer = MembershipFactory(organization=regulator_org, role=Role.REVIEWER, user__username="rita").user
    page = browsing.new_page("reviewer")

    sign_in(page, "rita")
    assert page.url.endswith("/accounts/2fa/")
    assert page.get_by_role("status").filter(has_text="requires a second factor").is_visible()
    browsing.shot(page, "held-at-the-mfa-gate")

    # The gate: nothing else opens before enrolment.
    for path in ("/dashboard/", "/incidents/", "/triage/"):
        page.goto(path)
        assert page.url.endswith("/accounts/2fa/"), path

    page.get_by_role("link", name="Activate").first.click()
    page.wait_for_url("**/accounts/reauthenticate/**")
    browsing.shot(page, "reauthenticate")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url("**/accounts/2fa/totp/activate/")
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    assert page.get_by_role("img", name=secret).is_visible()  # the QR code (a data: URI, allowed by img-src)
    browsing.shot(page, "activate-authenticator-app")

    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Incorrect code").first).to_be_visible()
    assert page.url.endswith("/accounts/2fa/totp/activate/")
    assert needs_enrolment(reviewer)
    browsing.shot(page, "wrong-code")

    page.get_by_label("Authenticator code").fill(fresh_totp(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    codes = page.get_by_label("Unused codes").input_value().split()
    assert len(codes) >= 10 and all(re.fullmatch(r"[0-9a-z]{6,}", code) for code in codes)
    browsing.shot(page, "recovery-codes")
    assert not needs_enrolment(reviewer)
    assert Authenticator.objects.filter(user=reviewer, type=Authenticator.Type.RECOVERY_CODES).exists()

    page.goto("/dashboard/")
    assert page.url.endswith("/dashboard/")
    assert page.get_by_test_id("whoami").inner_text().startswith("rita")
    browsing.shot(page, "dashboard")
    browsing.assert_clean()


def test_an_enrolled_reviewer_signs_in_with_password_then_code(browsing, regulator_org):
    reviewer = MembershipFactory(organization=regulator_org, role=Role.REVIEWER, user__username="ravi").user
    secret = enrol_totp(reviewer)
    page = browsing.new_page("reviewer")

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ravi")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/accounts/2fa/authenticate/")
    browsing.shot(page, "code-asked")

    page.goto("/dashboard/")  # not signed in yet: the password alone opens nothing
    assert page.url.endswith("/accounts/2fa/authenticate/")

    page.locator("input[name=code]").fill("123456")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Incorrect code").first).to_be_visible()
    assert page.url.endswith("/accounts/2fa/authenticate/")
    browsing.shot(page, "wrong-code")

    page.locator("input[name=code]").fill(fresh_totp(secret))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_test_id("whoami").inner_text().startswith("ravi")
    browsing.shot(page, "dashboard")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/dashboard/")
    assert "/accounts/login/" in page.url
    browsing.assert_clean()


def test_a_lab_member_signs_in_with_the_password_alone(browsing, lab_a):
    MembershipFactory(organization=lab_a, role=Role.LAB_SUBMITTER, user__username="lena")
    page = browsing.new_page("lab")

    sign_in(page, "lena")
    assert page.url.endswith("/dashboard/")
    whoami = page.get_by_test_id("whoami").inner_text()
    assert "lena" in whoami and "lab-a" in whoami
    browsing.shot(page, "dashboard")
    browsing.assert_clean()
