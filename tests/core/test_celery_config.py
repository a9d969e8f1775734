"""The Celery settings a worker needs to survive a broker restart (faults/RESULTS.md, scenario D)."""

from __future__ import annotations

from config.celery import app as celery_app


def test_a_worker_never_lowers_its_prefetch_count_after_a_reconnect():
    # Raising it again sends basic.qos from the pool thread that finished a task, racing the consumer's
    # event loop on the same AMQP connection: with a threads pool the worker then stops consuming for good.
    assert celery_app.conf.worker_enable_prefetch_count_reduction is False


def test_a_message_whose_worker_is_lost_goes_back_to_the_queue():
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert celery_app.conf.worker_prefetch_multiplier == 1
