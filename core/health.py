"""Probes for orchestrators and scrapers: /health/live, /health/ready and /metrics.

They are answered by ProbeMiddleware, ahead of the host check, the HTTPS redirect and the session: a
kubelet or Prometheus calls the pod's own address over plain HTTP with no Host we would recognise, and a
probe must not depend on any of that. Liveness touches nothing outside the process (a database outage
must not get every web pod restarted); readiness takes the pod out of the load balancer while the
database is unreachable, a migration is missing, or the configured broker is down.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.api.errors import PROBLEM_CONTENT_TYPE, problem_body

logger = logging.getLogger(__name__)

# Once this process has seen every migration applied it stays so: the code (and so the migration files)
# cannot change under a running process, and applied migrations are never un-applied in production.
_migrations_applied = False


def check_database() -> str:
    """'' when the database answers, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means not ready; the reason goes to the log, not the caller
        logger.warning("readiness: database unreachable: %s", exc)
        return "unreachable"
    return ""


def check_migrations() -> str:
    """'' when no migration of this code is left to apply."""
    global _migrations_applied
    if _migrations_applied:
        return ""
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        logger.warning("readiness: migration state unreadable: %s", exc)
        return "unknown"
    if plan:
        return f"{len(plan)} unapplied"
    _migrations_applied = True
    return ""


def check_broker() -> str:
    """'' when the Celery broker accepts a connection (or none is configured / the check is off)."""
    url = settings.CELERY_BROKER_URL
    if not url or not settings.REDLINE_HEALTH_CHECK_BROKER:
        return ""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=settings.REDLINE_HEALTH_TIMEOUT_SECONDS) as conn:
            conn.connect()
    except Exception as exc:
        logger.warning("readiness: broker unreachable: %s", exc)
        return "unreachable"
    return ""


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def live(request: HttpRequest) -> HttpResponse:
    """The process is up and serving: no database, no broker."""
    return _no_store(JsonResponse({"status": "ok"}))


def ready(request: HttpRequest) -> HttpResponse:
    """200 when this instance can serve traffic, else 503 problem+json naming the failing checks."""
    database = check_database()
    checks = {
        "database": database or "ok",
        # Without a database the migration state cannot be read.
        "migrations": (check_migrations() if not database else "unknown") or "ok",
        "broker": (check_broker() or "ok") if settings.CELERY_BROKER_URL else "not configured",
    }
    failing = [name for name, state in checks.items() if state not in ("ok", "not configured")]
    if not failing:
        return _no_store(JsonResponse({"status": "ok", "checks": checks}))
    body = problem_body(
        status=503,
        code="service_unavailable",
        title="Service temporarily unavailable",
        detail=f"Not ready: {', '.join(failing)}.",
        instance=request.path,
    )
    body["checks"] = checks
    response = JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
    response["Retry-After"] = "5"
    return _no_store(response)


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.REDLINE_METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    networks = settings.REDLINE_METRICS_ALLOWED_NETWORKS
    if networks:
        # The socket address, never X-Forwarded-For: a scraper reaches the pod directly.
        try:
            address = ipaddress.ip_address(str(request.META.get("REMOTE_ADDR", "")))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in networks)
    return False


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition (django-prometheus), for an authorised scraper only."""
    if not settings.REDLINE_METRICS_TOKEN and not settings.REDLINE_METRICS_ALLOWED_NETWORKS:
        body = problem_body(status=404, code="not_found", title="Not found", detail="No such resource.")
        return _no_store(JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE))
    if not _metrics_allowed(request):
        body = problem_body(
            status=401,
            code="not_authenticated",
            title="Authentication required",
            detail="Metrics need the scraper's bearer token or an allowed network.",
            instance=request.path,
        )
        response = JsonResponse(body, status=401, content_type=PROBLEM_CONTENT_TYPE)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return _no_store(response)
    from django_prometheus.exports import ExportToDjangoView

    return _no_store(ExportToDjangoView(request))


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health/live": live,
    "/health/ready": ready,
    "/metrics": metrics,
}


class ProbeMiddleware:
    """Answers GET/HEAD on the probe paths before host validation, HTTPS redirect, sessions and CSRF."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info.rstrip("/") or "/")
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        return probe(request)
