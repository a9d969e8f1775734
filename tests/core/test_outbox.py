"""The transactional outbox: an event exists exactly when its change does, is dispatched once, and what
the on-commit hand-over loses (broker down, failing handler) the sweeper dispatches later."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from core import outbox
from core.models import IdempotencyRecord, OutboxEvent
from tests.factories import OrganizationFactory

SEEN: list[str] = []
FAIL = {"on": False}


def remember(event: OutboxEvent) -> None:
    """A handler that writes a row (to show it shares the dispatch transaction) and may fail."""
    SEEN.append(event.topic)
    IdempotencyRecord.objects.create(
        scope="outbox-test", key=str(event.pk), method="POST", path="/", fingerprint="", response_status=200
    )
    if FAIL["on"]:
        raise RuntimeError("subscriber store is down")


HANDLERS = override_settings(REDLINE_OUTBOX_HANDLERS=["tests.core.test_outbox.remember"])


@pytest.fixture(autouse=True)
def _reset() -> Any:
    SEEN.clear()
    FAIL["on"] = False
    with HANDLERS:
        yield


def emit(topic: str = "thing.happened") -> OutboxEvent:
    return outbox.outbox_emit(topic=topic, subject=OrganizationFactory(), data={"when": timezone.now()})


@pytest.mark.django_db
def test_the_event_is_written_with_the_change_and_dispatched_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        event = emit()
        assert SEEN == []  # nothing is told before the change is committed

    assert len(callbacks) == 1
    event.refresh_from_db()
    assert SEEN == ["thing.happened"]
    assert event.dispatched_at is not None and event.dispatch_attempts == 1
    assert event.subject_type == "accounts.organization"
    assert isinstance(event.data["when"], str)  # stored as JSON, not as a Python object
    assert IdempotencyRecord.objects.filter(scope="outbox-test", key=str(event.pk)).count() == 1


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_event(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ZeroDivisionError),
        transaction.atomic(),
    ):
        emit()
        _ = 1 / 0
    assert callbacks == []
    assert not OutboxEvent.objects.exists()
    assert SEEN == []


@pytest.mark.django_db
def test_an_event_is_dispatched_once_however_often_it_is_handed_over():
    event = emit()
    assert outbox.outbox_dispatch(event.pk) is True
    assert outbox.outbox_dispatch(event.pk) is False
    assert outbox.outbox_sweep(older_than=timedelta(0)) == 0
    assert SEEN == ["thing.happened"]


@pytest.mark.django_db
def test_a_failing_handler_rolls_back_its_writes_and_the_sweeper_retries():
    event = emit()
    FAIL["on"] = True
    assert outbox.outbox_dispatch_or_record(event.pk) is False

    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.dispatch_attempts == 1
    assert "subscriber store is down" in event.last_error
    assert not IdempotencyRecord.objects.filter(scope="outbox-test").exists()  # rolled back with it

    assert outbox.outbox_sweep(older_than=timedelta(0)) == 0  # still failing: recorded, not raised
    event.refresh_from_db()
    assert event.dispatch_attempts == 2

    FAIL["on"] = False
    assert outbox.outbox_sweep(older_than=timedelta(0)) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None and event.last_error == ""
    assert IdempotencyRecord.objects.filter(scope="outbox-test", key=str(event.pk)).count() == 1


@pytest.mark.django_db
def test_a_broker_outage_does_not_fail_the_committed_request(django_capture_on_commit_callbacks):
    from core.tasks import dispatch_outbox_event

    with (
        mock.patch.object(dispatch_outbox_event, "delay", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        event = emit()

    event.refresh_from_db()
    assert event.dispatched_at is None  # kept for the sweeper
    assert SEEN == []


@pytest.mark.django_db
def test_the_sweeper_leaves_young_events_to_their_on_commit_task():
    with time_machine.travel(timezone.now(), tick=False) as clock:
        event = emit()
        assert outbox.outbox_sweep(older_than=timedelta(seconds=30)) == 0
        clock.shift(timedelta(seconds=31))
        assert outbox.outbox_sweep(older_than=timedelta(seconds=30)) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_event_being_dispatched_elsewhere_is_skipped_not_waited_for():
    with mock.patch.object(outbox, "_hand_over"):  # autocommit here: keep the on-commit dispatch out
        event = emit()
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                OutboxEvent.objects.select_for_update().get(pk=event.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert outbox.outbox_dispatch(event.pk) is False  # skip locked: no double dispatch, no wait
    finally:
        release.set()
        thread.join(10)
    assert SEEN == []
    assert outbox.outbox_dispatch(event.pk) is True
    assert SEEN == ["thing.happened"]
