"""The deadline clocks (DESIGN 5, issue 4 item 2): GPAI Code of Practice Measure 9.3, EU AI Act Art. 73 and
the reviewers' triage service level. The pure rules for every category, stage and boundary; their storage
on submission, amendment and transition; the API fields and queue filters; and the reminders and alerts,
each sent exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from accounts.models import Membership, Organization, Role
from core.actors import Principal
from core.errors import ValidationFailed
from core.models import OutboxEvent
from incidents import services
from incidents.deadlines import (
    ENDED_STATES,
    DeadlineStatus,
    Filing,
    Regime,
    Stage,
    TriagePolicy,
    add_working_days,
    compute_deadlines,
    deadline_status,
)
from incidents.models import EUCategory, Incident, IncidentDeadline, IncidentStatus
from incidents.tasks import send_deadline_notices
from tests.factories import MembershipFactory, OrganizationFactory, sign_in
from tests.problems import assert_problem

URL = "/api/v1/incidents/"
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
# Tuesday 24 November 2026, 10:00 UTC: the moment every report below is filed.
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
AWARE = T0 - timedelta(hours=6)
TRIAGE = TriagePolicy(working_days=1, severities=frozenset({"serious_incident", "disaster"}))

COP_DAYS: dict[str, int | None] = {
    EUCategory.ART3_49_A_DEATH: 10,
    EUCategory.ART3_49_A_HEALTH: 15,
    EUCategory.ART3_49_B_CRITICAL_INFRASTRUCTURE: 2,
    EUCategory.ART3_49_C_FUNDAMENTAL_RIGHTS: 15,
    EUCategory.ART3_49_D_PROPERTY_ENVIRONMENT: 15,
    EUCategory.COP_CYBER_BREACH_SELF_EXFILTRATION: 5,
    EUCategory.NOT_REPORTABLE: None,
    "": None,
}
ART73_DAYS: dict[str, int | None] = {
    EUCategory.ART3_49_A_DEATH: 10,
    EUCategory.ART3_49_A_HEALTH: 15,
    EUCategory.ART3_49_B_CRITICAL_INFRASTRUCTURE: 2,
    EUCategory.ART3_49_C_FUNDAMENTAL_RIGHTS: 15,  # not "widespread" by category alone (deadlines.py)
    EUCategory.ART3_49_D_PROPERTY_ENVIRONMENT: 15,
    EUCategory.COP_CYBER_BREACH_SELF_EXFILTRATION: 15,
    EUCategory.NOT_REPORTABLE: None,
    "": None,
}


def report(**fields: Any) -> Incident:
    """An unsaved report filed at T0 (the pure rules read only its fields)."""
    values: dict[str, Any] = {
        "eu_category": EUCategory.ART3_49_D_PROPERTY_ENVIRONMENT,
        "provider_aware_at": AWARE,
        "submitted_at": T0,
        "status": IncidentStatus.SUBMITTED,
        "severity": "incident",
        "high_risk_system": False,
        "resolved_at": None,
    }
    values.update(fields)
    return Incident(**values)


def filings(*later: tuple[timedelta, str]) -> list[Filing]:
    """Revision 1 (the initial report at T0), then revisions at T0 + offset at a stage."""
    return [Filing(T0, "initial")] + [Filing(T0 + offset, stage) for offset, stage in later]


def clocks(incident: Incident, revisions: list[Filing] | None = None, ack: datetime | None = None) -> dict:
    computed = compute_deadlines(incident, filings=revisions or filings(), acknowledged_at=ack, triage=TRIAGE)
    return {d.key: (d.due_at, d.satisfied_at) for d in computed}


def key(regime: Regime, stage: Stage, sequence: int = 1) -> tuple[str, str, int]:
    return (regime.value, stage.value, sequence)


COP_INITIAL = key(Regime.GPAI_COP, Stage.INITIAL)
ART73_INITIAL = key(Regime.AI_ACT_ART73, Stage.INITIAL)
ACK = key(Regime.TRIAGE, Stage.ACKNOWLEDGE)


def intermediate(sequence: int) -> tuple[str, str, int]:
    return key(Regime.GPAI_COP, Stage.INTERMEDIATE, sequence)


FINAL = key(Regime.GPAI_COP, Stage.FINAL)


# --- the rules, pure ----------------------------------------------------------------------------------


@pytest.mark.parametrize("high_risk", [False, True], ids=["not-high-risk", "high-risk"])
@pytest.mark.parametrize("category", list(COP_DAYS), ids=[c or "blank" for c in COP_DAYS])
def test_initial_report_is_due_by_category_and_regime(category, high_risk):
    result = clocks(report(eu_category=category, high_risk_system=high_risk))

    cop, art73 = COP_DAYS[category], ART73_DAYS[category]
    if cop is None:
        assert result == {}, "not reportable: no legal clock at all"
        return
    assert result[COP_INITIAL] == (AWARE + cop * DAY, T0)
    assert result[intermediate(1)] == (T0 + 28 * DAY, None)
    assert FINAL not in result, "no final report is due before resolution"
    if high_risk:
        assert art73 is not None
        assert result[ART73_INITIAL] == (AWARE + art73 * DAY, T0)
        assert {k for k in result if k[0] == Regime.AI_ACT_ART73} == {ART73_INITIAL}, "Art. 73: initial only"
    else:
        assert not any(k[0] == Regime.AI_ACT_ART73 for k in result)


@pytest.mark.parametrize("category", [c for c, days in COP_DAYS.items() if days is not None])
def test_every_stage_of_every_reportable_category_on_a_resolved_incident(category):
    resolved = T0 + 40 * DAY
    revisions = filings((20 * DAY, "intermediate"), (45 * DAY, "final"))

    result = clocks(report(eu_category=category, high_risk_system=True, resolved_at=resolved), revisions)

    assert result == {
        COP_INITIAL: (AWARE + COP_DAYS[category] * DAY, T0),
        ART73_INITIAL: (AWARE + ART73_DAYS[category] * DAY, T0),
        intermediate(1): (T0 + 28 * DAY, T0 + 20 * DAY),
        # 28 days after the last intermediate (T0+48) is after the resolution (T0+40): no #2.
        FINAL: (resolved + 60 * DAY, T0 + 45 * DAY),
    }


def test_the_clocks_start_at_submission_when_awareness_is_unknown():
    result = clocks(report(eu_category=EUCategory.ART3_49_A_DEATH, provider_aware_at=None))

    assert result[COP_INITIAL] == (T0 + 10 * DAY, T0)


def test_a_late_initial_report_is_met_late():
    incident = report(
        eu_category=EUCategory.ART3_49_B_CRITICAL_INFRASTRUCTURE, provider_aware_at=T0 - 3 * DAY
    )

    due, met = clocks(incident)[COP_INITIAL]

    assert (due, met) == (T0 - DAY, T0)
    assert deadline_status(due, met, T0) == DeadlineStatus.MET_LATE


def test_an_intermediate_report_is_due_every_four_weeks_after_the_last_one_while_unresolved():
    revisions = filings((20 * DAY, "intermediate"), (40 * DAY, "initial"), (45 * DAY, "intermediate"))

    result = clocks(report(), revisions)

    assert result[intermediate(1)] == (T0 + 28 * DAY, T0 + 20 * DAY)
    # An amendment at another stage (T0+40, "initial") is no intermediate report.
    assert result[intermediate(2)] == (T0 + 48 * DAY, T0 + 45 * DAY)
    assert result[intermediate(3)] == (T0 + 73 * DAY, None)
    assert intermediate(4) not in result, "only the next outstanding report exists"


def test_two_intermediate_reports_in_one_interval_each_count():
    result = clocks(report(), filings((3 * DAY, "intermediate"), (5 * DAY, "intermediate")))

    assert result[intermediate(1)] == (T0 + 28 * DAY, T0 + 3 * DAY)
    assert result[intermediate(2)] == (T0 + 31 * DAY, T0 + 5 * DAY)
    assert result[intermediate(3)] == (T0 + 33 * DAY, None)


def test_a_late_intermediate_report_restarts_the_interval_from_when_it_was_filed():
    result = clocks(report(), filings((30 * DAY, "intermediate")))

    due, met = result[intermediate(1)]
    assert deadline_status(due, met, T0 + 31 * DAY) == DeadlineStatus.MET_LATE
    assert result[intermediate(2)] == (T0 + 58 * DAY, None)


def test_the_first_filing_is_the_initial_report_whatever_its_stage():
    result = clocks(report(), [Filing(T0, "intermediate")])

    assert result[intermediate(1)] == (T0 + 28 * DAY, None)


def test_intermediate_reports_stop_after_resolution_and_the_final_one_is_due_60_days_on():
    resolved = T0 + 10 * DAY

    result = clocks(report(resolved_at=resolved))

    assert intermediate(1) not in result, "due T0+28, after the resolution"
    assert result[FINAL] == (T0 + 70 * DAY, None)


def test_an_intermediate_report_missed_before_resolution_stays_due_until_the_final_one():
    resolved = T0 + 30 * DAY
    unresolved_filings = filings()
    with_final = filings((35 * DAY, "final"))

    missed = clocks(report(resolved_at=resolved), unresolved_filings)
    closed_out = clocks(report(resolved_at=resolved), with_final)

    assert missed[intermediate(1)] == (T0 + 28 * DAY, None)
    assert closed_out[intermediate(1)] == (T0 + 28 * DAY, T0 + 35 * DAY), "met late by the final report"
    assert closed_out[FINAL] == (resolved + 60 * DAY, T0 + 35 * DAY)


def test_a_final_report_without_a_resolution_time_resolves_the_incident_when_filed():
    result = clocks(report(), filings((10 * DAY, "final")))

    assert result[FINAL] == (T0 + 70 * DAY, T0 + 10 * DAY)
    assert intermediate(1) not in result


def test_a_final_report_filed_late_is_met_late():
    resolved = T0 + 5 * DAY
    result = clocks(report(resolved_at=resolved), filings((66 * DAY, "final")))

    due, met = result[FINAL]
    assert due == T0 + 65 * DAY and met == T0 + 66 * DAY
    assert deadline_status(due, met, T0 + 70 * DAY) == DeadlineStatus.MET_LATE


@pytest.mark.parametrize("status", sorted(ENDED_STATES))
def test_a_report_that_can_no_longer_be_amended_keeps_only_the_stages_met(status):
    result = clocks(report(status=status, severity="disaster"))

    assert set(result) == {COP_INITIAL}


def test_the_ended_states_are_the_states_that_refuse_amendments():
    assert set(ENDED_STATES) == set(services.CLOSED_STATES)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-SECOND, DeadlineStatus.PENDING),
        (timedelta(0), DeadlineStatus.PENDING),
        (SECOND, DeadlineStatus.OVERDUE),
    ],
    ids=["a-second-before", "exactly-at", "a-second-after"],
)
def test_a_deadline_is_overdue_only_after_its_due_time(offset, expected):
    assert deadline_status(T0, None, T0 + offset) == expected


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-SECOND, DeadlineStatus.MET), (timedelta(0), DeadlineStatus.MET), (SECOND, DeadlineStatus.MET_LATE)],
    ids=["a-second-before", "exactly-at", "a-second-after"],
)
def test_a_stage_met_at_its_due_time_is_on_time(offset, expected):
    assert deadline_status(T0, T0 + offset, T0 + 10 * DAY) == expected


def _utc(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (_utc(24, 10), 1, _utc(25, 10)),  # Tuesday -> Wednesday, same time
        (_utc(27, 18), 1, _utc(30, 18)),  # Friday evening -> Monday evening
        (_utc(27, 23, 59), 1, _utc(30, 23, 59)),
        (_utc(27, 0), 1, _utc(28, 0)),  # all of Friday counts: due at its end
        (_utc(28, 10), 1, datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),  # Saturday: from Monday 00:00
        (_utc(29, 23, 59), 1, datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),  # Sunday night: likewise
        (_utc(26, 10), 2, _utc(30, 10)),  # Thursday + 2 -> Monday
        (_utc(23, 9), 5, _utc(30, 9)),  # a working week is a calendar week
    ],
    ids=["tue", "fri-evening", "fri-late", "fri-midnight", "saturday", "sunday-night", "thu+2", "week"],
)
def test_working_days_skip_the_weekend(start, days, due):
    assert add_working_days(start, days) == due


@pytest.mark.parametrize(
    ("severity", "applies"),
    [
        ("hazard", False),
        ("serious_hazard", False),
        ("incident", False),
        ("serious_incident", True),
        ("disaster", True),
        ("", False),
    ],
)
def test_the_triage_service_level_covers_serious_reports_only(severity, applies):
    result = clocks(report(severity=severity, eu_category=""))

    assert (ACK in result) is applies
    if applies:
        assert result[ACK] == (T0 + DAY, None)


def test_the_triage_service_level_is_configurable():
    policy = TriagePolicy(working_days=2, severities=frozenset({"incident"}))
    friday_evening = _utc(27, 18)

    computed = compute_deadlines(
        report(severity="incident", eu_category="", submitted_at=friday_evening),
        filings=[Filing(friday_evening, "initial")],
        acknowledged_at=None,
        triage=policy,
    )

    assert [(d.key, d.due_at) for d in computed] == [(ACK, datetime(2026, 12, 1, 18, 0, tzinfo=UTC))]


def test_the_triage_policy_reads_the_settings(settings):
    settings.REDLINE_TRIAGE_SLA_WORKING_DAYS = 3
    settings.REDLINE_TRIAGE_SLA_SEVERITIES = ["hazard"]

    assert TriagePolicy.from_settings() == TriagePolicy(working_days=3, severities=frozenset({"hazard"}))


@pytest.mark.parametrize(
    ("name", "value"),
    [("REDLINE_TRIAGE_SLA_SEVERITIES", ["serious"]), ("REDLINE_TRIAGE_SLA_WORKING_DAYS", 0)],
)
def test_a_malformed_triage_setting_fails_at_start_up(settings, name, value):
    setattr(settings, name, value)

    with pytest.raises(ImproperlyConfigured):
        apps.get_app_config("incidents").ready()


# --- stored with every write --------------------------------------------------------------------------


@dataclass
class World:
    lab: Organization
    submitter: Principal
    reviewer: Membership
    reviewer_principal: Principal
    other_lab: Principal

    def client(self, membership: Membership) -> APIClient:
        client = APIClient()
        sign_in(client, membership.user)
        return client


def make_world() -> World:
    lab = OrganizationFactory(kind="lab", country="FR")
    other = OrganizationFactory(kind="lab", country="US")
    eu = OrganizationFactory(kind="regulator", country="BE", jurisdictions=["EU"])
    reviewer = MembershipFactory(organization=eu, role=Role.REVIEWER)
    return World(
        lab=lab,
        submitter=principal_for_membership(MembershipFactory(organization=lab, role=Role.LAB_SUBMITTER)),
        reviewer=reviewer,
        reviewer_principal=principal_for_membership(reviewer),
        other_lab=principal_for_membership(MembershipFactory(organization=other, role=Role.LAB_SUBMITTER)),
    )


@pytest.fixture
def world(db: Any) -> World:
    return make_world()


def submit(world: World, **fields: Any) -> Incident:
    data = {
        "record_class": "real_world_incident",
        "title": "An agent copied its weights",
        "description": "The agent started a replica on a second host.",
        "submitter_capacity": "provider",
        "instruction_provenance": "uninstructed",
        "countries": ["FR"],
        "tlp": "amber",
        "provider_aware_at": AWARE,
        "eu_category": EUCategory.ART3_49_D_PROPERTY_ENVIRONMENT,
        **fields,
    }
    links = services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")])
    return services.incident_submit(actor=world.submitter, data=data, links=links).incident


def stored(incident: Incident) -> dict[tuple[str, str, int], IncidentDeadline]:
    return {(d.regime, d.stage, d.sequence): d for d in IncidentDeadline.objects.filter(incident=incident)}


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_a_submission_stores_its_clocks_and_the_next_due_time(world, clock):
    incident = submit(world, severity="serious_incident", high_risk_system=True)

    rows = stored(incident)
    assert {k: (r.due_at, r.satisfied_at) for k, r in rows.items()} == {
        COP_INITIAL: (AWARE + 15 * DAY, T0),
        ART73_INITIAL: (AWARE + 15 * DAY, T0),
        intermediate(1): (T0 + 28 * DAY, None),
        ACK: (T0 + DAY, None),
    }
    assert Incident.objects.get(pk=incident.pk).next_due_at == T0 + DAY
    assert incident.next_due_at == T0 + DAY


def test_an_amendment_that_changes_the_category_recomputes_the_clocks(world, clock):
    incident = submit(world, high_risk_system=True)
    IncidentDeadline.objects.filter(incident=incident).update(reminded_at=T0, alerted_at=T0)

    clock.shift(DAY)
    services.incident_amend(
        actor=world.submitter,
        incident=incident,
        changes={"eu_category": EUCategory.ART3_49_B_CRITICAL_INFRASTRUCTURE},
        links=None,
    )

    rows = stored(incident)
    assert rows[COP_INITIAL].due_at == AWARE + 2 * DAY
    assert rows[ART73_INITIAL].due_at == AWARE + 2 * DAY
    assert rows[COP_INITIAL].reminded_at is None and rows[COP_INITIAL].alerted_at is None, "a moved clock"
    assert rows[intermediate(1)].reminded_at == T0, "an unchanged clock keeps its notices"


def test_an_amendment_to_not_reportable_drops_the_legal_clocks(world, clock):
    incident = submit(world, severity="disaster")

    services.incident_amend(
        actor=world.submitter, incident=incident, changes={"eu_category": "not_reportable"}, links=None
    )

    assert set(stored(incident)) == {ACK}
    assert Incident.objects.get(pk=incident.pk).next_due_at == T0 + DAY


def test_an_intermediate_amendment_meets_the_intermediate_report(world, clock):
    incident = submit(world)
    clock.shift(20 * DAY)

    services.incident_amend(
        actor=world.submitter, incident=incident, changes={"report_stage": "intermediate"}, links=None
    )

    rows = stored(incident)
    assert rows[intermediate(1)].satisfied_at == T0 + 20 * DAY
    assert rows[intermediate(2)].due_at == T0 + 48 * DAY
    assert Incident.objects.get(pk=incident.pk).next_due_at == T0 + 48 * DAY


def test_a_resolution_on_amendment_ends_the_intermediate_reports_and_starts_the_final_clock(world, clock):
    incident = submit(world)
    clock.shift(10 * DAY)

    services.incident_amend(
        actor=world.submitter, incident=incident, changes={"resolved_at": T0 + 9 * DAY}, links=None
    )

    rows = stored(incident)
    assert intermediate(1) not in rows
    assert rows[FINAL].due_at == T0 + 69 * DAY and rows[FINAL].satisfied_at is None
    assert Incident.objects.get(pk=incident.pk).resolved_at == T0 + 9 * DAY


def test_a_resolution_in_the_future_is_refused(world, clock):
    incident = submit(world)

    with pytest.raises(ValidationFailed) as error:
        services.incident_amend(
            actor=world.submitter, incident=incident, changes={"resolved_at": T0 + DAY}, links=None
        )

    assert error.value.errors[0].field == "resolved_at"


@pytest.mark.parametrize(
    ("after", "status"), [(DAY - SECOND, "met"), (DAY, "met"), (DAY + SECOND, "met_late")]
)
def test_the_first_claim_acknowledges_a_serious_report(world, clock, after, status):
    incident = submit(world, severity="serious_incident")
    clock.shift(after)

    services.incident_transition(actor=world.reviewer_principal, incident=incident, action="claim")

    row = stored(incident)[ACK]
    assert (row.due_at, row.satisfied_at) == (T0 + DAY, T0 + after)
    assert deadline_status(row.due_at, row.satisfied_at, T0 + 2 * DAY) == status


def test_a_withdrawn_report_has_no_open_clock(world, clock):
    incident = submit(world, severity="serious_incident")

    services.incident_transition(
        actor=world.submitter, incident=incident, action="withdraw", reason="Filed against the wrong model."
    )

    assert set(stored(incident)) == {COP_INITIAL}
    assert Incident.objects.get(pk=incident.pk).next_due_at is None


def test_the_refresh_command_restores_the_clocks(world, clock):
    incident = submit(world, severity="disaster")
    expected = {k: (r.due_at, r.satisfied_at) for k, r in stored(incident).items()}
    IncidentDeadline.objects.all().delete()
    Incident.objects.update(next_due_at=None)

    call_command("deadlines_refresh", stdout=StringIO())

    assert {k: (r.due_at, r.satisfied_at) for k, r in stored(incident).items()} == expected
    assert Incident.objects.get(pk=incident.pk).next_due_at == T0 + DAY


# --- the API ------------------------------------------------------------------------------------------


def test_the_detail_shows_each_clock_with_its_remaining_time(world, clock):
    incident = submit(world, severity="serious_incident")
    client = world.client(world.reviewer)
    clock.shift(DAY - SECOND)

    body = client.get(f"{URL}{incident.public_id}").json()

    assert body["next_due_at"] == "2026-11-25T10:00:00Z"
    assert body["deadlines"][0] == {
        "regime": "triage",
        "stage": "acknowledge",
        "sequence": 1,
        "due_at": "2026-11-25T10:00:00Z",
        "satisfied_at": None,
        "remaining_seconds": 1,
        "overdue": False,
        "status": "pending",
    }
    initial = next(d for d in body["deadlines"] if d["regime"] == "gpai_cop" and d["stage"] == "initial")
    assert (initial["status"], initial["remaining_seconds"], initial["overdue"]) == ("met", None, False)


def test_a_conditional_get_never_serves_a_stale_clock_and_if_match_still_takes_the_old_tag(world, clock):
    incident = submit(world, severity="serious_incident")
    client = world.client(world.reviewer)
    first = client.get(f"{URL}{incident.public_id}")
    same_instant = client.get(f"{URL}{incident.public_id}", HTTP_IF_NONE_MATCH=first["ETag"])
    clock.shift(DAY + SECOND)  # the acknowledgement clock is now overdue; the record itself did not change

    later = client.get(f"{URL}{incident.public_id}", HTTP_IF_NONE_MATCH=first["ETag"])

    assert same_instant.status_code == 304
    assert later.status_code == 200 and later["ETag"] != first["ETag"]
    ack = next(d for d in later.json()["deadlines"] if d["regime"] == "triage")
    assert (ack["status"], ack["remaining_seconds"]) == ("overdue", -1)
    claimed = client.post(f"{URL}{incident.public_id}/claim", {}, format="json", HTTP_IF_MATCH=first["ETag"])
    assert claimed.status_code == 200, claimed.content
    stale = client.post(f"{URL}{incident.public_id}/unclaim", {}, format="json", HTTP_IF_MATCH=first["ETag"])
    assert stale.status_code == 412


@pytest.mark.parametrize(
    ("offset", "remaining", "overdue", "status"),
    [(-SECOND, 1, False, "pending"), (timedelta(0), 0, False, "pending"), (SECOND, -1, True, "overdue")],
    ids=["a-second-before", "exactly-at", "a-second-after"],
)
def test_the_api_counts_the_due_time_to_the_second(world, clock, offset, remaining, overdue, status):
    incident = submit(world, severity="disaster")
    client = world.client(world.reviewer)
    clock.move_to(T0 + DAY + offset)

    detail = client.get(f"{URL}{incident.public_id}").json()
    row = next(r for r in client.get(URL).json()["results"] if r["public_id"] == incident.public_id)

    ack = next(d for d in detail["deadlines"] if d["regime"] == "triage")
    assert (ack["remaining_seconds"], ack["overdue"], ack["status"]) == (remaining, overdue, status)
    assert (row["next_due_at"], row["overdue"]) == ("2026-11-25T10:00:00Z", overdue)


@pytest.fixture
def queue(world: World, clock: Any) -> dict[str, str]:
    """Five visible reports, two days after T0: overdue on triage only, overdue on a CoP intermediate
    report only, due in four weeks, no clock, acknowledged; and another lab's overdue report."""
    clock.move_to(T0 - 29 * DAY)  # filed four weeks ago, and no intermediate report since: due T0 - 1 day
    cop_late = submit(world, provider_aware_at=T0 - 30 * DAY)
    clock.move_to(T0)
    triage_late = submit(world, severity="disaster", eu_category="")
    due_soon = submit(world, high_risk_system=True)
    no_clock = submit(world, eu_category="not_reportable")
    acknowledged = submit(world, severity="serious_incident", eu_category="")
    services.incident_transition(actor=world.reviewer_principal, incident=acknowledged, action="claim")
    invisible = services.incident_submit(
        actor=world.other_lab,
        data={
            "record_class": "real_world_incident",
            "title": "Another lab's report",
            "description": "Not visible to the submitting lab.",
            "submitter_capacity": "provider",
            "instruction_provenance": "uninstructed",
            "countries": ["US"],
            "tlp": "amber+strict",  # the EU reviewer is not a lead regulator for the US
            "severity": "disaster",
        },
        links=services.Links(models=[services.InvolvedModel(role="originating", model_name="x")]),
    ).incident
    clock.move_to(T0 + 2 * DAY)
    return {
        "triage_late": triage_late.public_id,
        "cop_late": cop_late.public_id,
        "due_soon": due_soon.public_id,
        "no_clock": no_clock.public_id,
        "acknowledged": acknowledged.public_id,
        "invisible": invisible.public_id,
    }


def listed(client: APIClient, queue: dict[str, str], **params: str) -> set[str]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    names = {public_id: name for name, public_id in queue.items()}
    return {names[row["public_id"]] for row in response.json()["results"] if row["public_id"] in names}


def test_a_reviewer_filters_the_queue_to_overdue_reports(world, queue):
    reviewer = world.client(world.reviewer)

    assert listed(reviewer, queue, overdue="true") == {"triage_late", "cop_late"}
    assert listed(reviewer, queue, overdue="false") == {"due_soon", "no_clock", "acknowledged"}


def test_the_overdue_filter_keeps_the_visibility_rule(world, queue):
    lab = APIClient()
    sign_in(lab, Membership.objects.get(organization__country="US", role=Role.LAB_SUBMITTER).user)

    assert listed(lab, queue, overdue="true") == {"invisible"}


def test_the_queue_filters_by_regime_and_due_time(world, queue):
    reviewer = world.client(world.reviewer)

    assert listed(reviewer, queue, regime="triage") == {"triage_late"}
    assert listed(reviewer, queue, regime="gpai_cop", overdue="true") == {"cop_late"}
    assert listed(reviewer, queue, regime="gpai_cop", overdue="false") == {"due_soon"}
    assert listed(reviewer, queue, regime="ai_act_art73") == set(), "its only stage is met"
    assert listed(reviewer, queue, due_before="2026-12-10T00:00:00Z") == {"triage_late", "cop_late"}
    assert listed(reviewer, queue, due_before="2026-12-23T00:00:00Z") == {
        "triage_late",
        "cop_late",
        "due_soon",
    }
    assert listed(reviewer, queue, regime="triage", due_before="2026-11-24T00:00:00Z") == set()


def test_the_queue_orders_by_the_next_due_time_across_pages(world, queue):
    reviewer = world.client(world.reviewer)
    seen: list[str] = []
    url: str | None = URL
    params: dict[str, str] | None = {"ordering": "next_due_at", "limit": "1"}
    while url is not None:
        body = reviewer.get(url, params).json()
        seen += [row["public_id"] for row in body["results"]]
        url, params = body["next"], None

    names = {public_id: name for name, public_id in queue.items()}
    assert [names[p] for p in seen if p in names] == ["cop_late", "triage_late", "due_soon"]


@pytest.mark.parametrize(
    "params",
    [{"overdue": "maybe"}, {"due_before": "next tuesday"}, {"regime": "gdpr"}, {"due_before": "2026-13-40"}],
)
def test_bad_deadline_filters_are_a_400_problem(world, queue, params):
    assert_problem(world.client(world.reviewer).get(URL, params), 400)


def test_the_list_and_detail_take_a_fixed_number_of_queries(world, queue, django_assert_max_num_queries):
    reviewer = world.client(world.reviewer)
    reviewer.get(URL)  # the session, once

    with django_assert_max_num_queries(5):  # session, user, membership, user, the page
        assert reviewer.get(URL, {"overdue": "true", "regime": "triage"}).status_code == 200
    with django_assert_max_num_queries(8):  # ... the report, then its models, evaluations, deadlines
        assert reviewer.get(f"{URL}{queue['due_soon']}").status_code == 200


def test_the_published_schema_accepts_a_resolution_time(world, clock):
    client = APIClient()
    sign_in(client, Membership.objects.get(organization=world.lab).user)
    body = {
        "record_class": "real_world_incident",
        "title": "Resolved",
        "description": "Contained and resolved.",
        "submitter_capacity": "provider",
        "instruction_provenance": "uninstructed",
        "eu_category": "cop_cyber_breach_self_exfiltration",
        "provider_aware_at": "2026-11-20T00:00:00Z",
        "resolved_at": "2026-11-23T00:00:00Z",
    }

    response = client.post(URL, body, format="json")

    assert response.status_code == 201, response.content
    detail = client.get(response.json()["url"]).json()
    assert detail["resolved_at"] == "2026-11-23T00:00:00Z"
    final = next(d for d in detail["deadlines"] if d["stage"] == "final")
    assert final["due_at"] == "2027-01-22T00:00:00Z"


# --- reminders and alerts -----------------------------------------------------------------------------


def notices(incident: Incident) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e.topic, e.data)
        for e in OutboxEvent.objects.filter(
            subject_id=str(incident.pk), topic__startswith="deadline."
        ).order_by("created_at")
    ]


def test_a_reminder_goes_out_once_a_day_before_and_an_alert_once_after(world, clock):
    incident = submit(world, severity="serious_incident", eu_category="")
    ack = {"regime": "triage", "stage": "acknowledge", "sequence": 1, "due_at": "2026-11-25T10:00:00Z"}

    clock.move_to(T0 - SECOND)  # due - 24h - 1s: too early
    assert services.deadline_notices_send() == services.NoticeCounts(reminders=0, alerts=0)
    clock.move_to(T0)  # due - 24h exactly
    assert services.deadline_notices_send() == services.NoticeCounts(reminders=1, alerts=0)
    assert services.deadline_notices_send() == services.NoticeCounts(reminders=0, alerts=0)
    clock.move_to(T0 + DAY)  # exactly due: not yet overdue
    assert services.deadline_notices_send() == services.NoticeCounts(reminders=0, alerts=0)
    clock.move_to(T0 + DAY + SECOND)
    assert services.deadline_notices_send() == services.NoticeCounts(reminders=0, alerts=1)
    assert services.deadline_notices_send() == services.NoticeCounts(reminders=0, alerts=0)

    assert notices(incident) == [("deadline.reminder", ack), ("deadline.overdue", ack)]
    row = stored(incident)[ACK]
    assert (row.reminded_at, row.alerted_at) == (T0, T0 + DAY + SECOND)


def test_the_reminder_lead_is_a_setting(world, clock, settings):
    settings.REDLINE_DEADLINE_REMINDER_LEAD_HOURS = 2
    submit(world, severity="serious_incident", eu_category="")

    clock.move_to(T0 + DAY - timedelta(hours=2) - SECOND)
    assert services.deadline_notices_send().reminders == 0
    clock.move_to(T0 + DAY - timedelta(hours=2))
    assert services.deadline_notices_send().reminders == 1


def test_a_clock_first_seen_overdue_gets_the_alert_only(world, clock):
    incident = submit(world, severity="disaster", eu_category="")
    clock.move_to(T0 + 3 * DAY)

    services.deadline_notices_send()

    assert [topic for topic, _ in notices(incident)] == ["deadline.overdue"]


def test_nothing_is_sent_for_a_met_deadline(world, clock):
    incident = submit(world, severity="disaster", eu_category="")
    services.incident_transition(actor=world.reviewer_principal, incident=incident, action="claim")

    for moment in (T0 + DAY - SECOND, T0 + 5 * DAY):
        clock.move_to(moment)
        services.deadline_notices_send()

    assert notices(incident) == []


def test_each_intermediate_report_is_reminded(world, clock):
    incident = submit(world, high_risk_system=True, provider_aware_at=T0 - 13 * DAY - timedelta(hours=12))
    clock.move_to(T0 + SECOND)
    services.deadline_notices_send()  # nothing open is due within a day: the intermediate is T0+28
    clock.move_to(T0 + 27 * DAY)
    assert services.deadline_notices_send().reminders == 1

    clock.move_to(T0 + 27 * DAY + timedelta(hours=1))
    services.incident_amend(
        actor=world.submitter, incident=incident, changes={"report_stage": "intermediate"}, links=None
    )
    clock.move_to(T0 + 27 * DAY + timedelta(hours=1) + 27 * DAY)
    assert services.deadline_notices_send().reminders == 1
    assert [d["sequence"] for _, d in notices(incident)] == [1, 2]


def test_the_beat_task_sends_the_notices(world, clock):
    submit(world, severity="disaster", eu_category="")
    clock.move_to(T0 + 2 * DAY)

    assert send_deadline_notices.delay().get() == {"reminders": 0, "alerts": 1}
    assert django_settings.CELERY_BEAT_SCHEDULE["send-deadline-notices"] == {
        "task": "incidents.tasks.send_deadline_notices",
        "schedule": 300.0,
    }


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_senders_emit_each_notice_once():
    """Two beat runs at the same moment (each its own database connection), 20 times over: every
    reminder and alert is emitted exactly once."""
    world = make_world()
    with time_machine.travel(T0, tick=False):
        incidents = [submit(world, severity="disaster", eu_category="") for _ in range(10)]
    barrier = threading.Barrier(2)

    def send(now: datetime) -> services.NoticeCounts:
        barrier.wait(timeout=30)
        try:
            return services.deadline_notices_send(now=now)
        finally:
            connection.close()

    totals = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for round_ in range(20):
            # Even rounds remind (due within the lead), odd rounds alert; marks reset between rounds.
            IncidentDeadline.objects.update(reminded_at=None, alerted_at=None)
            now = T0 + timedelta(hours=1) if round_ % 2 == 0 else T0 + 2 * DAY
            results = list(pool.map(send, [now, now]))
            totals.append(sum(r.reminders + r.alerts for r in results))
    connections.close_all()

    assert totals == [len(incidents)] * 20
    events = OutboxEvent.objects.filter(topic__startswith="deadline.")
    assert events.filter(topic="deadline.reminder").count() == 10 * 10
    assert events.filter(topic="deadline.overdue").count() == 10 * 10
