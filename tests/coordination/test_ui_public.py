"""The public pages: what TLP:CLEAR means, and the TLP:CLEAR incidents and models, read as the anonymous
principal whoever asks (a signed-in regulator sees the public view here, not theirs)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import FrontierModelFactory
from tests.incidents import matrix

pytestmark = pytest.mark.django_db
world = matrix.world


def _html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("principal", ["anonymous", "regulator", "lead_reviewer", "lab_a_submitter"])
def test_the_public_page_lists_clear_records_only_whoever_asks(world, principal, lab_a):
    FrontierModelFactory(provider=lab_a, name="Open-Clear-Model")
    FrontierModelFactory(provider=lab_a, name="Secret-Amber-Model", tlp="amber")
    FrontierModelFactory(provider=lab_a, name="Secret-Green-Model", tlp="green")

    html = _html(world.clients[principal].get(reverse("public-home")))

    assert "matrixterm clear" in html and world.incidents["clear"].public_id in html
    for tlp in ("green", "amber", "amber+strict", "red"):
        assert f"matrixterm {tlp}" not in html
        assert world.incidents[tlp].public_id not in html
    assert "Open-Clear-Model" in html
    assert "Secret-Amber-Model" not in html and "Secret-Green-Model" not in html
    # The records shown are TLP:CLEAR only (the explainer names every label once, in its list).
    rows = re.findall(r'<tr data-(?:incident|model)="[^"]+">.*?</tr>', html, re.S)
    assert rows and all("TLP:CLEAR" in row and "TLP:AMBER" not in row for row in rows)


def test_the_public_page_explains_tlp_and_links_records(world, client):
    html = _html(client.get(reverse("public-home")))
    for label in ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"):
        assert label in html
    assert reverse("incident-detail", kwargs={"ref": world.incidents["clear"].public_id}) in html
    assert "TLP:RED" in _html(client.get(reverse("public-tlp")))


def test_a_signed_in_visitor_is_told_this_is_the_public_view(world):
    assert "this page shows the public view" in _html(world.clients["regulator"].get(reverse("public-home")))


def test_public_models_page_by_keyset_without_n_plus_one(client, lab_a, django_assert_max_num_queries):
    models = [FrontierModelFactory(provider=lab_a, name=f"Pub-{n}") for n in range(23)]
    model_url = reverse("model-detail", args=[models[0].public_id])
    with django_assert_max_num_queries(8):
        first = _html(client.get(reverse("public-home")))
    on_first = set(re.findall(r'data-model="([^"]+)"', first))
    assert len(on_first) == 20
    next_url = re.search(r'href="([^"]*models=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = _html(client.get(next_url))
    on_second = set(re.findall(r'data-model="([^"]+)"', second))
    assert on_first.isdisjoint(on_second) and on_first | on_second == {m.public_id for m in models}
    assert model_url in first or model_url in second
    assert client.get(reverse("public-home"), {"models": "forged"}).status_code == 400
