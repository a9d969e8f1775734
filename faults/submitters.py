"""Scenario A: 50 concurrent submitters with client timeouts and retries under one Idempotency-Key.

gunicorn (sync workers, config.settings.production) on a private PostgreSQL and Redis. Each of the
clients (lab pipelines, one API key each, spread over five labs) files reports back to back; a client
gives every POST a short timeout, so under load many requests are abandoned while the server still works
on them, and the client retries the same body under the same Idempotency-Key until it gets a 201 — the
retry meets the request in flight (409), or the stored receipt (a replay). One submission in ten also
re-sends after its 201 (a response lost on the way back) and must get the same receipt.

Bars: zero lost (every 201 is in the database, with the public id the receipt named), zero duplicated
(one incident and one revision per external_id, one idempotency record per incident), zero 5xx, every
replay identical to the first receipt.

    python -m faults.submitters            # full: 50 clients, 180 s
    python -m faults.submitters --smoke    # CI: 50 clients, 30 s
"""

from __future__ import annotations

import argparse
import random
import threading
import time
import uuid
from typing import Any

import requests

from faults.harness import ClientStats, Report, django_setup, log, post_until_acknowledged, stack


def run(
    *, clients: int, duration: float, timeout: float, web_workers: int, mode: str, json_path: str | None
) -> int:
    with stack("submitters") as st:
        st.database()
        st.start_redis()
        django_setup(st.local_env())
        from faults import seed

        labs = seed.seed_labs(labs=5, keys_per_lab=max(1, clients // 5 + (clients % 5 > 0)))
        pipelines = [(lab, key) for lab in labs for key in lab.keys][:clients]
        _, base = st.gunicorn(workers=web_workers)
        url = f"{base}/api/v1/incidents/"
        log(f"{clients} clients against gunicorn ({web_workers} sync workers) at {url} for {duration:.0f}s")

        stats = ClientStats()
        acknowledged: dict[str, str] = {}
        replay_mismatches: list[str] = []
        gave_up: list[str] = []
        rejected: list[str] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + duration
        counts = {"submissions": 0, "lost_response_replays": 0}

        def client(index: int) -> None:
            lab, key = pipelines[index]
            rng = random.Random(index)  # noqa: S311 - load shape, not security
            session = requests.Session()
            # A TLS-terminating proxy in front of gunicorn says https (production redirects plain http).
            headers = {"Authorization": f"Api-Key {key}", "X-Forwarded-Proto": "https"}
            n = 0
            while time.monotonic() < stop_at:
                n += 1
                external_id = f"c{index}-{n}-{uuid.uuid4().hex[:8]}"
                idem_key = f"faults-{uuid.uuid4()}"
                body = seed.incident_body(lab.model_public_id, external_id)
                outcome = post_until_acknowledged(
                    session,
                    url,
                    body,
                    key=idem_key,
                    headers=headers,
                    stats=stats,
                    timeout=timeout,
                    give_up_at=stop_at + 60,
                )
                with lock:
                    counts["submissions"] += 1
                if outcome.status == 0:
                    with lock:
                        gave_up.append(external_id)
                    continue
                if outcome.status != 201 or outcome.receipt is None:
                    with lock:
                        rejected.append(f"{external_id}: {outcome.status} {outcome.receipt}")
                    continue
                receipt = {k: v for k, v in outcome.receipt.items() if k != "_replayed"}
                with lock:
                    acknowledged[external_id] = str(receipt.get("public_id"))
                if rng.random() < 0.1:  # the response was lost on the way back: send it again
                    again = post_until_acknowledged(
                        session,
                        url,
                        body,
                        key=idem_key,
                        headers=headers,
                        stats=stats,
                        timeout=timeout * 4,
                        give_up_at=time.monotonic() + 60,
                    )
                    replayed = {k: v for k, v in (again.receipt or {}).items() if k != "_replayed"}
                    with lock:
                        counts["lost_response_replays"] += 1
                        if (
                            again.status != 201
                            or replayed != receipt
                            or (again.receipt or {}).get("_replayed") != "true"
                        ):
                            replay_mismatches.append(external_id)

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=duration + 180)
        elapsed = time.monotonic() - started
        db = seed.audit_writes(acknowledged, [lab.org for lab in labs])
        gunicorn_log = "\n".join(p.log_text() for p in st.processes)

        report = Report("submitters", mode)
        fives = sum(n for status, n in stats.statuses.items() if status.isdigit() and int(status) >= 500)
        report.figures.update(
            {
                "clients": clients,
                "duration_s": round(elapsed, 1),
                "client_timeout_s": timeout,
                "web_workers": web_workers,
                "requests": stats.requests,
                "submissions": counts["submissions"],
                "acknowledged": len(acknowledged),
                "acknowledged_per_s": round(len(acknowledged) / elapsed, 1),
                "status_counts": dict(sorted(stats.statuses.items())),
                "retries": stats.requests - counts["submissions"] - counts["lost_response_replays"],
                "lost_response_replays": counts["lost_response_replays"],
                "incidents_in_db": db.incidents,
                "lost": len(db.lost),
                "duplicated": len(db.duplicated) + len(db.extra_revisions),
                "5xx": fives,
                "gunicorn_worker_timeouts": gunicorn_log.count("WORKER TIMEOUT"),
            }
        )
        report.bar(
            "zero lost", not db.lost and not db.receipt_mismatch, db.lost[:5] + db.receipt_mismatch[:5]
        )
        report.bar("zero duplicated", not db.duplicated and not db.extra_revisions, db.duplicated[:5])
        report.bar("zero 5xx", fives == 0 and not stats.bad_5xx, stats.bad_5xx[:3])
        report.bar("every replay is the first receipt", not replay_mismatches, replay_mismatches[:5])
        report.bar("writes complete (revision, audit event, outbox event)", not db.partial, db.partial[:5])
        report.bar(
            "one idempotency record per incident",
            not db.idempotency_inconsistent and db.idempotency_records == db.incidents,
            f"{db.idempotency_records} records / {db.incidents} incidents {db.idempotency_inconsistent[:5]}",
        )
        report.bar("nothing filed that no client was told of", not db.unacknowledged, db.unacknowledged[:5])
        report.bar("no client gave up or was refused", not gave_up and not rejected, (gave_up + rejected)[:3])
        report.bar("load actually ran", len(acknowledged) >= clients, len(acknowledged))
        return report.emit(json_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="the short CI version (30 s)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--timeout", type=float, default=1.0, help="client-side timeout per POST (s)")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args: Any = parser.parse_args(argv)
    duration = args.duration or (30.0 if args.smoke else 180.0)
    return run(
        clients=args.clients,
        duration=duration,
        timeout=args.timeout,
        web_workers=args.web_workers,
        mode="smoke" if args.smoke else "full",
        json_path=args.json,
    )


if __name__ == "__main__":
    raise SystemExit(main())
