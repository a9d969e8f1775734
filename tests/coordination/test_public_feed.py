"""The public Atom feed: exactly the reports an anonymous reader may see (TLP:CLEAR), whoever asks; valid
Atom with stable entry ids; conditional GET."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from incidents.models import Incident
from tests.incidents import matrix

pytestmark = pytest.mark.django_db
world = matrix.world
ATOM = "{http://www.w3.org/2005/Atom}"
URL = "/public/incidents.atom"


def _entries(response) -> dict[str, ET.Element]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own feed, in a test
    assert root.tag == f"{ATOM}feed"
    return {entry.findtext(f"{ATOM}id"): entry for entry in root.findall(f"{ATOM}entry")}


@pytest.mark.parametrize("principal", sorted(matrix.EXPECTED))
def test_the_feed_holds_the_clear_reports_only_whoever_asks(world, principal):
    response = world.clients[principal].get(URL)
    entries = _entries(response)

    clear = world.incidents["clear"]
    assert set(entries) == {f"tag:redline,2026:incident:{clear.public_id}"}
    body = response.content.decode()
    for tlp in ("green", "amber", "amber+strict", "red"):
        assert world.incidents[tlp].public_id not in body
        assert f"matrixterm {tlp}" not in body
    entry = entries[f"tag:redline,2026:incident:{clear.public_id}"]
    link = entry.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href", "").endswith(reverse("incident-detail", kwargs={"ref": clear.public_id}))


def test_entry_ids_are_stable_and_updated_follows_the_report(world, client):
    clear = world.incidents["clear"]
    key = f"tag:redline,2026:incident:{clear.public_id}"
    first = _entries(client.get(URL))[key].findtext(f"{ATOM}updated")
    Incident.objects.filter(pk=clear.pk).update(title="Renamed clear report")
    Incident.objects.get(pk=clear.pk).save(update_fields=["modified_at"])

    again = _entries(client.get(URL))
    assert key in again
    assert again[key].findtext(f"{ATOM}updated") != first
    assert "Renamed clear report" in (again[key].findtext(f"{ATOM}title") or "")


def test_an_unchanged_feed_answers_304(world, client):
    response = client.get(URL)
    etag = response["ETag"]
    assert client.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_public_page_links_the_feed(world, client):
    html = client.get(reverse("public-home")).content.decode()
    assert f'rel="alternate" type="application/atom+xml" title="Public incident reports" href="{URL}"' in html
