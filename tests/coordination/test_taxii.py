"""TAXII 2.1 (issue 6): the OASIS taxii2-client reads discovery, API roots, collections and paged objects
from a running server (pytest-django's live_server), with added_after, match[type], next/more, object by
id, versions and manifest; wrong media types get 406 / 415; and the visibility matrix of DESIGN 4 holds
over the TAXII collections: a principal gets exactly the objects its STIX exports hold, nothing more."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from accounts.models import Role
from coordination import services as coordination_services
from coordination.stix import stix_id
from coordination.taxii.media import TAXII_MEDIA_TYPE
from incidents import services as incident_services
from tests.coordination.helpers import lab_member, submit
from tests.coordination.test_stix import SECRET_AUDIENCE, SECRET_ON, build_stix_world
from tests.factories import MembershipFactory, OrganizationFactory, issue_key, member_principal, sign_in
from tests.incidents.matrix import EXPECTED, PRINCIPALS, TLPS

pytestmark = pytest.mark.django_db(transaction=True)


class ApiKeyAuth(requests.auth.AuthBase):
    """`Authorization: Api-Key <prefix>.<secret>` on every request taxii2-client makes."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Api-Key {self.key}"
        return request


class SessionAuth(requests.auth.AuthBase):
    """A signed-in browser session (what a user's own TAXII client can reuse)."""

    def __init__(self, user: Any) -> None:
        client = Client()
        sign_in(client, user)
        self.cookie = f"sessionid={client.cookies['sessionid'].value}"

    def __call__(self, request: Any) -> Any:
        request.headers["Cookie"] = self.cookie
        return request


def _read_collection(root: ApiRoot) -> Collection:
    (collection,) = [c for c in root.collections if c.can_read]
    return collection


def _all_objects(collection: Collection, per_request: int = 0, **filters: Any) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for envelope in as_pages(collection.get_objects, per_request=per_request, **filters):
        objects.extend(envelope.get("objects", []))
    return objects


@pytest.fixture
def reports(db: Any) -> dict[str, Any]:
    """Six TLP:CLEAR reports and one TLP:AMBER report of a lab, filed through the service (the outbox
    handler indexes each for TAXII on commit)."""
    lab = OrganizationFactory(kind="lab", short_name="taxii-lab", sharing_communities=["frontier-g7"])
    member = lab_member(lab)
    clear = [submit(member, tlp="clear") for _ in range(6)]
    amber = submit(member, tlp="amber")
    return {"lab": lab, "member": member, "clear": clear, "amber": amber}


def test_taxii2_client_reads_discovery_roots_collections_and_paged_objects(live_server, reports):
    server = Server(f"{live_server.url}/taxii2/")
    assert server.title == "Redline TAXII 2.1 server"
    assert [root.url for root in server.api_roots] == [f"{live_server.url}/taxii2/default/"]
    assert server.default.url == f"{live_server.url}/taxii2/default/"
    root = server.api_roots[0]
    assert root.versions == [TAXII_MEDIA_TYPE] and root.max_content_length > 0
    # Anonymous: the read collection only (no inbound collection to write to).
    assert [(c.can_read, c.can_write) for c in root.collections] == [(True, False)]
    collection = _read_collection(root)

    everything = _all_objects(collection)
    paged = _all_objects(collection, per_request=4)
    ids = [o["id"] for o in paged]
    assert len(ids) == len(set(ids)), "an object was repeated across pages"
    assert ids == [o["id"] for o in everything], "paging lost or reordered objects"
    incident_ids = {stix_id("incident", i.pk) for i in reports["clear"]}
    assert {o["id"] for o in paged if o["type"] == "incident"} == incident_ids
    assert stix_id("incident", reports["amber"].pk) not in ids  # anonymous: TLP:CLEAR only

    # match[type] with paging: exactly the six incidents, in the order they were added.
    typed = _all_objects(collection, per_request=2, type="incident")
    assert [o["id"] for o in typed] == [stix_id("incident", i.pk) for i in reports["clear"]]

    # added_after: everything after the third incident's date_added, and nothing before it.
    manifest = collection.get_manifest(type="incident")
    assert [m["id"] for m in manifest["objects"]] == [o["id"] for o in typed]
    assert all(m["media_type"] == "application/stix+json;version=2.1" for m in manifest["objects"])
    added = [m["date_added"] for m in manifest["objects"]]
    assert added == sorted(added) and len(set(added)) == len(added)
    later = _all_objects(collection, per_request=2, type="incident", added_after=added[2])
    assert [o["id"] for o in later] == [o["id"] for o in typed[3:]]

    # One object, its versions.
    target = typed[0]
    envelope = collection.get_object(target["id"])
    assert [o["id"] for o in envelope["objects"]] == [target["id"]]
    assert collection.object_versions(target["id"])["versions"] == [target["modified"]]
    with pytest.raises(requests.HTTPError) as hidden:
        collection.get_object(stix_id("incident", reports["amber"].pk))
    assert hidden.value.response.status_code == 404

    # The date headers name the first and last object of the page.
    response = requests.get(
        f"{collection.url}objects/",
        params={"match[type]": "incident"},
        headers={"Accept": TAXII_MEDIA_TYPE},
        timeout=30,
    )
    assert response.headers["Content-Type"] == TAXII_MEDIA_TYPE
    assert response.headers["X-TAXII-Date-Added-First"] == added[0]
    assert response.headers["X-TAXII-Date-Added-Last"] == added[-1]


def test_a_new_version_is_added_again_after_the_last_date_added(live_server, reports):
    collection = _read_collection(Server(f"{live_server.url}/taxii2/").api_roots[0])
    seen = collection.get_manifest()["objects"]
    last = seen[-1]["date_added"]
    assert collection.get_objects(added_after=last) == {"more": False}
    first = reports["clear"][0]
    incident_services.incident_amend(
        actor=_lab_principal(reports["member"]), incident=first, changes={"title": "Amended"}, links=None
    )
    fresh = collection.get_objects(added_after=last, type="incident")["objects"]
    assert [o["id"] for o in fresh] == [stix_id("incident", first.pk)]
    assert fresh[0]["name"].endswith("Amended") and fresh[0]["modified"] > seen[0]["version"]


def _lab_principal(member: Any) -> Any:
    from accounts.authentication import principal_for_membership

    return principal_for_membership(member)


def test_community_roots_narrow_to_their_members_reports(live_server, reports):
    regulator = OrganizationFactory(
        kind="regulator", jurisdictions=["EU"], sharing_communities=["frontier-g7"]
    )
    _, key = issue_key(regulator, role=Role.REGULATOR)
    outsider = OrganizationFactory(kind="lab", short_name="taxii-other-lab", sharing_communities=["other"])
    submit(lab_member(outsider), tlp="clear")
    server = Server(f"{live_server.url}/taxii2/", auth=ApiKeyAuth(key))
    urls = [root.url for root in server.api_roots]
    assert urls == [f"{live_server.url}/taxii2/default/", f"{live_server.url}/taxii2/community/frontier-g7/"]
    community = _read_collection(server.api_roots[1])
    incidents = {o["id"] for o in _all_objects(community, type="incident")}
    expected = {stix_id("incident", i.pk) for i in [*reports["clear"], reports["amber"]]}
    assert incidents == expected  # the amber one too (a regulator), the outsider's clear one not
    # A community the caller does not belong to is not there at all.
    response = requests.get(
        f"{live_server.url}/taxii2/community/other/", headers={"Authorization": f"Api-Key {key}"}, timeout=30
    )
    assert response.status_code == 404
    assert response.json()["http_status"] == "404" and response.json()["code"] == "not_found"


def test_the_visibility_matrix_holds_over_taxii_collections(live_server):
    sw = build_stix_world()
    coordination_services.stix_index_all()  # the world's assessments and comments are made by factories
    world = sw.world
    exporter = APIClient()
    for principal in PRINCIPALS:
        auth = None if principal == "anonymous" else SessionAuth(world.memberships[principal].user)
        collection = _read_collection(Server(f"{live_server.url}/taxii2/", auth=auth).api_roots[0])
        objects = _all_objects(collection, per_request=7)
        ids = [o["id"] for o in objects]
        assert len(ids) == len(set(ids)), principal
        # Exactly the objects of the principal's own STIX exports of the reports it may see.
        if principal == "anonymous":
            exporter.logout()
        else:
            sign_in(exporter, world.memberships[principal].user)
        exported: set[str] = set()
        for tlp in TLPS:
            response = exporter.get(f"/api/v1/incidents/{world.incidents[tlp].public_id}/stix")
            assert response.status_code == (200 if tlp in EXPECTED[principal] else 404), (principal, tlp)
            if response.status_code == 200:
                exported |= {o["id"] for o in response.json()["objects"]}
        assert set(ids) == exported, (principal, set(ids) ^ exported)
        text = str(objects)
        for tlp, incident in world.incidents.items():
            shown = stix_id("incident", incident.pk) in ids
            assert shown == (tlp in EXPECTED[principal]), (principal, tlp)
            if not shown:
                assert incident.title not in text
        for secret, audience in SECRET_AUDIENCE.items():
            record = sw.records.get(secret)
            present = secret in text or (record is not None and str(record.public_id) in text)
            on = SECRET_ON.get(secret, set(TLPS)) & EXPECTED[principal]
            assert present == (bool(on) and principal in audience), (principal, secret)


def test_a_lab_key_sees_its_own_reports_and_no_other_labs(live_server, reports):
    other = OrganizationFactory(kind="lab")
    _, own_key = issue_key(reports["lab"], role=Role.LAB_ADMIN)
    _, other_key = issue_key(other, role=Role.LAB_ADMIN)
    amber = stix_id("incident", reports["amber"].pk)
    own = _read_collection(Server(f"{live_server.url}/taxii2/", auth=ApiKeyAuth(own_key)).api_roots[0])
    assert amber in {o["id"] for o in _all_objects(own, type="incident")}
    theirs = _read_collection(Server(f"{live_server.url}/taxii2/", auth=ApiKeyAuth(other_key)).api_roots[0])
    assert amber not in {o["id"] for o in _all_objects(theirs, type="incident")}
    # The inbound collection is listed for a signed-in lab, but not writable.
    root = Server(f"{live_server.url}/taxii2/", auth=ApiKeyAuth(other_key)).api_roots[0]
    assert sorted((c.can_read, c.can_write) for c in root.collections) == [(False, False), (True, False)]


# --- media types, errors and query counts: the plain test client is enough -------------------------------


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _collection_url(client: APIClient, root: str = "/taxii2/default/") -> str:
    body = client.get(f"{root}collections/", HTTP_ACCEPT=TAXII_MEDIA_TYPE).json()
    (read,) = [c for c in body["collections"] if c["can_read"]]
    return f"{root}collections/{read['id']}/"


@pytest.mark.parametrize(
    "accept",
    ["application/json", "application/taxii+json;version=2.0", "text/html", "application/taxii+json;q=0"],
)
def test_an_unacceptable_accept_header_is_406(api, accept):
    response = api.get("/taxii2/", HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert response["Content-Type"] == TAXII_MEDIA_TYPE
    body = response.json()
    assert body["http_status"] == "406" and body["title"] and body["code"] == "not_acceptable"


@pytest.mark.parametrize("accept", [TAXII_MEDIA_TYPE, "application/taxii+json", "*/*", ""])
def test_the_taxii_media_type_and_wildcards_are_served(api, accept):
    response = api.get("/taxii2/", HTTP_ACCEPT=accept) if accept else api.get("/taxii2/")
    assert response.status_code == 200 and response["Content-Type"] == TAXII_MEDIA_TYPE


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/stix+json;version=2.1", "application/taxii+json;version=2.0"],
)
def test_a_post_that_is_not_taxii_json_is_415(api, content_type):
    regulator = OrganizationFactory(kind="regulator", jurisdictions=["EU"])
    _, key = issue_key(regulator, role=Role.REGULATOR)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = api.get("/taxii2/default/collections/", HTTP_ACCEPT=TAXII_MEDIA_TYPE).json()
    (inbound,) = [c for c in body["collections"] if c["can_write"]]
    response = api.generic(
        "POST",
        f"/taxii2/default/collections/{inbound['id']}/objects/",
        data=b'{"objects": []}',
        content_type=content_type,
        HTTP_ACCEPT=TAXII_MEDIA_TYPE,
    )
    assert response.status_code == 415, response.content
    assert response.json()["http_status"] == "415"


def test_bad_filters_are_400_and_a_bad_cursor_too(api):
    url = _collection_url(api)
    for query in ("added_after=yesterday", "limit=0", "limit=abc", "next=!!!", "match[version]=soon"):
        response = api.get(f"{url}objects/?{query}", HTTP_ACCEPT=TAXII_MEDIA_TYPE)
        assert response.status_code == 400, query
        assert response.json()["http_status"] == "400"


def test_reading_the_inbound_collection_is_403_and_an_unknown_collection_404(api):
    regulator = OrganizationFactory(kind="regulator", jurisdictions=["EU"])
    _, key = issue_key(regulator, role=Role.REGULATOR)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = api.get("/taxii2/default/collections/", HTTP_ACCEPT=TAXII_MEDIA_TYPE).json()
    (inbound,) = [c for c in body["collections"] if not c["can_read"]]
    response = api.get(f"/taxii2/default/collections/{inbound['id']}/objects/", HTTP_ACCEPT=TAXII_MEDIA_TYPE)
    assert response.status_code == 403
    response = api.get(
        "/taxii2/default/collections/00000000-0000-0000-0000-000000000000/objects/",
        HTTP_ACCEPT=TAXII_MEDIA_TYPE,
    )
    assert response.status_code == 404


def test_an_objects_page_costs_the_same_queries_whatever_its_size(api):
    lab = OrganizationFactory(kind="lab")
    member = MembershipFactory(organization=lab, role=Role.LAB_SUBMITTER)
    for _ in range(8):
        submit(member, tlp="clear")
    url = _collection_url(api)
    counts = []
    for limit in (2, 40):
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"{url}objects/?limit={limit}", HTTP_ACCEPT=TAXII_MEDIA_TYPE)
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(response.json()["objects"]) > 2
    assert counts[0] == counts[1], counts


# --- changes reach a TAXII mirror polling with added_after ------------------------------------------------


def _poll(client: APIClient, url: str, added_after: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Everything added after `added_after` (one page of at most 500), and the new high-water mark."""
    params = {"limit": "500", **({"added_after": added_after} if added_after else {})}
    response = client.get(f"{url}objects/", params, HTTP_ACCEPT=TAXII_MEDIA_TYPE)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["more"] is False
    return response.json().get("objects", []), response.get("X-TAXII-Date-Added-Last", added_after or "")


def _by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in objects}


def test_a_tlp_change_and_a_withdrawal_reach_the_next_poll(api, reports, regulator_org):
    from coordination.stix import TLP_MARKING_IDS

    url = _collection_url(api)
    seen, mark = _poll(api, url)
    amber, clear = reports["amber"], reports["clear"][0]
    amber_id, clear_id = stix_id("incident", amber.pk), stix_id("incident", clear.pk)
    assert amber_id not in _by_id(seen) and clear_id in _by_id(seen)

    # A regulator lowers the amber report to clear: the anonymous mirror gets it, with its relationships,
    # marked TLP:CLEAR, on the next poll.
    regulator = member_principal(regulator_org, Role.REGULATOR)
    incident_services.incident_change_tlp(actor=regulator, incident=amber, tlp="clear", reason="Published")
    fresh, mark = _poll(api, url, mark)
    got = _by_id(fresh)
    assert got[amber_id]["object_marking_refs"] == [TLP_MARKING_IDS["clear"]]
    assert any(o["type"] == "relationship" and o["source_ref"] == amber_id for o in fresh)
    assert clear_id not in got  # unchanged objects are not sent again

    # The owner withdraws another report: it comes again, closed.
    owner = _lab_principal(reports["member"])
    incident_services.incident_transition(actor=owner, incident=clear, action="withdraw", reason="Duplicate")
    fresh, mark = _poll(api, url, mark)
    changed = _by_id(fresh)[clear_id]
    assert changed["extensions"]
    (core,) = changed["extensions"].values()
    assert core["investigation_status"] == "closed"

    # Raised back to amber by its owner: the anonymous mirror gets nothing more of it, and a regulator's
    # mirror gets the amber version.
    incident_services.incident_change_tlp(actor=owner, incident=amber, tlp="amber", reason="")
    fresh, _ = _poll(api, url, mark)
    assert amber_id not in _by_id(fresh)
    assert amber_id not in _by_id(_poll(api, url)[0])
    _, key = issue_key(regulator_org, role=Role.REGULATOR)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    regulator_view, _ = _poll(api, url, mark)
    assert _by_id(regulator_view)[amber_id]["object_marking_refs"] == [TLP_MARKING_IDS["amber"]]


def test_an_assessment_reaches_the_next_poll_as_an_opinion(api, reports, regulator_org):
    _, key = issue_key(regulator_org, role=Role.REGULATOR)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    url = _collection_url(api)
    _, mark = _poll(api, url)
    regulator = member_principal(regulator_org, Role.REGULATOR)
    incident_services.assessment_set(
        actor=regulator,
        incident=reports["amber"],
        data={"verdict": "confirmed_self_replication", "tlp": "amber"},
    )
    fresh, _ = _poll(api, url, mark)
    opinions = [o for o in fresh if o["type"] == "opinion"]
    assert [o["object_refs"] for o in opinions] == [[stix_id("incident", reports["amber"].pk)]]


def test_taxii_reindex_rebuilds_the_index_and_moves_nothing_unchanged(api, reports):
    from django.core.management import call_command

    from coordination.models import TaxiiObject

    url = _collection_url(api)
    before, _ = _poll(api, url)
    TaxiiObject.objects.all().delete()  # e.g. reports filed before the release that added TAXII
    assert _poll(api, url)[0] == []
    out = StringIO()
    call_command("taxii_reindex", "--batch", "2", stdout=out)
    assert int(out.getvalue().split()[2]) == TaxiiObject.objects.count() > 0
    after, _ = _poll(api, url)
    assert sorted(o["id"] for o in after) == sorted(o["id"] for o in before)
    stamps = list(TaxiiObject.objects.values_list("pk", "date_added"))
    call_command("taxii_reindex", stdout=(again := StringIO()))
    assert "TAXII index: 0 objects" in again.getvalue()
    assert list(TaxiiObject.objects.values_list("pk", "date_added")) == stamps
