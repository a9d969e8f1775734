"""STIX 2.1 exports (issue 6): every bundle validates with the OASIS validator and re-parses with stix2;
every object carries the TLP 2.0 marking of its own TLP; ids are deterministic; and the visibility matrix
of DESIGN 4 holds over the exports: 404 exactly when the detail is 404, and nothing of a record the
caller may not see appears anywhere in the bundle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
import stix2
from django.db import connection
from django.test.utils import CaptureQueriesContext
from stix2validator import ValidationOptions, validate_instance

from accounts.authentication import principal_for_membership
from coordination.stix import (
    INCIDENT_CORE_EXTENSION_ID,
    STIX_MEDIA_TYPE,
    TLP2_EXTENSION_ID,
    TLP_MARKING_IDS,
    incident_stix_objects,
    incidents_stix_objects,
    stix_bundle,
    stix_id,
    tlp_marking_definition,
)
from core.actors import SYSTEM
from core.enums import TLP, TLP_ORDER
from incidents import services
from incidents.models import Assessment, Comment, Incident, IncidentAlias
from incidents.selectors import incident_list
from registry.models import EvaluationResult, FrontierModel
from tests.factories import EvaluationResultFactory, FrontierModelFactory
from tests.incidents.matrix import PRINCIPALS, TLPS, World, build_world
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

# Validator warnings a Redline bundle may carry, and why they are expected:
# 302: an external reference with a URL but no hash (a registry page is not a fixed file to hash).
# 218: `report_types: ["evaluation-result"]`, a permitted value outside the suggested vocabulary (none of
#      the suggested report types describes a capability evaluation).
ALLOWED_WARNINGS = {"302", "218"}

OVERSIGHT = {"lead_reviewer", "other_reviewer", "regulator", "coordination"}
# Which principals may see each secret record (DESIGN 4, written out by hand, not computed by the code
# under test): whoever may see the incident sees the record only when listed here.
SECRET_AUDIENCE: dict[str, set[str]] = {
    "AmberModelStixSecret": {"lab_a_submitter"} | OVERSIGHT,  # amber model of lab A
    "RedModelStixSecret": {"lab_a_submitter"},  # red model: its owner only
    "strict-eval-stix-secret": {"lab_a_submitter", "other_reviewer"},  # amber+strict, model in the US
    "EU red assessment stix secret": {"lead_reviewer", "regulator"},  # red container of the EU office
    # A green container reaches every participant organisation that sees the report (lab B too).
    "Coordination green assessment stix note": {"lab_a_submitter", "lab_b_submitter"} | OVERSIGHT,
    "Internal comment stix secret": OVERSIGHT,
    "Shared comment stix secret": {"lab_a_submitter"} | OVERSIGHT,
}

# The coordination body cannot see the amber+strict and red reports, so has no container on them.
SECRET_ON: dict[str, set[str]] = {"Coordination green assessment stix note": {"clear", "green", "amber"}}


@dataclass
class StixWorld:
    world: World
    records: dict[str, Any]  # secret name -> the record


def _validate(bundle: dict[str, Any]) -> None:
    results = validate_instance(bundle, ValidationOptions(strict=False))
    errors = [str(e) for e in results.errors]
    assert results.is_valid and not errors, errors
    for result in results.object_results if hasattr(results, "object_results") else [results]:
        for warning in result.warnings or []:
            assert str(warning).split("{")[1][:3] in ALLOWED_WARNINGS, str(warning)
    parsed = stix2.parse(json.dumps(bundle), allow_custom=False)
    assert len(parsed.objects) == len(bundle["objects"])


def _expected_tlp(obj: dict[str, Any], by_id: dict[str, dict[str, Any]], tlps: dict[str, str]) -> str:
    return tlps[obj["id"]]


def build_stix_world() -> StixWorld:
    world = build_world()
    orgs, memberships = world.orgs, world.memberships
    submitter = principal_for_membership(memberships["lab_a_submitter"])
    lead = principal_for_membership(memberships["lead_reviewer"])
    coordination = principal_for_membership(memberships["coordination"])
    clear_model = FrontierModelFactory(
        provider=orgs["lab_a"], name="ClearModelStix", tlp="clear", jurisdictions=["US"]
    )
    amber_model = FrontierModelFactory(provider=orgs["lab_a"], name="AmberModelStixSecret", tlp="amber")
    red_model = FrontierModelFactory(provider=orgs["lab_a"], name="RedModelStixSecret", tlp="red")
    clear_eval = EvaluationResultFactory(model=clear_model, task="clear-eval-stix", tlp="clear")
    strict_eval = EvaluationResultFactory(
        model=clear_model, task="strict-eval-stix-secret", tlp="amber+strict"
    )
    records: dict[str, Any] = {
        "AmberModelStixSecret": amber_model,
        "RedModelStixSecret": red_model,
        "strict-eval-stix-secret": strict_eval,
    }
    for tlp, incident in world.incidents.items():
        links = services.Links(
            models=[
                services.InvolvedModel(role="originating", model=clear_model),
                services.InvolvedModel(role="replica", model=amber_model),
                services.InvolvedModel(role="other", model=red_model),
                services.InvolvedModel(role="other", model_name="in-house"),
            ],
            related_evaluations=[clear_eval, strict_eval],
        )
        incident, _ = services.incident_amend(
            actor=submitter,
            incident=incident,
            changes={
                "observed_behaviours": [
                    {"behaviour": "prompt_self_replication", "description": "Copied its prompt."},
                    {"behaviour": "weight_transfer", "description": "Copied its weights."},
                ],
                "severity": "serious_incident",
                "determination": "confirmed",
                "aliases": [{"source": "atlas", "external_id": "AML.CS0042"}],
            },
            links=links,
        )
        world.incidents[tlp] = incident
        if tlp in ("clear", "green", "amber", "amber+strict", "red"):
            services.assessment_set(
                actor=lead,
                incident=incident,
                data={
                    "verdict": "confirmed_self_replication",
                    "notes": "EU red assessment stix secret",
                    "tlp": "red",
                },
            )
        if tlp in ("clear", "green", "amber"):
            services.assessment_set(
                actor=coordination,
                incident=incident,
                data={
                    "verdict": "inconclusive",
                    "notes": "Coordination green assessment stix note",
                    "tlp": "green",
                },
            )
        services.comment_add(
            actor=lead, incident=incident, visibility="internal", body="Internal comment stix secret"
        )
        services.comment_add(
            actor=submitter, incident=incident, visibility="shared", body="Shared comment stix secret"
        )
    return StixWorld(world=world, records=records)


@pytest.fixture
def sw(db: Any) -> StixWorld:
    return build_stix_world()


def _bundle(client: Any, incident: Incident) -> Any:
    return client.get(f"/api/v1/incidents/{incident.public_id}/stix")


def _expected_marking(sw: StixWorld, incident: Incident) -> dict[str, str]:
    """Object id -> the TLP its marking must name, from the records themselves."""
    expected: dict[str, str] = {stix_id("incident", incident.pk): incident.tlp}
    for model in FrontierModel.objects.all():
        expected[stix_id("software", model.pk)] = model.tlp
        rel = stix_id("relationship", f"{incident.pk}:{stix_id('software', model.pk)}")
        expected[rel] = max(incident.tlp, model.tlp, key=lambda t: TLP_ORDER[TLP(t)])
    for evaluation in EvaluationResult.objects.all():
        expected[stix_id("report", evaluation.pk)] = evaluation.tlp
        rel = stix_id("relationship", f"{incident.pk}:{stix_id('report', evaluation.pk)}")
        expected[rel] = max(incident.tlp, evaluation.tlp, key=lambda t: TLP_ORDER[TLP(t)])
    for assessment in Assessment.objects.filter(incident=incident):
        expected[stix_id("opinion", assessment.pk)] = assessment.tlp
    for comment in Comment.objects.filter(incident=incident):
        expected[stix_id("note", comment.pk)] = max(incident.tlp, "amber", key=lambda t: TLP_ORDER[TLP(t)])
    return expected


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_stix_export_follows_the_visibility_matrix(sw, principal):
    world = sw.world
    client = world.clients[principal]
    for tlp in TLPS:
        incident = world.incidents[tlp]
        detail = client.get(f"/api/v1/incidents/{incident.public_id}")
        response = _bundle(client, incident)
        assert response.status_code == detail.status_code, (principal, tlp)
        text = response.content.decode()
        if response.status_code == 404:
            assert incident.title not in text and str(incident.pk) not in text
            assert stix_id("incident", incident.pk) not in text
            continue
        assert response.status_code == 200
        assert response["Content-Type"] == STIX_MEDIA_TYPE
        bundle = response.json()
        _validate(bundle)
        for secret, audience in SECRET_AUDIENCE.items():
            record = sw.records.get(secret)
            shown = secret in text or (record is not None and str(record.pk) in text)
            if record is not None:
                shown = shown or record.public_id in text
            exists = tlp in SECRET_ON.get(secret, set(TLPS))
            assert shown == (exists and principal in audience), (principal, tlp, secret)
        # Every object but the marking definitions is marked with the TLP of its own record.
        expected = _expected_marking(sw, incident)
        markings_present = {o["id"] for o in bundle["objects"] if o["type"] == "marking-definition"}
        for obj in bundle["objects"]:
            if obj["type"] == "marking-definition":
                continue
            assert len(obj["object_marking_refs"]) == 1
            marking = obj["object_marking_refs"][0]
            assert marking in markings_present
            if obj["type"] in ("identity", "attack-pattern"):
                assert marking == TLP_MARKING_IDS["clear"]
            elif obj["id"] in expected:
                assert marking == TLP_MARKING_IDS[expected[obj["id"]]], (obj["type"], obj.get("name"))


def test_the_incident_carries_the_incident_core_extension_and_its_aliases(sw):
    world = sw.world
    incident = world.incidents["clear"]
    bundle = _bundle(world.clients["anonymous"], incident).json()
    (sdo,) = [o for o in bundle["objects"] if o["type"] == "incident"]
    core = sdo["extensions"][INCIDENT_CORE_EXTENSION_ID]
    assert core == {
        "extension_type": "property-extension",
        "determination": "successful-attempt",
        "investigation_status": "new",
        "criticality": 80,
    }
    assert sdo["id"] == stix_id("incident", incident.pk)
    assert sdo["modified"].endswith("Z") and len(sdo["modified"]) == len("2026-01-01T00:00:00.000Z")
    references = {(r["source_name"], r["external_id"]) for r in sdo["external_references"]}
    assert ("MITRE ATLAS", "AML.CS0042") in references
    assert ("redline", incident.public_id) in references
    atlas = [o for o in bundle["objects"] if o["type"] == "attack-pattern"]
    by_name = {o["name"]: o for o in atlas}
    assert {
        r.get("external_id")
        for r in by_name["Prompt self-replication (ATLAS AML.T0061)"]["external_references"]
    } >= {"AML.T0061"}
    weight = [o for o in atlas if o["name"] != "Prompt self-replication (ATLAS AML.T0061)"]
    assert weight and all(
        r["source_name"] != "mitre-atlas" for o in weight for r in o["external_references"]
    )  # no ATLAS technique describes a plain weight copy


def test_a_rejected_false_positive_is_closed_and_false_positive(sw):
    incident = sw.world.incidents["clear"]
    Incident.objects.filter(pk=incident.pk).update(status="rejected", rejection_reason="false_positive")
    incident.refresh_from_db()
    objects = incident_stix_objects(
        actor=principal_for_membership(sw.world.memberships["regulator"]), incident=incident
    )
    (sdo,) = [o for o in objects if o["type"] == "incident"]
    assert sdo["extensions"][INCIDENT_CORE_EXTENSION_ID]["determination"] == "false-positive"
    assert sdo["extensions"][INCIDENT_CORE_EXTENSION_ID]["investigation_status"] == "closed"


def test_ids_and_bytes_are_deterministic_and_the_etag_answers_304(sw):
    client = sw.world.clients["regulator"]
    incident = sw.world.incidents["amber"]
    first, second = _bundle(client, incident), _bundle(client, incident)
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    again = client.get(f"/api/v1/incidents/{incident.public_id}/stix", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    services.comment_add(
        actor=principal_for_membership(sw.world.memberships["regulator"]),
        incident=incident,
        visibility="internal",
        body="A new note changes the bundle.",
    )
    changed = _bundle(client, incident)
    assert changed["ETag"] != first["ETag"]
    old_ids = {o["id"] for o in first.json()["objects"]}
    assert old_ids < {o["id"] for o in changed.json()["objects"]}


def test_the_tlp_marking_definitions_are_the_oasis_ones():
    amber = tlp_marking_definition("amber")
    assert amber == {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "created": "2022-10-01T00:00:00.000Z",
        "name": "TLP:AMBER",
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "amber"}},
    }
    assert TLP_MARKING_IDS["red"] == "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
    assert TLP_MARKING_IDS["amber+strict"] == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"


def test_media_types_json_and_not_acceptable(sw):
    client = sw.world.clients["anonymous"]
    url = f"/api/v1/incidents/{sw.world.incidents['clear'].public_id}/stix"
    assert client.get(url, HTTP_ACCEPT="application/json")["Content-Type"] == "application/json"
    assert client.get(url, HTTP_ACCEPT="application/stix+json")["Content-Type"] == STIX_MEDIA_TYPE
    assert client.get(url, HTTP_ACCEPT="application/stix+json;version=2.1").status_code == 200
    assert_problem(client.get(url, HTTP_ACCEPT="text/html"), 406)
    assert_problem(client.get(url, HTTP_ACCEPT="application/stix+json;version=2.0"), 406)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_query_bundle_holds_exactly_the_visible_incidents(sw, principal):
    client = sw.world.clients[principal]
    response = client.get("/api/v1/incidents/stix", {"limit": 200})
    assert response.status_code == 200
    bundle = response.json()
    _validate(bundle)
    ids = {o["id"] for o in bundle["objects"] if o["type"] == "incident"}
    expected = {stix_id("incident", sw.world.incidents[t].pk) for t in sw.world.visible(principal)}
    assert ids == expected
    text = response.content.decode()
    for secret, audience in SECRET_AUDIENCE.items():
        assert (secret in text) == (principal in audience and bool(sw.world.visible(principal))), secret


def test_the_query_bundle_pages_with_a_link_header_and_filters(sw):
    client = sw.world.clients["lab_a_submitter"]
    seen: list[str] = []
    url: str | None = "/api/v1/incidents/stix?limit=2&ordering=modified_at"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        _validate(response.json())
        seen += [o["id"] for o in response.json()["objects"] if o["type"] == "incident"]
        link = response.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert sorted(seen) == sorted(stix_id("incident", i.pk) for i in sw.world.incidents.values())
    amber = client.get("/api/v1/incidents/stix", {"tlp": "amber"}).json()
    assert [o["id"] for o in amber["objects"] if o["type"] == "incident"] == [
        stix_id("incident", sw.world.incidents["amber"].pk)
    ]
    by_alias = client.get("/api/v1/incidents/stix", {"alias": "atlas:AML.CS0042", "limit": 200}).json()
    assert len([o for o in by_alias["objects"] if o["type"] == "incident"]) == 5


def test_a_bad_filter_is_a_400_problem(sw):
    client = sw.world.clients["regulator"]
    assert_problem(client.get("/api/v1/incidents/stix", {"status": "bogus"}), 400)
    assert_problem(client.get("/api/v1/incidents/stix", {"limit": "0"}), 400)
    assert_problem(client.get("/api/v1/incidents/stix", {"cursor": "garbage"}), 400)


def test_the_query_bundle_takes_a_fixed_number_of_queries(sw):
    client = sw.world.clients["lab_a_submitter"]
    client.get("/api/v1/incidents/stix", {"limit": 1})  # the session, once
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/incidents/stix", {"limit": 1}).status_code == 200
    with CaptureQueriesContext(connection) as five:
        assert client.get("/api/v1/incidents/stix", {"limit": 5}).status_code == 200
    assert len(five.captured_queries) == len(one.captured_queries)
    assert len(five.captured_queries) <= 14


def test_the_page_lists_the_stix_export(sw):
    from django.test import Client

    from tests.factories import sign_in

    client = Client()
    sign_in(client, sw.world.memberships["lab_a_submitter"].user)
    incident = sw.world.incidents["amber"]
    page = client.get(f"/incidents/{incident.public_id}/").content.decode()
    assert f"/api/v1/incidents/{incident.public_id}/stix" in page
    assert "STIX 2.1 bundle" in page
    assert "Also recorded as" in page and "AML.CS0042" in page


def test_the_plain_objects_are_exactly_what_stix2_serializes(sw):
    """The objects are built as plain dicts, not stix2 objects (speed): each one, re-parsed by stix2 without
    custom content, must validate and serialize back to the same bytes (property order, timestamps, the
    properties left out), so the fast path cannot drift from the library or the spec."""
    incident = sw.world.incidents["clear"]
    Incident.objects.filter(pk=incident.pk).update(
        taxonomy_mappings={"atlas": ["AML.T0061", "AML.CS0042", "AML.M0001", "X-1"]}
    )
    IncidentAlias.objects.create(
        incident=incident, source="aiid", external_id="42", url="https://incidentdatabase.ai/cite/42"
    )
    FrontierModel.objects.filter(name="AmberModelStixSecret").update(version="2.0")
    # A creation time whose milliseconds end in zeros: `published` drops them, `created` keeps them.
    with mock.patch(
        "django.utils.timezone.now", return_value=datetime(2026, 3, 1, 12, 0, 0, 100_000, tzinfo=UTC)
    ):
        evaluation = EvaluationResultFactory(
            model=FrontierModel.objects.get(name="ClearModelStix"), tlp="clear"
        )
    incident.related_evaluations.add(evaluation)
    incidents = list(incident_list(actor=SYSTEM).filter(pk__in=[i.pk for i in sw.world.incidents.values()]))
    objects = incidents_stix_objects(actor=SYSTEM, incidents=incidents)
    objects += [tlp_marking_definition(tlp) for tlp in TLP_ORDER]
    assert {o["type"] for o in objects} == {
        "marking-definition", "identity", "incident", "software", "attack-pattern", "relationship", "report",
        "opinion", "note",
    }  # fmt: skip
    for obj in objects:
        parsed = stix2.parse(obj, allow_custom=False, version="2.1")
        assert parsed.serialize() == json.dumps(obj), obj["type"]
    _validate(stix_bundle(objects))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 12, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 120_000, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 999, tzinfo=UTC),
        datetime(2026, 3, 1, 13, 30, 5, 456_789, tzinfo=timezone(timedelta(hours=1, minutes=30))),
    ],
)
def test_timestamps_are_written_as_stix2_writes_them(moment):
    """`created`/`modified` at millisecond precision, `published` at "any" precision (no trailing zeros)."""
    from coordination.stix import _published, _utc

    report = stix2.v21.Report(
        created=moment.replace(microsecond=moment.microsecond // 1000 * 1000),
        name="r",
        report_types=["evaluation-result"],
        published=_utc(moment),
        object_refs=[stix_id("identity", "x")],
    )
    written = json.loads(report.serialize())
    assert written["created"] == _utc(moment)
    assert written["published"] == _published(moment)
