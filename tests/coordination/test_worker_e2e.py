"""End to end through a real broker: a Celery worker subprocess on RabbitMQ dispatches the outbox event,
fans it out and delivers a Standard Webhooks request to a local receiver, which verifies it with the
reference `standardwebhooks` package; and a worker SIGKILLed in the middle of a delivery loses nothing
and the event is processed exactly once (the message is redelivered, the consumer dedupes by webhook-id).

Needs REDLINE_TEST_AMQP_URL (CI: amqp://guest:guest@127.0.0.1:5672//); skipped without it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from standardwebhooks.webhooks import Webhook

from coordination import services
from coordination.models import Delivery
from tests.coordination.helpers import admin_of, lab_member, submit
from tests.coordination.sink import Received, start_sink
from tests.factories import OrganizationFactory

AMQP_URL = os.environ.get("REDLINE_TEST_AMQP_URL", "")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        not AMQP_URL, reason="REDLINE_TEST_AMQP_URL is not set: no RabbitMQ to run a worker on"
    ),
    pytest.mark.django_db(transaction=True),
]


def _database_url() -> str:
    s = connection.settings_dict
    user = quote(s.get("USER") or "", safe="")
    password = quote(s.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else f"{user}@"
    host = quote(s.get("HOST") or "", safe="")
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{s['NAME']}"


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of our own on the shared broker, with the in-process Celery app publishing to it."""
    from config.celery import app

    name = f"redline-e2e-{uuid.uuid4().hex[:12]}"
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")}
    app.conf.update(task_always_eager=False, broker_url=AMQP_URL, task_default_queue=name)
    app.__dict__.pop("amqp", None)  # cached queues/router built from the old default queue
    app._pool = None
    try:
        yield name
    finally:
        app.close()
        app.conf.update(saved)
        app.__dict__.pop("amqp", None)
        app._pool = None
        # Leave the broker as we found it (best effort).
        with app.connection_for_write(AMQP_URL) as conn, contextlib.suppress(Exception):
            conn.default_channel.queue_delete(name)


class Workers:
    """Starts real `celery worker` processes on the test database and the test queue; kills them all."""

    def __init__(self, queue: str, tmp: Path) -> None:
        self.queue = queue
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_SECRET_KEY": "e2e-worker-not-a-secret-" + "x" * 40,
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": _database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": AMQP_URL,
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "REDLINE_WEBHOOK_ALLOW_HTTP": "true",
            "REDLINE_WEBHOOK_ALLOW_LOOPBACK": "true",
            "REDLINE_WEBHOOK_READ_TIMEOUT_SECONDS": "30",
        }
        log = self.tmp / f"worker-{len(self.procs)}.log"
        proc = subprocess.Popen(  # noqa: S603 - our own celery
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-Q",
                self.queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{self.queue}-{len(self.procs)}@%h",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        wait_for(
            lambda: b"ready." in log.read_bytes() or proc.poll() is not None, timeout=25, what="worker start"
        )
        assert proc.poll() is None, log.read_text()
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("worker-*.log")))

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def workers(queue: str, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(queue, tmp_path)
    try:
        yield pool
    finally:
        pool.kill_all()


class Consumer:
    """What a Standard Webhooks consumer must do: verify, then process each webhook-id once."""

    def __init__(self, secret: str, block_first: bool = False) -> None:
        self.webhook = Webhook(secret)
        self.processed: dict[str, dict[str, Any]] = {}
        self.received = 0
        self.block_first = block_first
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request: Received) -> int:
        payload = self.webhook.verify(request.body, request.headers)  # raises on a bad signature
        with self.lock:
            self.received += 1
            first = self.received == 1
            msg_id = request.headers["webhook-id"]
            if msg_id not in self.processed:
                self.processed[msg_id] = payload
        if first and self.block_first:
            self.first_arrived.set()
            self.release.wait(30)  # the sender is killed while we hold its request
        return 200


def _register(sink_url: str) -> tuple[Any, str, Any]:
    lab = OrganizationFactory(short_name=f"e2e-{uuid.uuid4().hex[:8]}", kind="lab", country="FR")
    endpoint, secret = services.webhook_endpoint_create(
        actor=admin_of(lab), url=sink_url, subscriptions=["own_reports"]
    )
    return lab, secret, endpoint


def test_a_worker_on_rabbitmq_delivers_a_verifiable_webhook(workers: Workers):
    workers.start()
    consumer: Consumer | None = None
    sink = start_sink(on_request=lambda r: consumer(r) if consumer else 500)
    try:
        lab, secret, endpoint = _register(sink.url)
        consumer = Consumer(secret)
        incident = submit(lab_member(lab), tlp="green")  # commits: the outbox task goes to RabbitMQ
        delivery = wait_for(
            lambda: Delivery.objects.filter(endpoint=endpoint, status="delivered").first(),
            timeout=20,
            what=f"delivery\n{workers.logs()}",
        )
        [payload] = consumer.processed.values()
        assert payload["type"] == "incident.submitted"
        assert payload["data"]["public_id"] == incident.public_id
        assert delivery.attempt_log.count() == 1
    finally:
        sink.close()


def test_a_worker_killed_mid_delivery_is_replaced_and_the_event_is_processed_exactly_once(workers: Workers):
    first = workers.start()
    consumer: Consumer | None = None
    sink = start_sink(on_request=lambda r: consumer(r) if consumer else 500)
    try:
        lab, secret, endpoint = _register(sink.url)
        consumer = Consumer(secret, block_first=True)
        submit(lab_member(lab), tlp="green")
        assert consumer.first_arrived.wait(20), workers.logs()
        os.kill(first.pid, signal.SIGKILL)  # in the middle of the POST, its row lock held
        first.wait(timeout=10)
        delivery = Delivery.objects.get(endpoint=endpoint)
        assert delivery.status == "pending" and delivery.attempts == 0  # the attempt died with the worker

        workers.start()  # RabbitMQ redelivers the unacknowledged message to the new worker
        delivery = wait_for(
            lambda: Delivery.objects.filter(endpoint=endpoint, status="delivered").first(),
            timeout=25,
            what=f"redelivery\n{workers.logs()}",
        )
        consumer.release.set()
        assert consumer.received == 2  # sent twice (at least once) ...
        assert len(consumer.processed) == 1  # ... processed once: same webhook-id
        assert delivery.attempts == 1
        [attempt] = delivery.attempt_log.all()
        assert attempt.succeeded and attempt.status_code == 200
    finally:
        sink.close()
