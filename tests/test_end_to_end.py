"""What a new user sees after `make run`, over real HTTP against a live server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from registry.demo import load_demo_data

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inspect"


def _call(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - the live test server
    try:
        with urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _multipart(fields: dict[str, str], file_name: str, content: bytes) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex  # a new boundary per request, as real clients do
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


@pytest.fixture
def demo(live_server: Any) -> Any:
    return load_demo_data(credentials_path=None)


def test_an_anonymous_reader_sees_the_demo_registry(live_server, demo):
    status, headers, body = _call(f"{live_server.url}/api/v1/models/")
    assert status == 200 and headers["Content-Type"] == "application/json"
    models = {m["name"]: m for m in json.loads(body)["results"]}
    assert len(models) == 6
    assert models["Llama3.1-70B-Instruct"]["red_line_flagged"] is True
    assert models["Qwen2.5-72B-Instruct"]["red_line_flagged"] is True

    llama = models["Llama3.1-70B-Instruct"]["public_id"]
    _, _, body = _call(f"{live_server.url}/api/v1/evaluations/?model={llama}")
    [result] = json.loads(body)["results"]
    assert (result["n_successes"], result["n_trials"]) == (5, 10)
    assert round(result["wilson_interval"]["lower"], 4) == 0.2366
    assert round(result["wilson_interval"]["upper"], 4) == 0.7634


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_api_docs_render_without_external_urls(live_server, path):
    status, _, body = _call(live_server.url + path)
    assert status == 200
    html = body.decode()
    assert "http://" not in html and "https://" not in html and "//fonts" not in html


def test_a_lab_pipeline_imports_an_inspect_log_and_retries_safely(live_server, demo):
    key = demo.api_keys["meta"]
    content = (FIXTURES / "replication_probe_5of10.eval").read_bytes()
    fields = {"capability_domain": "end_to_end", "scenario_type": "instructed_replication_local"}
    responses = []
    for _ in range(2):  # the second is a retry after a lost response: new boundary, same key
        content_type, body = _multipart(fields, "replication_probe_5of10.eval", content)
        responses.append(
            _call(
                f"{live_server.url}/api/v1/evaluations/import",
                method="POST",
                body=body,
                headers={
                    "Authorization": f"Api-Key {key}",
                    "Idempotency-Key": "ci-run-1",
                    "Content-Type": content_type,
                },
            )
        )
    (first_status, _, first_body), (second_status, second_headers, second_body) = responses
    assert first_status == 201, first_body
    assert second_status == 201 and second_headers.get("Idempotent-Replayed") == "true"
    assert json.loads(first_body) == json.loads(second_body)
    [evaluation] = json.loads(first_body)["evaluations"]
    assert (evaluation["n_trials"], evaluation["n_successes"]) == (10, 5)


def test_a_revoked_key_is_refused_on_its_very_next_request(live_server, demo):
    key = demo.api_keys["alibaba"]
    auth = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    status, _, body = _call(f"{live_server.url}/api/v1/api-keys/", headers=auth)
    assert status == 200
    [own] = [k for k in json.loads(body)["results"] if key.startswith(k["prefix"] + ".")]
    status, _, _ = _call(
        f"{live_server.url}/api/v1/api-keys/{own['id']}/revoke", method="POST", headers=auth, body=b"{}"
    )
    assert status == 200
    status, headers, body = _call(f"{live_server.url}/api/v1/api-keys/", headers=auth)
    assert status == 401
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["code"] == "authentication_failed"
