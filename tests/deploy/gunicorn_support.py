"""Starting our gunicorn (deploy/gunicorn.conf.py) on a free loopback port, for the deploy tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(app: str, port: int, out: IO[bytes], **environment: str) -> subprocess.Popen[bytes]:
    """`gunicorn -c deploy/gunicorn.conf.py <app>` with one worker on 127.0.0.1:<port> and the test
    settings; `environment` adds or overrides variables."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PORT": str(port),
        "GUNICORN_BIND_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "PYTHONPATH": str(ROOT),
        **environment,
    }
    return subprocess.Popen(  # noqa: S603 - our own gunicorn
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py", app],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
