"""Scenario B: Celery workers killed with SIGKILL again and again during a burst of 1,000 notifications.

A private PostgreSQL and a private RabbitMQ node; two Celery workers (threads pool) kept alive by a
supervisor, as an orchestrator would restart a dead container; a webhook receiver on 127.0.0.1 that
verifies each Standard Webhooks signature and records its `webhook-id`. A lab with ten subscribed
endpoints files reports through the service (each commit emits `incident.submitted` to the outbox and
queues its dispatch on RabbitMQ): reports x endpoints = the notifications. While they are dispatched and
delivered, a killer SIGKILLs a random worker (its whole process group) every few seconds. A beat on a
short schedule runs the outbox sweeper and the delivery retry sweep, as `celery beat` does.

Bars: every notification delivered exactly once, deduplicated by webhook-id (distinct ids received ==
notifications, one per (endpoint, report)); none lost; every Delivery row delivered; every signature
valid. Raw duplicates (the same webhook-id sent again after a kill: at least once on the wire) are
reported separately.

    python -m faults.worker_kill            # full: 1,000 notifications (100 reports x 10 endpoints)
    python -m faults.worker_kill --smoke    # CI: 200 notifications (20 x 10)
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import threading
import time
from collections import Counter
from typing import Any

from faults.harness import Process, Receiver, Report, django_setup, log, stack, start_beat, wait_until

ENDPOINTS = 10


def run(
    *,
    reports: int,
    workers: int,
    kill_every: tuple[float, float],
    deadline_s: float,
    mode: str,
    json_path: str | None,
) -> int:
    with stack("worker-kill") as st:
        st.database()
        st.start_rabbit()
        django_setup(st.local_env())
        from standardwebhooks.webhooks import Webhook

        from accounts.models import ROLE_SCOPES, Role
        from coordination.models import Delivery, DeliveryAttempt
        from coordination.services import webhook_endpoint_create
        from coordination.tasks import retry_due_deliveries
        from core.actors import Principal
        from core.models import OutboxEvent
        from core.tasks import sweep_outbox
        from faults import seed
        from incidents import services as incident_services

        receiver = Receiver(delay=0.25).start()  # a wide window for a kill mid-POST
        [lab] = seed.seed_labs(labs=1, keys_per_lab=0)
        admin = seed.org_admin(lab.org)
        for index in range(ENDPOINTS):
            path = f"/hook/{index}"
            _, secret = webhook_endpoint_create(
                actor=admin, url=receiver.url(path), subscriptions=["own_reports"]
            )
            receiver.verify[path] = Webhook(secret)
        submitter = Principal(
            kind="system",
            label="faults-pipeline",
            org_id=lab.org.pk,
            org_short_name=lab.org.short_name,
            org_kind=lab.org.kind,
            role=Role.LAB_SUBMITTER,
            scopes=ROLE_SCOPES[Role.LAB_SUBMITTER],
        )
        expected = reports * ENDPOINTS

        pool: dict[int, Process] = {}
        kills = 0
        starts = 0
        stop = threading.Event()
        killing = threading.Event()
        killing.set()
        pool_lock = threading.Lock()

        def supervise() -> None:
            nonlocal starts
            while not stop.is_set():
                with pool_lock:
                    for index in range(workers):
                        if index not in pool or not pool[index].alive:
                            pool[index] = st.worker(index)
                            starts += 1
                time.sleep(0.5)

        def killer() -> None:
            nonlocal kills
            rng = random.Random(7)  # noqa: S311 - fault timing, not security
            while not stop.is_set() and killing.is_set():
                time.sleep(rng.uniform(*kill_every))
                if not killing.is_set():
                    break
                with pool_lock:
                    alive = [p for p in pool.values() if p.alive]
                    if alive:
                        victim = rng.choice(alive)
                        victim.signal_group(signal.SIGKILL)
                        kills += 1

        threading.Thread(target=supervise, daemon=True).start()
        wait_until(
            lambda: any("ready" in p.log_text() or p.alive for p in pool.values()), timeout=30, what="workers"
        )
        threading.Thread(target=killer, daemon=True).start()
        start_beat(stop, sweep_outbox, retry_due_deliveries)  # celery beat's two sweeps

        started = time.monotonic()
        log(f"burst: {reports} reports x {ENDPOINTS} endpoints = {expected} notifications; killing workers")
        for n in range(reports):
            incident_services.incident_submit(
                actor=submitter,
                data={
                    "record_class": "real_world_incident",
                    "title": f"Burst report {n}",
                    "description": "An agent copied its weights to a rented host.",
                    "submitter_capacity": "provider",
                    "instruction_provenance": "uninstructed",
                    "countries": ["FR"],
                    "tlp": "green",
                    "external_id": f"burst-{n}",
                },
                links=incident_services.Links(
                    models=[incident_services.InvolvedModel(role="originating", model_name="in-house")]
                ),
            )
        burst_s = time.monotonic() - started

        def distinct() -> int:
            return len({wid for _, wid, _ in receiver.snapshot()})

        # Keep killing until most of the work is done, then let the last of it settle.
        with contextlib.suppress(TimeoutError):
            wait_until(
                lambda: distinct() >= expected * 0.9, timeout=deadline_s * 0.7, what="90% delivered", every=1
            )
        killing.clear()
        with contextlib.suppress(TimeoutError):
            wait_until(
                lambda: (
                    distinct() >= expected and Delivery.objects.filter(status="delivered").count() >= expected
                ),
                timeout=max(30.0, deadline_s - (time.monotonic() - started)),
                what="every notification delivered",
                every=1,
            )
        elapsed = time.monotonic() - started
        stop.set()
        received = receiver.snapshot()
        receiver.close()

        deliveries = {f"msg_{d['id'].hex}": d for d in Delivery.objects.values("id", "status", "attempts")}
        ids = Counter(wid for _, wid, _ in received)
        first_seen: dict[str, tuple[str, str]] = {}
        for path, wid, payload in received:
            first_seen.setdefault(wid, (path, str(payload.get("data", {}).get("public_id"))))
        pairs = Counter(first_seen.values())  # (endpoint, report) -> distinct webhook-ids
        unexpected = sorted(set(ids) - set(deliveries))
        statuses = Counter(d["status"] for d in deliveries.values())
        undispatched = OutboxEvent.objects.filter(dispatched_at__isnull=True).count()
        duplicated_pairs = sum(1 for n in pairs.values() if n > 1)

        report = Report("worker_kill", mode)
        report.figures.update(
            {
                "notifications_expected": expected,
                "reports": reports,
                "endpoints": ENDPOINTS,
                "workers": workers,
                "sigkills": kills,
                "worker_starts": starts,
                "burst_s": round(burst_s, 1),
                "elapsed_s": round(elapsed, 1),
                "delivery_rows": len(deliveries),
                "delivery_status": dict(statuses),
                "attempts_recorded": DeliveryAttempt.objects.count(),
                "requests_received": len(received),
                "distinct_webhook_ids": len(ids),
                "raw_duplicates": len(received) - len(ids),
                "lost": max(0, expected - len(ids)),
                "duplicated_after_dedup": duplicated_pairs,
                "undispatched_outbox_events": undispatched,
                "bad_signatures": receiver.bad_signatures,
            }
        )
        report.bar("distinct webhook-ids == notifications", len(ids) == expected, f"{len(ids)} / {expected}")
        report.bar("one webhook-id per (endpoint, report)", len(pairs) == expected and duplicated_pairs == 0)
        report.bar(
            "one delivery row per notification, all delivered",
            statuses.get("delivered", 0) == expected == len(deliveries),
            dict(statuses),
        )
        report.bar("no unknown webhook-id", not unexpected, unexpected[:3])
        report.bar("every signature valid", receiver.bad_signatures == 0)
        report.bar("outbox drained", undispatched == 0, undispatched)
        report.bar("workers were killed during the burst", kills >= 3, kills)
        return report.emit(json_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="the short CI version (200 notifications)")
    parser.add_argument("--notifications", type=int, default=None, help="a multiple of 10")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", default=None)
    args: Any = parser.parse_args(argv)
    notifications = args.notifications or (200 if args.smoke else 1000)
    return run(
        reports=max(1, notifications // ENDPOINTS),
        workers=args.workers,
        kill_every=(2.0, 4.0),
        deadline_s=120.0 if args.smoke else 420.0,
        mode="smoke" if args.smoke else "full",
        json_path=args.json,
    )


if __name__ == "__main__":
    raise SystemExit(main())
