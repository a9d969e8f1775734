"""Structured logs and metrics: every request leaves a JSON line carrying its request id and the acting
organisation's id; /metrics serves Prometheus text to the scraper's token or network, and nobody else;
gunicorn (deploy/gunicorn.conf.py) writes its access log as JSON with the request id."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import override_settings
from pythonjsonlogger.json import JsonFormatter

from core.logging import RequestContextFilter
from tests.deploy.gunicorn_support import free_port, start_gunicorn

TOKEN = "metrics-token-for-tests-" + "x" * 16


@contextlib.contextmanager
def _captured(name: str) -> Iterator[io.StringIO]:
    """Logger `name`, written through the production JSON formatter and filter (settings.LOGGING)."""
    spec = settings.LOGGING["formatters"]["json"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(spec["format"], rename_fields=spec["rename_fields"]))
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    with _captured("redline.request") as stream:
        yield stream


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_each_request_logs_a_json_line_with_its_request_id_and_org_id(json_log, lab_a, make_key_client, anon):
    api = make_key_client(lab_a)

    with_key = api.get("/api/v1/models/", HTTP_X_REQUEST_ID="trace-123")
    anonymous = anon.get("/api/v1/models/")
    missing = api.get("/api/v1/incidents/RL-INC-0000-99999")

    first, second, third = _lines(json_log)
    assert first["request_id"] == "trace-123" == with_key["X-Request-ID"]
    assert first["org_id"] == str(lab_a.pk)
    assert (first["method"], first["path"], first["status"]) == ("GET", "/api/v1/models/", 200)
    assert first["level"] == "INFO" and first["logger"] == "redline.request" and "time" in first
    assert isinstance(first["duration_ms"], int | float)
    assert second["request_id"] == anonymous["X-Request-ID"] and second["org_id"] == ""
    assert missing.status_code == 404
    assert (third["status"], third["org_id"]) == (404, str(lab_a.pk))


@pytest.mark.django_db
def test_djangos_error_line_written_after_the_middleware_carries_the_ids_too(lab_a, make_key_client):
    api = make_key_client(lab_a)
    with _captured("django.request") as stream:
        response = api.get("/api/v1/incidents/RL-INC-0000-99999", HTTP_X_REQUEST_ID="trace-404")
    [line] = _lines(stream)
    assert response.status_code == 404 and line["level"] == "WARNING"
    assert (line["request_id"], line["org_id"]) == ("trace-404", str(lab_a.pk))


@pytest.mark.django_db
def test_a_signed_in_page_logs_the_members_org(json_log, client, lab_a):
    from tests.factories import MembershipFactory, sign_in

    sign_in(client, MembershipFactory(organization=lab_a).user)
    client.get("/dashboard/")
    [line] = _lines(json_log)
    assert line["org_id"] == str(lab_a.pk) and line["path"] == "/dashboard/"


def test_metrics_are_not_served_when_no_scraper_is_configured(client):
    with override_settings(REDLINE_METRICS_TOKEN="", REDLINE_METRICS_ALLOWED_NETWORKS=[]):
        assert client.get("/metrics").status_code == 404


def test_metrics_are_refused_without_the_token_and_served_with_it(client):
    with override_settings(REDLINE_METRICS_TOKEN=TOKEN):
        missing = client.get("/metrics")
        wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
        served = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused["Content-Type"] == "application/problem+json"
        assert refused["WWW-Authenticate"].startswith("Bearer")
        assert b"django_http" not in refused.content
    assert served.status_code == 200
    assert served["Content-Type"].startswith("text/plain")
    text = served.content.decode()
    assert "# TYPE django_http_requests_total_by_method_total counter" in text
    assert "python_info" in text or "process_" in text


def test_metrics_are_served_to_an_allowed_network_only(client):
    with override_settings(REDLINE_METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"]):
        assert client.get("/metrics", REMOTE_ADDR="10.2.3.4").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 401
        # X-Forwarded-For is the client's word, not the socket's: it opens nothing.
        assert (
            client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.2.3.4").status_code
            == 401
        )


def test_gunicorn_with_the_deploy_config_serves_and_logs_access_as_json(tmp_path):
    port = free_port()
    out = (tmp_path / "out.log").open("wb")
    proc = start_gunicorn(
        "config.wsgi",
        port,
        out,
        LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        REDLINE_METRICS_TOKEN=TOKEN,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(
                        f"http://127.0.0.1:{port}/health/live", headers={"X-Request-ID": "gunicorn-probe"}
                    ),
                    timeout=2,
                ) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "out.log").read_text()
                time.sleep(0.2)
        metrics = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(metrics, timeout=5) as response:  # noqa: S310 - loopback
            body = response.read().decode()
        assert "django_http_requests_before_middlewares_total" in body  # from the workers' files
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        out.close()
    records = []
    for line in (tmp_path / "out.log").read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    access = [r for r in records if r.get("logger") == "gunicorn.access" and r.get("path") == "/health/live"]
    assert access, records
    assert access[0]["request_id"] == "gunicorn-probe"
    assert access[0]["status"] == "200" and access[0]["method"] == "GET"
    requests = [
        r for r in records if r.get("logger") == "redline.request" and r.get("path") == "/health/live"
    ]
    assert requests and requests[0]["request_id"] == "gunicorn-probe"
