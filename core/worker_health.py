"""Health endpoints of a Celery worker, for orchestrators: when REDLINE_WORKER_HEALTH_PORT is set, a worker
answers GET /health/live (the process is up) and GET /health/ready (its database and broker are reachable:
core.health's checks) on that port, from a small thread started once the worker is ready.

Loaded by the worker through CELERY_IMPORTS; the web process never imports it.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from celery.signals import worker_ready
from django.conf import settings
from django.db import connection

from core.health import check_broker, check_database

logger = logging.getLogger(__name__)


def readiness() -> tuple[int, dict[str, Any]]:
    try:
        checks = {"database": check_database() or "ok", "broker": check_broker() or "ok"}
    finally:
        connection.close()  # this thread's own connection: never left open between probes
    failing = [name for name, state in checks.items() if state != "ok"]
    if failing:
        return 503, {
            "type": "/problems/service_unavailable",
            "title": "Service temporarily unavailable",
            "status": 503,
            "code": "service_unavailable",
            "detail": f"Not ready: {', '.join(failing)}.",
            "checks": checks,
        }
    return 200, {"status": "ok", "checks": checks}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body: dict[str, Any]
        if self.path == "/health/live":
            status, body = 200, {"status": "ok"}
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
