"""WSGI entry point (gunicorn config.wsgi).

Once Django is set up, the URLconf is loaded (every view, serializer and filter class imported) and the
objects alive at that point are moved out of the cyclic garbage collector's reach (`gc.freeze`). They
live as long as the worker; left tracked, every collection of the oldest generation walks all of them
(~280,000 objects, 30-80 ms on the benchmark machine), a pause that landed on about one request in a
hundred: the one-connection p99 tail of benchmarks/NOTES.md. Objects created later are collected as usual.

A streamed response tells gunicorn the worker is alive while it makes progress (core.heartbeat).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

from core.heartbeat import HeartbeatMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = HeartbeatMiddleware(get_wsgi_application())


def _freeze_start_up_heap() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module now, not on a first request
    gc.collect()  # the start-up garbage goes first, so that none of it is kept for ever
    gc.freeze()


_freeze_start_up_heap()
