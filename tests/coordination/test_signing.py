"""Standard Webhooks signatures: what we send verifies with the reference `standardwebhooks` package,
before, during and after a secret rotation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from coordination import services
from coordination.signing import secret_generate, signature, signature_header
from tests.coordination.helpers import admin_of, make_delivery
from tests.factories import OrganizationFactory


def test_a_signature_verifies_with_the_standardwebhooks_package():
    secret = secret_generate()
    body = b'{"type":"incident.submitted","data":{"id":"x"}}'
    now = timezone.now()
    header = signature(secret=secret, msg_id="msg_1", timestamp=int(now.timestamp()), body=body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": header,
    }
    assert Webhook(secret).verify(body, headers) == json.loads(body)


def test_a_tampered_body_does_not_verify():
    secret = secret_generate()
    ts = int(timezone.now().timestamp())
    header = signature_header(secrets_=[secret], msg_id="msg_1", timestamp=ts, body=b"{}")
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": header}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":1}', headers)


@pytest.mark.django_db
def test_after_a_rotation_both_secrets_verify_during_the_overlap_and_only_the_new_one_after(settings):
    settings.REDLINE_WEBHOOK_SECRET_OVERLAP_HOURS = 24
    org = OrganizationFactory(kind="lab")
    actor = admin_of(org)
    endpoint, old_secret = services.webhook_endpoint_create(
        actor=actor, url="http://127.0.0.1:9/hook", subscriptions=["own_reports"]
    )
    endpoint, new_secret = services.webhook_secret_rotate(actor=actor, endpoint=endpoint)
    assert new_secret != old_secret
    delivery = make_delivery(endpoint)
    body = services.webhook_body(delivery)

    during = timezone.now() + timedelta(hours=1)
    with time_machine.travel(during, tick=False):
        headers = services.webhook_headers(delivery, body=body, now=timezone.now())
        assert len(headers["webhook-signature"].split(" ")) == 2
        assert Webhook(old_secret).verify(body, headers) == delivery.payload
        assert Webhook(new_secret).verify(body, headers) == delivery.payload

    after = timezone.now() + timedelta(hours=25)
    with time_machine.travel(after, tick=False):
        headers = services.webhook_headers(delivery, body=body, now=timezone.now())
        assert len(headers["webhook-signature"].split(" ")) == 1
        assert Webhook(new_secret).verify(body, headers) == delivery.payload
        with pytest.raises(WebhookVerificationError):
            Webhook(old_secret).verify(body, headers)


@pytest.mark.django_db
def test_the_webhook_id_is_stable_across_attempts():
    org = OrganizationFactory(kind="lab")
    endpoint, _ = services.webhook_endpoint_create(
        actor=admin_of(org), url="http://127.0.0.1:9/hook", subscriptions=["own_reports"]
    )
    delivery = make_delivery(endpoint)
    body = services.webhook_body(delivery)
    first = services.webhook_headers(delivery, body=body, now=timezone.now())
    later = services.webhook_headers(delivery, body=body, now=timezone.now() + timedelta(minutes=5))
    assert first["webhook-id"] == later["webhook-id"] == f"msg_{delivery.pk.hex}"
