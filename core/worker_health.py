"""Health endpoints of a Celery worker, for orchestrators: when REDLINE_WORKER_HEALTH_PORT is set, a worker
answers GET /health/live and GET /health/ready (its database and broker are reachable: core.health's
checks) on that port, from a small thread started once the worker is ready.

Live means the process is up *and consuming*: a worker whose consumer is connected to the broker but whose
event loop has not turned for REDLINE_WORKER_STALL_SECONDS is stuck (it reads no message, acknowledges
nothing and will not recover by itself), so /health/live answers 503 and the orchestrator restarts it; its
unacknowledged tasks go back to the queue. A worker without a broker connection (an outage, a reconnect in
progress) stays live: that is readiness's business, and restarting every worker during a broker outage
would not help.

A task that runs on the event loop's own thread (the `solo` pool) keeps the loop from turning while it
works: that is not a stall for as long as the task may run (CELERY_TASK_TIME_LIMIT, after which Celery
ends it), plus REDLINE_WORKER_STALL_SECONDS. Tasks of the prefork and threads pools run elsewhere and
exempt nothing, so a threads-pool worker whose loop stops with tasks in flight is still called stalled.

Loaded by the worker through CELERY_IMPORTS; the web process never imports it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from celery import bootsteps
from celery.signals import celeryd_init, task_postrun, task_prerun, worker_ready
from django.conf import settings
from django.db import connection

from core.health import check_broker, check_database

logger = logging.getLogger(__name__)


class ConsumerLoop:
    """When the worker's consumer last turned its event loop, and whether it is connected to the broker."""

    def __init__(self) -> None:
        self.consumer: Any = None
        self.last_turn: float | None = None
        self.loop_thread: int | None = None  # the thread that turns the loop (the hub's on_tick)
        self.task_on_loop_since: float | None = None  # a task is running on that thread since then

    def attach(self, consumer: Any) -> None:
        self.consumer = consumer
        self.turn()

    def detach(self, consumer: Any) -> None:
        if self.consumer is consumer:
            self.consumer = None

    def turn(self) -> None:
        self.last_turn = time.monotonic()
        self.loop_thread = threading.get_ident()

    def task_started(self) -> None:
        if self.loop_thread is not None and threading.get_ident() == self.loop_thread:
            self.task_on_loop_since = time.monotonic()

    def task_finished(self) -> None:
        if threading.get_ident() == self.loop_thread:
            self.task_on_loop_since = None

    def state(self, now: float | None = None) -> tuple[str, float]:
        """("running", seconds since the loop last turned) while the consumer is connected to the broker,
        or ("running a task", seconds since it started) while a task runs on the loop's own thread;
        ("not connected", 0) during an outage or a reconnect; ("not started", 0) before the first
        connection, or when the worker has no event loop to watch (a pool without one)."""
        consumer, last_turn = self.consumer, self.last_turn
        if consumer is None or getattr(consumer, "hub", None) is None:
            return "not started", 0.0
        broker = getattr(consumer, "connection", None)
        if last_turn is None or broker is None or not getattr(broker, "connected", False):
            return "not connected", 0.0
        now = time.monotonic() if now is None else now
        task_since = self.task_on_loop_since
        if task_since is not None:
            return "running a task", max(0.0, now - task_since)
        return "running", max(0.0, now - last_turn)


LOOP = ConsumerLoop()


@task_prerun.connect
def _task_started(**kwargs: Any) -> None:
    LOOP.task_started()


@task_postrun.connect
def _task_finished(**kwargs: Any) -> None:
    LOOP.task_finished()


class ConsumerWatch(bootsteps.StartStopStep):
    """Consumer bootstep: records the turns of the consumer's event loop (the hub calls `on_tick` once per
    turn, at least every few seconds when idle). Started again on every reconnect, as soon as the broker
    connection is up, so a consumer that hangs while starting its task consumer counts as stalled too."""

    requires = ("celery.worker.consumer.connection:Connection",)

    def start(self, c: Any) -> None:
        LOOP.attach(c)
        if c.hub is not None:
            c.hub.on_tick.add(LOOP.turn)

    def stop(self, c: Any) -> None:
        LOOP.last_turn = None  # a reconnect is in progress: the time it takes is not a stall
        if c.hub is not None:
            c.hub.on_tick.discard(LOOP.turn)

    def shutdown(self, c: Any) -> None:
        self.stop(c)
        LOOP.detach(c)


@celeryd_init.connect
def _watch_the_consumer(instance: Any = None, **kwargs: Any) -> None:
    # Sent before the worker builds its consumer, after CELERY_IMPORTS loaded this module.
    if instance is not None:
        instance.app.steps["consumer"].add(ConsumerWatch)


def _problem(detail: str, checks: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "/problems/service_unavailable",
        "title": "Service temporarily unavailable",
        "status": 503,
        "code": "service_unavailable",
        "detail": detail,
        "checks": checks,
    }


def liveness(loop: ConsumerLoop | None = None) -> tuple[int, dict[str, Any]]:
    state, idle = (loop or LOOP).state()
    stall = settings.REDLINE_WORKER_STALL_SECONDS
    if state == "running" and idle > stall:
        detail = f"Stalled: connected to the broker, but the consumer has not run for {idle:.0f} s."
        return 503, _problem(detail, {"consumer": "stalled"})
    if state == "running a task" and idle > settings.CELERY_TASK_TIME_LIMIT + stall:
        detail = f"Stalled: a task has held the consumer's thread for {idle:.0f} s, past its time limit."
        return 503, _problem(detail, {"consumer": "stalled"})
    return 200, {"status": "ok", "checks": {"consumer": state}}


def readiness() -> tuple[int, dict[str, Any]]:
    try:
        checks = {"database": check_database() or "ok", "broker": check_broker() or "ok"}
    finally:
        connection.close()  # this thread's own connection: never left open between probes
    failing = [name for name, state in checks.items() if state != "ok"]
    if failing:
        return 503, _problem(f"Not ready: {', '.join(failing)}.", checks)
    return 200, {"status": "ok", "checks": checks}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body: dict[str, Any]
        if self.path == "/health/live":
            status, body = liveness()
        elif self.path == "/health/ready":
            status, body = readiness()
        else:
            status, body = 404, {"status": 404, "code": "not_found", "title": "Not found"}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status < 400 else "application/problem+json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return  # probes every few seconds would drown the worker's log


def serve(port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104 - a pod's probe port
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="worker-health", daemon=True).start()
    logger.info("worker health endpoints on port %s", port)
    return server


@worker_ready.connect
def _start_on_worker_ready(**kwargs: Any) -> None:
    port = settings.REDLINE_WORKER_HEALTH_PORT
    if port:
        serve(port)
