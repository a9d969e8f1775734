"""DESIGN 4 over the browser pages: the same 5 TLP levels x 7 principals as the API channels
(tests/incidents/matrix.py). A page either shows exactly what the principal may see, or answers 404 and
names nothing it should not."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from tests.incidents.matrix import PRINCIPALS, TLPS, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def _titles_in(html: str, world) -> set[str]:  # noqa: F811
    return {tlp for tlp, incident in world.incidents.items() if incident.title in html}


def _page(name: str, **kwargs: str) -> str:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:  # pragma: no cover - a page this suite covers must exist
        pytest.fail(f"no page named {name!r}")


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_list_and_search_pages_show_exactly_the_visible_reports(world, principal):  # noqa: F811
    client = world.clients[principal]
    for query in ("", "?search=matrixterm", "?ordering=-submitted_at"):
        response = client.get(_page("incident-list") + query)
        assert response.status_code == 200, (principal, query)
        assert _titles_in(response.content.decode(), world) == world.visible(principal), (principal, query)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_triage_queue_and_dashboard_leak_nothing(world, principal):  # noqa: F811
    client = world.clients[principal]
    queue = client.get(_page("triage-queue"))
    oversight = principal in ("lead_reviewer", "other_reviewer", "regulator", "coordination")
    if oversight:
        assert queue.status_code == 200
        assert _titles_in(queue.content.decode(), world) == world.visible(principal)  # all open
    else:
        assert queue.status_code in (302, 404), principal
        assert _titles_in(queue.content.decode(), world) == set()
    dashboard = client.get(_page("dashboard"))
    if principal == "anonymous":
        assert dashboard.status_code == 302
    else:
        assert dashboard.status_code == 200
        assert _titles_in(dashboard.content.decode(), world) <= world.visible(principal)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_public_page_shows_clear_records_only_whoever_asks(world, principal):  # noqa: F811
    response = world.clients[principal].get(_page("public-home"))
    assert response.status_code == 200
    assert _titles_in(response.content.decode(), world) == {"clear"}


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("tlp", TLPS)
def test_report_pages_are_404_outside_scope(world, principal, tlp):  # noqa: F811
    incident = world.incidents[tlp]
    client = world.clients[principal]
    visible = tlp in world.visible(principal)
    for name, kwargs in (
        ("incident-detail", {"ref": incident.public_id}),
        ("incident-detail", {"ref": str(incident.pk)}),
        ("incident-revision", {"ref": incident.public_id, "number": "1"}),
    ):
        response = client.get(_page(name, **kwargs))
        assert response.status_code == (200 if visible else 404), (principal, tlp, name, response.status_code)
        if not visible:
            assert incident.title not in response.content.decode()
    # The submitter's own pages: only the submitting organisation reaches them.
    own = principal == "lab_a_submitter"
    for name in ("incident-amend", "incident-respond"):
        response = client.get(_page(name, ref=incident.public_id))
        if not own:
            assert response.status_code in (302, 404), (principal, tlp, name, response.status_code)
            assert incident.title not in response.content.decode()
