"""/health/live and /health/ready on the web process (and the worker's): live needs nothing but the process;
ready needs the database, every migration applied and the configured broker, else 503 problem+json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

from tests.problems import assert_problem

ROOT = Path(__file__).resolve().parents[2]
AMQP_URL = os.environ.get("REDLINE_TEST_AMQP_URL", "")
CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:1//"


def test_live_answers_without_touching_the_database(client):
    # No django_db mark: any query here would raise.
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_ready_is_200_with_the_database_up_and_migrated(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok", "broker": "not configured"}


@pytest.mark.django_db
def test_probes_ignore_the_host_check_and_the_https_redirect(client):
    # A kubelet calls the pod's address over plain HTTP.
    with override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["redline.example"]):
        assert client.get("/health/ready", HTTP_HOST="10.1.2.3:8000").status_code == 200
        assert client.get("/health/live", HTTP_HOST="10.1.2.3:8000").status_code == 200
        assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400  # everything else: checked


@pytest.mark.django_db
def test_ready_is_503_problem_json_when_the_broker_is_unreachable(client):
    with override_settings(CELERY_BROKER_URL=CLOSED_BROKER, REDLINE_HEALTH_CHECK_BROKER=True):
        response = client.get("/health/ready")
    problem = assert_problem(response, 503, "service_unavailable")
    assert problem["checks"]["broker"] == "unreachable"
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
@pytest.mark.skipif(not AMQP_URL, reason="REDLINE_TEST_AMQP_URL is not set")
def test_ready_checks_a_reachable_broker(client):
    with override_settings(CELERY_BROKER_URL=AMQP_URL, REDLINE_HEALTH_CHECK_BROKER=True):
        response = client.get("/health/ready")
    assert response.status_code == 200 and response.json()["checks"]["broker"] == "ok"


def _ready_in_a_process(database_url: str) -> dict:
    """/health/ready from a fresh process configured with `database_url` (the test client, no server)."""
    code = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/health/ready'); "
        "print(json.dumps({'status': r.status_code, 'type': r['Content-Type'], 'body': r.json()}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url}
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_ready_is_503_problem_json_when_the_database_is_unreachable():
    answer = _ready_in_a_process("postgres://postgres@127.0.0.1:1/redline")  # nothing listens on port 1
    assert answer["status"] == 503
    assert answer["type"] == "application/problem+json"
    assert answer["body"]["code"] == "service_unavailable"
    assert answer["body"]["checks"]["database"] == "unreachable"


@pytest.mark.django_db
def test_ready_is_503_while_migrations_are_unapplied():
    # The server's maintenance database exists and holds no migration of ours.
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/postgres"
    answer = _ready_in_a_process(url)
    assert answer["status"] == 503
    assert answer["body"]["checks"]["database"] == "ok"
    assert answer["body"]["checks"]["migrations"].endswith("unapplied")


@pytest.mark.django_db(transaction=True)
def test_a_worker_serves_the_same_probes_on_its_own_port():
    from core.worker_health import serve

    server = serve(0, host="127.0.0.1")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{base}/health/live", timeout=5) as live:  # noqa: S310 - loopback
            assert live.status == 200
        with urllib.request.urlopen(f"{base}/health/ready", timeout=5) as ready:  # noqa: S310
            assert json.load(ready)["checks"]["database"] == "ok"
        with (
            override_settings(CELERY_BROKER_URL=CLOSED_BROKER, REDLINE_HEALTH_CHECK_BROKER=True),
            pytest.raises(urllib.error.HTTPError) as refused,
        ):
            urllib.request.urlopen(f"{base}/health/ready", timeout=5)  # noqa: S310
        assert refused.value.code == 503
        assert json.load(refused.value)["checks"]["broker"] == "unreachable"
    finally:
        server.shutdown()
        server.server_close()
