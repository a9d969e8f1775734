"""The organisation page and the API key pages: who may open them, a key created in the browser works on
the API once shown and never shows again, revoking it stops it at once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Role
from core.models import AuditEvent
from tests.factories import MembershipFactory, OrganizationFactory, issue_key, sign_in

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r'id="new-key-secret">([^<]+)<')


def _member(client, org, role=Role.LAB_ADMIN, **user):
    membership = MembershipFactory(organization=org, role=role, **{f"user__{k}": v for k, v in user.items()})
    sign_in(client, membership.user)
    return membership


def _create_key(client, **overrides):
    data = {"name": "ci-pipeline", "role": Role.LAB_SUBMITTER, "scopes": ["incidents:write"], **overrides}
    return client.post(reverse("org-api-keys"), data)


# --- the organisation page -----------------------------------------------------------------------------


def test_the_org_page_shows_the_own_organisation_and_its_members_only(client, lab_a, lab_b):
    lab_a.jurisdictions = ["US"]
    lab_a.sharing_communities = ["frontier-labs"]
    lab_a.save()
    me = _member(client, lab_a, Role.LAB_SUBMITTER)
    colleague = MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN, user__username="alice-a")
    MembershipFactory(organization=lab_b, role=Role.LAB_ADMIN, user__username="bob-b")

    response = client.get(reverse("org-home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert lab_a.name in html and "frontier-labs" in html and "US" in html
    assert me.user.username in html and colleague.user.username in html and "Lab admin" in html
    assert "bob-b" not in html and lab_b.name not in html


def test_the_org_page_links_only_to_the_pages_the_role_may_use(client, lab_a, regulator_org):
    _member(client, lab_a, Role.LAB_SUBMITTER)
    links = client.get(reverse("org-home")).content.decode()
    assert reverse("org-notifications") in links
    assert reverse("org-api-keys") not in links and reverse("org-webhooks") not in links
    assert reverse("audit-log") not in links

    client.logout()
    _member(client, lab_a, Role.LAB_ADMIN)
    links = client.get(reverse("org-home")).content.decode()
    assert reverse("org-api-keys") in links and reverse("org-webhooks") in links
    assert reverse("audit-log") not in links

    client.logout()
    _member(client, regulator_org, Role.REGULATOR)
    links = client.get(reverse("org-home")).content.decode()
    assert reverse("org-webhooks") in links and reverse("audit-log") in links
    assert reverse("org-api-keys") not in links


def test_the_org_page_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("org-home"))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_an_account_without_an_organisation_gets_404_on_the_org_page(client, django_user_model):
    user = django_user_model.objects.create_user(username="loner", password="x" * 20)
    client.force_login(user)
    assert client.get(reverse("org-home")).status_code == 404


# --- API keys ------------------------------------------------------------------------------------------


def test_api_key_pages_are_404_for_a_lab_submitter_and_a_redirect_for_anonymous(client, lab_a):
    key, _ = issue_key(lab_a)
    assert client.get(reverse("org-api-keys")).status_code == 302
    assert client.post(reverse("org-api-key-revoke", args=[key.pk])).status_code == 302
    _member(client, lab_a, Role.LAB_SUBMITTER)
    assert client.get(reverse("org-api-keys")).status_code == 404
    assert _create_key(client).status_code == 404
    assert client.post(reverse("org-api-key-revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None and ApiKey.objects.count() == 1


def test_a_lab_admin_sees_only_the_own_organisations_keys(client, lab_a, lab_b):
    own, _ = issue_key(lab_a, name="own-key")
    other, _ = issue_key(lab_b, name="other-key")
    _member(client, lab_a)

    response = client.get(reverse("org-api-keys"))

    html = response.content.decode()
    assert response.status_code == 200
    assert own.prefix in html and "own-key" in html
    assert other.prefix not in html and "other-key" not in html
    assert response["Cache-Control"] == "no-store"
    # Another organisation's key cannot be revoked from here: 404, and it keeps working.
    assert client.post(reverse("org-api-key-revoke", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_a_key_created_in_the_browser_works_on_the_api_and_is_shown_once(client, lab_a):
    admin = _member(client, lab_a)

    response = _create_key(client, name="ci-pipeline")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    secret = SECRET_RE.search(html).group(1).strip()
    assert 'data-copy="#new-key-secret"' in html
    key = ApiKey.objects.get(name="ci-pipeline")
    assert secret.startswith(f"{key.prefix}.")
    assert key.organization == lab_a and key.role == Role.LAB_SUBMITTER and key.scopes == ["incidents:write"]
    assert key.created_by == admin.user
    assert AuditEvent.objects.filter(event_code="api_key.created", target_id=str(key.pk)).exists()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert api.get("/api/v1/incidents/").status_code == 200

    listing = client.get(reverse("org-api-keys")).content.decode()
    assert key.prefix in listing
    assert secret.split(".", 1)[1] not in listing and "new-key-secret" not in listing


def test_revoking_a_key_in_the_browser_stops_it_at_once(client, lab_a):
    key, plaintext = issue_key(lab_a, name="leaky")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    assert api.get("/api/v1/incidents/").status_code == 200
    _member(client, lab_a)

    page = client.get(reverse("org-api-keys")).content.decode()
    assert "data-confirm=" in page and reverse("org-api-key-revoke", args=[key.pk]) in page
    response = client.post(reverse("org-api-key-revoke", args=[key.pk]), {"reason": "leaked in a CI log"})

    assert response.status_code == 302 and response["Location"] == reverse("org-api-keys")
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revocation_reason == "leaked in a CI log"
    assert api.get("/api/v1/incidents/").status_code == 401
    assert "Revoked" in client.get(reverse("org-api-keys")).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field_error"),
    [
        ({"name": ""}, "name"),
        ({"scopes": []}, "scopes"),
        ({"role": Role.REGULATOR}, "role"),  # not a role of a lab
        ({"scopes": ["api_keys:manage"]}, "api_keys:manage"),  # not a scope of a lab_submitter
        ({"expires_at": "2001-01-01T00:00"}, "future"),
    ],
)
def test_bad_key_input_is_a_form_error_and_creates_nothing(client, lab_a, overrides, field_error):
    _member(client, lab_a)

    response = _create_key(client, **overrides)

    assert response.status_code == 400
    html = response.content.decode()
    assert "There is a problem" in html and field_error in html
    assert "new-key-secret" not in html
    assert not ApiKey.objects.exists()


def test_a_key_with_an_expiry_lists_it(client, lab_a):
    _member(client, lab_a)
    expires = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    assert _create_key(client, expires_at=expires).status_code == 200
    key = ApiKey.objects.get()
    assert key.expires_at is not None and key.expires_at > timezone.now()
    assert key.expires_at.strftime("%Y-%m-%d %H:%M") in client.get(reverse("org-api-keys")).content.decode()


def test_the_key_list_does_not_grow_queries_with_keys(client, lab_a, django_assert_max_num_queries):
    _member(client, lab_a)
    for n in range(12):
        issue_key(lab_a, name=f"key-{n}")
    with django_assert_max_num_queries(12):
        response = client.get(reverse("org-api-keys"))
    assert response.content.decode().count("data-key=") == 12


def test_a_platform_admin_sees_keys_of_every_organisation(client, lab_a):
    oversight = OrganizationFactory(short_name="platform", kind="regulator", country="BE")
    other, _ = issue_key(lab_a, name="lab-key")
    _member(client, oversight, Role.PLATFORM_ADMIN)
    html = client.get(reverse("org-api-keys")).content.decode()
    assert other.prefix in html and "lab-a" in html
