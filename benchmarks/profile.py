"""A pyinstrument profile of the request behind one scenario, in-process on the run's clone (production
settings), for RESULTS.md when a target is missed: `python -m benchmarks.profile <target id>`.

Reads BENCH_CAPTURE (benchmarks.capture's file) for the URLs, the session and the submission body."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import django

REPEAT = 20


def _walk(frame: Any) -> Iterator[Any]:
    yield frame
    for child in frame.children:
        yield from _walk(child)


def _area(path: str) -> str:
    """`django/db`, `rest_framework`, `incidents/api`: the first two parts of a short path."""
    parts = path.replace("\\", "/").split("/")
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    return "/".join(parts[:2]) if len(parts) > 1 else (parts[0] or "?")


def _areas(root: Any) -> Counter[str]:
    totals: Counter[str] = Counter()
    for frame in _walk(root):
        own = frame.time - sum(child.time for child in frame.children)
        totals[_area(frame.file_path_short or frame.file_path or "")] += max(own, 0.0)
    return totals


def _app_calls(root: Any) -> Counter[str]:
    """Cumulative time of project functions (outermost occurrence on each path only)."""
    totals: Counter[str] = Counter()

    def visit(frame: Any, seen: frozenset[str]) -> None:
        label = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
        path = frame.file_path or ""
        # The middleware chain and this script wrap everything: not informative.
        project = frame.is_application_code and ".venv" not in path and "benchmarks/" not in path
        project = project and not (frame.function == "__call__" and "middleware" in path)
        if project and label not in seen:
            totals[label] += frame.time
            seen = seen | {label}
        for child in frame.children:
            visit(child, seen)

    visit(root, frozenset())
    return totals


def main() -> None:
    target = sys.argv[1]
    django.setup()
    from django.db import connection
    from django.test import Client
    from pyinstrument import Profiler

    with open(os.environ["BENCH_CAPTURE"]) as handle:  # noqa: PTH123
        cap = json.load(handle)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, value FROM bench_marker")
        marker = dict(cursor.fetchall())
    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
    reviewer = {"HTTP_AUTHORIZATION": f"Api-Key {marker['reviewer_key']}"}
    lab = {"HTTP_AUTHORIZATION": f"Api-Key {marker['lab_key']}"}

    def submit() -> None:
        token = uuid.uuid4().hex[:12]
        body = json.dumps(cap["submission_body"]).replace("__UNIQUE__", token)
        client.post("/api/v1/incidents/", body, content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY=f"profile-{token}", **lab)  # fmt: skip

    import tempfile
    from pathlib import Path

    from benchmarks.import_bench import _files, run_import
    from registry.models import FrontierModel

    model = FrontierModel.objects.get(public_id=marker["import_model"])
    tmp = Path(tempfile.mkdtemp(prefix="redline-bench-profile-"))
    nonce = uuid.uuid4().int % 10**6
    # Written before the profiler starts (the warm-up call and the profiled one each take a fresh set).
    file_sets = (
        [_files(tmp, model.name, 1000, 1000 + nonce + n) for n in range(2)] if target == "bulk_import" else []
    )

    def bulk_import() -> None:
        files = file_sets.pop(0)
        run_import(files, org=marker["import_org"], model_ref=model.public_id)

    requests = {
        "bulk_import": bulk_import,
        "submit_throughput": submit,
        "submit_p99": submit,
        "list_throughput": lambda: client.get("/api/v1/incidents/", **reviewer),
        "list_p99": lambda: client.get("/api/v1/incidents/", **reviewer),
        "deep_page": lambda: client.get(cap["deep_url"], **reviewer),
        "search_selective_p99": lambda: client.get(cap["search_rare_url"], **reviewer),
        "search_broad_p99": lambda: client.get(cap["search_common_url"], **reviewer),
        "web_triage_p95": lambda: client.get("/triage/", HTTP_COOKIE=cap["session_cookie"]),
        "snapshot_export": lambda: b"".join(
            client.get("/api/v1/snapshots/incidents.jsonl").streaming_content
        ),
        "stix_export": lambda: client.get("/api/v1/incidents/stix?limit=200", **reviewer),
    }
    if target not in requests:
        print(f"(no request profile for {target}: see the scenario's own description)")
        return
    requests[target]()  # warm
    repeat = 1 if target in ("snapshot_export", "bulk_import") else REPEAT
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(repeat):
        requests[target]()
    profiler.stop()
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    print(f"{repeat} request(s) of {target}, {root.time:.3f} s sampled")
    print(f"Where the time goes (self time by package area, share of {root.time:.3f} s):")
    for area, seconds in _areas(root).most_common(12):
        print(f"  {seconds / root.time:6.1%}  {area}")
    print("Application code (cumulative time, the slowest calls):")
    for label, seconds in _app_calls(root).most_common(15):
        print(f"  {seconds / root.time:6.1%}  {label}")


if __name__ == "__main__":
    main()
