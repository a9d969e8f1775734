"""A worker's /health/live fails when its consumer is connected to the broker but its event loop has stopped
turning (the worker would never consume again: faults/RESULTS.md, scenario D), and only then: a broker
outage or a reconnect in progress is readiness's business."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings

from config.celery import app as celery_app
from core import worker_health
from core.worker_health import ConsumerLoop, ConsumerWatch, liveness


def _consumer(*, connected: bool = True, hub: bool = True) -> Any:
    return SimpleNamespace(
        hub=SimpleNamespace(on_tick=set()) if hub else None,
        connection=SimpleNamespace(connected=connected),
    )


def _loop_idle_for(seconds: float, consumer: Any) -> ConsumerLoop:
    loop = ConsumerLoop()
    loop.attach(consumer)
    assert loop.last_turn is not None
    loop.last_turn -= seconds
    return loop


@override_settings(REDLINE_WORKER_STALL_SECONDS=60)
def test_live_fails_when_the_connected_consumer_has_not_turned_its_loop_for_too_long():
    status, body = liveness(_loop_idle_for(61, _consumer()))
    assert status == 503
    assert body["code"] == "service_unavailable"
    assert body["checks"] == {"consumer": "stalled"}


@override_settings(REDLINE_WORKER_STALL_SECONDS=60)
def test_live_passes_while_the_loop_turns():
    assert liveness(_loop_idle_for(5, _consumer())) == (
        200,
        {"status": "ok", "checks": {"consumer": "running"}},
    )


@override_settings(REDLINE_WORKER_STALL_SECONDS=60)
def test_a_broker_outage_is_not_a_stall():
    status, body = liveness(_loop_idle_for(600, _consumer(connected=False)))
    assert (status, body["checks"]) == (200, {"consumer": "not connected"})


@override_settings(REDLINE_WORKER_STALL_SECONDS=60)
def test_a_reconnect_in_progress_is_not_a_stall():
    consumer = _consumer()
    loop = _loop_idle_for(600, consumer)
    watch = ConsumerWatch(SimpleNamespace())
    original, worker_health.LOOP = worker_health.LOOP, loop
    try:
        watch.stop(consumer)  # the consumer blueprint restarts after a connection loss
        assert liveness(loop)[0] == 200
        watch.start(consumer)  # connected again: the clock starts afresh
        assert liveness(loop) == (200, {"status": "ok", "checks": {"consumer": "running"}})
    finally:
        worker_health.LOOP = original


def test_the_watch_counts_each_turn_of_the_hub():
    consumer = _consumer()
    loop = ConsumerLoop()
    original, worker_health.LOOP = worker_health.LOOP, loop
    try:
        ConsumerWatch(SimpleNamespace()).start(consumer)
        assert consumer.hub.on_tick == {loop.turn}
        loop.last_turn = 0.0
        for tick in consumer.hub.on_tick:  # what kombu's hub does once per turn
            tick()
        assert loop.last_turn == pytest.approx(time.monotonic(), abs=5)
    finally:
        worker_health.LOOP = original


def test_a_worker_without_an_event_loop_is_never_called_stalled():
    assert liveness(_loop_idle_for(10_000, _consumer(hub=False)))[0] == 200


def test_the_worker_adds_the_watch_to_its_consumer():
    steps = celery_app.steps["consumer"]
    had = ConsumerWatch in steps
    try:
        worker_health._watch_the_consumer(instance=SimpleNamespace(app=celery_app))
        assert ConsumerWatch in steps
    finally:
        if not had:
            steps.discard(ConsumerWatch)


@override_settings(REDLINE_WORKER_STALL_SECONDS=60)
def test_the_worker_probe_port_answers_503_for_a_stalled_consumer():
    original, worker_health.LOOP = worker_health.LOOP, _loop_idle_for(120, _consumer())
    server = worker_health.serve(0, host="127.0.0.1")
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/health/live", timeout=5)
        assert refused.value.code == 503
        assert refused.value.headers["Content-Type"] == "application/problem+json"
        assert json.load(refused.value)["checks"] == {"consumer": "stalled"}
    finally:
        server.shutdown()
        server.server_close()
        worker_health.LOOP = original


@override_settings(REDLINE_WORKER_STALL_SECONDS=60, CELERY_TASK_TIME_LIMIT=300)
def test_a_task_on_the_loop_thread_is_not_a_stall_until_its_time_limit_has_passed():
    """The solo pool runs each task on the consumer's own thread: the loop cannot turn meanwhile."""
    loop = _loop_idle_for(0, _consumer())
    loop.turn()  # the hub's tick, on this thread
    loop.task_started()  # task_prerun, on the same thread
    assert loop.task_on_loop_since is not None
    loop.last_turn -= 120
    loop.task_on_loop_since -= 120
    assert liveness(loop) == (200, {"status": "ok", "checks": {"consumer": "running a task"}})

    loop.task_on_loop_since -= 250  # 370 s: past the time limit (300) and the stall allowance (60)
    status, body = liveness(loop)
    assert (status, body["checks"]) == (503, {"consumer": "stalled"})

    loop.task_finished()
    loop.turn()
    assert liveness(loop) == (200, {"status": "ok", "checks": {"consumer": "running"}})


@override_settings(REDLINE_WORKER_STALL_SECONDS=60)
def test_a_task_on_another_thread_does_not_excuse_a_loop_that_stopped():
    """The threads pool (and prefork) run tasks elsewhere: a loop stuck with tasks in flight is a stall."""
    loop = _loop_idle_for(0, _consumer())
    loop.turn()
    elsewhere = threading.Thread(target=loop.task_started)
    elsewhere.start()
    elsewhere.join()
    assert loop.task_on_loop_since is None
    loop.last_turn -= 120
    status, body = liveness(loop)
    assert (status, body["checks"]) == (503, {"consumer": "stalled"})


def test_celery_task_signals_reach_the_watch():
    from celery.signals import task_postrun, task_prerun

    original, worker_health.LOOP = worker_health.LOOP, ConsumerLoop()
    try:
        worker_health.LOOP.turn()
        task_prerun.send(sender=None)
        assert worker_health.LOOP.task_on_loop_since is not None
        task_postrun.send(sender=None)
        assert worker_health.LOOP.task_on_loop_since is None
    finally:
        worker_health.LOOP = original
