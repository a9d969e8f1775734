"""A streamed response keeps its gunicorn sync worker alive while it makes progress (core.heartbeat,
registered by deploy/gunicorn.conf.py), where the same stream without the middleware is killed by the
worker timeout in mid-response."""

from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path

import pytest

from core import heartbeat
from tests.deploy import streaming_app
from tests.deploy.gunicorn_support import free_port, start_gunicorn

TIMEOUT_SECONDS = 2  # the stream lasts CHUNKS x STEP = 6 s, three times this


def _stream_through_gunicorn(app: str, tmp_path: Path) -> tuple[list[bytes], str]:
    port = free_port()
    log = tmp_path / f"{app.rsplit(':', 1)[1]}.log"
    with log.open("wb") as out:
        proc = start_gunicorn(
            app, port, out, GUNICORN_TIMEOUT=str(TIMEOUT_SECONDS), PROMETHEUS_MULTIPROC_DIR=""
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
            time.sleep(0.5)  # the worker has booted and run post_worker_init
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/")
            response = connection.getresponse()
            assert response.status == 200
            try:
                body = response.read()
            except http.client.IncompleteRead as cut:
                body = cut.partial
            connection.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return body.splitlines(), log.read_text()


def test_a_stream_that_keeps_producing_outlives_the_worker_timeout(tmp_path):
    lines, _ = _stream_through_gunicorn("tests.deploy.streaming_app:beating", tmp_path)
    assert lines == [str(n).encode() for n in range(streaming_app.CHUNKS)]


def test_without_the_heartbeat_the_same_stream_is_cut_off_by_the_timeout(tmp_path):
    lines, log = _stream_through_gunicorn("tests.deploy.streaming_app:silent", tmp_path)
    assert len(lines) < streaming_app.CHUNKS, lines
    assert "WORKER TIMEOUT" in log, log


class _Chunks:
    streaming = True

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self):
        yield from (b"a", b"b", b"c")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def beats(monkeypatch):
    calls: list[float] = []
    monkeypatch.setattr(heartbeat, "BEAT_INTERVAL_SECONDS", 0.0)
    heartbeat.register(lambda: calls.append(time.monotonic()))
    yield calls
    heartbeat.register(None)


def test_the_middleware_beats_per_chunk_and_closes_the_original(beats):
    chunks = _Chunks()
    wrapped = heartbeat.HeartbeatMiddleware(lambda environ, start_response: chunks)({}, None)
    assert list(wrapped) == [b"a", b"b", b"c"]
    assert len(beats) == 3
    wrapped.close()
    assert chunks.closed


def test_plain_responses_and_unregistered_servers_pass_through(beats):
    plain = [b"whole body"]
    assert heartbeat.HeartbeatMiddleware(lambda environ, start_response: plain)({}, None) is plain
    heartbeat.register(None)
    chunks = _Chunks()
    assert heartbeat.HeartbeatMiddleware(lambda environ, start_response: chunks)({}, None) is chunks
    assert beats == []


def test_the_middleware_tells_django_streams_from_plain_responses_as_the_wsgi_handler_returns_them(beats):
    from django.http import HttpResponse, StreamingHttpResponse

    streamed = StreamingHttpResponse(iter([b"x", b"y"]))
    plain = HttpResponse(b"whole")
    assert isinstance(heartbeat.HeartbeatMiddleware(lambda e, s: streamed)({}, None), heartbeat._Beating)
    assert heartbeat.HeartbeatMiddleware(lambda e, s: plain)({}, None) is plain
