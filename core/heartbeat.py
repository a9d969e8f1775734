"""A streamed response keeps its gunicorn worker alive while it makes progress.

gunicorn's sync worker tells the arbiter it is alive between requests only; a worker silent for longer
than GUNICORN_TIMEOUT (30 s) is killed. That is the right fate for a stuck request, but it also killed a
bulk snapshot of a large public record in mid-file (the incident snapshot streams ~25,000 rows a second,
so ~750,000 public rows take longer than 30 s). `HeartbeatMiddleware` wraps the WSGI application: each
chunk of a streamed response that has been handed to the server counts as progress and, at most once a
second, tells the arbiter so. A stream that stops producing (a stuck query) or a client that stops
reading (its socket write blocks) beats no more, and the worker is killed as before.

deploy/gunicorn.conf.py registers the worker's `notify` after the worker has loaded the application
(`post_worker_init`); without a registered beat (runserver, tests, another server) the middleware passes
responses through untouched. Files sent with the server's file wrapper (sendfile) are not wrapped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

BEAT_INTERVAL_SECONDS = 1.0

_beat: Callable[[], None] | None = None


def register(beat: Callable[[], None] | None) -> None:
    """Set (or, with None, clear) what tells the server this worker is alive."""
    global _beat
    _beat = beat


class _Beating:
    """The response iterable, beating as its chunks go out; `close` reaches the original (PEP 3333)."""

    def __init__(self, chunks: Iterable[bytes], beat: Callable[[], None]) -> None:
        self._chunks = chunks
        self._beat = beat

    def __iter__(self) -> Iterator[bytes]:
        last = time.monotonic()
        for chunk in self._chunks:
            yield chunk  # returns here once the server has written it
            now = time.monotonic()
            if now - last >= BEAT_INTERVAL_SECONDS:
                self._beat()
                last = now

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class HeartbeatMiddleware:
    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        result = self.app(environ, start_response)
        beat = _beat
        if beat is None or not getattr(result, "streaming", False):
            return result  # a plain response is one chunk; a file wrapper is the server's to send
        return _Beating(result, beat)
