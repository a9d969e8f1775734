"""What every benchmark step shares: paths, the production-like environment, database names, statistics.

Nothing here imports Django: the orchestrator (benchmarks.run) drives separate processes (the seeder, the
capture step, gunicorn, wrk, hyperfine), each started with `bench_env()`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import statistics
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")

PG_HOST = os.environ.get("BENCH_PGHOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PGPORT", "5432")
PG_USER = os.environ.get("BENCH_PGUSER", "postgres")
# Raised throttle (a load generator is one principal), a private Redis database and broker queue.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")

SEED_VERSION = "1"  # bump when the seeder's output changes: old templates are then rebuilt


def load_goals() -> dict[str, Any]:
    with (BENCH_DIR / "goals.toml").open("rb") as handle:
        return tomllib.load(handle)


def db_url(name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def conninfo(name: str) -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={name}"


def template_name(size: int, seed: int) -> str:
    return f"redline_bench_tpl_{size}_s{seed}_v{SEED_VERSION}"


def bench_env(database: str, **extra: str) -> dict[str, str]:
    """The environment of every process that runs the service: config.settings.production, DEBUG off,
    every required variable set (deterministic secrets: the databases are throwaway clones)."""
    secret = hashlib.sha256(b"redline-benchmark-only").hexdigest()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secret,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DATABASE_URL": db_url(database),
        "REDLINE_PUBLIC_BASE_URL": "https://redline.bench.invalid",
        "CACHE_URL": REDIS_URL,
        "REDLINE_AUDIT_SIGNING_KEY": base64.b64encode(hashlib.sha256(b"bench-audit").digest()).decode(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": f"redline_bench_{database}",
        # A load generator is one principal of one organisation: every limit is raised (the throttle still
        # runs, with its Redis round trip, as in production).
        "REDLINE_THROTTLE_PRINCIPAL": "100000000/min",
        "REDLINE_THROTTLE_ORGANIZATION": "100000000/min",
        "REDLINE_THROTTLE_ANONYMOUS": "100000000/min",
        "REDLINE_PRIVATE_STORAGE": str(ROOT / "var" / "bench-private"),
        "LOG_LEVEL": "WARNING",
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", "/tmp"),  # noqa: S108 - the project's default
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def cv(values: list[float]) -> float:
    """Coefficient of variation (stdev / mean); 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if mean else math.inf


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
