"""Two WSGI apps for tests/deploy/test_stream_heartbeat.py, served by gunicorn with deploy/gunicorn.conf.py:
the same slow stream (a chunk every STEP seconds, for longer than the worker timeout the test sets),
with core.heartbeat's middleware (`beating`) and without it (`silent`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from core.heartbeat import HeartbeatMiddleware

STEP = float(os.environ.get("STREAM_STEP_SECONDS", "0.25"))
CHUNKS = int(os.environ.get("STREAM_CHUNKS", "24"))


class _Stream:
    streaming = True  # as Django's StreamingHttpResponse

    def __iter__(self) -> Iterator[bytes]:
        for number in range(CHUNKS):
            time.sleep(STEP)
            yield f"{number}\n".encode()


def silent(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _Stream()


beating = HeartbeatMiddleware(silent)
