"""Fan-out: who is told of which event, with which payload, and never twice."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from accounts.models import Role
from coordination import services
from coordination.models import Delivery, EmailSubscription
from core.models import OutboxEvent
from core.outbox import outbox_dispatch, outbox_emit
from incidents.models import IncidentRecipient
from tests.coordination.helpers import admin_of, lab_member, submit
from tests.factories import OrganizationFactory
from tests.incidents import matrix

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_sending(monkeypatch: Any) -> None:
    """These tests look at the rows the fan-out writes; sending is tested in test_delivery."""
    monkeypatch.setattr("coordination.notifications._enqueue", lambda ids: None)


@pytest.fixture
def orgs() -> dict[str, Any]:
    return {
        "lab_a": OrganizationFactory(short_name="fan-lab-a", kind="lab", country="FR"),
        "lab_b": OrganizationFactory(short_name="fan-lab-b", kind="lab", country="US"),
        "eu": OrganizationFactory(short_name="fan-eu", kind="regulator", country="BE", jurisdictions=["EU"]),
        "us": OrganizationFactory(short_name="fan-us", kind="regulator", country="US", jurisdictions=["US"]),
    }


def endpoint(org: Any, *subscriptions: str) -> Any:
    created, _ = services.webhook_endpoint_create(
        actor=admin_of(org), url=f"http://127.0.0.1:9/{org.short_name}", subscriptions=list(subscriptions)
    )
    return created


def deliveries_to(ep: Any) -> list[Delivery]:
    return list(Delivery.objects.filter(endpoint=ep).select_related("event"))


def test_another_labs_endpoint_never_gets_a_green_or_amber_report(orgs):
    submitter = lab_member(orgs["lab_a"])
    other = endpoint(orgs["lab_b"], "new_in_jurisdiction", "own_reports", "deadlines")
    orgs["lab_b"].jurisdictions = ["FR", "EU"]  # even sharing the jurisdiction does not open it
    orgs["lab_b"].save()
    for tlp in ("green", "amber", "amber+strict", "red"):
        submit(submitter, tlp=tlp)
    assert deliveries_to(other) == []


def test_a_regulator_in_the_jurisdiction_gets_incident_submitted_and_one_elsewhere_does_not(orgs):
    eu = endpoint(orgs["eu"], "new_in_jurisdiction")
    us = endpoint(orgs["us"], "new_in_jurisdiction")
    incident = submit(lab_member(orgs["lab_a"]), tlp="amber", countries=["FR"])
    [delivery] = deliveries_to(eu)
    assert deliveries_to(us) == []
    assert delivery.payload["type"] == "incident.submitted"
    assert delivery.payload["data"] == {
        "id": str(incident.pk),
        "public_id": incident.public_id,
        "status": "submitted",
        "tlp": "amber",
        "url": f"http://127.0.0.1:8000/api/v1/incidents/{incident.public_id}",
        "title": incident.title,
        "owner_org": "fan-lab-a",
        "revision": 1,
    }
    assert "description" not in delivery.payload["data"]


def test_amber_strict_reaches_only_the_lead_regulator_and_carries_no_title(orgs):
    eu = endpoint(orgs["eu"], "new_in_jurisdiction")
    submit(lab_member(orgs["lab_a"]), tlp="amber+strict", countries=["FR"])
    [delivery] = deliveries_to(eu)
    assert "title" not in delivery.payload["data"]
    assert delivery.payload["data"]["tlp"] == "amber+strict"


def test_the_owning_labs_endpoint_hears_of_its_own_reports(orgs):
    own = endpoint(orgs["lab_a"], "own_reports")
    submit(lab_member(orgs["lab_a"]), tlp="green")
    assert [d.payload["type"] for d in deliveries_to(own)] == ["incident.submitted"]


def test_a_red_report_reaches_named_recipients_only_by_email_and_never_a_webhook(orgs):
    submitter = lab_member(orgs["lab_a"], email="sub@lab-a.example")
    named = lab_member(orgs["eu"], Role.REVIEWER, email="named@eu.example")
    unnamed = lab_member(orgs["eu"], Role.REGULATOR, email="unnamed@eu.example")
    for membership in (submitter, named, unnamed):
        EmailSubscription.objects.create(
            membership=membership, subscriptions=["new_in_jurisdiction", "own_reports"]
        )
    own = endpoint(orgs["lab_a"], "own_reports")
    eu = endpoint(orgs["eu"], "new_in_jurisdiction")
    with transaction.atomic():
        incident = submit(submitter, tlp="red")
        # Named in the same transaction as the submission, as the API does.
        IncidentRecipient.objects.create(incident=incident, user=named.user)
    assert deliveries_to(own) == [] and deliveries_to(eu) == []
    emails = Delivery.objects.filter(channel="email")
    assert {d.user_id for d in emails} == {submitter.user_id, named.user_id}
    for delivery in emails:
        assert "title" not in delivery.payload["data"]


def test_dispatching_an_event_twice_creates_no_second_delivery(orgs):
    eu = endpoint(orgs["eu"], "new_in_jurisdiction")
    submit(lab_member(orgs["lab_a"]), tlp="green")
    event = OutboxEvent.objects.get(topic="incident.submitted")
    assert event.dispatched_at is not None
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=None)  # as if the commit had been lost
    assert outbox_dispatch(event.pk) is True
    from coordination.notifications import fan_out

    fan_out(event)  # and the handler itself, run again
    assert len(deliveries_to(eu)) == 1


def test_a_disabled_endpoint_receives_nothing(orgs):
    eu = endpoint(orgs["eu"], "new_in_jurisdiction")
    services.webhook_endpoint_set_enabled(actor=admin_of(orgs["eu"]), endpoint=eu, enabled=False)
    submit(lab_member(orgs["lab_a"]), tlp="green")
    assert deliveries_to(eu) == []


def test_deadline_events_reach_the_owner_and_oversight_subscribers_who_may_see_them(orgs):
    own = endpoint(orgs["lab_a"], "deadlines")
    eu = endpoint(orgs["eu"], "deadlines")
    other_lab = endpoint(orgs["lab_b"], "deadlines")
    incident = submit(lab_member(orgs["lab_a"]), tlp="amber")
    from core.outbox import outbox_emit

    with transaction.atomic():
        outbox_emit(
            topic="deadline.overdue",
            subject=incident,
            data={"regime": "gpai_cop", "stage": "initial", "sequence": 1, "due_at": "2026-01-01T00:00:00Z"},
        )
    [mine] = deliveries_to(own)
    assert mine.payload["data"]["regime"] == "gpai_cop" and mine.payload["data"]["due_at"]
    assert len(deliveries_to(eu)) == 1
    assert deliveries_to(other_lab) == []


def test_a_transition_tells_the_owner_the_action_and_states_but_no_free_text(orgs):
    from accounts.authentication import principal_for_membership
    from incidents import services as incident_services

    own = endpoint(orgs["lab_a"], "own_reports")
    submitter = lab_member(orgs["lab_a"])
    incident = submit(submitter, tlp="green")
    incident_services.incident_transition(
        actor=principal_for_membership(submitter),
        incident=incident,
        action="withdraw",
        reason="Filed against the wrong model by mistake",
    )
    transitioned = [d for d in deliveries_to(own) if d.payload["type"] == "incident.transitioned"]
    [delivery] = transitioned
    data = delivery.payload["data"]
    assert (data["action"], data["from"], data["to"], data["status"]) == (
        "withdraw",
        "submitted",
        "withdrawn",
        "withdrawn",
    )
    assert "wrong model" not in str(delivery.payload)


# The visibility matrix of DESIGN 4 (tests/incidents/matrix.py) over notification payloads: every member
# and every organisation's endpoint subscribed to everything, one deadline event per TLP level (the widest
# topic: oversight subscribers hear of every report they may see). Nobody is told of a report they may
# not see, and a minimised payload names nothing.
ENDPOINT_EXPECTED = {
    "lab_a": {"clear", "green", "amber", "amber+strict"},  # its own reports; an endpoint never gets red
    "lab_b": set(),  # not its reports, not oversight
    "eu": {"clear", "green", "amber", "amber+strict"},  # the lead regulator (FR is in the EU)
    "us": {"clear", "green", "amber"},
    "coord": {"clear", "green", "amber"},
}


def test_the_visibility_matrix_holds_over_webhook_and_email_payloads():
    world = matrix.build_world()
    for name, membership in world.memberships.items():
        membership.user.email = f"{name}@matrix.example"  # email goes to members with an address
        membership.user.save(update_fields=["email"])
        EmailSubscription.objects.create(
            membership=membership, subscriptions=["new_in_jurisdiction", "own_reports", "deadlines"]
        )
    endpoints = {
        name: endpoint(org, "new_in_jurisdiction", "own_reports", "deadlines")
        for name, org in world.orgs.items()
    }
    for incident in world.incidents.values():
        with transaction.atomic():
            outbox_emit(
                topic="deadline.reminder",
                subject=incident,
                data={
                    "regime": "gpai_cop",
                    "stage": "initial",
                    "sequence": 1,
                    "due_at": "2026-01-01T00:00:00Z",
                },
            )
    tlp_of = {str(incident.pk): tlp for tlp, incident in world.incidents.items()}
    reminders = Delivery.objects.filter(event__topic="deadline.reminder")

    def check(deliveries: list[Delivery]) -> set[str]:
        seen = {tlp_of[d.payload["data"]["id"]] for d in deliveries}
        assert len(seen) == len(deliveries)  # one delivery per report and recipient
        for delivery in deliveries:
            data, tlp = delivery.payload["data"], tlp_of[delivery.payload["data"]["id"]]
            others = [i.title for t, i in world.incidents.items() if t != tlp]
            assert not any(title in str(delivery.payload) for title in others)
            assert ("title" in data) == (tlp not in ("red", "amber+strict")), (tlp, data)
        return seen

    for name, ep in endpoints.items():
        assert check(list(reminders.filter(endpoint=ep))) == ENDPOINT_EXPECTED[name], name
    told = {"lab_a_submitter", "lead_reviewer", "other_reviewer", "regulator", "coordination"}
    for principal, membership in world.memberships.items():
        expected = matrix.EXPECTED[principal] if principal in told else set()
        got = check(list(reminders.filter(user=membership.user)))
        assert got == expected, (principal, got, expected)


def test_a_tlp_change_tells_the_owner_the_levels_but_not_the_reason(orgs):
    from accounts.authentication import principal_for_membership
    from incidents import services as incident_services

    own = endpoint(orgs["lab_a"], "own_reports")
    submitter = lab_member(orgs["lab_a"])
    incident = submit(submitter, tlp="green")
    regulator = principal_for_membership(lab_member(orgs["eu"], Role.REGULATOR))
    incident_services.incident_change_tlp(
        actor=regulator, incident=incident, tlp="clear", reason="Cleared for the public secretly"
    )
    [delivery] = [d for d in deliveries_to(own) if d.payload["type"] == "incident.tlp_changed"]
    data = delivery.payload["data"]
    assert (data["from"], data["to"], data["tlp"]) == ("green", "clear", "clear")
    assert "secretly" not in str(delivery.payload)
