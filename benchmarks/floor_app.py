"""The raw floors: the same SQL as the service, without the framework.

`application` is a tiny WSGI app served by the same gunicorn as the service (benchmarks.run):

- GET  /list    runs the statements the service sent for the triage list (captured by benchmarks.capture),
                and answers the rows as JSON;
- POST /submit  parses the JSON body and replays the statements of a captured submission, every new row
                with fresh ids (uuids, public id, external id, Idempotency-Key), in one transaction.

`python -m benchmarks.floor_app --capture FILE --seconds N` is the second floor: the list statements
through psycopg in a loop, no HTTP at all (prints requests/s as JSON).

Configured by BENCH_CAPTURE (the capture file) and DATABASE_URL.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

_UUID = re.compile(
    r"(?<![0-9a-f])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})(?![0-9a-f])"
)
_counter = itertools.count(1)
_state: dict[str, Any] = {}


def _capture() -> dict[str, Any]:
    if "capture" not in _state:
        with open(os.environ["BENCH_CAPTURE"]) as handle:  # noqa: PTH123
            capture = json.load(handle)
        capture["keep"] = set(capture["keep_uuids"])
        _state["capture"] = capture
    captured: dict[str, Any] = _state["capture"]
    return captured


def _connection() -> psycopg.Connection[Any]:
    conn: psycopg.Connection[Any] | None = _state.get("conn")
    if conn is None or conn.closed:
        url = os.environ["DATABASE_URL"]
        conn = psycopg.connect(url, autocommit=True)
        _state["conn"] = conn
    return conn


def run_list(conn: psycopg.Connection[Any], statements: Iterable[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement.encode())
            if cur.description is not None:
                names = [column.name for column in cur.description]
                rows.extend(dict(zip(names, row, strict=True)) for row in cur.fetchall())
    return rows


def fresh_submission(capture: dict[str, Any]) -> list[str]:
    """The captured submission's statements with new ids for everything it created."""
    number = next(_counter)
    unique = f"{os.getpid()}-{number}-{uuid.uuid4().hex[:8]}"
    mapping: dict[str, str] = {}
    keep = capture["keep"]

    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        plain = text.replace("-", "")
        if plain in keep:
            return text
        if plain not in mapping:
            mapping[plain] = uuid.uuid4().hex
        new = mapping[plain]
        return str(uuid.UUID(new)) if "-" in text else new

    tokens = capture["submit_tokens"]
    out = []
    for statement in capture["submit_sql"]:
        text = statement.replace(capture["submit_public_id"], f"SRI-F-{unique}")
        text = text.replace(tokens["external_id"], f"FLOOR-{unique}")
        text = text.replace(tokens["idempotency_key"], f"floor-{unique}")
        out.append(_UUID.sub(swap, text))
    return out


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    capture = _capture()
    conn = _connection()
    path = environ.get("PATH_INFO", "")
    if path == "/list":
        body = json.dumps({"results": run_list(conn, capture["list_sql"])}, default=str).encode()
        status = "200 OK"
    elif path == "/submit" and environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        document = json.loads(environ["wsgi.input"].read(length) or b"{}")
        try:
            run_list(conn, fresh_submission(capture))
        except psycopg.Error:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            raise
        body = json.dumps({"created": True, "title": document.get("title", "")}).encode()
        status = "201 Created"
    else:
        body, status = b"{}", "404 Not Found"
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--capture", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    os.environ["BENCH_CAPTURE"] = args.capture
    capture = _capture()
    conn = _connection()
    done, latencies = 0, []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        json.dumps({"results": run_list(conn, capture["list_sql"])}, default=str)
        latencies.append(time.perf_counter() - started)
        done += 1
    json.dump({"rps": done / sum(latencies), "requests": done}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
