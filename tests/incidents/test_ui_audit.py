"""The audit log viewer and the checkpoints page: exactly what `audit_event_list` returns for the reader
(labs get a 404, visitors the sign-in page), filters that narrow it, keyset pages, proof links that work."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.authentication import principal_for_membership
from accounts.models import Role
from core.models import AuditEvent
from core.sealing import audit_seal
from incidents import selectors
from tests.factories import MembershipFactory, issue_key, sign_in
from tests.incidents import matrix
from tests.incidents.matrix import World

pytestmark = pytest.mark.django_db
world = matrix.world

READERS = ["lead_reviewer", "other_reviewer", "regulator", "coordination"]
EVENT_RE = re.compile(r'data-event="([0-9]+)"')


def _shown(response) -> set[int]:
    assert response.status_code == 200, response.content[:500]
    return {int(pk) for pk in EVENT_RE.findall(response.content.decode())}


def _selector_ids(world: World, principal: str) -> set[int]:
    actor = principal_for_membership(world.memberships[principal])
    return set(selectors.audit_event_list(actor=actor).values_list("pk", flat=True))


@pytest.mark.parametrize("principal", READERS)
def test_the_viewer_shows_exactly_what_the_selector_returns(world, principal):
    shown = _shown(world.clients[principal].get(reverse("audit-log"), {"limit": 200}))
    assert shown == _selector_ids(world, principal)
    titles = world.clients[principal].get(reverse("audit-log"), {"limit": 200}).content.decode()
    hidden = set(matrix.TLPS) - world.visible(principal)
    for tlp in hidden:
        assert world.incidents[tlp].public_id not in titles


@pytest.mark.parametrize("principal", ["lab_a_submitter", "lab_b_submitter"])
def test_lab_users_get_404_on_the_audit_pages(world, principal):
    client = world.clients[principal]
    assert client.get(reverse("audit-log")).status_code == 404
    assert client.get(reverse("audit-checkpoints")).status_code == 404


def test_a_lab_admin_gets_404_too(world):
    client = world.clients["anonymous"].__class__()
    sign_in(client, MembershipFactory(organization=world.orgs["lab_a"], role=Role.LAB_ADMIN).user)
    assert client.get(reverse("audit-log")).status_code == 404


def test_visitors_are_sent_to_sign_in(world):
    for name in ("audit-log", "audit-checkpoints"):
        response = world.clients["anonymous"].get(reverse(name))
        assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_a_platform_admin_sees_what_the_selector_gives_a_platform_admin(world):
    membership = MembershipFactory(organization=world.orgs["us"], role=Role.PLATFORM_ADMIN)
    key, _ = issue_key(world.orgs["lab_a"])  # an event about another org's key: platform admins only
    client = world.clients["anonymous"].__class__()
    sign_in(client, membership.user)
    shown = _shown(client.get(reverse("audit-log"), {"limit": 200}))
    actor = principal_for_membership(membership)
    assert shown == set(selectors.audit_event_list(actor=actor).values_list("pk", flat=True))
    assert AuditEvent.objects.get(event_code="api_key.created", target_id=str(key.pk)).pk in shown
    assert not shown <= _selector_ids(world, "other_reviewer")  # more than a reviewer of the same org


def test_filters_narrow_the_log(world):
    client = world.clients["regulator"]
    everything = _shown(client.get(reverse("audit-log"), {"limit": 200}))
    submitted = _shown(client.get(reverse("audit-log"), {"limit": 200, "event_code": "incident.submitted"}))
    actor = principal_for_membership(world.memberships["regulator"])
    expected = set(
        selectors.audit_event_list(actor=actor)
        .filter(event_code="incident.submitted")
        .values_list("pk", flat=True)
    )
    assert submitted == expected and submitted
    assert _shown(client.get(reverse("audit-log"), {"event_code": "api_key.created"})) == set()

    by_type = _shown(client.get(reverse("audit-log"), {"limit": 200, "target_type": "incidents.incident"}))
    assert by_type and by_type <= everything
    by_org = _shown(
        client.get(reverse("audit-log"), {"limit": 200, "actor_org": world.orgs["lab_a"].short_name})
    )
    assert by_org == submitted
    assert _shown(client.get(reverse("audit-log"), {"actor_org": world.orgs["lab_b"].short_name})) == set()

    today = timezone.localdate()
    assert (
        _shown(client.get(reverse("audit-log"), {"limit": 200, "since": today, "until": today})) == everything
    )
    assert _shown(client.get(reverse("audit-log"), {"since": today + timedelta(days=1)})) == set()
    assert _shown(client.get(reverse("audit-log"), {"until": today - timedelta(days=1)})) == set()


@pytest.mark.parametrize(
    "params", [{"since": "yesterday"}, {"actor_org": "no-such-org"}, {"event_code": "x" * 65}, {"limit": "0"}]
)
def test_bad_filters_are_a_400_not_a_crash(world, params):
    response = world.clients["regulator"].get(reverse("audit-log"), params)
    assert response.status_code == 400
    assert not EVENT_RE.findall(response.content.decode())


def test_pages_are_keyset_newest_first_and_cover_everything_once(world, django_assert_max_num_queries):
    client = world.clients["regulator"]
    seen: list[int] = []
    url = reverse("audit-log") + "?limit=2"
    while url:
        with django_assert_max_num_queries(12):
            response = client.get(url)
        html = response.content.decode()
        seen += [int(pk) for pk in EVENT_RE.findall(html)]
        match = re.search(r'href="([^"]+cursor=[^"]+)">Older', html)
        url = match.group(1).replace("&amp;", "&") if match else ""
    assert len(seen) == len(set(seen)) and set(seen) == _selector_ids(world, "regulator")
    assert seen == sorted(seen, reverse=True)  # same instant order: ids descend with time


def test_sealed_events_link_to_a_working_inclusion_proof(world):
    client = world.clients["regulator"]
    before = client.get(reverse("audit-log")).content.decode()
    assert "not sealed yet" in before and "data-proof" not in before
    audit_seal()
    html = client.get(reverse("audit-log")).content.decode()
    proofs = re.findall(r'href="(/api/v1/audit/[0-9]+/proof)" data-proof', html)
    assert proofs
    proof = client.get(proofs[0])
    assert proof.status_code == 200 and "audit_path" in proof.json()


def test_the_checkpoints_page_shows_signed_heads_the_public_key_and_how_to_verify(world):
    client = world.clients["lead_reviewer"]
    assert "No checkpoint has been signed yet" in client.get(reverse("audit-checkpoints")).content.decode()
    checkpoint = audit_seal()
    response = client.get(reverse("audit-checkpoints"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-tree-size="{checkpoint.tree_size}"' in html
    assert checkpoint.root_hash in html and checkpoint.signature in html
    key = client.get("/api/v1/audit/public-key").json()
    assert key["public_key"] in html and key["key_id"] in html
    assert "/api/v1/audit/consistency" in html and "/api/v1/audit/public-key" in html
