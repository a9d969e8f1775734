"""The security headers, on a page, an API response and an error response alike: CSP without
'unsafe-inline', HSTS (production's values), frame-ancestors 'none' and X-Frame-Options DENY, nosniff,
Referrer-Policy, Permissions-Policy, and no-store on whatever an authenticated caller receives."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.factories import MembershipFactory, sign_in

pytestmark = pytest.mark.django_db

# What config.settings.production sets (tests/test_settings.py runs check --deploy on it).
PRODUCTION_HSTS = override_settings(
    SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, SECURE_HSTS_PRELOAD=True
)


def _assert_hardened(response, *, authenticated: bool) -> None:
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    if authenticated:
        assert response["Cache-Control"] == "no-store"


@PRODUCTION_HSTS
def test_a_page_an_api_response_and_an_error_carry_every_security_header(client, lab_a, make_key_client):
    sign_in(client, MembershipFactory(organization=lab_a).user)
    api = make_key_client(lab_a)

    page = client.get("/dashboard/", secure=True)
    api_read = api.get("/api/v1/models/", secure=True)
    api_error = api.get("/api/v1/incidents/RL-INC-0000-99999", secure=True)
    page_error = client.get("/no/such/page", secure=True)

    assert page.status_code == 200 and api_read.status_code == 200
    assert api_error.status_code == 404 and api_error["Content-Type"] == "application/problem+json"
    assert page_error.status_code == 404
    for response in (page, api_read, api_error, page_error):
        _assert_hardened(response, authenticated=True)


@PRODUCTION_HSTS
def test_anonymous_public_reads_are_hardened_too_but_may_be_cached(anon):
    response = anon.get("/api/v1/models/", secure=True)
    _assert_hardened(response, authenticated=False)
    assert "no-store" not in response.get("Cache-Control", "")
    assert "Authorization" in response["Vary"]
