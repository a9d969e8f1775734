"""DESIGN 4 over the incident read channels: list, detail, revisions (other channels add their own)."""

from __future__ import annotations

import pytest

from tests.incidents.matrix import PRINCIPALS, TLPS, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_list_shows_exactly_what_the_principal_may_see(world, principal):  # noqa: F811
    response = world.clients[principal].get("/api/v1/incidents/", {"limit": 200})
    assert response.status_code == 200
    seen = {row["tlp"] for row in response.json()["results"]}
    assert seen == world.visible(principal)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("tlp", TLPS)
def test_detail_and_revisions_are_404_outside_scope(world, principal, tlp):  # noqa: F811
    incident = world.incidents[tlp]
    client = world.clients[principal]
    expected = 200 if tlp in world.visible(principal) else 404
    for path in ("", "/revisions", "/revisions/compare?from=1&to=1", "/revisions/compare?from=x"):
        response = client.get(f"/api/v1/incidents/{incident.public_id}{path}")
        status = response.status_code
        if path.startswith("/revisions/compare") and expected == 200:
            assert status == 400  # a bad comparison of a visible report
        else:
            assert status == expected, (principal, tlp, path, status)
        if status == 404:
            assert incident.title not in response.content.decode()
