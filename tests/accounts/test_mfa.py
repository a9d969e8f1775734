"""Sign-in and the MFA policy: reviewers, regulators and admins enrol a second factor before anything else;
signing in then takes the password and the TOTP code; the Django admin uses the same login."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.mfa import needs_enrolment
from accounts.models import Role
from tests.factories import MembershipFactory, UserFactory, enrol_totp, issue_key, sign_in, totp_code
from tests.problems import assert_problem

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


def _password_step(client: Client, username: str) -> str:
    response = client.post("/accounts/login/", {"login": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:400]
    return response["Location"]


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.REGULATOR])
def test_oversight_staff_without_a_second_factor_reach_only_enrolment(regulator_org, role):
    user = MembershipFactory(organization=regulator_org, role=role).user
    client = Client()
    assert _password_step(client, user.username) == "/dashboard/"

    page = client.get("/dashboard/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/2fa/"
    assert client.get("/incidents/").status_code == 302
    assert_problem(client.get("/api/v1/incidents/"), 403, "mfa_enrolment_required")
    # TAXII is a machine path too: a problem, never a redirect to a page a TAXII client cannot follow.
    assert_problem(client.get("/taxii2/"), 403, "mfa_enrolment_required")
    # Enrolment itself and sign-out stay reachable.
    assert client.get("/accounts/2fa/").status_code == 200
    assert client.get("/accounts/reauthenticate/").status_code == 200


def test_enrolling_totp_through_the_page_opens_the_service_and_issues_recovery_codes(regulator_org):
    user = MembershipFactory(organization=regulator_org, role=Role.REVIEWER).user
    client = Client()
    _password_step(client, user.username)
    # allauth asks for the password once more before a security change (reauthentication).
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith("/accounts/reauthenticate/")
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    page = client.get("/accounts/2fa/totp/activate/").content.decode()
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]{16,})"', page)
    assert secret is not None, "the activation page shows the TOTP secret"

    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert wrong.status_code == 200 and needs_enrolment(user)
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret[1])})

    assert response.status_code == 302
    assert not needs_enrolment(user)
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists()
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/api/v1/incidents/").status_code == 200


def test_signing_in_with_totp_takes_the_password_then_the_code(regulator_org):
    user = MembershipFactory(organization=regulator_org, role=Role.REVIEWER).user
    secret = enrol_totp(user)
    client = Client()

    assert _password_step(client, user.username) == "/accounts/2fa/authenticate/"
    assert client.get("/dashboard/").status_code == 302  # not signed in before the code
    assert client.post("/accounts/2fa/authenticate/", {"code": "123456"}).status_code == 200
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})

    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200


def test_a_lab_member_needs_no_second_factor(lab_a):
    user = MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN).user
    client = Client()
    assert _password_step(client, user.username) == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_api_keys_of_oversight_orgs_are_not_held_at_the_gate(regulator_org):
    _, plaintext = issue_key(regulator_org, Role.REGULATOR)
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    assert client.get("/api/v1/incidents/").status_code == 200


def test_the_admin_signs_in_through_the_same_login_and_needs_mfa(db):
    admin = UserFactory(is_staff=True, is_superuser=True)
    anonymous = Client()
    response = anonymous.get("/admin/")
    assert response.status_code == 302
    login = anonymous.get(response["Location"])
    assert login.status_code == 302 and login["Location"].startswith("/accounts/login/")

    client = Client()
    client.force_login(admin)
    assert client.get("/admin/")["Location"] == "/accounts/2fa/"  # staff must enrol first
    sign_in(client, admin)
    assert client.get("/admin/").status_code == 200


def test_nobody_signs_up_by_themselves(db):
    client = Client()
    response = client.post(
        "/accounts/signup/", {"username": "mallory", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code in (200, 302)
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="mallory").exists()


def test_pages_carry_a_strict_content_security_policy(db):
    response = Client().get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    html = response.content.decode()
    assert "<script>" not in html and " style=" not in html and "onclick" not in html


def test_a_promotion_into_a_covered_role_is_gated_on_the_next_request(lab_a):
    membership = MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN)
    client = Client()
    sign_in(client, membership.user)
    assert client.get("/dashboard/").status_code == 200

    membership.role = Role.PLATFORM_ADMIN
    membership.save(update_fields=["role"])

    assert client.get("/dashboard/")["Location"] == "/accounts/2fa/"


def test_removing_the_second_factor_closes_the_service_again(regulator_org):
    user = MembershipFactory(organization=regulator_org, role=Role.REVIEWER).user
    client = Client()
    _password_step(client, user.username)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/").content.decode()
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]{16,})"', page)
    assert secret is not None
    client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret[1])})
    assert client.get("/dashboard/").status_code == 200  # the session now remembers the factor

    deactivated = client.post("/accounts/2fa/totp/deactivate/")

    assert deactivated.status_code == 302
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert client.get("/dashboard/")["Location"] == "/accounts/2fa/"


def test_a_security_key_can_be_added_from_a_page_the_csp_allows(regulator_org):
    """WebAuthn enrolment is offered; allauth's page runs only script files from static/ and JSON data
    blocks, which the strict CSP allows (the ceremony itself needs a browser with an authenticator)."""
    user = MembershipFactory(organization=regulator_org, role=Role.REVIEWER).user
    client = Client()
    _password_step(client, user.username)
    assert "/accounts/2fa/webauthn/add/" in client.get("/accounts/2fa/").content.decode()
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})

    page = client.get("/accounts/2fa/webauthn/add/")

    assert page.status_code == 200
    html = page.content.decode()
    assert '/static/mfa/js/webauthn.js"' in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    inline = [attrs for attrs, body in scripts if body.strip() and 'type="application/json"' not in attrs]
    assert inline == [], "an inline script would be blocked by the CSP"
    assert "unsafe-inline" not in page["Content-Security-Policy"]


def test_a_factor_deleted_outside_allauth_closes_the_service_after_the_recheck(regulator_org, settings):
    """The admin (or a script) deleting the factor sends no allauth signal to the user's sessions: the
    session's memory of the factor is checked against the database again once it is
    REDLINE_MFA_RECHECK_SECONDS old."""
    user = MembershipFactory(organization=regulator_org, role=Role.REVIEWER).user
    client = Client()
    sign_in(client, user)  # enrols TOTP first, as the policy requires
    assert client.get("/dashboard/").status_code == 200

    Authenticator.objects.filter(user=user).delete()  # as the admin's delete action does

    assert client.get("/dashboard/").status_code == 200  # within the window: the remembered verdict
    later = time.time() + settings.REDLINE_MFA_RECHECK_SECONDS + 1
    with time_machine.travel(later, tick=False):
        assert client.get("/dashboard/")["Location"] == "/accounts/2fa/"


def test_a_session_from_before_the_recheck_is_checked_once_and_then_remembered(regulator_org):
    user = MembershipFactory(organization=regulator_org, role=Role.REVIEWER).user
    client = Client()
    sign_in(client, user)  # enrols TOTP first, as the policy requires
    session = client.session
    session["redline_mfa_enrolled"] = user.pk  # what a session signed in before this release holds
    session.save()

    with CaptureQueriesContext(connection) as first:
        assert client.get("/dashboard/").status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get("/dashboard/").status_code == 200
    factor_checks = [
        [q for q in c.captured_queries if "mfa_authenticator" in q["sql"]] for c in (first, second)
    ]
    assert len(factor_checks[0]) == 1 and factor_checks[1] == [], factor_checks
