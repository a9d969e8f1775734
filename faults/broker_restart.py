"""Scenario D: RabbitMQ and Redis restarted under load: nothing lost.

The production shape on private servers: gunicorn (sync workers, config.settings.production) with its
broker on a private RabbitMQ node and its cache (rate-limit counts) on a private Redis; a Celery worker;
a beat on a short schedule (the outbox sweeper and the delivery retry sweep); a webhook receiver with one
endpoint subscribed to the lab's reports. Submitters file reports over HTTP with retries under one
Idempotency-Key while the broker is stopped and started again (the node keeps its data folder, so
queued messages survive; what is published while it is down never reaches it), then Redis likewise
(the rate-limit counts are lost; the requests must not fail).

The outbox is what must make this safe: a report committed while the broker is down has its
`incident.submitted` event in the database; the hand-over fails (logged, not an error for the client)
and the sweeper dispatches it once the broker is back.

Bars: every acknowledged report notified exactly once (distinct webhook-ids == reports), none lost, no
outbox event left undispatched, zero 5xx, nothing lost or duplicated in the database.

    python -m faults.broker_restart            # full: ~3 minutes, each restarted three times
    python -m faults.broker_restart --smoke    # CI: ~45 s, each restarted once
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import threading
import time
from collections import Counter
from typing import Any

from faults.harness import (
    ClientStats,
    Ledger,
    Receiver,
    Report,
    django_setup,
    log,
    stack,
    start_beat,
    start_submitters,
    wait_until,
)


def run(*, submitters: int, cycles: int, gap: float, down: float, mode: str, json_path: str | None) -> int:
    with stack("broker-restart") as st:
        st.database()
        redis = st.start_redis()
        rabbit = st.start_rabbit()
        django_setup(st.local_env())
        from standardwebhooks.webhooks import Webhook

        from coordination.models import Delivery
        from coordination.services import webhook_endpoint_create
        from coordination.tasks import retry_due_deliveries
        from core.models import OutboxEvent
        from core.tasks import sweep_outbox
        from faults import seed

        receiver = Receiver().start()
        [lab] = seed.seed_labs(labs=1, keys_per_lab=submitters)
        _, secret = webhook_endpoint_create(
            actor=seed.org_admin(lab.org), url=receiver.url("/hook"), subscriptions=["own_reports"]
        )
        receiver.verify["/hook"] = Webhook(secret)
        _, base = st.gunicorn(workers=3)
        worker = st.worker(0)
        st.wait_consuming()  # the restarts must find it consuming, with tasks in flight
        url = f"{base}/api/v1/incidents/"

        stats = ClientStats()
        ledger = Ledger()
        acknowledged, problems = ledger.acknowledged, ledger.problems
        stop = threading.Event()
        beat_stop = threading.Event()
        body = functools.partial(seed.incident_body, lab.model_public_id)
        threads = start_submitters(
            [(key, body) for key in lab.keys[:submitters]],
            url=url,
            prefix="b",
            stats=stats,
            ledger=ledger,
            stop=stop,
            pause=0.1,
        )
        start_beat(beat_stop, sweep_outbox, retry_due_deliveries)  # celery beat's two sweeps
        outages: list[dict[str, Any]] = []
        started = time.monotonic()
        for _ in range(cycles):
            for name, server in (("RabbitMQ", rabbit), ("Redis", redis)):
                time.sleep(gap)
                t0 = time.monotonic()
                server.stop()
                time.sleep(down)
                server.start()
                outages.append({"server": name.lower(), "down_s": round(time.monotonic() - t0, 1)})
                log(f"{name} restarted (down {outages[-1]['down_s']}s)")
        time.sleep(gap)
        stop.set()
        for thread in threads:
            thread.join(timeout=150)
        load_s = time.monotonic() - started

        def distinct() -> int:
            count = len({wid for _, wid, _ in receiver.snapshot()})
            if int(time.monotonic()) % 5 == 0:
                log(f"notified {count} of {len(acknowledged)}")
            return count

        with contextlib.suppress(TimeoutError):
            wait_until(
                lambda: distinct() >= len(acknowledged), timeout=90, what="every notification", every=1
            )
        settle_s = time.monotonic() - started - load_s
        beat_stop.set()
        received = receiver.snapshot()
        receiver.close()
        worker_alive = worker.alive

        db = seed.audit_writes(acknowledged, [lab.org])
        first_seen: dict[str, str] = {}
        for _, wid, payload in received:
            first_seen.setdefault(wid, str(payload.get("data", {}).get("public_id")))
        notified = Counter(first_seen.values())
        told = set(acknowledged.values())
        missing = sorted(told - set(notified))
        twice = sorted(pid for pid, n in notified.items() if n > 1)
        undispatched = OutboxEvent.objects.filter(dispatched_at__isnull=True).count()
        statuses = Counter(Delivery.objects.values_list("status", flat=True))
        fives = sum(n for s, n in stats.statuses.items() if s.isdigit() and int(s) >= 500)
        web_log = st.processes[0].log_text()

        report = Report("broker_restart", mode)
        report.figures.update(
            {
                "submitters": submitters,
                "restarts": outages,
                "load_s": round(load_s, 1),
                "settle_s": round(settle_s, 1),
                "requests": stats.requests,
                "status_counts": dict(sorted(stats.statuses.items())),
                "acknowledged": len(acknowledged),
                "incidents_in_db": db.incidents,
                "notified_distinct": len(notified),
                "requests_received": len(received),
                "raw_duplicates": len(received) - len(first_seen),
                "lost_notifications": len(missing),
                "duplicated_notifications": len(twice),
                "lost": len(db.lost),
                "duplicated": len(db.duplicated) + len(db.extra_revisions),
                "5xx": fives,
                "handovers_failed_during_outage": web_log.count("the sweeper will retry"),
                "undispatched_outbox_events": undispatched,
                "delivery_status": dict(statuses),
            }
        )
        report.bar("every report notified exactly once", not missing and not twice, (missing + twice)[:5])
        report.bar("no outbox event left undispatched", undispatched == 0, undispatched)
        report.bar("zero 5xx", fives == 0 and not stats.bad_5xx, stats.bad_5xx[:3])
        report.bar("zero lost", not db.lost and not db.receipt_mismatch, db.lost[:5])
        report.bar("zero duplicated", not db.duplicated and not db.extra_revisions, db.duplicated[:5])
        report.bar("no partial writes", not db.partial, db.partial[:5])
        report.bar("no submitter gave up", not problems, problems[:3])
        report.bar("every signature valid", receiver.bad_signatures == 0)
        report.bar("the worker survived the broker restarts (reconnected)", worker_alive)
        return report.emit(json_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="the short CI version (each restarted once)")
    parser.add_argument("--submitters", type=int, default=None, help="default 3 (smoke), 6 (full)")
    parser.add_argument("--json", default=None)
    args: Any = parser.parse_args(argv)
    cycles, gap = (1, 6.0) if args.smoke else (3, 20.0)
    return run(
        submitters=args.submitters or (3 if args.smoke else 6),
        cycles=cycles,
        gap=gap,
        down=4.0,
        mode="smoke" if args.smoke else "full",
        json_path=args.json,
    )


if __name__ == "__main__":
    raise SystemExit(main())
