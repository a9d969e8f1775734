"""What every fault scenario needs: private servers on free ports, the service's processes, a webhook
receiver, a retrying client, and the figures with their bars.

Private means private: PostgreSQL is initdb'd under a temporary folder and started with pg_ctl on a port
of its own; Redis and RabbitMQ likewise. The machine's servers (5432, 6379, 5672) are never touched, so a
scenario can restart its database or broker without disturbing anyone else.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PG_BIN = Path(os.environ.get("REDLINE_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBIT_BIN = Path(os.environ.get("REDLINE_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
IS_ROOT = os.geteuid() == 0


def log(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def missing_tools(*, rabbitmq: bool = False) -> list[str]:
    """What this machine lacks to run a scenario (the pytest wrappers skip on it)."""
    missing = [str(PG_BIN / "initdb")] if not (PG_BIN / "initdb").exists() else []
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if rabbitmq and not (RABBIT_BIN / "rabbitmq-server").exists():
        missing.append(str(RABBIT_BIN / "rabbitmq-server"))
    if rabbitmq and not IS_ROOT:
        missing.append("root (a private RabbitMQ node runs as the rabbitmq user)")
    return missing


def _as_user(user: str, cmd: list[str]) -> list[str]:
    """Servers refuse to run as root: as root, run them as their own system user."""
    return ["runuser", "-u", user, "--", *cmd] if IS_ROOT else cmd


class Process:
    """A child process in its own session (so a SIGKILL takes its whole group, as a dead container
    would), logging to a file."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str], logfile: Path, cwd: Path = ROOT):
        self.name = name
        self.cmd = cmd
        self.env = env
        self.logfile = logfile
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.logfile.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own commands
                self.cmd,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        self.signal_group(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        if not self.alive:
            return
        assert self.proc is not None
        self.signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""


class PrivatePostgres:
    """A PostgreSQL cluster of our own: initdb under `base`, pg_ctl on `port`, trust auth on 127.0.0.1."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.base = base / "pg"
        self.data = self.base / "data"
        self.port = port or free_port()
        self.base.mkdir(parents=True, exist_ok=True)
        if IS_ROOT:
            shutil.chown(self.base, "postgres")

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(  # noqa: S603 - PostgreSQL's own tool
            _as_user("postgres", [str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]),
            check=check,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        if not self.data.exists():
            subprocess.run(  # noqa: S603
                _as_user(
                    "postgres",
                    [
                        str(PG_BIN / "initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        "postgres",
                        "-A",
                        "trust",
                        "-E",
                        "UTF8",
                    ],
                ),
                check=True,
                capture_output=True,
                timeout=120,
            )
        self._pg_ctl("-o", self._options(), "-l", str(self.base / "server.log"), "-w", "start")

    def restart(self, mode: str, *, down_for: float = 0.0) -> float:
        """`pg_ctl restart -m fast|immediate` (or, with `down_for`, stop, wait, start); returns the seconds
        until it accepts connections again."""
        started = time.monotonic()
        if down_for:
            self._pg_ctl("-m", mode, "-w", "stop")
            time.sleep(down_for)
            self._pg_ctl("-o", self._options(), "-l", str(self.base / "server.log"), "-w", "start")
        else:
            self._pg_ctl(
                "-m", mode, "-o", self._options(), "-l", str(self.base / "server.log"), "-w", "restart"
            )
        return time.monotonic() - started

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c fsync=off -c full_page_writes=off"
        )

    def stop(self) -> None:
        if self.data.exists():
            self._pg_ctl("-m", "immediate", "-w", "stop", check=False)

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        subprocess.run(  # noqa: S603
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.url(name)


class PrivateRedis:
    def __init__(self, base: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process = Process(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(base),
            ],
            env=dict(os.environ),
            logfile=base / "redis.log",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process.start()
        wait_until(lambda: port_open(self.port), timeout=20, what="redis")

    def stop(self) -> None:
        self.process.stop()


class PrivateRabbit:
    """A RabbitMQ node of our own (its own node name, AMQP and distribution ports, data and log folders,
    no plugins), run as the rabbitmq user so it shares the machine's Erlang cookie for rabbitmqctl."""

    def __init__(self, base: Path) -> None:
        self.base = base / "rabbit"
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"redline-faults-{self.port}@localhost"
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "env.conf").write_text(f"NODENAME={self.node}\n")
        if IS_ROOT:
            for path in [self.base, *self.base.rglob("*")]:
                shutil.chown(path, "rabbitmq")
        self.env = {
            **os.environ,
            "HOME": "/var/lib/rabbitmq",
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "env.conf"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        self.process = Process(
            "rabbitmq",
            _as_user(
                "rabbitmq",
                [
                    "env",
                    *[f"{k}={v}" for k, v in self.env.items() if k.startswith(("RABBITMQ_", "ERL_", "HOME"))],
                    str(RABBIT_BIN / "rabbitmq-server"),
                ],
            ),
            env=self.env,
            logfile=base / "rabbitmq.out",
            cwd=Path("/var/lib/rabbitmq") if IS_ROOT else base,
        )

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        self.process.start()
        wait_until(lambda: port_open(self.port), timeout=60, what="rabbitmq")

    def stop(self) -> None:
        """A graceful shutdown: the node stops its listeners, closes every client connection and its
        message stores on SIGTERM, as `rabbitmqctl shutdown` does. Not rabbitmqctl itself: it boots an Erlang
        VM of its own, which on a saturated machine can take over a minute, and a control command still in
        flight when it is given up on would shut down the node started after it."""
        if not self.process.alive:
            return
        self.process.signal_group(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not self.process.alive, timeout=60, what="rabbitmq stop")
        self.process.kill()


def signing_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Stack:
    """The scenario's private servers and processes; `close()` stops all of them."""

    name: str
    base: Path = field(init=False)
    pg: PrivatePostgres | None = None
    redis: PrivateRedis | None = None
    rabbit: PrivateRabbit | None = None
    processes: list[Process] = field(default_factory=list)
    db_url: str = ""
    key: str = field(default_factory=signing_key)
    secret_key: str = field(default_factory=lambda: "faults-" + secrets.token_urlsafe(48))

    def __post_init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix=f"redline-faults-{self.name}-"))
        os.chmod(self.base, 0o755)  # noqa: PTH101, S103 - the postgres and rabbitmq users walk into it

    def database(self) -> str:
        """A private PostgreSQL with a migrated database."""
        self.pg = PrivatePostgres(self.base)
        self.pg.start()
        self.db_url = self.pg.create_database("redline")
        subprocess.run(  # noqa: S603
            [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=self.local_env(),
            check=True,
            timeout=300,
        )
        return self.db_url

    def start_redis(self) -> PrivateRedis:
        self.redis = PrivateRedis(self.base)
        self.redis.start()
        return self.redis

    def start_rabbit(self) -> PrivateRabbit:
        self.rabbit = PrivateRabbit(self.base)
        self.rabbit.start()
        return self.rabbit

    def local_env(self, **extra: str) -> dict[str, str]:
        """config.settings.local on the private database: the scenario's own process and the Celery
        workers, which must reach the webhook receiver on 127.0.0.1 (production refuses loopback)."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": self.secret_key,
            "DATABASE_URL": self.db_url,
            "CELERY_BROKER_URL": self.rabbit.url if self.rabbit else "",
            "CELERY_TASK_DEFAULT_QUEUE": "redline-faults",
            "REDLINE_AUDIT_SIGNING_KEY": self.key,
            "REDLINE_WEBHOOK_ALLOW_HTTP": "true",
            "REDLINE_WEBHOOK_ALLOW_LOOPBACK": "true",
            "REDLINE_OUTBOX_SWEEP_AFTER_SECONDS": "5",
            "REDLINE_WEBHOOK_RETRY_BASE_SECONDS": "1",
            "REDLINE_WEBHOOK_RETRY_MAX_SECONDS": "5",
            "REDLINE_WEBHOOK_MAX_ATTEMPTS": "50",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("CACHE_URL", None)
        env.update(extra)
        return env

    def web_env(self, **extra: str) -> dict[str, str]:
        """config.settings.production, as a deployment runs the web processes."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": self.secret_key,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.db_url,
            "REDLINE_PUBLIC_BASE_URL": "https://redline.faults.invalid",
            "CACHE_URL": self.redis.url if self.redis else "",
            "CELERY_BROKER_URL": self.rabbit.url if self.rabbit else "",
            "CELERY_TASK_DEFAULT_QUEUE": "redline-faults",
            "REDLINE_AUDIT_SIGNING_KEY": self.key,
            # The scenarios measure faults, not the rate limits: one key sends far more than a pipeline.
            "REDLINE_THROTTLE_PRINCIPAL": "1000000/min",
            "REDLINE_THROTTLE_ORGANIZATION": "1000000/min",
            "REDLINE_THROTTLE_ANONYMOUS": "1000000/min",
            "REDLINE_OUTBOX_SWEEP_AFTER_SECONDS": "5",
            "LOG_LEVEL": "WARNING",
        }
        for name in ("REDLINE_WEBHOOK_ALLOW_HTTP", "REDLINE_WEBHOOK_ALLOW_LOOPBACK"):
            env.pop(name, None)
        env.update(extra)
        return env

    def gunicorn(self, *, workers: int = 4, timeout: int = 120) -> tuple[Process, str]:
        """The web tier: gunicorn sync workers on config.settings.production. Returns it and its URL."""
        port = free_port()
        process = Process(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "config.wsgi:application",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                # 120 s by default: each worker's first request imports the URLconf, and on a loaded
                # machine that alone can take longer than gunicorn's 30 s (the worker is then killed).
                "--timeout",
                str(timeout),
                "--graceful-timeout",
                "5",
                "--backlog",
                "512",
            ],
            env=self.web_env(),
            logfile=self.base / "gunicorn.log",
        ).start()
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(url) or not process.alive, timeout=180, what="gunicorn")
        if not process.alive:
            raise RuntimeError(f"gunicorn exited:\n{process.log_text()[-4000:]}")
        # Each worker imports the URLconf (and everything behind it) on its first request; do that before
        # the clock starts, so a slow import on a busy machine is not counted as a fault.
        with ThreadPoolExecutor(max_workers=workers * 2) as pool:
            list(pool.map(lambda _: _healthy(url, timeout=120), range(workers * 2)))
        return process, url

    def worker(self, index: int, *, concurrency: int = 4) -> Process:
        """A Celery worker (threads pool) on the private broker and database."""
        process = Process(
            f"worker-{index}",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency}",
                "-Q",
                "redline-faults",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"faults-{index}-{secrets.token_hex(3)}@%h",
                "-l",
                "warning",
            ],
            env=self.local_env(DATABASE_CONN_MAX_AGE="0"),
            logfile=self.base / f"worker-{index}.log",
        ).start()
        self.processes.append(process)
        return process

    def wait_consuming(self, queue: str = "redline-faults", *, timeout: float = 180) -> None:
        """Until a worker has registered its consumer on `queue` with the private broker. On a loaded machine
        a worker takes longer to start than a scenario's first gap: without this, a broker restart could
        come before the worker ever consumed, and test nothing about its reconnect."""
        from kombu import Connection

        assert self.rabbit is not None
        url = self.rabbit.url

        def consumers() -> int:
            with contextlib.suppress(Exception), Connection(url, connect_timeout=5) as conn:
                count: int = conn.default_channel.queue_declare(queue, passive=True).consumer_count
                return count
            return 0

        wait_until(lambda: consumers() >= 1, timeout=timeout, what=f"a worker consuming {queue}", every=1)

    def close(self, *, keep: bool = False) -> None:
        for process in reversed(self.processes):
            process.kill()
        # Every server is stopped even if another one's stop fails: a leaked private server outlives the run.
        for server in (self.rabbit, self.redis, self.pg):
            if server is not None:
                try:
                    server.stop()
                except Exception as error:  # reported, and the others are still stopped
                    log(f"stopping {type(server).__name__} failed: {error!r}")
        if keep:
            log(f"logs kept in {self.base}")
        else:
            shutil.rmtree(self.base, ignore_errors=True)


def _healthy(url: str, timeout: float = 2) -> bool:
    with contextlib.suppress(requests.RequestException):
        response = requests.get(f"{url}/healthz", timeout=timeout, headers={"X-Forwarded-Proto": "https"})
        return response.status_code == 200
    return False


@contextlib.contextmanager
def stack(name: str) -> Iterator[Stack]:
    current = Stack(name)
    failed = True
    try:
        yield current
        failed = False
    finally:
        current.close(keep=failed or bool(os.environ.get("REDLINE_FAULTS_KEEP")))


def django_setup(env: dict[str, str]) -> None:
    """Make this process a Django process on the scenario's settings (for seeding and counting)."""
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- A webhook receiver that records every request -------------------------------------------------------


@dataclass
class Receiver:
    """Records each webhook request (path, webhook-id, verified body) and answers 200 after `delay`."""

    verify: dict[str, Any] = field(default_factory=dict)  # path -> standardwebhooks.Webhook
    delay: float = 0.0
    received: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                webhook = receiver.verify.get(self.path)
                try:
                    payload = webhook.verify(body, headers) if webhook is not None else json.loads(body)
                except Exception:  # a bad signature is a failure to report, not to crash on
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    payload = {}
                with receiver.lock:
                    receiver.received.append((self.path, headers.get("webhook-id", ""), payload))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str) -> str:
        assert self.server is not None
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}{path}"

    def snapshot(self) -> list[tuple[str, str, dict[str, Any]]]:
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --- The client: retries under one Idempotency-Key --------------------------------------------------------

RETRYABLE = {409, 429, 502, 503, 504}


@dataclass
class Outcome:
    status: int  # the final status (201 when acknowledged; 0 when the client gave up)
    receipt: dict[str, Any] | None
    attempts: int


@dataclass
class ClientStats:
    """What the clients saw, over all threads."""

    statuses: Counter[str] = field(default_factory=Counter)
    events: list[tuple[float, float, int, str]] = field(default_factory=list)  # (sent, done, status, code)
    bad_5xx: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, sent_at: float, status: int, code: str) -> None:
        done = time.monotonic()
        with self.lock:
            self.statuses[str(status) if status else code] += 1
            self.events.append((sent_at, done, status, code))

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


def post_until_acknowledged(
    session: requests.Session,
    url: str,
    body: dict[str, Any],
    *,
    key: str,
    headers: dict[str, str],
    stats: ClientStats,
    timeout: float,
    give_up_at: float,
) -> Outcome:
    """POST `body` under Idempotency-Key `key` until a 201, retrying timeouts, refused connections, 409
    (in flight), 429 and 5xx with a short jittered backoff, as a careful pipeline would."""
    attempts = 0
    data = json.dumps(body)
    send_headers = {**headers, "Idempotency-Key": key, "Content-Type": "application/json"}
    while time.monotonic() < give_up_at:
        attempts += 1
        sent = time.monotonic()
        try:
            response = session.post(url, data=data, headers=send_headers, timeout=timeout)
        except requests.Timeout:
            stats.record(sent, 0, "client_timeout")
        except requests.ConnectionError:
            stats.record(sent, 0, "connection_error")
        else:
            code = ""
            if response.headers.get("Content-Type", "").startswith("application/problem+json"):
                code = str(response.json().get("code", ""))
            stats.record(sent, response.status_code, code)
            if response.status_code >= 500 and not (
                response.status_code == 503 and code == "service_unavailable"
            ):
                with stats.lock:
                    stats.bad_5xx.append(f"{response.status_code} {code} {response.text[:300]}")
            if response.status_code == 201:
                return Outcome(
                    201,
                    response.json() | {"_replayed": response.headers.get("Idempotent-Replayed")},
                    attempts,
                )
            if response.status_code not in RETRYABLE and response.status_code < 500:
                return Outcome(response.status_code, response.json(), attempts)
        time.sleep(min(2.0, 0.05 * 2 ** min(attempts, 5)) * random.uniform(0.5, 1.0))  # noqa: S311
    return Outcome(0, None, attempts)


# --- Lab pipelines and the beat, as the scenarios run them ------------------------------------------------


@dataclass
class Ledger:
    """What the submitters were told, over all threads: external id -> public id of each acknowledged
    report, and each submission that ended without a 201 (gave up, or refused)."""

    acknowledged: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, external_id: str, outcome: Outcome) -> None:
        with self.lock:
            if outcome.status == 201 and outcome.receipt:
                self.acknowledged[external_id] = str(outcome.receipt["public_id"])
            else:
                self.problems.append(f"{external_id}: {outcome.status} {outcome.receipt}")


def submit_until_stopped(
    *,
    url: str,
    api_key: str,
    body: Callable[[str], dict[str, Any]],
    prefix: str,
    stats: ClientStats,
    ledger: Ledger,
    stop: threading.Event,
    pause: float = 0.0,
) -> None:
    """One lab pipeline: files reports back to back until `stop` is set, each under its own
    Idempotency-Key and retried until acknowledged (10 s client timeout, gives up after 120 s);
    `body(external_id)` makes a report, `pause` is the wait between two reports."""
    session = requests.Session()
    # A TLS-terminating proxy in front of gunicorn says https (production redirects plain http).
    headers = {"Authorization": f"Api-Key {api_key}", "X-Forwarded-Proto": "https"}
    while not stop.is_set():
        external_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
        outcome = post_until_acknowledged(
            session,
            url,
            body(external_id),
            key=f"faults-{uuid.uuid4()}",
            headers=headers,
            stats=stats,
            timeout=10.0,
            give_up_at=time.monotonic() + 120,
        )
        ledger.record(external_id, outcome)
        if pause:
            time.sleep(pause)


def start_submitters(
    pipelines: list[tuple[str, Callable[[str], dict[str, Any]]]],
    *,
    url: str,
    prefix: str,
    stats: ClientStats,
    ledger: Ledger,
    stop: threading.Event,
    pause: float = 0.0,
) -> list[threading.Thread]:
    """A thread per pipeline (its API key, and how it makes a report body from an external id), each
    running `submit_until_stopped`; external ids are `<prefix><index>-<random>`."""
    threads = [
        threading.Thread(
            target=submit_until_stopped,
            kwargs={
                "url": url,
                "api_key": api_key,
                "body": body,
                "prefix": f"{prefix}{index}",
                "stats": stats,
                "ledger": ledger,
                "stop": stop,
                "pause": pause,
            },
            name=f"faults-submitter-{index}",
            daemon=True,
        )
        for index, (api_key, body) in enumerate(pipelines)
    ]
    for thread in threads:
        thread.start()
    return threads


def start_beat(stop: threading.Event, *tasks: Any, every: float = 5.0) -> threading.Thread:
    """Celery beat on a short schedule: queue each task (`sweep_outbox`, `retry_due_deliveries`) every
    `every` seconds until `stop` is set. A failed publish (broker down) waits for the next round."""

    def beat() -> None:
        while not stop.is_set():
            time.sleep(every)
            with contextlib.suppress(Exception):
                for task in tasks:
                    task.delay()

    thread = threading.Thread(target=beat, name="faults-beat", daemon=True)
    thread.start()
    return thread


# --- Figures and bars --------------------------------------------------------------------------------------


@dataclass
class Report:
    scenario: str
    mode: str
    figures: dict[str, Any] = field(default_factory=dict)
    bars: list[tuple[str, bool, str]] = field(default_factory=list)

    def bar(self, name: str, ok: bool, detail: Any = "") -> None:
        text = "" if detail in ("", [], {}, None) else str(detail)
        self.bars.append((name, bool(ok), text))

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.bars)

    def emit(self, json_path: str | None = None) -> int:
        print(f"\n== fault scenario {self.scenario} ({self.mode}) ==", flush=True)
        width = max([len(k) for k in self.figures] + [10])
        for name, value in self.figures.items():
            print(f"  {name:<{width}}  {value}")
        for name, ok, detail in self.bars:
            print(f"  [{'PASS' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}")
        verdict = "PASSED" if self.passed else "FAILED"
        print(f"== {self.scenario}: {verdict} ==", flush=True)
        line = {"scenario": self.scenario, "mode": self.mode, "passed": self.passed, "figures": self.figures}
        print("FAULTS-JSON " + json.dumps(line, default=str), flush=True)
        if json_path:
            Path(json_path).write_text(json.dumps(line, default=str, indent=2) + "\n")
        return 0 if self.passed else 1
