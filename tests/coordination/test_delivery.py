"""Sending: a real POST to a local receiver, attempts recorded, exponential backoff kept in the database,
the retry sweep, auto-disable after the failure window, email through Django's backend."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from coordination import services
from coordination.models import Delivery, DeliveryStatus, EmailSubscription
from core.models import AuditEvent
from tests.coordination.helpers import admin_of, lab_member, make_delivery, submit
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lab():
    return OrganizationFactory(short_name="send-lab", kind="lab", country="FR")


def register(org, url):
    return services.webhook_endpoint_create(actor=admin_of(org), url=url, subscriptions=["own_reports"])


def test_submitting_a_report_delivers_a_signed_webhook_on_commit(lab, sink):
    endpoint, secret = register(lab, sink.url)
    incident = submit(lab_member(lab), tlp="green")
    [received] = sink.requests
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["type"] == "incident.submitted"
    assert payload["data"]["public_id"] == incident.public_id
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert received.headers["webhook-id"] == f"msg_{delivery.pk.hex}"
    [attempt] = delivery.attempt_log.all()
    assert attempt.succeeded and attempt.status_code == 200


def test_a_failed_attempt_is_recorded_and_retried_after_the_backoff(lab, sink):
    endpoint, _ = register(lab, sink.url)
    sink.status = 503
    delivery = make_delivery(endpoint)
    assert services.delivery_send(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_error == "HTTP 503"
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=20) < wait <= timedelta(seconds=38)
    assert services.delivery_send(delivery_id=delivery.pk) == "skipped"  # not due yet
    sink.status = 200
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
        assert services.deliveries_retry_due() == {"delivered": 1}
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [a.status_code for a in delivery.attempt_log.all()] == [503, 200]
    assert len({r.headers["webhook-id"] for r in sink.requests}) == 1


def test_the_backoff_doubles_with_jitter_up_to_the_cap(settings):
    settings.REDLINE_WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.REDLINE_WEBHOOK_RETRY_MAX_SECONDS = 3600
    rng = random.Random(7)
    for attempt, nominal in [(1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (20, 3600)]:
        seconds = services.backoff_delay(attempt, rng=rng).total_seconds()
        assert nominal * 0.75 <= seconds <= nominal * 1.25


def test_a_delivery_fails_for_good_after_the_maximum_attempts(lab, sink, settings):
    settings.REDLINE_WEBHOOK_MAX_ATTEMPTS = 2
    endpoint, _ = register(lab, sink.url)
    sink.status = 500
    delivery = make_delivery(endpoint)
    assert services.delivery_send(delivery_id=delivery.pk) == "retry"
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert services.delivery_send(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None


def test_an_endpoint_failing_for_the_whole_window_is_disabled_with_an_audit_event(lab, sink, settings):
    settings.REDLINE_WEBHOOK_DISABLE_AFTER_HOURS = 120
    endpoint, _ = register(lab, sink.url)
    sink.status = 500
    start = timezone.now()
    services.delivery_send(delivery_id=make_delivery(endpoint).pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.disabled_at is None
    with time_machine.travel(start + timedelta(hours=119), tick=False):
        services.delivery_send(delivery_id=make_delivery(endpoint).pk)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None
    with time_machine.travel(start + timedelta(hours=121), tick=False):
        services.delivery_send(delivery_id=make_delivery(endpoint).pk)
        pending = make_delivery(endpoint)
        assert services.delivery_send(delivery_id=pending.pk) == "skipped"
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None and "120 hours" in endpoint.disabled_reason
    assert AuditEvent.objects.filter(event_code="webhook.disabled", target_id=str(endpoint.pk)).count() == 1
    requests_before = len(sink.requests)
    sink.status = 200
    services.webhook_endpoint_set_enabled(actor=admin_of(lab), endpoint=endpoint, enabled=True)
    assert services.deliveries_retry_due()["delivered"] >= 1
    assert len(sink.requests) > requests_before


def test_a_success_ends_the_failure_run(lab, sink):
    endpoint, _ = register(lab, sink.url)
    sink.status = 500
    services.delivery_send(delivery_id=make_delivery(endpoint).pk)
    sink.status = 204
    services.delivery_send(delivery_id=make_delivery(endpoint).pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


@pytest.mark.no_loopback
def test_an_endpoint_that_turned_unsafe_is_refused_at_delivery(lab, sink, settings):
    with settings_allowing(settings):
        endpoint, _ = register(lab, sink.url)
    settings.REDLINE_WEBHOOK_ALLOW_LOOPBACK = False
    settings.REDLINE_WEBHOOK_ALLOW_HTTP = True
    delivery = make_delivery(endpoint)
    assert services.delivery_send(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("refused:")
    assert sink.requests == []


def settings_allowing(settings):
    from django.test import override_settings

    return override_settings(REDLINE_WEBHOOK_ALLOW_LOOPBACK=True, REDLINE_WEBHOOK_ALLOW_HTTP=True)


def test_email_goes_to_subscribed_members_with_what_they_may_see(lab):
    member = lab_member(lab, email="ops@send-lab.example")
    EmailSubscription.objects.create(membership=member, subscriptions=["own_reports"])
    mail.outbox.clear()
    incident = submit(member, tlp="amber")
    [message] = mail.outbox
    assert message.to == ["ops@send-lab.example"]
    assert incident.public_id in message.subject
    assert incident.title in message.body and incident.description not in message.body
    delivery = Delivery.objects.get(channel="email")
    assert delivery.status == "delivered" and delivery.attempt_log.count() == 1


def test_a_failing_mail_server_is_retried(lab, settings, monkeypatch):
    member = lab_member(lab, email="ops@send-lab.example")
    EmailSubscription.objects.create(membership=member, subscriptions=["own_reports"])

    def refuse(self, *args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    submit(member, tlp="green")
    delivery = Delivery.objects.get(channel="email")
    assert delivery.status == "pending" and "smtp down" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()
