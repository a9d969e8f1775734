"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request, verifies nothing itself
(the tests do), and can be told to answer with a status, a redirect, a huge body, or to block."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Sink:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    response_body: bytes = b"ok"
    headers_out: dict[str, str] = field(default_factory=dict)
    block: threading.Event | None = None  # when set to an Event, requests wait on it before answering
    arrived: threading.Event = field(default_factory=threading.Event)
    sleep: float = 0.0

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def close(self) -> None:
        if self.block is not None:
            self.block.set()
        self.server.shutdown()
        self.server.server_close()


def start_sink(on_request: Any = None) -> Sink:
    sink: Sink

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            sink.requests.append(received)
            status = on_request(received) if on_request is not None else None
            sink.arrived.set()
            if sink.block is not None:
                sink.block.wait(30)
            if sink.sleep:
                import time

                time.sleep(sink.sleep)
            self.send_response(status or sink.status)
            for name, value in sink.headers_out.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(sink.response_body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender may be gone (killed, timed out)
                self.wfile.write(sink.response_body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink = Sink(server=server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return sink
