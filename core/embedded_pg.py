"""The embedded PostgreSQL used when DATABASE_URL is unset (local runs and tests on a bare machine).

The server comes from the `pgserver` wheel, keeps its data in a git-ignored folder and stays up after the
process that started it exits, so a second `make run` reuses the data. Production never imports this.
"""

from __future__ import annotations

import fcntl
import logging
import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".pgdata"


def embedded_database_url(data_dir: Path | None = None) -> str:
    """Start (or reuse) the embedded server and return a libpq URL for its `redline` database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs complains about XDG_RUNTIME_DIR on bare machines
        import pgserver  # imported lazily: only local settings need it
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    data_dir = Path(os.environ.get("REDLINE_PGDATA", data_dir or DEFAULT_DATA_DIR)).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir.parent / f".{data_dir.name}.lock"
    # Several processes (pytest-xdist workers, runserver's reloader) may start at once: one initdb only.
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server = pgserver.get_server(data_dir, cleanup_mode=None)
        exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'redline';")
        if "(1 row)" not in exists:
            server.psql("CREATE DATABASE redline;")
        uri: str = server.get_uri("redline")
    # pgserver answers postgresql://postgres:@/redline?host=<socket dir>; DATABASE_URL parsers want the
    # socket directory percent-encoded in the host part.
    parsed = urlsplit(uri)
    socket_dir = parse_qs(parsed.query).get("host", [str(data_dir)])[0]
    return f"postgres://postgres@{quote(socket_dir, safe='')}/redline"
