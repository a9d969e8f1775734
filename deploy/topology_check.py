"""The production topology, run as processes on one machine (no container engine here), under load, with
one web instance and one worker killed mid-load.

    .venv/bin/python deploy/topology_check.py --smoke        # CI: about a minute
    .venv/bin/python deploy/topology_check.py                # the full run

It creates a fresh database (redline_topology on the machine's PostgreSQL, migrated like the migration
Job does), starts two gunicorn web instances (deploy/gunicorn.conf.py, different ports), two Celery workers
and one beat on a queue of its own on the machine's RabbitMQ, with Redis as the shared cache, plus a local
Standard Webhooks receiver subscribed to the lab's reports. Client threads submit incidents round-robin to
both instances, each with its own Idempotency-Key, retrying a failed attempt (connection error, 502/503,
409 in flight, timeout) with the same key on the other instance, and re-sending some acknowledged
submissions to check the replayed receipt. Mid-load it SIGKILLs one web instance (its whole process
group) and one worker, then starts replacements, as an orchestrator would.

Checks (exit status 1 if any fails): every acknowledged submission is in the database exactly once;
every re-sent request got the same receipt; every notification reached the receiver and was processed
exactly once (deduplicated by webhook-id); no 5xx at all (the killed instance shows up as connection
errors, which the client retried on the other instance). Figures are printed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))  # run as a script from deploy/: the project's packages
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/redline_topology"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"


# --- the processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        handle = self.log.open("ab")
        # A session of its own: a kill takes the whole instance (gunicorn master and workers) at once.
        self.popen = subprocess.Popen(  # noqa: S603 - our own programs
            self.argv, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        return self

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(condition: Any, *, timeout: float, what: str, interval: float = 0.1) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def http_ok(port: int, path: str) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


# --- the webhook receiver ---------------------------------------------------------------------------------


class Receiver:
    """A Standard Webhooks consumer: verifies each request, processes each webhook-id once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # a slow consumer keeps deliveries in flight when a worker is killed
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()  # webhook-id -> requests
        self.public_ids: dict[str, str] = {}  # webhook-id -> incident public id (first processing)
        self.bad_signatures = 0
        self.in_flight = 0
        self.verifier: Any = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.handle(body, headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        if self.verifier is None:
            return 503
        try:
            payload = self.verifier.verify(body, headers)
        except Exception:
            with self.lock:
                self.bad_signatures += 1
            return 400
        msg_id = headers["webhook-id"]
        with self.lock:
            self.in_flight += 1
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
            self.received[msg_id] += 1
            if msg_id not in self.public_ids and payload.get("type") == "incident.submitted":
                self.public_ids[msg_id] = payload["data"]["public_id"]
        return 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the load -------------------------------------------------------------------------------------------


@dataclass
class Submission:
    index: int
    key: str
    title: str
    receipt: dict[str, Any] | None = None
    attempts: int = 0
    first_failure_at: float | None = None
    acked_at: float | None = None
    gave_up: bool = False


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    http_requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: Counter[int] = field(default_factory=Counter)  # by port
    server_errors: list[str] = field(default_factory=list)
    replays: int = 0
    replay_mismatches: list[str] = field(default_factory=list)
    failover_delays: list[float] = field(default_factory=list)

    def count(self, status: int) -> None:
        with self.lock:
            self.http_requests += 1
            self.statuses[status] += 1


def incident_body(title: str) -> bytes:
    return json.dumps(
        {
            "record_class": "real_world_incident",
            "title": title,
            "description": "Topology check: an agent copied its weights to a second host.",
            "submitter_capacity": "provider",
            "instruction_provenance": "uninstructed",
            "countries": ["FR"],
            "tlp": "green",
        }
    ).encode()


def receipt_of(body: dict[str, Any]) -> dict[str, Any]:
    receipt = body.get("receipt", body)
    return {"public_id": receipt.get("public_id"), "sha256": receipt.get("sha256")}


def post(port: int, key: str, body: bytes, api_key: str, timeout: float) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            "/api/v1/incidents/",
            body=body,
            headers={
                "Authorization": f"Api-Key {api_key}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
        )
        response = conn.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {"raw": data[:200].decode(errors="replace")}
        return response.status, parsed
    finally:
        conn.close()


RETRYABLE = {409, 502, 503, 504}


def submit(sub: Submission, ports: list[int], api_key: str, stats: Stats, *, max_attempts: int = 12) -> None:
    body = incident_body(sub.title)
    while sub.attempts < max_attempts:
        port = ports[(sub.index + sub.attempts) % len(ports)]  # round-robin; a retry goes to the other one
        sub.attempts += 1
        try:
            status, data = post(port, sub.key, body, api_key, timeout=15)
        except (OSError, http.client.HTTPException):
            with stats.lock:
                stats.connection_errors[port] += 1
            sub.first_failure_at = sub.first_failure_at or time.monotonic()
            time.sleep(min(0.05 * sub.attempts, 0.5))
            continue
        stats.count(status)
        if status in (200, 201):
            sub.receipt = receipt_of(data)
            sub.acked_at = time.monotonic()
            if sub.first_failure_at is not None:
                with stats.lock:
                    stats.failover_delays.append(sub.acked_at - sub.first_failure_at)
            return
        if status >= 500:
            with stats.lock:
                stats.server_errors.append(f"{status} on :{port} for {sub.key}: {str(data)[:200]}")
        if status in RETRYABLE or status >= 500:
            sub.first_failure_at = sub.first_failure_at or time.monotonic()
            time.sleep(min(0.1 * sub.attempts, 1.0))
            continue
        raise SystemExit(f"unexpected {status} for {sub.key}: {data}")
    sub.gave_up = True


def replay(sub: Submission, ports: list[int], api_key: str, stats: Stats) -> None:
    """The same request again (same key, same body), on the other instance: the same receipt."""
    body = incident_body(sub.title)
    for attempt in range(12):
        port = ports[(sub.index + sub.attempts + attempt + 1) % len(ports)]
        try:
            status, data = post(port, sub.key, body, api_key, timeout=15)
        except (OSError, http.client.HTTPException):
            with stats.lock:
                stats.connection_errors[port] += 1
            time.sleep(0.1)
            continue
        stats.count(status)
        if status in RETRYABLE:
            time.sleep(0.1)
            continue
        with stats.lock:
            stats.replays += 1
            if status not in (200, 201) or receipt_of(data) != sub.receipt:
                stats.replay_mismatches.append(f"{sub.key}: {status} {receipt_of(data)} != {sub.receipt}")
            if status >= 500:
                stats.server_errors.append(f"{status} on replay of {sub.key}")
        return


# --- the run --------------------------------------------------------------------------------------------


def database_admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def recreate_database(url: str) -> None:
    import psycopg

    admin_url, name = database_admin_url(url)
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing odd database name {name!r}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="the short CI version")
    parser.add_argument("--submissions", type=int, help="logical submissions (default 150 smoke, 3000 full)")
    parser.add_argument("--threads", type=int, help="client threads (default 6 smoke, 12 full)")
    parser.add_argument(
        "--database-url", default=os.environ.get("TOPOLOGY_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--amqp-url", default=os.environ.get("TOPOLOGY_AMQP_URL", DEFAULT_AMQP_URL))
    parser.add_argument("--redis-url", default=os.environ.get("TOPOLOGY_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per web instance")
    parser.add_argument(
        "--receiver-delay", type=float, default=0.3, help="seconds the receiver takes per POST"
    )
    args = parser.parse_args()
    total = args.submissions or (150 if args.smoke else 3000)
    threads = args.threads or (6 if args.smoke else 12)
    run = uuid.uuid4().hex[:8]
    queue = f"redline-topology-{run}"
    logs = ROOT / "var" / "topology" / run
    logs.mkdir(parents=True, exist_ok=True)
    started_at = time.monotonic()

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "REDLINE_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": f"topology-check-only-{run}-" + "x" * 40,
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.amqp_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CACHE_URL": args.redis_url,
        "REDLINE_WEBHOOK_ALLOW_HTTP": "true",
        "REDLINE_WEBHOOK_ALLOW_LOOPBACK": "true",
        "REDLINE_THROTTLE_PRINCIPAL": "1000000/min",
        "REDLINE_THROTTLE_ORGANIZATION": "1000000/min",
        # The sweeper takes undispatched events sooner than in production, so the check ends sooner.
        "REDLINE_OUTBOX_SWEEP_AFTER_SECONDS": "5",
        "REDLINE_REQUEST_LOG": "false",
        "LOG_LEVEL": "WARNING",
    }
    print(f"topology check {run}: {total} submissions, {threads} client threads; logs in {logs}", flush=True)

    # 1. A fresh database, migrated (the migration Job).
    recreate_database(args.database_url)
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=(logs / "migrate.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    print(f"  migrated in {time.monotonic() - t0:.1f}s", flush=True)

    # 2. The lab, its key and its webhook endpoint, through the services (this process is one more client).
    os.environ.update(env)
    import django

    django.setup()
    from standardwebhooks.webhooks import Webhook

    from accounts.authentication import system_principal
    from accounts.models import ROLE_SCOPES, Role
    from accounts.services import api_key_create, organization_create
    from coordination.models import Delivery
    from coordination.services import webhook_endpoint_create
    from core.actors import Principal
    from incidents.models import Incident

    admin = Principal(kind="system", label="topology-check", role=Role.PLATFORM_ADMIN)
    lab = organization_create(
        actor=admin, short_name=f"topo-{run}", name="Topology Lab", kind="lab", country="FR"
    )
    _, api_key = api_key_create(
        actor=admin,
        organization=lab,
        name="topology",
        role=Role.LAB_ADMIN,
        scopes=sorted(ROLE_SCOPES[Role.LAB_ADMIN]),
    )
    receiver = Receiver(delay=args.receiver_delay)
    endpoint, secret = webhook_endpoint_create(
        actor=system_principal(lab, label="topology-check", role=Role.LAB_ADMIN),
        url=receiver.url,
        subscriptions=["own_reports"],
    )
    receiver.verifier = Webhook(secret)

    # 3. Two web instances, two workers, one beat.
    procs: list[Proc] = []

    def web(port: int, generation: int = 0) -> Proc:
        return Proc(
            f"web:{port}",
            [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "config.wsgi"],
            {
                **env,
                "PORT": str(port),
                "GUNICORN_BIND_HOST": "127.0.0.1",
                "WEB_CONCURRENCY": str(args.web_workers),
                "GUNICORN_ACCESS_LOG": "",
            },
            logs / f"web-{port}-{generation}.log",
        )

    worker_ports: dict[int, int] = {}

    def worker(n: int) -> Proc:
        worker_ports[n] = free_port()
        return Proc(
            f"worker-{n}",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=threads",
                "--concurrency=4",
                "-Q",
                queue,
                "-n",
                f"{queue}-{n}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
            ],
            # Its health endpoints (core.worker_health) tell us when it is consuming.
            {**env, "REDLINE_WORKER_HEALTH_PORT": str(worker_ports[n])},
            logs / f"worker-{n}.log",
        )

    ports = [free_port(), free_port()]
    web_procs = {port: web(port).start() for port in ports}
    workers = [worker(0).start(), worker(1).start()]
    beat = Proc(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "beat",
            "-l",
            "warning",
            "--schedule",
            str(logs / "beat-schedule"),
        ],
        env,
        logs / "beat.log",
    ).start()
    procs.extend([*web_procs.values(), *workers, beat])
    stats = Stats()
    subs = [Submission(i, f"topo-{run}-{i}", f"Topology {run} #{i:05d}") for i in range(total)]
    failures: list[str] = []
    figures: dict[str, Any] = {}

    try:
        for port in ports:
            wait_until(lambda p=port: http_ok(p, "/health/ready"), timeout=60, what=f"web :{port} ready")
        for n in (0, 1):
            wait_until(lambda n=n: http_ok(worker_ports[n], "/health/ready"), timeout=60, what=f"worker-{n}")

        # 4. Load, with the kills.
        next_index = 0
        index_lock = threading.Lock()

        def client() -> None:
            nonlocal next_index
            rng = random.Random()  # noqa: S311 - test traffic
            while True:
                with index_lock:
                    if next_index >= total:
                        return
                    sub = subs[next_index]
                    next_index += 1
                submit(sub, ports, api_key, stats)
                if sub.receipt is not None and rng.random() < 0.15:
                    replay(sub, ports, api_key, stats)

        load_started = time.monotonic()
        clients = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
        for thread in clients:
            thread.start()

        def acked() -> int:
            return sum(1 for s in subs if s.acked_at is not None)

        victim_port = ports[0]
        wait_until(lambda: acked() >= total * 0.3, timeout=600, what="30% of the load")
        killed_at = time.monotonic()
        web_procs[victim_port].kill()
        print(f"  SIGKILL web :{victim_port} after {acked()} acknowledged", flush=True)
        wait_until(lambda: acked() >= total * 0.4, timeout=600, what="40% of the load")
        # Best effort: kill while deliveries are mid-POST (two in flight: likely one from each worker).
        with contextlib.suppress(SystemExit):
            wait_until(
                lambda: receiver.in_flight >= 2, timeout=10, what="deliveries in flight", interval=0.01
            )
        workers[0].kill()
        print(f"  SIGKILL worker-0 after {acked()} acknowledged", flush=True)
        # The orchestrator's replacements: the web instance on the same port, a new worker.
        time.sleep(3)
        restarted = web(victim_port, generation=1).start()
        procs.append(restarted)
        restart_started = time.monotonic()
        figures["web restart to ready (s)"] = round(
            wait_until(lambda: http_ok(victim_port, "/health/ready"), timeout=60, what="restarted web"), 2
        )
        figures["killed web instance down before its restart (s)"] = round(restart_started - killed_at, 2)
        replacement = worker(2).start()
        procs.append(replacement)

        for thread in clients:
            thread.join(timeout=900)
        load_seconds = time.monotonic() - load_started

        # 5. Drain: every acknowledged incident must be notified. Beat sweeps every minute; nudge it with
        # the same two tasks so the check does not wait for the schedule.
        from config.celery import app

        expected = {s.receipt["public_id"] for s in subs if s.receipt}
        drain_started = time.monotonic()

        def notified() -> set[str]:
            with receiver.lock:
                return set(receiver.public_ids.values())

        last_nudge = 0.0
        while time.monotonic() - drain_started < (120 if args.smoke else 900):
            if expected <= notified():
                break
            if time.monotonic() - last_nudge > 6:
                app.send_task("core.tasks.sweep_outbox", queue=queue)
                app.send_task("coordination.tasks.retry_due_deliveries", queue=queue)
                last_nudge = time.monotonic()
            time.sleep(0.5)
        figures["notification drain after load (s)"] = round(time.monotonic() - drain_started, 2)
        time.sleep(1)  # a late duplicate would show up now

        # 6. The checks.
        acked_subs = [s for s in subs if s.receipt]
        titles = Counter(
            Incident.objects.filter(title__startswith=f"Topology {run} #").values_list("title", flat=True)
        )
        by_public_id = dict(
            Incident.objects.filter(title__startswith=f"Topology {run} #").values_list("public_id", "title")
        )
        lost = [s.key for s in acked_subs if titles[s.title] == 0]
        duplicated = [t for t, n in titles.items() if n > 1]
        wrong_receipt = [s.key for s in acked_subs if by_public_id.get(s.receipt["public_id"]) != s.title]
        gave_up = [s.key for s in subs if s.gave_up]
        with receiver.lock:
            ids_per_incident: dict[str, set[str]] = defaultdict(set)
            for msg_id, public_id in receiver.public_ids.items():
                ids_per_incident[public_id].add(msg_id)
            redelivered = sum(n - 1 for n in receiver.received.values())
            bad_signatures = receiver.bad_signatures
        missing_notifications = sorted(expected - set(ids_per_incident))
        duplicate_notifications = sorted(p for p, ids in ids_per_incident.items() if len(ids) > 1)
        deliveries = Counter(Delivery.objects.filter(endpoint=endpoint).values_list("status", flat=True))

        figures.update(
            {
                "logical submissions": total,
                "HTTP requests answered": stats.http_requests,
                "acknowledged": len(acked_subs),
                "gave up (unacknowledged)": len(gave_up),
                "lost (acknowledged, not stored)": len(lost),
                "duplicated (stored twice)": len(duplicated),
                "receipt/row mismatches": len(wrong_receipt),
                "5xx responses": len(stats.server_errors),
                "connection errors (killed instance, retried)": sum(stats.connection_errors.values()),
                "replays checked": stats.replays,
                "replay receipt mismatches": len(stats.replay_mismatches),
                "max failover delay (s)": round(max(stats.failover_delays, default=0.0), 2),
                "notifications expected": len(expected),
                "notifications processed (unique webhook-id)": len(ids_per_incident),
                "notifications missing": len(missing_notifications),
                "notifications duplicated (two ids for one incident)": len(duplicate_notifications),
                "webhook redeliveries (same id, deduplicated)": redelivered,
                "bad signatures": bad_signatures,
                "delivery rows by status": dict(deliveries),
                "status codes": dict(sorted(stats.statuses.items())),
                "load duration (s)": round(load_seconds, 1),
                "throughput (acknowledged/s)": round(len(acked_subs) / load_seconds, 1)
                if load_seconds
                else 0,
            }
        )
        checks = {
            "nothing lost": not lost,
            "nothing duplicated": not duplicated and not wrong_receipt,
            "every submission acknowledged": not gave_up,
            "no 5xx": not stats.server_errors,
            "replays returned the same receipt": not stats.replay_mismatches and stats.replays > 0,
            "every notification delivered once": not missing_notifications and not duplicate_notifications,
            "signatures verified": bad_signatures == 0,
            "the kill was felt (connection errors seen)": sum(stats.connection_errors.values()) > 0,
        }
        failures = [name for name, ok in checks.items() if not ok]
        if stats.server_errors:
            print("  5xx:", *stats.server_errors[:5], sep="\n    ")
        if stats.replay_mismatches:
            print("  replay mismatches:", *stats.replay_mismatches[:5], sep="\n    ")
        if missing_notifications:
            print("  missing notifications:", missing_notifications[:10])
    finally:
        for proc in reversed(procs):
            proc.stop()
        receiver.close()
        with contextlib.suppress(Exception):
            from config.celery import app

            with app.connection_for_write() as conn:
                conn.default_channel.queue_delete(queue)

    print(f"\nTopology check {'(smoke) ' if args.smoke else ''}figures:")
    for name, value in figures.items():
        print(f"  {name:<52} {value}")
    print(f"  {'total time (s)':<52} {time.monotonic() - started_at:.1f}")
    if failures:
        print("FAILED:", ", ".join(failures), f"(logs: {logs})")
        return 1
    print(
        "PASSED: two web instances and two workers, one of each killed mid-load; nothing lost or duplicated."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
