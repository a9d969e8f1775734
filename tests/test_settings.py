"""Production settings pass Django's deployment checks and fail loudly when incomplete."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 20 + "-production-only-test-value-" + "y" * 20,
    "DJANGO_ALLOWED_HOSTS": "redline.example",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    "CACHE_URL": "redis://127.0.0.1:6379/0",
    "REDLINE_PUBLIC_BASE_URL": "https://redline.example",
    "REDLINE_AUDIT_SIGNING_KEY": base64.b64encode(bytes(range(32))).decode(),
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy_at_warning_level():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_an_audit_signing_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "REDLINE_AUDIT_SIGNING_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "REDLINE_AUDIT_SIGNING_KEY or REDLINE_AUDIT_SIGNING_KEY_FILE must be set" in result.stderr


def test_production_refuses_a_malformed_audit_signing_key():
    result = _manage("check", env={**PRODUCTION_ENV, "REDLINE_AUDIT_SIGNING_KEY": "c2hvcnQ="})
    assert result.returncode != 0
    assert "must be a base64 raw 32-byte Ed25519 private key" in result.stderr


def test_production_needs_redis_for_the_cache_and_rate_limits():
    missing = _manage("check", env={k: v for k, v in PRODUCTION_ENV.items() if k != "CACHE_URL"})
    assert missing.returncode != 0
    assert "CACHE_URL must be set" in missing.stderr
    local = _manage("check", env={**PRODUCTION_ENV, "CACHE_URL": "locmemcache://"})
    assert local.returncode != 0
    assert "redis://" in local.stderr


def test_production_needs_the_public_https_base_url_of_notification_links():
    missing = _manage(
        "check", env={k: v for k, v in PRODUCTION_ENV.items() if k != "REDLINE_PUBLIC_BASE_URL"}
    )
    assert missing.returncode != 0
    assert "REDLINE_PUBLIC_BASE_URL must be set" in missing.stderr
    plain = _manage("check", env={**PRODUCTION_ENV, "REDLINE_PUBLIC_BASE_URL": "http://redline.example"})
    assert plain.returncode != 0
    assert "https://" in plain.stderr


def test_production_refuses_a_non_postgres_database():
    result = _manage("check", env={**PRODUCTION_ENV, "DATABASE_URL": "sqlite:///x.db"})
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


def test_celery_runs_eagerly_without_a_broker_and_reliably_with_one():
    code = (
        "import django, os; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_TASK_ACKS_LATE, s.CELERY_TASK_REJECT_ON_WORKER_LOST, "
        "s.CELERY_WORKER_PREFETCH_MULTIPLIER, s.CELERY_BROKER_TRANSPORT_OPTIONS['confirm_publish'])"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    with_broker = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, **PRODUCTION_ENV, "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"},
    )
    assert with_broker.stdout.split() == ["False", "True", "True", "1", "True"], with_broker.stderr


def test_production_refuses_plain_http_or_loopback_webhook_receivers():
    for name in ("REDLINE_WEBHOOK_ALLOW_HTTP", "REDLINE_WEBHOOK_ALLOW_LOOPBACK"):
        result = _manage("check", env={**PRODUCTION_ENV, name: "true"})
        assert result.returncode != 0, name
        assert "are for tests and local use only" in result.stderr
