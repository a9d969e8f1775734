"""/api/v1/webhooks: org admins manage their own organisation's endpoints; the secret is shown once."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from accounts.models import Role
from coordination.models import Delivery
from tests.coordination.helpers import lab_member, submit
from tests.factories import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def register(client: Any, url: str, key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/v1/webhooks", {"url": url, "subscriptions": ["own_reports"]}, format="json", **headers
    )


def test_an_admin_registers_an_endpoint_and_sees_the_secret_once(client_a, sink):
    response = register(client_a, sink.url, key="create-1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert response["Location"] == f"/api/v1/webhooks/{body['id']}"
    replay = register(client_a, sink.url, key="create-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["secret"] == "" and replay.json()["id"] == body["id"]
    detail = client_a.get(f"/api/v1/webhooks/{body['id']}")
    assert detail.status_code == 200 and "secret" not in detail.json()
    assert "ETag" in detail


def test_another_org_gets_404_and_a_non_admin_gets_403(client_a, client_b, lab_a, make_key_client, sink):
    endpoint_id = register(client_a, sink.url).json()["id"]
    assert client_b.get(f"/api/v1/webhooks/{endpoint_id}").status_code == 404
    assert (
        client_b.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret", {}, format="json").status_code == 404
    )
    assert client_b.get("/api/v1/webhooks").json()["results"] == []
    submitter = make_key_client(lab_a, role=Role.LAB_SUBMITTER)
    assert submitter.get("/api/v1/webhooks").status_code == 403
    assert register(submitter, sink.url).status_code == 403
    assert submitter.get(f"/api/v1/webhooks/{endpoint_id}").status_code == 403


@pytest.mark.no_loopback
def test_an_unsafe_url_is_refused_at_registration(client_a, settings):
    settings.REDLINE_WEBHOOK_ALLOW_LOOPBACK = False
    for url in ("https://127.0.0.1/hook", "https://169.254.169.254/latest", "http://93.184.215.14/hook"):
        response = register(client_a, url)
        assert response.status_code == 400, url
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "unsafe_webhook_url"


def test_rotation_returns_a_new_secret_once_and_both_sign_meanwhile(client_a, lab_a, sink):
    created = register(client_a, sink.url).json()
    rotated = client_a.post(
        f"/api/v1/webhooks/{created['id']}/rotate-secret", {}, format="json", HTTP_IDEMPOTENCY_KEY="rot-1"
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != created["secret"]
    replay = client_a.post(
        f"/api/v1/webhooks/{created['id']}/rotate-secret", {}, format="json", HTTP_IDEMPOTENCY_KEY="rot-1"
    )
    assert replay.json()["secret"] == ""
    submit(lab_member(lab_a), tlp="green")
    [received] = sink.requests
    for secret in (created["secret"], new_secret):
        Webhook(secret).verify(received.body, received.headers)


def test_update_honours_if_match(client_a, sink):
    created = register(client_a, sink.url)
    url = f"/api/v1/webhooks/{created.json()['id']}"
    stale = client_a.patch(url, {"description": "x"}, format="json", HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412
    etag = client_a.get(url)["ETag"]
    ok = client_a.patch(url, {"subscriptions": ["deadlines"]}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200 and ok.json()["subscriptions"] == ["deadlines"]


def test_disable_enable_and_the_delivery_log(client_a, lab_a, sink):
    endpoint_id = register(client_a, sink.url).json()["id"]
    submit(lab_member(lab_a), tlp="green")
    log = client_a.get(f"/api/v1/webhooks/{endpoint_id}/deliveries")
    assert log.status_code == 200
    [row] = log.json()["results"]
    assert row["status"] == "delivered" and row["topic"] == "incident.submitted"
    assert row["attempt_log"][0]["status_code"] == 200
    assert row["webhook_id"] == sink.requests[0].headers["webhook-id"]
    disabled = client_a.post(f"/api/v1/webhooks/{endpoint_id}/disable", {}, format="json")
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    submit(lab_member(lab_a), tlp="green")
    assert Delivery.objects.filter(endpoint_id=endpoint_id).count() == 1
    enabled = client_a.post(f"/api/v1/webhooks/{endpoint_id}/enable", {}, format="json")
    assert enabled.status_code == 200 and enabled.json()["is_active"] is True


def test_a_member_chooses_email_topics_and_an_api_key_cannot(client_a, lab_a):
    member = lab_member(lab_a, email="me@lab-a.example")
    from rest_framework.test import APIClient

    browser = APIClient()
    sign_in(browser, member.user)
    assert browser.get("/api/v1/email-subscription").json() == {"subscriptions": []}
    put = browser.put("/api/v1/email-subscription", {"subscriptions": ["own_reports"]}, format="json")
    assert put.status_code == 200 and put.json() == {"subscriptions": ["own_reports"]}
    assert browser.get("/api/v1/email-subscription").json() == {"subscriptions": ["own_reports"]}
    bad = browser.put("/api/v1/email-subscription", {"subscriptions": ["everything"]}, format="json")
    assert bad.status_code == 400
    assert client_a.get("/api/v1/email-subscription").status_code == 403
    assert APIClient().get("/api/v1/email-subscription").status_code == 401
