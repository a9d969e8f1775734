"""gunicorn for the web process: `gunicorn -c deploy/gunicorn.conf.py config.wsgi`.

Sync workers (DESIGN 2: the request path is short and database-bound; long work goes to Celery). Every
value can be set from the environment, so the image, compose and Kubernetes share this one file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value else default


def _cpus() -> int:
    # The CPUs this process may run on (a container's cpuset), not the host's count.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


bind = f"{os.environ.get('GUNICORN_BIND_HOST', '0.0.0.0')}:{_int('PORT', 8000)}"  # noqa: S104 - in a container
worker_class = "sync"
# WEB_CONCURRENCY wins (set it where a CPU limit, not a cpuset, bounds the container).
workers = _int("WEB_CONCURRENCY", 2 * _cpus() + 1)
# A worker stuck longer than this is killed and replaced; the load balancer retries elsewhere. A streamed
# response resets the clock with each chunk it gets out (post_worker_init below).
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (a rolling update) workers finish their requests for this long before being killed; keep
# it below the pod's terminationGracePeriodSeconds.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle each worker after about this many requests (the jitter keeps them from restarting together).
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Only these addresses may set X-Forwarded-Proto / -For (the ingress or load balancer).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Heartbeat files on tmpfs: a slow disk must not look like a hung worker.
_SHM = Path("/dev/shm")  # noqa: S108 - tmpfs, gunicorn's own recommendation for containers
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (str(_SHM) if _SHM.is_dir() else None)
limit_request_line = 8190
limit_request_fields = 100

# Logs: stderr/stdout, one JSON object a line. The access line keeps gunicorn's atoms as fields
# (core.logging.GunicornAccessJsonFormatter) and the response's X-Request-ID, which joins it to the
# application's own lines (request_id, org_id).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "access_json": {
            "()": "core.logging.GunicornAccessJsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access_json",
            "stream": "ext://sys.stdout",
        },
    },
    # The application's own loggers are configured by Django's LOGGING once a worker loads it.
    "root": {"handlers": ["error"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

# Prometheus metrics across worker processes: each worker writes to PROMETHEUS_MULTIPROC_DIR and /metrics
# aggregates them (prometheus_client multiprocess mode); the directory starts empty on every start.
_multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server: Any) -> None:
    if _multiproc_dir:
        shutil.rmtree(_multiproc_dir, ignore_errors=True)
        Path(_multiproc_dir).mkdir(parents=True, exist_ok=True)


def post_worker_init(worker: Any) -> None:
    # A streamed response (a bulk snapshot) tells the arbiter this worker is alive while it makes progress
    # (core.heartbeat); the timeout above still kills a worker whose request stops making any.
    from core.heartbeat import register

    register(worker.notify)


def child_exit(server: Any, worker: Any) -> None:
    if _multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
