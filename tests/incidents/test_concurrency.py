"""Concurrent submitters over real HTTP (a live server, one database connection per request thread):
retries with one Idempotency-Key file once; a repeated external_id never makes a second incident."""

from __future__ import annotations

import copy
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from api_docs import examples
from incidents.models import Incident, IncidentRevision
from tests.factories import FrontierModelFactory, OrganizationFactory, issue_key

pytestmark = pytest.mark.django_db(transaction=True)
SENDERS = 20


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    request = Request(  # noqa: S310 - the live test server
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def _at_once(count: int, send: Any) -> list[tuple[int, dict[str, str], Any]]:
    """Run `send` in `count` threads released together. The client threads never touch the database;
    each server request thread has its own connection, which Django closes when the request ends."""
    barrier = threading.Barrier(count)

    def go(_: int) -> tuple[int, dict[str, str], Any]:
        barrier.wait(timeout=30)
        return send()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(go, range(count)))


@pytest.fixture
def submitter(live_server: Any) -> tuple[str, dict[str, Any], dict[str, str]]:
    lab = OrganizationFactory(short_name="concurrent-lab", kind="lab", country="US")
    model = FrontierModelFactory(provider=lab, tlp="clear")
    _, key = issue_key(lab)
    body = copy.deepcopy(examples.INCIDENT_CREATE)
    body["models"] = [{"model": model.public_id, "role": "originating"}]
    return f"{live_server.url}/api/v1/incidents/", body, {"Authorization": f"Api-Key {key}"}


def test_twenty_concurrent_retries_with_one_idempotency_key_file_one_incident(submitter):
    url, body, auth = submitter

    results = _at_once(SENDERS, lambda: _post(url, body, {**auth, "Idempotency-Key": "ci-run-7"}))

    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in results if r[0] == 201 and r[1].get("Idempotent-Replayed") != "true"]
    replayed = [r for r in results if r[0] == 201 and r[1].get("Idempotent-Replayed") == "true"]
    in_flight = [r for r in results if r[0] == 409]
    assert len(created) == 1
    assert all(r[2] == created[0][2] for r in replayed)  # a replay is the first receipt, byte for byte
    assert all(r[2]["code"] == "idempotency_in_flight" for r in in_flight)
    assert all(r[1]["Content-Type"] == "application/problem+json" for r in in_flight)
    assert Incident.objects.count() == 1
    assert IncidentRevision.objects.count() == 1
    assert Incident.objects.get().public_id == created[0][2]["public_id"]
    # The senders told "in flight" retry once it has settled, and get the first receipt.
    status, headers, receipt = _post(url, body, {**auth, "Idempotency-Key": "ci-run-7"})
    assert (status, headers.get("Idempotent-Replayed"), receipt) == (201, "true", created[0][2])
    assert IncidentRevision.objects.count() == 1


@pytest.mark.parametrize("senders", [2, 5])
def test_one_external_id_sent_concurrently_without_keys_makes_one_incident(submitter, senders):
    url, body, auth = submitter

    results = _at_once(senders, lambda: _post(url, body, auth))
    # A sender told "external_id_race" retries, which files a follow-up revision.
    results += [_post(url, body, auth) for status, _, _ in list(results) if status == 409]

    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}, statuses
    assert all(r[2]["code"] == "external_id_race" for r in results if r[0] == 409)
    assert statuses.count(200) + 1 == senders  # every sender's report is filed, on the first try or a retry
    incident = Incident.objects.get()
    numbers = list(IncidentRevision.objects.filter(incident=incident).values_list("number", flat=True))
    assert numbers == list(range(1, statuses.count(200) + 2))  # revisions 1..n, no gaps
    assert incident.revision_number == numbers[-1]
    assert {r[2]["public_id"] for r in results if r[0] in (200, 201)} == {incident.public_id}
