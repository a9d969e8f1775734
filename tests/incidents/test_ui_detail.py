"""The incident page (issue 5 item 4): what it shows each principal (exactly the API detail, through the
selectors), the action buttons (exactly the transition table's available actions), the action, comment
and assessment forms (the same services, If-Match as a hidden version), the revision diff and the
evidence download."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from core.actors import ANONYMOUS
from core.api.views import etag_for
from core.models import AuditEvent
from incidents import services, workflows
from incidents.api.serializers import IncidentDetailSerializer
from incidents.models import Assessment, Comment, Incident, IncidentStatus, IncidentTransition
from incidents.views.detail import FIELD_GROUPS, SHOWN_ELSEWHERE, STALE
from tests.factories import sign_in
from tests.incidents.test_workflow import World, build_world, put_in_state, submit

pytestmark = pytest.mark.django_db
S = IncidentStatus
LOG_BYTES = b"2026-11-20T10:00:00Z agent: received SIGTERM\n2026-11-20T10:04:00Z agent: replica up\n"


@pytest.fixture
def world(db: Any) -> World:
    return build_world()


@pytest.fixture(autouse=True)
def private_storage(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "private"
    folder.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": folder},
        },
    }
    return folder


def browser(world: World, name: str) -> Client:
    client = Client()
    if name != "anonymous":
        sign_in(client, world.memberships[name].user)
    return client


def page_url(incident: Incident) -> str:
    return reverse("incident-detail", kwargs={"ref": incident.public_id})


def action_url(incident: Incident, action: str) -> str:
    return reverse("incident-action", kwargs={"ref": incident.public_id, "action": action})


class Parsed(HTMLParser):
    """The action buttons (data-action), the forms' targets and the hidden version fields of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []
        self.form_actions: list[str] = []
        self.versions: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("data-action"):
            self.actions.append(str(attributes["data-action"]))
        if tag == "form" and attributes.get("action"):
            self.form_actions.append(str(attributes["action"]))
        if tag == "input" and (attributes.get("name") or "").endswith("version"):
            self.versions.append(attributes.get("value") or "")


def parse(response: Any) -> Parsed:
    parser = Parsed()
    parser.feed(response.content.decode())
    return parser


def posted_actions(parsed: Parsed) -> set[str]:
    return {m.group(1) for url in parsed.form_actions if (m := re.search(r"/actions/([a-z_]+)$", url))}


def transitions(incident: Incident) -> int:
    return IncidentTransition.objects.filter(incident=incident).count()


def clear_report(world: World) -> Incident:
    incident = submit(world)
    Incident.objects.filter(pk=incident.pk).update(tlp="clear")
    return Incident.objects.get(pk=incident.pk)


# --- visibility --------------------------------------------------------------------------------------


def test_another_lab_gets_404_on_the_page_the_revision_diff_and_the_evidence(world):
    incident = submit(world)
    evidence = services.evidence_add(
        actor=world.principals["submitter"],
        incident=incident,
        upload=ContentFile(LOG_BYTES, name="agent.log"),
        kind="log",
        description="",
        declared_type="text/plain",
    )
    urls = [
        page_url(incident),
        reverse("incident-revision", kwargs={"ref": incident.public_id, "number": 1}),
        reverse("incident-evidence-download", kwargs={"ref": incident.public_id, "evidence_id": evidence.pk}),
    ]
    other, own = browser(world, "other_lab"), browser(world, "submitter")

    for url in urls:
        response = other.get(url)
        assert response.status_code == 404, url
        assert incident.title not in response.content.decode(errors="replace")
        assert own.get(url).status_code == 200, url
    assert not AuditEvent.objects.filter(
        event_code="incident.evidence_downloaded", actor_user_id=world.user_id("other_lab")
    ).exists()


def test_anonymous_visitors_see_a_clear_report_and_404_on_the_others(world):
    clear, amber = clear_report(world), submit(world)
    Incident.objects.filter(pk=amber.pk).update(title="An amber secret")
    anonymous = Client()

    response = anonymous.get(page_url(clear))
    assert response.status_code == 200
    assert clear.title in response.content.decode()
    assert '<span class="tlp tlp-clear">TLP:CLEAR</span>' in response.content.decode()
    missing = anonymous.get(page_url(amber))
    assert missing.status_code == 404
    assert "An amber secret" not in missing.content.decode()
    assert anonymous.get(reverse("incident-detail", kwargs={"ref": str(clear.pk)})).status_code == 200


def test_the_page_shows_every_field_of_the_api_detail_and_only_those():
    grouped = {name for _, names in FIELD_GROUPS for name in names}
    assert grouped | SHOWN_ELSEWHERE == set(IncidentDetailSerializer.Meta.fields)
    assert not grouped & SHOWN_ELSEWHERE


def test_the_page_shows_the_report_its_tlp_badge_status_stage_models_and_clocks(world):
    incident = submit(world, severity="serious_incident")
    Incident.objects.filter(pk=incident.pk).update(tlp="amber+strict")
    html = browser(world, "reviewer").get(page_url(incident)).content.decode()

    assert '<span class="tlp tlp-amber-strict">TLP:AMBER+STRICT</span>' in html
    assert "Status: Submitted" in html and "Report stage: Initial" in html
    assert "in-house" in html and "(not registered)" in html
    assert "The agent started a replica on a second host." in html
    assert incident.deadlines.exists()
    assert html.count("<tr data-clock=") == incident.deadlines.count()
    assert "Serious incident" in html


def test_a_transitions_actor_and_reason_are_shown_to_the_submitter_not_to_outsiders(world):
    incident = submit(world)
    Incident.objects.filter(pk=incident.pk).update(tlp="clear")
    incident = put_in_state(world, incident, S.IN_REVIEW)
    services.incident_transition(
        actor=world.principals["reviewer"],
        incident=incident,
        action="request_information",
        reason="Which host ran the replica?",
    )

    assert (
        "Which host ran the replica?" in browser(world, "submitter").get(page_url(incident)).content.decode()
    )
    for outsider in ("other_lab", "anonymous"):
        other = browser(world, outsider).get(page_url(incident))
        assert other.status_code == 200  # clear: everyone sees the report ...
        assert "Which host ran the replica?" not in other.content.decode()  # ... not who did what in triage
        assert world.username("reviewer") not in other.content.decode()


# --- the buttons -------------------------------------------------------------------------------------

BUTTON_PRINCIPALS = ["submitter", "reviewer", "reviewer_2", "regulator", "anonymous"]
BUTTON_STATES = [S.SUBMITTED, S.IN_REVIEW, S.NEEDS_INFORMATION, S.ACCEPTED, S.REJECTED]


@pytest.mark.parametrize("state", BUTTON_STATES)
@pytest.mark.parametrize("principal", BUTTON_PRINCIPALS)
def test_the_buttons_are_exactly_the_available_actions(world, principal, state):
    incident = clear_report(world)  # anonymous visitors see it too
    incident = put_in_state(world, incident, state)  # `reviewer` holds it when in review
    actor = ANONYMOUS if principal == "anonymous" else world.principals[principal]
    expected = workflows.available_actions(actor, incident)

    response = browser(world, principal).get(page_url(incident))

    assert response.status_code == 200
    parsed = parse(response)
    assert parsed.actions == expected
    assert posted_actions(parsed) <= set(expected)
    if principal == "reviewer" and state == S.IN_REVIEW:
        assert expected  # the walk covers a principal with buttons
        assert {"Accept", "Reject", "Mark as duplicate", "Request information"} <= set(
            re.findall(r'data-action="[a-z_]+"[^>]*>([^<…]+)', response.content.decode())
        )


def test_the_submitter_is_offered_an_amendment_and_others_are_not(world):
    incident = submit(world)
    url = reverse("incident-amend", kwargs={"ref": incident.public_id})
    assert url in browser(world, "submitter").get(page_url(incident)).content.decode()
    assert url not in browser(world, "reviewer").get(page_url(incident)).content.decode()


# --- actions -----------------------------------------------------------------------------------------


def version_on_page(client: Client, incident: Incident) -> str:
    versions = set(parse(client.get(page_url(incident))).versions) - {""}
    assert len(versions) == 1, versions
    return versions.pop()


INPUT_ACTIONS = [
    ("reviewer", S.SUBMITTED, "assign", {"assignee": "reviewer_2"}, S.IN_REVIEW),
    ("reviewer", S.IN_REVIEW, "request_information", {"reason": "Which host?"}, S.NEEDS_INFORMATION),
    ("reviewer", S.IN_REVIEW, "reject", {"reason": "not_reproducible"}, S.REJECTED),
    ("reviewer", S.IN_REVIEW, "mark_duplicate", {"duplicate_of": "OTHER"}, S.DUPLICATE),
    ("reviewer", S.IN_REVIEW, "supersede", {"replaced_by": "OTHER"}, S.SUPERSEDED),
    ("submitter", S.SUBMITTED, "withdraw", {"reason": "Wrong model."}, S.WITHDRAWN),
    ("submitter", S.NEEDS_INFORMATION, "respond", {"reason": "Host 2."}, S.IN_REVIEW),
]


@pytest.mark.parametrize(
    ("principal", "state", "action", "params", "to_state"), INPUT_ACTIONS, ids=[a[2] for a in INPUT_ACTIONS]
)
def test_an_action_with_input_works_from_the_page(world, principal, state, action, params, to_state):
    incident = put_in_state(
        world, submit(world), state, assignee="reviewer" if state != S.SUBMITTED else None
    )
    client = browser(world, principal)
    version = version_on_page(client, incident)
    values = {
        key: world.other.public_id
        if value == "OTHER"
        else world.username(value)
        if key == "assignee"
        else value
        for key, value in params.items()
    }
    data = {f"{action}-{key}": value for key, value in values.items()}

    response = client.post(action_url(incident, action), {**data, f"{action}-version": version})

    assert response.status_code == 302
    assert response["Location"] == page_url(incident)
    assert Incident.objects.get(pk=incident.pk).status == to_state
    step = IncidentTransition.objects.get(incident=incident)
    assert step.action == action and step.actor_user_id == world.user_id(principal)
    if action in ("reject", "request_information", "withdraw", "respond"):
        assert step.reason == values["reason"]
    followed = client.get(page_url(incident))
    assert any(m.level_tag == "success" for m in followed.context["messages"])


BAD_INPUT = [
    ("reviewer", S.IN_REVIEW, "reject", {}, "This field is required."),
    ("reviewer", S.IN_REVIEW, "reject", {"reason": "because"}, "Select a valid choice."),
    ("reviewer", S.IN_REVIEW, "mark_duplicate", {"duplicate_of": "SRI-2099-999999"}, "No report"),
    ("reviewer", S.IN_REVIEW, "mark_duplicate", {"duplicate_of": "SELF"}, "Names this report itself."),
    ("reviewer", S.IN_REVIEW, "supersede", {"replaced_by": ""}, "This field is required."),
    ("reviewer", S.IN_REVIEW, "request_information", {"reason": "  "}, "This field is required."),
    ("reviewer", S.SUBMITTED, "assign", {"assignee": "nobody"}, "Select a valid choice."),
    ("submitter", S.SUBMITTED, "withdraw", {"reason": ""}, "This field is required."),
]


@pytest.mark.parametrize(
    ("principal", "state", "action", "params", "error"),
    BAD_INPUT,
    ids=[f"{a[2]}-{i}" for i, a in enumerate(BAD_INPUT)],
)
def test_bad_input_shows_an_error_and_writes_nothing(world, principal, state, action, params, error):
    incident = put_in_state(
        world, submit(world), state, assignee="reviewer" if state != S.SUBMITTED else None
    )
    client = browser(world, principal)
    version = version_on_page(client, incident)
    data = {f"{action}-{k}": incident.public_id if v == "SELF" else v for k, v in params.items()}

    response = client.post(action_url(incident, action), {**data, f"{action}-version": version})

    assert response.status_code == 400
    html = response.content.decode()
    assert error in html
    assert 'class="alert alert-danger error-summary"' in html
    assert f'class="collapse show" id="action-{action}"' in html  # the form with the error is open
    assert transitions(incident) == 0
    assert Incident.objects.get(pk=incident.pk).status == state


def test_a_stale_page_gets_a_clear_message_and_changes_nothing(world):
    incident = submit(world)
    client = browser(world, "reviewer")
    version = version_on_page(client, incident)
    services.incident_transition(actor=world.principals["reviewer_2"], incident=incident, action="claim")

    # Assign is still possible from in_review: only the version check stops the stale page.
    response = client.post(
        action_url(incident, "assign"),
        {"assign-assignee": world.username("reviewer"), "assign-version": version},
        follow=True,
    )

    assert STALE in response.content.decode()
    assert transitions(incident) == 1
    assert Incident.objects.get(pk=incident.pk).assignee_id == world.user_id("reviewer_2")


def test_a_double_submitted_action_acts_once(world):
    incident = submit(world)
    client = browser(world, "reviewer")
    version = version_on_page(client, incident)
    url = action_url(incident, "claim")

    first = client.post(url, {"claim-version": version})
    second = client.post(url, {"claim-version": version}, follow=True)
    without_version = client.post(url, {}, follow=True)

    assert first.status_code == 302
    assert STALE in second.content.decode()
    assert "Claim: not done." in without_version.content.decode()  # 409 invalid_transition, as a message
    assert transitions(incident) == 1


def test_an_action_the_user_may_not_take_is_refused_with_a_message(world):
    incident = submit(world)
    client = browser(world, "regulator")

    response = client.post(action_url(incident, "claim"), {}, follow=True)

    assert "Claim: not done." in response.content.decode()
    assert transitions(incident) == 0


def test_an_unknown_action_or_another_labs_report_is_404_and_anonymous_is_sent_to_sign_in(world):
    incident = submit(world)
    assert browser(world, "reviewer").post(action_url(incident, "explode"), {}).status_code == 404
    assert (
        browser(world, "other_lab")
        .post(action_url(incident, "withdraw"), {"withdraw-reason": "x"})
        .status_code
        == 404
    )
    anonymous = Client().post(action_url(incident, "claim"), {})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert transitions(incident) == 0


# --- comments and assessments ------------------------------------------------------------------------


def test_an_internal_comment_is_not_shown_to_the_submitter(world):
    incident = submit(world)
    reviewer = browser(world, "reviewer")
    comment_url = reverse("incident-comment", kwargs={"ref": incident.public_id})

    reviewer.post(comment_url, {"comment-visibility": "internal", "comment-body": "Looks like lab X again."})
    reviewer.post(comment_url, {"comment-visibility": "shared", "comment-body": "Please attach the logs."})

    assert Comment.objects.filter(incident=incident).count() == 2
    staff_page = reviewer.get(page_url(incident)).content.decode()
    assert "Looks like lab X again." in staff_page and "Internal: reviewers and regulators only" in staff_page
    submitter_page = browser(world, "submitter").get(page_url(incident)).content.decode()
    assert "Please attach the logs." in submitter_page
    assert "Looks like lab X again." not in submitter_page
    assert 'value="internal"' not in submitter_page  # the submitter's form offers shared comments only


def test_the_submitter_cannot_post_an_internal_comment_nor_an_empty_one(world):
    incident = submit(world)
    client = browser(world, "submitter")
    comment_url = reverse("incident-comment", kwargs={"ref": incident.public_id})

    forged = client.post(comment_url, {"comment-visibility": "internal", "comment-body": "Sneaky"})
    empty = client.post(comment_url, {"comment-visibility": "shared", "comment-body": ""})

    assert forged.status_code == empty.status_code == 400
    assert Comment.objects.filter(incident=incident).count() == 0


def test_a_regulator_saves_an_assessment_and_a_stale_one_is_refused(world):
    incident = submit(world)
    client = browser(world, "regulator")
    url = reverse("incident-assessment", kwargs={"ref": incident.public_id})
    assert "Save assessment" in client.get(page_url(incident)).content.decode()
    assert "Save assessment" not in browser(world, "submitter").get(page_url(incident)).content.decode()
    form = {
        "assessment-verdict": "confirmed_self_replication",
        "assessment-tlp": "amber",
        "assessment-version": "",
    }

    assert client.post(url, form).status_code == 302
    saved = Assessment.objects.get(incident=incident)
    assert saved.verdict == "confirmed_self_replication"
    version = etag_for(saved)
    services.assessment_set(
        actor=world.principals["regulator"],
        incident=incident,
        data={"verdict": "inconclusive"},
        if_match=None,
    )
    stale = client.post(
        url,
        {**form, "assessment-verdict": "not_self_replication", "assessment-version": version},
        follow=True,
    )

    assert "changed since you loaded this page" in stale.content.decode()
    assert Assessment.objects.get(incident=incident).verdict == "inconclusive"


def test_duplicate_candidates_are_shown_to_oversight_staff_only(world):
    incident = submit(world)  # same title and text as world.other: a strong candidate
    assert (
        f'data-candidate="{world.other.public_id}"'
        in browser(world, "reviewer").get(page_url(incident)).content.decode()
    )
    assert "data-candidate=" not in browser(world, "submitter").get(page_url(incident)).content.decode()


def test_the_export_links_point_at_the_api_exports(world):
    incident = submit(world)
    html = browser(world, "submitter").get(page_url(incident)).content.decode()
    assert f"/api/v1/incidents/{incident.public_id}/crf" in html and "Export CRF (JSON)" in html
    assert f"/api/v1/incidents/{incident.public_id}/eu-template" in html and "Export EU template" in html


# --- revisions and evidence --------------------------------------------------------------------------


def test_the_revision_page_shows_old_and_new_values_per_field(world):
    incident = submit(world)
    services.incident_amend(
        actor=world.principals["submitter"],
        incident=incident,
        changes={"title": "The agent copied its weights twice"},
        links=None,
        summary="Second copy found.",
    )
    client = browser(world, "submitter")

    html = client.get(page_url(incident)).content.decode()
    diff_url = reverse("incident-revision", kwargs={"ref": incident.public_id, "number": 2})
    assert diff_url in html and "Second copy found." in html
    diff = client.get(diff_url).content.decode()
    assert re.search(r'class="code diff-old[^"]*">.*An agent copied its weights</pre>', diff)
    assert re.search(r'class="code diff-new[^"]*">.*The agent copied its weights twice</pre>', diff)
    assert 'data-field="description"' not in diff  # unchanged fields are not listed
    assert client.get(diff_url + "?against=2").status_code == 400  # not another revision
    assert (
        client.get(reverse("incident-revision", kwargs={"ref": incident.public_id, "number": 9})).status_code
        == 404
    )


def test_the_evidence_download_returns_the_uploaded_bytes_as_an_attachment(world):
    incident = submit(world)
    evidence = services.evidence_add(
        actor=world.principals["submitter"],
        incident=incident,
        upload=ContentFile(LOG_BYTES, name="agent.log"),
        kind="log",
        description="The agent's log",
        declared_type="text/plain",
    )
    url = reverse(
        "incident-evidence-download", kwargs={"ref": incident.public_id, "evidence_id": evidence.pk}
    )
    client = browser(world, "reviewer")
    assert url in client.get(page_url(incident)).content.decode()

    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == LOG_BYTES
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert (
        AuditEvent.objects.filter(
            event_code="incident.evidence_downloaded", actor_user_id=world.user_id("reviewer")
        ).count()
        == 1
    )
    assert client.get(url.replace(str(evidence.pk), "not-a-uuid")).status_code == 404


# --- queries -----------------------------------------------------------------------------------------


def test_the_page_takes_a_fixed_number_of_queries_however_long_the_history(
    world, django_assert_max_num_queries
):
    def busy_report(rounds: int) -> Incident:
        incident = submit(world)
        reviewer = world.principals["reviewer"]
        for n in range(rounds):
            incident = services.incident_transition(actor=reviewer, incident=incident, action="claim")
            incident = services.incident_transition(actor=reviewer, incident=incident, action="unclaim")
            services.comment_add(actor=reviewer, incident=incident, visibility="internal", body=f"Note {n}")
            services.comment_add(
                actor=world.principals["submitter"], incident=incident, visibility="shared", body=f"Reply {n}"
            )
        return incident

    client = browser(world, "reviewer")
    small, large = busy_report(1), busy_report(15)
    client.get(page_url(small))  # warm the session and caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(page_url(small))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(page_url(large))
    assert response.content.decode().count('data-kind="transition"') == 30
    assert response.content.decode().count('data-kind="comment"') == 30
