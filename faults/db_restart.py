"""Scenario C: PostgreSQL restarted under load, in fast and in immediate mode.

gunicorn (sync workers, config.settings.production: persistent connections with health checks) on a
PRIVATE PostgreSQL cluster (initdb under a temporary folder, pg_ctl on a free port). Submitters file
reports with retries under one Idempotency-Key while readers list incidents; meanwhile the cluster is
restarted with `pg_ctl restart -m fast` and `-m immediate` (a crash: in-flight transactions die, commits
in flight have an unknown outcome for the client).

Bars: no 500 (during the outage the API answers 503 application/problem+json with code
service_unavailable and Retry-After, or the client times out), no partial writes (every incident has its
revision, `incident.submitted` audit event and outbox event; one idempotency record per incident, naming
it), nothing lost or duplicated, and recovery without manual action (the first success after the
database is back comes within the bar; no request fails once the service has recovered).

    python -m faults.db_restart            # full: 8 restarts (fast, immediate, each also with 5 s down)
    python -m faults.db_restart --smoke    # CI: fast, immediate, immediate with 5 s down; ~45 s
"""

from __future__ import annotations

import argparse
import functools
import threading
import time
from typing import Any

import requests

from faults.harness import ClientStats, Ledger, Report, django_setup, log, stack, start_submitters

RECOVERY_BAR_S = 15.0


def run(
    *, submitters: int, readers: int, restarts: list[str], gap: float, mode: str, json_path: str | None
) -> int:
    with stack("db-restart") as st:
        st.database()
        st.start_redis()
        django_setup(st.local_env())
        from faults import seed

        labs = seed.seed_labs(labs=2, keys_per_lab=(submitters + readers + 1) // 2)
        pipelines = [(lab, key) for lab in labs for key in lab.keys]
        _, base = st.gunicorn(workers=4)
        url = f"{base}/api/v1/incidents/"
        assert st.pg is not None
        log(f"{submitters} submitters, {readers} readers; restarts {restarts}, {gap:.0f}s apart")

        stats = ClientStats()
        read_stats = ClientStats()
        ledger = Ledger()
        acknowledged, problems = ledger.acknowledged, ledger.problems
        stop = threading.Event()

        def reader(index: int) -> None:
            _, key = pipelines[submitters + index]
            session = requests.Session()
            headers = {"Authorization": f"Api-Key {key}", "X-Forwarded-Proto": "https"}
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    response = session.get(url, headers=headers, timeout=10.0)
                except requests.RequestException as error:
                    read_stats.record(sent, 0, type(error).__name__)
                else:
                    problem = response.headers.get("Content-Type", "").startswith("application/problem+json")
                    code = str(response.json().get("code", "")) if problem else ""
                    read_stats.record(sent, response.status_code, code)
                    if response.status_code >= 500 and not (
                        response.status_code == 503 and code == "service_unavailable"
                    ):
                        with read_stats.lock:
                            read_stats.bad_5xx.append(f"{response.status_code} {response.text[:300]}")
                time.sleep(0.05)

        threads = start_submitters(
            [
                (key, functools.partial(seed.incident_body, lab.model_public_id))
                for lab, key in pipelines[:submitters]
            ],
            url=url,
            prefix="s",
            stats=stats,
            ledger=ledger,
            stop=stop,
        )
        reader_threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(readers)]
        for thread in reader_threads:
            thread.start()
        threads += reader_threads
        outages: list[dict[str, Any]] = []
        time.sleep(gap)
        for restart_mode in restarts:
            started = time.monotonic()
            if restart_mode.endswith("-down-5s"):
                down_for = st.pg.restart(restart_mode.split("-")[0], down_for=5.0)
            else:
                down_for = st.pg.restart(restart_mode)
            ready_at = started + down_for
            log(f"pg_ctl restart -m {restart_mode}: accepting connections again after {down_for:.2f}s")
            outages.append(
                {
                    "mode": restart_mode,
                    "started": started,
                    "ready": ready_at,
                    "pg_restart_s": round(down_for, 2),
                }
            )
            time.sleep(gap)
        stop.set()
        for thread in threads:
            thread.join(timeout=150)

        events = sorted(stats.events + read_stats.events)
        run_end = max((e[1] for e in events), default=time.monotonic())
        for index, outage in enumerate(outages):
            window_end = outages[index + 1]["started"] if index + 1 < len(outages) else run_end + 1
            window = [e for e in events if outage["started"] - 1 <= e[0] and e[1] < window_end]
            failures = [e for e in window if e[2] not in (200, 201)]
            last_failure = max((e[1] for e in failures), default=outage["started"])
            first_ok = next((e[1] for e in window if e[0] >= outage["ready"] and e[2] in (200, 201)), None)
            # Recovered: from the moment the database accepts connections again to the end of the last
            # failed request (a request that fails later than this would be a stale connection).
            outage["recovery_s"] = round(max(0.0, last_failure - outage["ready"]), 2)
            outage["first_success_after_ready_s"] = (
                round(first_ok - outage["ready"], 2) if first_ok is not None else None
            )
            outage["failed_requests"] = len(failures)
            outage["503"] = sum(1 for e in failures if e[2] == 503)
            outage["500"] = sum(1 for e in failures if e[2] >= 500 and e[2] != 503)
            outage["client_errors"] = sum(1 for e in failures if e[2] == 0)
        db = seed.audit_writes(acknowledged, [lab.org for lab in labs])

        statuses = stats.statuses + read_stats.statuses
        fives_500 = sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500 and s != "503")
        report = Report("db_restart", mode)
        report.figures.update(
            {
                "submitters": submitters,
                "readers": readers,
                "requests": stats.requests + read_stats.requests,
                "status_counts": dict(sorted(statuses.items())),
                "acknowledged": len(acknowledged),
                "incidents_in_db": db.incidents,
                "lost": len(db.lost),
                "duplicated": len(db.duplicated) + len(db.extra_revisions),
                "partial_writes": len(db.partial),
                "5xx_other_than_503": fives_500,
                "503_problem_json": statuses.get("503", 0),
                "restarts": [{k: v for k, v in o.items() if k not in ("started", "ready")} for o in outages],
                "max_recovery_s": max(o["recovery_s"] for o in outages) if outages else None,
            }
        )
        bad = stats.bad_5xx + read_stats.bad_5xx
        report.bar("never a 500 (503 problem+json only)", fives_500 == 0 and not bad, bad[:3])
        report.bar("the outage was seen (503s answered)", statuses.get("503", 0) > 0 or not restarts)
        report.bar(
            "zero lost", not db.lost and not db.receipt_mismatch, db.lost[:5] + db.receipt_mismatch[:5]
        )
        report.bar("zero duplicated", not db.duplicated and not db.extra_revisions, db.duplicated[:5])
        report.bar("no partial writes", not db.partial, db.partial[:5])
        report.bar(
            "idempotency records consistent",
            not db.idempotency_inconsistent and db.idempotency_records == db.incidents,
            f"{db.idempotency_records} records / {db.incidents} incidents {db.idempotency_inconsistent[:5]}",
        )
        report.bar("nothing filed that no client was told of", not db.unacknowledged, db.unacknowledged[:5])
        report.bar("no submitter gave up", not problems, problems[:3])
        report.bar(
            f"recovered without manual action within {RECOVERY_BAR_S:.0f}s",
            all(
                o["recovery_s"] <= RECOVERY_BAR_S and o["first_success_after_ready_s"] is not None
                for o in outages
            ),
            [o["recovery_s"] for o in outages],
        )
        return report.emit(json_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="the short CI version (one fast, one immediate)")
    parser.add_argument("--submitters", type=int, default=12)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--json", default=None)
    args: Any = parser.parse_args(argv)
    if args.smoke:
        restarts, gap = ["fast", "immediate", "immediate-down-5s"], 8.0
    else:
        restarts, gap = ["fast", "immediate", "fast-down-5s", "immediate-down-5s"] * 2, 25.0
    return run(
        submitters=args.submitters,
        readers=args.readers,
        restarts=restarts,
        gap=gap,
        mode="smoke" if args.smoke else "full",
        json_path=args.json,
    )


if __name__ == "__main__":
    raise SystemExit(main())
