"""The lab's submission pages: the multi-step report with drafts, the receipt with evidence upload, the
amendment and the answer to an information request. Same rules as the API (its serializer, its services),
nothing half-written, nothing of another organisation's reachable."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.authentication import principal_for_membership
from accounts.models import Membership, Organization, Role
from core.actors import Principal
from core.models import AuditEvent
from incidents import services
from incidents.models import (
    Evidence,
    Incident,
    IncidentDraft,
    IncidentRevision,
    IncidentStatus,
    IncidentTransition,
)
from tests.conftest import client_for_key
from tests.factories import (
    AgentScaffoldFactory,
    FrontierModelFactory,
    MembershipFactory,
    OrganizationFactory,
    issue_key,
    sign_in,
)

pytestmark = pytest.mark.django_db

NEW = "/incidents/new/"
API = "/api/v1/incidents/"


@dataclass
class World:
    orgs: dict[str, Organization]
    members: dict[str, Membership]

    def actor(self, name: str) -> Principal:
        return principal_for_membership(self.members[name])

    def client(self, name: str) -> Client:
        client = Client()
        sign_in(client, self.members[name].user)
        return client

    def api(self, org: str) -> Any:
        _, plaintext = issue_key(self.orgs[org], Role.LAB_ADMIN)
        return client_for_key(plaintext)


@pytest.fixture
def world(db: Any) -> World:
    orgs = {
        "lab_a": OrganizationFactory(short_name="s-lab-a", kind="lab", country="FR"),
        "lab_b": OrganizationFactory(short_name="s-lab-b", kind="lab", country="US"),
        "eu": OrganizationFactory(short_name="s-eu", kind="regulator", country="BE", jurisdictions=["EU"]),
    }
    where = {
        "alice": ("lab_a", Role.LAB_SUBMITTER),
        "alice_colleague": ("lab_a", Role.LAB_ADMIN),
        "bob": ("lab_b", Role.LAB_SUBMITTER),
        "reviewer": ("eu", Role.REVIEWER),
    }
    members = {
        name: MembershipFactory(organization=orgs[org], role=role) for name, (org, role) in where.items()
    }
    return World(orgs=orgs, members=members)


STEP_1 = {
    "title": "Replica started on a second host",
    "record_class": "controlled_evaluation_finding",
    "scenario_type": "instructed_replication_local",
    "description": "During an evaluation the agent copied its weights and started a replica.",
    "ai_system_relation": "caused",
    "submitter_capacity": "provider",
    "occurred_start": "2026-01-10T09:00:00",
    "occurred_end": "2026-01-10T10:30:00",
    "occurred_precision": "exact",
    "detected_at": "2026-01-10T10:00:00",
    "provider_aware_at": "2026-01-10T11:00:00",
    "countries": "FR, DE",
    "external_id": "",
}
STEP_3 = {
    "chain_of_events": "Shutdown notice; weights copied; replica launched.",
    "root_cause_analysis": "The sandbox allowed outbound copies.",
    "actions_taken": "Host isolated.",
    "recommendation": "",
    "eu_category": "cop_cyber_breach_self_exfiltration",
    "high_risk_system": "on",
    "report_stage": "initial",
    "resolved_at": "",
    "tlp": "amber",
}


def step_2(model: str = "", model_name: str = "", role: str = "originating", **extra: str) -> dict[str, str]:
    return {
        "models-0-model": model,
        "models-0-model_name": model_name,
        "models-0-role": role,
        "scaffold": "",
        "instruction_provenance": "explicit_replication_instruction",
        "outcome": "live_separate_replica",
        "severity": "hazard",
        "harm_types": "none",
        "replica_count": "1",
        "replication_depth": "",
        "containment_status": "contained",
        **extra,
    }


def post_step(client: Client, url: str, data: dict[str, Any], action: str = "next") -> Any:
    return client.post(url, {**data, "action": action})


def draft_url(draft: IncidentDraft, step: str) -> str:
    return reverse("incident-draft-step", args=[draft.pk, step])


def walk_to_review(client: Client, models_step: dict[str, str]) -> IncidentDraft:
    first = post_step(client, NEW, STEP_1)
    assert first.status_code == 302, first.content.decode()[:2000]
    draft = IncidentDraft.objects.get()
    assert first["Location"] == draft_url(draft, "models")
    second = post_step(client, draft_url(draft, "models"), models_step)
    assert second.status_code == 302, second.content.decode()[:3000]
    assert second["Location"] == draft_url(draft, "impact")
    third = post_step(client, draft_url(draft, "impact"), STEP_3)
    assert third.status_code == 302 and third["Location"] == draft_url(draft, "review")
    draft.refresh_from_db()
    return draft


def submitted(world: World, by: str = "alice", **fields: Any) -> Incident:
    data = {
        "record_class": "real_world_incident",
        "title": "A replica on a second host",
        "description": "An agent started a replica of itself.",
        "submitter_capacity": "provider",
        "instruction_provenance": "uninstructed",
        "countries": ["FR"],
        "tlp": "amber",
        **fields,
    }
    links = services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")])
    return services.incident_submit(actor=world.actor(by), data=data, links=links).incident


# --- the multi-step report ----------------------------------------------------------------------------


def test_the_steps_file_exactly_one_report_as_the_api_would(world):
    model = FrontierModelFactory(provider=world.orgs["lab_a"], tlp="amber")
    client = world.client("alice")
    assert "My drafts" in client.get(NEW).content.decode()

    draft = walk_to_review(client, step_2(model=model.public_id))
    data = dict(draft.data)
    review = client.get(draft_url(draft, "review"))
    assert review.status_code == 200 and review.context["api_errors"] == []
    assert "Replica started on a second host" in review.content.decode()

    response = client.post(draft_url(draft, "review"), {"action": "submit", "kind": "other"})

    assert response.status_code == 302
    incident = Incident.objects.get()
    assert response["Location"] == reverse("incident-receipt", args=[incident.public_id])
    assert incident.title == STEP_1["title"] and incident.record_class == "controlled_evaluation_finding"
    assert incident.countries == ["FR", "DE"] and incident.high_risk_system is True
    assert incident.provider_aware_at.isoformat() == "2026-01-10T11:00:00+00:00"
    assert [(m.model_id, m.role) for m in incident.involved_models.all()] == [(model.pk, "originating")]
    assert incident.submitted_by_user_id == world.members["alice"].user_id
    assert not IncidentDraft.objects.exists()
    assert AuditEvent.objects.filter(event_code="incident.submitted", target_id=str(incident.pk)).count() == 1

    # The same document through the API stores the same canonical payload, with the same audit event.
    api_response = world.api("lab_a").post(API, data, format="json")
    assert api_response.status_code == 201, api_response.content
    via_api = Incident.objects.get(public_id=api_response.json()["public_id"])
    assert via_api.revisions.get().payload == incident.revisions.get().payload
    assert AuditEvent.objects.filter(event_code="incident.submitted", target_id=str(via_api.pk)).exists()

    receipt = client.get(response["Location"]).content.decode()
    revision = incident.revisions.get()
    assert f'<span data-testid="receipt-public-id">{incident.public_id}</span>' in receipt
    assert revision.sha256 in receipt
    assert "GPAI Code of Practice" in receipt  # the clocks that started from provider_aware_at


def test_a_step_shows_the_apis_errors_for_its_own_fields(world):
    client = world.client("alice")
    bad = {
        **STEP_1,
        "title": "",
        "record_class": "bogus",
        "countries": "fr",
        "provider_aware_at": "yesterday",
    }

    response = post_step(client, NEW, bad)

    assert response.status_code == 400
    shown = {(e.field, e.message) for e in response.context["api_errors"]}
    draft = IncidentDraft.objects.get()  # the step was saved all the same
    api = world.api("lab_a").post(API, draft.data, format="json")
    assert api.status_code == 400
    step_1_fields = set(response.context["form"].api_fields)
    expected = {
        (e["field"], e["message"])
        for e in api.json()["errors"]
        if re.split(r"[.\[]", e["field"])[0] in step_1_fields
    }
    assert shown == expected
    assert {field.split("[")[0] for field, _ in shown} == {
        "title",
        "record_class",
        "countries",
        "provider_aware_at",
    }
    html = response.content.decode()
    assert 'id="id_title_error"' in html and "This field may not be blank." in html
    assert "There is a problem" in html
    # Errors of later steps (instruction_provenance is still missing) are not this step's business.
    assert "instruction_provenance" not in {field for field, _ in shown}
    assert not Incident.objects.exists()


def test_the_models_step_places_a_row_error_on_its_row_and_refuses_an_invisible_model(world):
    hidden = FrontierModelFactory(provider=world.orgs["lab_b"], tlp="amber")
    client = world.client("alice")
    post_step(client, NEW, STEP_1)
    draft = IncidentDraft.objects.get()

    no_role = post_step(client, draft_url(draft, "models"), step_2(model_name="in-house", role=""))
    assert no_role.status_code == 400
    assert no_role.context["form"].errors["models-0-role"] == ['"" is not a valid choice.']

    invisible = post_step(client, draft_url(draft, "models"), step_2(model=hidden.public_id))
    assert invisible.status_code == 400
    assert invisible.context["api_errors"][0].field == "models"
    assert hidden.name not in invisible.content.decode()  # not offered, not echoed as a choice


def test_drafts_survive_sign_out_and_are_private_to_their_author(world):
    client = world.client("alice")
    saved = post_step(client, NEW, {**STEP_1, "title": "Half-written report"}, action="save")
    draft = IncidentDraft.objects.get()
    assert saved.status_code == 302 and saved["Location"] == draft_url(draft, "what")

    client.logout()
    client = world.client("alice")
    listing = client.get(NEW).content.decode()
    assert "Half-written report" in listing and draft_url(draft, "what") in listing
    resumed = client.get(draft_url(draft, "what")).content.decode()
    assert 'value="Half-written report"' in resumed

    for other in ("alice_colleague", "bob", "reviewer"):
        intruder = world.client(other)
        assert intruder.get(draft_url(draft, "what")).status_code == 404, other
        assert intruder.post(draft_url(draft, "what"), {**STEP_1, "action": "save"}).status_code == 404
        assert intruder.post(reverse("incident-draft-delete", args=[draft.pk])).status_code == 404
    assert "Half-written report" not in world.client("alice_colleague").get(NEW).content.decode()
    draft.refresh_from_db()
    assert draft.data["title"] == "Half-written report"

    # A draft is not a report: the API lists nothing.
    listed = world.api("lab_a").get(API)
    assert listed.status_code == 200 and listed.json()["results"] == []


def test_a_new_draft_starts_with_the_apis_defaults_for_tlp_and_stage(world):
    client = world.client("alice")
    post_step(client, NEW, STEP_1, action="save")
    draft = IncidentDraft.objects.get()
    html = client.get(draft_url(draft, "impact")).content.decode()
    assert '<option value="amber" selected>' in html and '<option value="initial" selected>' in html


def test_a_draft_can_be_deleted_by_its_author(world):
    client = world.client("alice")
    post_step(client, NEW, STEP_1, action="save")
    draft = IncidentDraft.objects.get()
    response = client.post(reverse("incident-draft-delete", args=[draft.pk]))
    assert response.status_code == 302 and not IncidentDraft.objects.exists()


@pytest.mark.parametrize(
    ("step_1", "step_3", "message"),
    [
        ({"provider_aware_at": "2099-01-01T00:00:00"}, {}, "Cannot be in the future."),
        ({}, {"report_stage": "final"}, "A final report needs at least one piece of evidence"),
    ],
)
def test_a_submission_the_service_refuses_leaves_nothing_and_keeps_the_draft(world, step_1, step_3, message):
    client = world.client("alice")
    post_step(client, NEW, {**STEP_1, **step_1})
    draft = IncidentDraft.objects.get()
    post_step(client, draft_url(draft, "models"), step_2(model_name="in-house"))
    post_step(client, draft_url(draft, "impact"), {**STEP_3, **step_3})
    events_before = AuditEvent.objects.count()

    response = client.post(draft_url(draft, "review"), {"action": "submit", "kind": "other"})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Incident.objects.exists() and not IncidentRevision.objects.exists()
    assert AuditEvent.objects.count() == events_before
    assert IncidentDraft.objects.filter(pk=draft.pk).exists()


def test_an_incomplete_draft_cannot_be_submitted(world):
    client = world.client("alice")
    post_step(client, NEW, STEP_1, action="save")
    draft = IncidentDraft.objects.get()
    response = client.post(draft_url(draft, "review"), {"action": "submit", "kind": "other"})
    assert response.status_code == 400
    assert "instruction_provenance" in {e.field for e in response.context["api_errors"]}
    assert draft_url(draft, "models") in response.content.decode()
    assert not Incident.objects.exists()


def test_evidence_chosen_on_the_review_step_is_attached_after_filing(world):
    client = world.client("alice")
    draft = walk_to_review(client, step_2(model_name="in-house"))
    upload = SimpleUploadedFile("run.log", b"10:00 agent started replica\n", content_type="text/plain")

    response = client.post(
        draft_url(draft, "review"),
        {"action": "submit", "kind": "log", "evidence_description": "", "file": upload},
    )

    assert response.status_code == 302
    evidence = Evidence.objects.get()
    assert evidence.incident == Incident.objects.get() and evidence.kind == "log"
    assert evidence.sha256 == hashlib.sha256(b"10:00 agent started replica\n").hexdigest()


# --- receipt and evidence ------------------------------------------------------------------------------


def test_the_receipt_page_stores_an_evidence_file_byte_for_byte(world):
    incident = submitted(world)
    client = world.client("alice")
    url = reverse("incident-receipt", args=[incident.public_id])
    content = b'{"event": "replica started", "host": "b"}\n'

    response = client.post(
        url,
        {
            "file": SimpleUploadedFile("trace.json", content),
            "kind": "log",
            "evidence_description": "Orchestrator trace",
        },
    )

    assert response.status_code == 302
    evidence = Evidence.objects.get(incident=incident)
    with storages["private"].open(evidence.storage_key, "rb") as handle:
        assert handle.read() == content
    assert (
        evidence.sha256 == hashlib.sha256(content).hexdigest()
        and evidence.description == "Orchestrator trace"
    )
    assert AuditEvent.objects.filter(
        event_code="incident.evidence_added", target_id=str(incident.pk)
    ).exists()
    assert "trace.json" in client.get(url).content.decode()


@override_settings(REDLINE_MAX_EVIDENCE_BYTES=16)
def test_an_evidence_file_over_the_limit_gets_a_clear_error_and_stores_nothing(world):
    incident = submitted(world)
    client = world.client("alice")
    url = reverse("incident-receipt", args=[incident.public_id])
    assert "At most 16\xa0bytes" in client.get(url).content.decode()

    response = client.post(url, {"file": SimpleUploadedFile("big.txt", b"x" * 64), "kind": "log"})

    assert response.status_code == 413
    assert "The file is 64 bytes; the evidence limit is 16." in response.content.decode()
    assert not Evidence.objects.exists()


# --- amendment --------------------------------------------------------------------------------------------


def form_values(forms: list[Any]) -> dict[str, Any]:
    """What a browser posts back for unchanged forms."""
    data: dict[str, Any] = {}
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            data[bound.html_name] = "on" if value is True else value
    return data


def test_an_amendment_files_revision_2_with_the_change(world):
    scaffold = AgentScaffoldFactory(owner_org=world.orgs["lab_a"])
    incident = submitted(world)
    Incident.objects.filter(pk=incident.pk).update(scaffold=scaffold)
    client = world.client("alice")
    url = reverse("incident-amend", args=[incident.public_id])
    page = client.get(url)
    assert page.status_code == 200 and 'value="A replica on a second host"' in page.content.decode()
    data = form_values([*page.context["step_forms"], page.context["summary_form"]])

    response = client.post(
        url, {**data, "outcome": "contained_by_operator", "change_summary": "Replica contained at 10:40."}
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    incident.refresh_from_db()
    assert incident.revision_number == 2 and incident.outcome == "contained_by_operator"
    assert incident.scaffold == scaffold  # untouched references are kept
    assert [m.model_name for m in incident.involved_models.all()] == ["in-house"]
    revision = IncidentRevision.objects.get(incident=incident, number=2)
    assert revision.change_summary == "Replica contained at 10:40."
    assert revision.payload["outcome"] == "contained_by_operator"
    assert AuditEvent.objects.filter(event_code="incident.amended", target_id=str(incident.pk)).count() == 1


def test_an_amendment_from_a_stale_page_is_refused_without_a_revision(world):
    incident = submitted(world)
    client = world.client("alice")
    url = reverse("incident-amend", args=[incident.public_id])
    page = client.get(url)
    data = form_values([*page.context["step_forms"], page.context["summary_form"]])
    services.incident_amend(
        actor=world.actor("alice_colleague"), incident=incident, changes={"severity": "incident"}, links=None
    )

    response = client.post(url, {**data, "title": "My stale edit"})

    assert response.status_code == 412
    assert "changed since you opened this page" in response.content.decode()
    incident.refresh_from_db()
    assert incident.revision_number == 2 and incident.title == "A replica on a second host"
    assert not IncidentRevision.objects.filter(incident=incident, number=3).exists()


def test_an_amendment_shows_the_apis_errors_and_files_nothing(world):
    incident = submitted(world)
    client = world.client("alice")
    url = reverse("incident-amend", args=[incident.public_id])
    page = client.get(url)
    data = form_values([*page.context["step_forms"], page.context["summary_form"]])

    response = client.post(url, {**data, "title": "", "tlp": "green"})

    assert response.status_code == 400
    assert ("title", "This field may not be blank.") in {
        (e.field, e.message) for e in response.context["api_errors"]
    }
    assert IncidentRevision.objects.filter(incident=incident).count() == 1

    lowered = client.post(url, {**data, "tlp": "green"})
    assert lowered.status_code == 403 and "Lowering TLP needs a regulator" in lowered.content.decode()
    assert IncidentRevision.objects.filter(incident=incident).count() == 1


def test_a_withdrawn_report_cannot_be_amended(world):
    incident = submitted(world)
    services.incident_transition(
        actor=world.actor("alice"), incident=incident, action="withdraw", reason="Wrong model."
    )
    client = world.client("alice")
    url = reverse("incident-amend", args=[incident.public_id])
    page = client.get(url)
    data = form_values([*page.context["step_forms"], page.context["summary_form"]])
    response = client.post(url, {**data, "outcome": "timeout"})
    assert response.status_code == 409 and "can no longer be amended" in response.content.decode()


# --- answering an information request -----------------------------------------------------------------


def test_the_submitter_answers_an_information_request_and_the_report_returns_to_review(world):
    incident = submitted(world)
    reviewer = world.actor("reviewer")
    incident = services.incident_transition(actor=reviewer, incident=incident, action="claim")
    services.incident_transition(
        actor=reviewer,
        incident=incident,
        action="request_information",
        reason="Attach the orchestrator logs.",
    )
    client = world.client("alice")
    url = reverse("incident-respond", args=[incident.public_id])
    page = client.get(url).content.decode()
    assert "Attach the orchestrator logs." in page and "Send response" in page

    response = client.post(
        url,
        {
            "response": "Logs attached.",
            "kind": "log",
            "file": SimpleUploadedFile("orchestrator.log", b"10:00 start\n10:04 replica up\n"),
        },
    )

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.IN_REVIEW
    step = IncidentTransition.objects.filter(incident=incident).latest("id")
    assert (step.action, step.from_state, step.to_state, step.reason) == (
        "respond",
        "needs_information",
        "in_review",
        "Logs attached.",
    )
    assert Evidence.objects.filter(incident=incident, file_name="orchestrator.log").exists()
    assert (
        AuditEvent.objects.filter(event_code="incident.transitioned", target_id=str(incident.pk)).count() == 3
    )


def test_responding_when_nothing_was_asked_is_refused(world):
    incident = submitted(world)
    client = world.client("alice")
    url = reverse("incident-respond", args=[incident.public_id])
    assert "Send response" not in client.get(url).content.decode()
    response = client.post(url, {"response": "Unprompted.", "kind": "other"})
    assert response.status_code == 409
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.SUBMITTED and not IncidentTransition.objects.exists()


# --- who reaches these pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bob", "reviewer"])
def test_a_reviewer_or_another_lab_finds_none_of_these_pages(world, name):
    incident = submitted(world, tlp="green")  # visible to every participant, yet not theirs to amend
    client = world.client(name)
    for route in ("incident-receipt", "incident-amend", "incident-respond"):
        url = reverse(route, args=[incident.public_id])
        assert client.get(url).status_code == 404, (route, name)
        assert client.post(url, {"response": "x", "title": "x"}).status_code == 404, (route, name)
    if name == "reviewer":
        assert client.get(NEW).status_code == 404
        assert client.post(NEW, {**STEP_1, "action": "save"}).status_code == 404
    assert not IncidentDraft.objects.exists()
    assert Incident.objects.get().revision_number == 1


def test_anonymous_visitors_are_sent_to_sign_in(world):
    incident = submitted(world, tlp="clear")
    for url in (NEW, reverse("incident-receipt", args=[incident.public_id])):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_drafts_list_does_not_grow_queries_with_drafts(world, django_assert_max_num_queries):
    client = world.client("alice")
    for index in range(5):
        client.post(NEW, {**STEP_1, "title": f"Draft {index}", "action": "save"})
    with django_assert_max_num_queries(12):
        response = client.get(NEW)
    assert response.content.decode().count("Resume") == 5


def test_a_report_filed_long_after_awareness_shows_its_initial_clock_met_late(world):
    # provider_aware_at a year ago: the Code of Practice clock started then, so the initial report is late.
    client = world.client("alice")
    year_ago = (timezone.now() - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S")
    post_step(client, NEW, {**STEP_1, "provider_aware_at": year_ago})
    draft = IncidentDraft.objects.get()
    post_step(client, draft_url(draft, "models"), step_2(model_name="in-house"))
    post_step(client, draft_url(draft, "impact"), STEP_3)
    response = client.post(draft_url(draft, "review"), {"action": "submit", "kind": "other"})
    assert response.status_code == 302
    receipt = client.get(response["Location"]).content.decode()
    assert "Met late" in receipt
