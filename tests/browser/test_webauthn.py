"""A reviewer enrols a WebAuthn security key through the real pages and then signs in with it: chromium's
virtual authenticator (over CDP) plays the key, allauth's own scripts (mfa/js/webauthn.js) drive
navigator.credentials under the strict CSP, and the server checks the attestation and the assertion.

allauth takes the relying-party id from the request's host. The live server speaks http on "localhost",
which chromium treats as a secure context and accepts as an RP id (it refuses an IP address such as
127.0.0.1), and which python-fido2 accepts as an origin for the RP id "localhost". So the journey needs
no MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN: the test pins it off, and fido2 checks the origin as in production."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from accounts.mfa import needs_enrolment
from accounts.models import Role
from tests.browser.support import PASSWORD, sign_in
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIRTUAL_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def _from_base64(data: str) -> bytes:
    """CDP reports binary fields (the credential id) as base64."""
    return base64.b64decode(data + "=" * (-len(data) % 4))


def _plug_in_security_key(page: Any) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator_id = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_KEY})[
        "authenticatorId"
    ]
    return cdp, authenticator_id


# allauth's webauthn.js dispatches a failed navigator.credentials call as an `allauth.error` event (and then
# logs it to the console): nothing reaches `pageerror`, so the test listens for the event itself.
WEBAUTHN_ERROR_LISTENER = """
document.addEventListener("allauth.error", (event) => {
  window.__redlineWebauthnError(String(event.detail && event.detail.exception));
});
"""


def _listen_for_webauthn_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.context.expose_binding("__redlineWebauthnError", lambda source, message: errors.append(message))
    page.context.add_init_script(WEBAUTHN_ERROR_LISTENER)
    return errors


def _click_and_land(page: Any, button: Any, url: str, errors: list[str]) -> None:
    """Click a button that runs a WebAuthn ceremony and submits its form; a ceremony that fails in the
    browser leaves the page where it is, and the failure names the error allauth's script reported."""
    button.click()
    try:
        page.wait_for_url(url)
    except PlaywrightTimeout:
        pytest.fail(f"still at {page.url} after the WebAuthn ceremony; allauth.error events: {errors}")


def _key_credentials(cdp: Any, authenticator_id: str) -> list[dict[str, Any]]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def test_a_reviewer_enrols_a_security_key_and_signs_in_with_it(browsing, regulator_org, settings):
    # fido2 keeps checking the origin (the live-server thread reads the same settings object).
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False
    host = urlsplit(browsing.base_url).hostname
    assert host == "localhost", f"the RP id comes from the host; chromium refuses {host!r} as one"

    reviewer = MembershipFactory(organization=regulator_org, role=Role.REVIEWER, user__username="wren").user
    page = browsing.new_page("reviewer")
    webauthn_errors = _listen_for_webauthn_errors(page)
    cdp, key = _plug_in_security_key(page)
    assert _key_credentials(cdp, key) == []

    # Password first; the MFA policy holds the reviewer at the enrolment page.
    sign_in(page, "wren")
    assert page.url.endswith("/accounts/2fa/")
    assert needs_enrolment(reviewer)
    expect(page.get_by_text("No security keys have been added.")).to_be_visible()
    browsing.shot(page, "held-at-the-mfa-gate")

    # Security keys -> Add: allauth asks for the password again before a security change.
    page.locator("a[href='/accounts/2fa/webauthn/add/']").click()
    page.wait_for_url("**/accounts/reauthenticate/**")
    browsing.shot(page, "reauthenticate")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url("**/accounts/2fa/webauthn/add/")
    expect(page.get_by_role("heading", name="Add Security Key")).to_be_visible()
    browsing.shot(page, "add-security-key")
    page.get_by_label("Name").fill("Desk key")
    # webauthn.js: navigator.credentials.create, then the form posts the attestation.
    add = page.get_by_role("button", name="Add", exact=True)
    _click_and_land(page, add, "**/accounts/2fa/recovery-codes/", webauthn_errors)
    codes = page.get_by_label("Unused codes").input_value().split()
    assert len(codes) >= 10
    browsing.shot(page, "recovery-codes")

    # The key made exactly one credential for this site, and the server stored that very credential.
    credentials = _key_credentials(cdp, key)
    assert len(credentials) == 1 and credentials[0]["rpId"] == "localhost"
    stored = Authenticator.objects.get(user=reviewer, type=Authenticator.Type.WEBAUTHN)
    assert stored.wrap().name == "Desk key"
    assert bytes(stored.wrap().authenticator_data.credential_data.credential_id) == _from_base64(
        credentials[0]["credentialId"]
    )
    assert Authenticator.objects.filter(user=reviewer, type=Authenticator.Type.RECOVERY_CODES).exists()
    assert not Authenticator.objects.filter(user=reviewer, type=Authenticator.Type.TOTP).exists()
    assert not needs_enrolment(reviewer)

    page.goto("/dashboard/")
    assert page.url.endswith("/dashboard/")
    assert page.get_by_test_id("whoami").inner_text().startswith("wren")
    browsing.shot(page, "dashboard-after-enrolment")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/dashboard/")
    assert "/accounts/login/" in page.url

    # Signing in again: the password, then the key (no authenticator app is enrolled).
    page.get_by_label("Username").fill("wren")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/accounts/2fa/authenticate/")
    browsing.shot(page, "second-factor-asked")
    page.goto("/dashboard/")  # the password alone opens nothing
    assert page.url.endswith("/accounts/2fa/authenticate/")

    signatures_before = credentials[0]["signCount"]
    # navigator.credentials.get, then the form posts the assertion.
    use_key = page.get_by_role("button", name="Use a security key")
    _click_and_land(page, use_key, "**/dashboard/", webauthn_errors)
    assert page.get_by_test_id("whoami").inner_text().startswith("wren")
    assert _key_credentials(cdp, key)[0]["signCount"] > signatures_before  # the key really signed
    browsing.shot(page, "dashboard-after-security-key")

    assert webauthn_errors == [], f"allauth.error events: {webauthn_errors}"
    browsing.assert_clean()
