"""The webhook pages and the email preference form: who may open them, the secret shown once on create
and on rotation, the test ping reaching a real receiver signed and showing in the history (browser and
API), enable/disable, bad input."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from accounts.models import Role
from coordination import services
from coordination.models import Delivery, DeliveryStatus, EmailSubscription, WebhookEndpoint, WebhookSecret
from core.errors import Forbidden
from core.models import AuditEvent
from tests.coordination.helpers import admin_of, make_delivery
from tests.factories import MembershipFactory, sign_in

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r'id="new-key-secret">([^<]+)<')


def _member(client, org, role=Role.LAB_ADMIN, **user):
    membership = MembershipFactory(organization=org, role=role, **{f"user__{k}": v for k, v in user.items()})
    sign_in(client, membership.user)
    return membership


def _secret(response) -> str:
    return SECRET_RE.search(response.content.decode()).group(1).strip()


def _register(org, url="https://93.184.215.14/redline"):
    return services.webhook_endpoint_create(actor=admin_of(org), url=url, subscriptions=["own_reports"])


# --- access --------------------------------------------------------------------------------------------


def test_webhook_pages_are_404_for_a_lab_submitter_and_a_redirect_for_anonymous(client, lab_a):
    endpoint, _ = _register(lab_a)
    detail = reverse("org-webhook-detail", args=[endpoint.pk])
    assert client.get(reverse("org-webhooks")).status_code == 302
    assert client.get(detail).status_code == 302
    _member(client, lab_a, Role.LAB_SUBMITTER)
    assert client.get(reverse("org-webhooks")).status_code == 404
    assert client.get(detail).status_code == 404
    assert client.post(reverse("org-webhook-ping", args=[endpoint.pk])).status_code == 404
    assert (
        client.post(
            reverse("org-webhooks"), {"url": "https://93.184.215.16/", "subscriptions": ["deadlines"]}
        ).status_code
        == 404
    )
    assert WebhookEndpoint.objects.count() == 1 and not Delivery.objects.exists()


def test_another_organisations_webhook_is_404_for_every_action(client, lab_a, lab_b):
    endpoint, _ = _register(lab_b)
    _member(client, lab_a)
    assert endpoint.url not in client.get(reverse("org-webhooks")).content.decode()
    assert client.get(reverse("org-webhook-detail", args=[endpoint.pk])).status_code == 404
    for name in ("org-webhook-rotate", "org-webhook-disable", "org-webhook-ping"):
        assert client.post(reverse(name, args=[endpoint.pk])).status_code == 404
    assert client.get(reverse("org-webhook-detail", args=["not-a-uuid"])).status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None and WebhookSecret.objects.filter(endpoint=endpoint).count() == 1
    assert not Delivery.objects.exists()


# --- create, rotate, edit, enable ----------------------------------------------------------------------


def test_creating_a_webhook_shows_its_secret_once(client, lab_a):
    _member(client, lab_a)

    response = client.post(
        reverse("org-webhooks"),
        {
            "url": "https://93.184.215.14/in",
            "description": "SOC intake",
            "subscriptions": ["own_reports", "deadlines"],
        },
    )

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = _secret(response)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organization == lab_a and endpoint.subscriptions == ["deadlines", "own_reports"]
    assert WebhookSecret.objects.get(endpoint=endpoint).secret == secret and secret.startswith("whsec_")
    assert AuditEvent.objects.filter(event_code="webhook.created", target_id=str(endpoint.pk)).exists()
    for url in (reverse("org-webhooks"), reverse("org-webhook-detail", args=[endpoint.pk])):
        html = client.get(url).content.decode()
        assert secret not in html and "new-key-secret" not in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "not a url", "subscriptions": ["own_reports"]}, "Enter a valid URL"),
        ({"url": "https://93.184.215.14/", "subscriptions": []}, "This field is required"),
        ({"url": "https://93.184.215.14/", "subscriptions": ["everything"]}, "not one of the available"),
        ({"url": "https://10.0.0.7/hook", "subscriptions": ["own_reports"]}, "10.0.0.7"),  # SSRF guard
    ],
)
def test_bad_webhook_input_is_a_form_error_and_creates_nothing(client, lab_a, data, message):
    _member(client, lab_a)
    response = client.post(reverse("org-webhooks"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is a problem" in html and message in html and "new-key-secret" not in html
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.no_loopback
def test_a_loopback_receiver_is_refused_outside_tests(client, lab_a):
    _member(client, lab_a)
    response = client.post(
        reverse("org-webhooks"), {"url": "http://127.0.0.1:9/hook", "subscriptions": ["deadlines"]}
    )
    assert response.status_code == 400 and not WebhookEndpoint.objects.exists()


def test_rotating_the_secret_shows_the_new_one_once(client, lab_a):
    endpoint, first = _register(lab_a)
    _member(client, lab_a)

    page = client.get(reverse("org-webhook-detail", args=[endpoint.pk])).content.decode()
    assert "data-confirm=" in page and first not in page
    response = client.post(reverse("org-webhook-rotate", args=[endpoint.pk]), {"reason": "quarterly"})

    assert response.status_code == 200
    second = _secret(response)
    assert second != first and second.startswith("whsec_")
    assert set(WebhookSecret.objects.filter(endpoint=endpoint).values_list("secret", flat=True)) == {
        first,
        second,
    }
    assert AuditEvent.objects.filter(event_code="webhook.secret_rotated", target_id=str(endpoint.pk)).exists()
    assert second not in client.get(reverse("org-webhook-detail", args=[endpoint.pk])).content.decode()


def test_editing_a_webhook_changes_it_and_bad_input_changes_nothing(client, lab_a):
    endpoint, _ = _register(lab_a)
    _member(client, lab_a)
    detail = reverse("org-webhook-detail", args=[endpoint.pk])

    bad = client.post(detail, {"url": "https://10.1.2.3/", "subscriptions": ["deadlines"]})
    assert bad.status_code == 400 and "There is a problem" in bad.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://93.184.215.14/redline"

    response = client.post(
        detail, {"url": "https://93.184.215.15/h", "description": "moved", "subscriptions": ["deadlines"]}
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.subscriptions) == (
        "https://93.184.215.15/h",
        "moved",
        ["deadlines"],
    )


def test_disabling_and_enabling_a_webhook(client, lab_a):
    endpoint, _ = _register(lab_a)
    _member(client, lab_a)
    client.post(reverse("org-webhook-disable", args=[endpoint.pk]), {"reason": "maintenance"})
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None and endpoint.disabled_reason == "maintenance"
    page = client.get(reverse("org-webhook-detail", args=[endpoint.pk])).content.decode()
    assert "Disabled" in page and reverse("org-webhook-enable", args=[endpoint.pk]) in page

    # A disabled endpoint gets no ping: nothing is queued.
    client.post(reverse("org-webhook-ping", args=[endpoint.pk]))
    assert not Delivery.objects.exists()

    client.post(reverse("org-webhook-enable", args=[endpoint.pk]), {"reason": "back"})
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None
    codes = set(AuditEvent.objects.filter(target_id=str(endpoint.pk)).values_list("event_code", flat=True))
    assert {"webhook.disabled", "webhook.enabled"} <= codes


# --- the test ping -------------------------------------------------------------------------------------


def test_the_ping_reaches_the_receiver_signed_and_shows_in_the_history(
    client, lab_a, sink, django_capture_on_commit_callbacks
):
    _member(client, lab_a)
    created = client.post(reverse("org-webhooks"), {"url": sink.url, "subscriptions": ["own_reports"]})
    secret = _secret(created)
    endpoint = WebhookEndpoint.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("org-webhook-ping", args=[endpoint.pk]))

    assert response.status_code == 302
    [received] = sink.requests
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["type"] == "webhook.test"
    assert payload["data"]["endpoint_id"] == str(endpoint.pk) and payload["data"]["organization"] == "lab-a"
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert received.headers["webhook-id"] == f"msg_{delivery.pk.hex}"
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert AuditEvent.objects.filter(event_code="webhook.test_pinged", target_id=str(endpoint.pk)).exists()

    page = client.get(response["Location"]).content.decode()
    assert f'data-delivery="{delivery.pk}"' in page and "webhook.test" in page
    assert "HTTP 200" in page and "Delivered" in page


def test_a_failed_ping_is_retried_and_the_history_shows_the_response_and_next_retry(
    client, lab_a, sink, django_capture_on_commit_callbacks
):
    endpoint, _ = _register(lab_a, url=sink.url)
    sink.status = 503
    _member(client, lab_a)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("org-webhook-ping", args=[endpoint.pk]))
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1 and delivery.next_attempt_at

    page = client.get(reverse("org-webhook-detail", args=[endpoint.pk])).content.decode()
    assert "HTTP 503" in page and "Pending" in page
    assert delivery.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") in page


def test_the_ping_over_the_api_needs_the_manage_scope_and_is_delivered(
    lab_a, lab_b, sink, make_key_client, django_capture_on_commit_callbacks
):
    endpoint, secret = _register(lab_a, url=sink.url)
    admin = make_key_client(lab_a)
    submitter = make_key_client(lab_a, role=Role.LAB_SUBMITTER)
    other = make_key_client(lab_b)
    url = f"/api/v1/webhooks/{endpoint.pk}/ping"

    assert submitter.post(url).status_code == 403
    assert other.post(url).status_code == 404
    assert not Delivery.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(url)

    assert response.status_code == 202
    body = response.json()
    assert body["topic"] == "webhook.test" and body["status"] == "pending"
    [received] = sink.requests
    assert Webhook(secret).verify(received.body, received.headers)["type"] == "webhook.test"
    history = admin.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["results"]
    assert [d["id"] for d in history] == [body["id"]] and history[0]["status"] == "delivered"


def test_the_delivery_history_pages_by_cursor_without_n_plus_one(
    client, lab_a, django_assert_max_num_queries
):
    endpoint, _ = _register(lab_a)
    deliveries = [make_delivery(endpoint) for _ in range(30)]
    _member(client, lab_a)
    detail = reverse("org-webhook-detail", args=[endpoint.pk])

    with django_assert_max_num_queries(14):
        first = client.get(detail)
    html = first.content.decode()
    assert html.count("data-delivery=") == 25
    next_url = re.search(r'href="([^"]+cursor=[^"]+)"', html).group(1).replace("&amp;", "&")
    second = client.get(next_url).content.decode()
    shown = set(re.findall(r'data-delivery="([^"]+)"', html)) | set(
        re.findall(r'data-delivery="([^"]+)"', second)
    )
    assert shown == {str(d.pk) for d in deliveries}
    assert client.get(detail, {"cursor": "garbage"}).status_code == 400


def test_the_older_deliveries_fragment_answers_htmx(client, lab_a):
    endpoint, _ = _register(lab_a)
    for _ in range(26):
        make_delivery(endpoint)
    _member(client, lab_a)
    html = client.get(reverse("org-webhook-detail", args=[endpoint.pk])).content.decode()
    cursor = re.search(r"cursor=([^&\"]+)", html).group(1)
    fragment = client.get(
        reverse("org-webhook-detail", args=[endpoint.pk]),
        {"cursor": cursor, "part": "deliveries"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="deliveries">') and "<html" not in fragment
    assert fragment.count("data-delivery=") == 1


# --- email notifications -------------------------------------------------------------------------------


def test_a_member_sets_their_email_topics(client, lab_a):
    membership = _member(client, lab_a, Role.LAB_SUBMITTER, email="sub@lab-a.example")
    page = client.get(reverse("org-notifications"))
    assert page.status_code == 200 and "sub@lab-a.example" in page.content.decode()

    response = client.post(reverse("org-notifications"), {"subscriptions": ["own_reports", "deadlines"]})

    assert response.status_code == 302
    assert EmailSubscription.objects.get(membership=membership).subscriptions == ["deadlines", "own_reports"]
    page = client.get(reverse("org-notifications")).content.decode()
    checked = set(re.findall(r'name="subscriptions" value="([a-z_]+)"[^>]*checked', page))
    assert checked == {"own_reports", "deadlines"}

    client.post(reverse("org-notifications"), {})
    assert EmailSubscription.objects.get(membership=membership).subscriptions == []


def test_unknown_email_topics_are_refused(client, lab_a):
    membership = _member(client, lab_a, Role.LAB_SUBMITTER)
    response = client.post(reverse("org-notifications"), {"subscriptions": ["everything"]})
    assert response.status_code == 400 and "There is a problem" in response.content.decode()
    assert not EmailSubscription.objects.filter(membership=membership).exists()


def test_the_notification_page_redirects_anonymous_and_404s_without_a_membership(client, django_user_model):
    assert client.get(reverse("org-notifications")).status_code == 302
    client.force_login(django_user_model.objects.create_user(username="nobody", password="p" * 20))
    assert client.get(reverse("org-notifications")).status_code == 404


def test_the_ping_payload_carries_no_record(lab_a, lab_b):
    endpoint, _ = _register(lab_a)
    delivery = services.webhook_test_ping(actor=admin_of(lab_a), endpoint=endpoint)
    assert set(delivery.payload["data"]) == {"endpoint_id", "organization", "message"}
    assert "incident" not in json.dumps(delivery.payload)
    with pytest.raises(Forbidden):
        services.webhook_test_ping(actor=admin_of(lab_b), endpoint=endpoint)
    assert Delivery.objects.count() == 1
