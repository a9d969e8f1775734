"""The incident page and the API take a workflow action through the same service with the same
parameters: for every row of the transition table (and the first, pending accept of a serious report),
the action once through `POST /api/v1/incidents/{ref}/<action>` and once through the page's form on an
identical second report, by the same person, leave identical audit events, transition rows and outbox
events, apart from ids, times, request ids and which report they name."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent, OutboxEvent
from incidents.models import Incident, IncidentStatus, IncidentTransition
from incidents.workflows import TRANSITIONS, Action
from tests.factories import sign_in
from tests.incidents.test_ui_detail import parse
from tests.incidents.test_workflow import PARTIES, URL, World, build_world, put_in_state, submit

pytestmark = pytest.mark.django_db
S = IncidentStatus

# (action, severity, state, acting principal, principal of a pending accept)
CASES: list[tuple[str, str, str, str, str | None]] = []
for row in TRANSITIONS:
    four_eyes = row.action == Action.CONFIRM_ACCEPT
    CASES.append(
        (
            row.action.value,
            "disaster" if four_eyes else "",
            S.SUBMITTED if row.action == Action.WITHDRAW else sorted(row.from_states)[0],
            next(
                p
                for p in ("reviewer_2" if four_eyes else "reviewer", "submitter")
                if PARTIES[p] & row.parties
            ),
            "reviewer" if four_eyes else None,
        )
    )
# The four-eyes half of accept: a serious report's first accept only records itself.
CASES.append(("accept", "serious_incident", S.IN_REVIEW, "reviewer", None))
assert {case[0] for case in CASES} == {row.action.value for row in TRANSITIONS}, "every action is covered"

AUDIT_FIELDS = (
    "event_code",
    "actor_kind",
    "actor_label",
    "actor_user_id",
    "actor_api_key_id",
    "actor_org_id",
    "actor_role",
    "target_type",
    "before",
    "after",
)
TRANSITION_FIELDS = (
    "action",
    "from_state",
    "to_state",
    "actor_label",
    "actor_user_id",
    "actor_org_id",
    "reason",
    "details",
)


@pytest.fixture
def world(db: Any) -> World:
    return build_world()


def written_since(incident: Incident, audit_mark: int, outbox_mark: Any) -> dict[str, list[Any]]:
    """What one action wrote about `incident`, without ids, times, request ids or the report's own ids."""
    audit = AuditEvent.objects.filter(pk__gt=audit_mark, target_id=str(incident.pk)).order_by("pk")
    events = [{name: getattr(event, name) for name in AUDIT_FIELDS} for event in audit]
    assert all(event.request_id for event in audit), "both channels give the event a request id"
    steps = IncidentTransition.objects.filter(incident=incident).order_by("pk")
    outbox = (
        OutboxEvent.objects.filter(subject_id=str(incident.pk)).exclude(pk__in=outbox_mark).order_by("pk")
    )
    return {
        "audit": events,
        "transitions": [{name: getattr(step, name) for name in TRANSITION_FIELDS} for step in steps],
        "outbox": [(event.topic, event.data) for event in outbox],
    }


def marks(incident: Incident) -> tuple[int, list[Any]]:
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return last, list(OutboxEvent.objects.filter(subject_id=str(incident.pk)).values_list("pk", flat=True))


@pytest.mark.parametrize(
    ("action", "severity", "state", "principal", "pending"),
    CASES,
    ids=[f"{c[0]}{'-four-eyes' if c[1] == 'serious_incident' else ''}" for c in CASES],
)
def test_the_page_and_the_api_write_the_same_records(world, action, severity, state, principal, pending):
    via_api, via_page = (
        put_in_state(world, submit(world, severity=severity), state, pending=pending) for _ in range(2)
    )
    params = world.params(action)
    if action == Action.REQUEST_INFORMATION:  # the page asks for the message; the API takes it as `reason`
        params = {"reason": "Which host ran the replica?"}

    api = world.client(principal)
    etag = api.get(f"{URL}{via_api.public_id}")["ETag"]
    audit_mark, outbox_mark = marks(via_api)
    response = api.post(
        f"{URL}{via_api.public_id}/{action.replace('_', '-')}", params, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200, response.content
    from_api = written_since(via_api, audit_mark, outbox_mark)

    page = Client()
    sign_in(page, world.memberships[principal].user)
    page_url = reverse("incident-detail", kwargs={"ref": via_page.public_id})
    versions = set(parse(page.get(page_url)).versions) - {""}
    assert len(versions) == 1
    audit_mark, outbox_mark = marks(via_page)
    response = page.post(
        reverse("incident-action", kwargs={"ref": via_page.public_id, "action": action}),
        {**{f"{action}-{key}": value for key, value in params.items()}, f"{action}-version": versions.pop()},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from_page = written_since(via_page, audit_mark, outbox_mark)

    assert from_api["audit"], "the action was audited"
    assert from_page == from_api
    assert Incident.objects.get(pk=via_page.pk).status == Incident.objects.get(pk=via_api.pk).status
