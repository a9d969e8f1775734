"""The triage workflow (DESIGN 5): the transition table walked for every principal, its guards (own-org
accept, four eyes, the assignee), the per-action endpoints, a hypothesis state machine against a
hand-written model of the rules, and concurrent actions on one report."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from django.db import DatabaseError, connection, connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from accounts.models import Membership, Organization, Role
from core.actors import Principal
from core.errors import DomainError
from core.models import AuditEvent, OutboxEvent
from incidents import services, workflows
from incidents.models import Incident, IncidentStatus, IncidentTransition
from incidents.workflows import TRANSITIONS, Action, Party
from tests.factories import MembershipFactory, OrganizationFactory, sign_in
from tests.problems import assert_problem

URL = "/api/v1/incidents/"
S = IncidentStatus

# Who each principal is with respect to the lab's reports, written out by hand (not by parties_of).
PARTIES: dict[str, set[Party]] = {
    "submitter": {Party.SUBMITTER},
    "lab_admin": {Party.SUBMITTER},
    "other_lab": set(),  # cannot even see the (amber) report
    "reviewer": {Party.REVIEWER},  # the assignee in the table walk
    "reviewer_2": {Party.REVIEWER},
    "coord_reviewer": {Party.REVIEWER},
    "regulator": set(),
    "platform_admin": {Party.PLATFORM_ADMIN},
}
PRINCIPALS = sorted(PARTIES)
INVISIBLE = {"other_lab"}


@dataclass
class World:
    orgs: dict[str, Organization]
    memberships: dict[str, Membership]
    principals: dict[str, Principal]
    other: Incident  # another visible report, for duplicate_of / replaced_by

    def user_id(self, name: str) -> int:
        user_id: int = self.memberships[name].user.pk
        return user_id

    def username(self, name: str) -> str:
        return str(self.memberships[name].user.get_username())

    def client(self, name: str) -> APIClient:
        client = APIClient()
        sign_in(client, self.memberships[name].user)
        return client

    def params(self, action: str) -> dict[str, str]:
        """Valid parameters for `action`."""
        return {
            Action.ASSIGN: {"assignee": self.username("reviewer")},
            Action.REJECT: {"reason": "false_positive"},
            Action.MARK_DUPLICATE: {"duplicate_of": self.other.public_id},
            Action.SUPERSEDE: {"replaced_by": self.other.public_id},
            Action.WITHDRAW: {"reason": "Filed against the wrong model."},
        }.get(Action(action), {})


def submit(world: World, *, severity: str = "", by: str = "submitter") -> Incident:
    result = services.incident_submit(
        actor=world.principals[by],
        data={
            "record_class": "real_world_incident",
            "title": "An agent copied its weights",
            "description": "The agent started a replica on a second host.",
            "submitter_capacity": "provider",
            "instruction_provenance": "uninstructed",
            "countries": ["FR"],
            "tlp": "amber",
            "severity": severity,
        },
        links=services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")]),
    )
    return result.incident


def build_world() -> World:
    orgs = {
        "lab": OrganizationFactory(kind="lab", country="FR"),
        "other_lab": OrganizationFactory(kind="lab", country="US"),
        "eu": OrganizationFactory(kind="regulator", country="BE", jurisdictions=["EU"]),
        "coord": OrganizationFactory(kind="coordination_body", country="CH"),
    }
    where = {
        "submitter": ("lab", Role.LAB_SUBMITTER),
        "lab_admin": ("lab", Role.LAB_ADMIN),
        "other_lab": ("other_lab", Role.LAB_SUBMITTER),
        "reviewer": ("eu", Role.REVIEWER),
        "reviewer_2": ("eu", Role.REVIEWER),
        "coord_reviewer": ("coord", Role.REVIEWER),
        "regulator": ("eu", Role.REGULATOR),
        "platform_admin": ("eu", Role.PLATFORM_ADMIN),
    }
    memberships = {
        name: MembershipFactory(organization=orgs[org], role=role) for name, (org, role) in where.items()
    }
    principals = {name: principal_for_membership(m) for name, m in memberships.items()}
    world = World(orgs=orgs, memberships=memberships, principals=principals, other=Incident())
    world.other = submit(world)
    return world


@pytest.fixture
def world(db: Any) -> World:
    return build_world()


def put_in_state(
    world: World,
    incident: Incident,
    status: str,
    *,
    assignee: str | None = "reviewer",
    pending: str | None = None,
) -> Incident:
    """Force a report into a state (test set-up only; the constraints' companions filled in)."""
    Incident.objects.filter(pk=incident.pk).update(
        status=status,
        assignee_id=world.user_id(assignee) if assignee else None,
        pending_accept_by_id=world.user_id(pending) if pending else None,
        rejection_reason="out_of_scope" if status == S.REJECTED else "",
        withdrawal_reason="Withdrawn." if status == S.WITHDRAWN else "",
        duplicate_of=world.other if status == S.DUPLICATE else None,
        replaced_by=world.other if status == S.SUPERSEDED else None,
    )
    return Incident.objects.get(pk=incident.pk)


def transitions_and_events(incident: Incident) -> tuple[int, int, int]:
    """Transition rows, audit events and outbox events of the report's transitions."""
    return (
        IncidentTransition.objects.filter(incident=incident).count(),
        AuditEvent.objects.filter(target_id=str(incident.pk), event_code="incident.transitioned").count(),
        OutboxEvent.objects.filter(subject_id=str(incident.pk), topic="incident.transitioned").count(),
    )


def expected_refusal(principal: str, row: workflows.Transition) -> str | None:
    """The error code the table walk expects (None: success), from the hand-written parties. In the walk
    `reviewer` is the assignee and, for confirm_accept, the first accepting reviewer."""
    if principal in INVISIBLE:
        return "not_found"
    if not PARTIES[principal] & row.parties:
        return "transition_not_allowed"
    if row.action == Action.CONFIRM_ACCEPT:
        return "second_reviewer_required" if principal == "reviewer" else None
    if workflows.is_assignee in row.guards and principal != "reviewer":
        return "not_assignee"
    return None


WALK = [
    (row, state, principal)
    for row in TRANSITIONS
    for state in sorted(row.from_states)
    for principal in PRINCIPALS
]


@pytest.mark.parametrize(("row", "state", "principal"), WALK, ids=[f"{r.action}-{s}-{p}" for r, s, p in WALK])
def test_every_row_of_the_table_for_every_principal(world, row, state, principal):
    four_eyes = row.action == Action.CONFIRM_ACCEPT
    incident = submit(world, severity="serious_incident" if four_eyes else "")
    incident = put_in_state(world, incident, state, pending="reviewer" if four_eyes else None)
    assert set(row.required) <= set(world.params(row.action)), "give the new row's parameters in World.params"
    actor = world.principals[principal]
    expected = expected_refusal(principal, row)

    try:
        result = services.incident_transition(
            actor=actor, incident=incident, action=row.action, **world.params(row.action)
        )
    except DomainError as error:
        assert error.code == expected, (error.code, error.detail)
        assert transitions_and_events(incident) == (0, 0, 0)
        assert Incident.objects.get(pk=incident.pk).status == state
        return

    assert expected is None
    assert result.status == row.to_state
    assert Incident.objects.get(pk=incident.pk).status == row.to_state
    assert transitions_and_events(incident) == (1, 1, 1)
    step = IncidentTransition.objects.get(incident=incident)
    assert (step.action, step.from_state, step.to_state) == (row.action, state, row.to_state)
    assert (step.actor_user_id, step.actor_org_id) == (actor.user_id, actor.org_id)


WRONG_STATES = [(row, state) for row in TRANSITIONS for state in S.values if state not in row.from_states]


@pytest.mark.parametrize(("row", "state"), WRONG_STATES, ids=[f"{r.action}-{s}" for r, s in WRONG_STATES])
def test_no_action_is_possible_from_a_state_the_table_does_not_name(world, row, state):
    principal = next(p for p in PRINCIPALS if PARTIES[p] & row.parties and p not in INVISIBLE)
    incident = put_in_state(world, submit(world), state)

    with pytest.raises(DomainError) as raised:
        services.incident_transition(
            actor=world.principals[principal],
            incident=incident,
            action=row.action,
            **world.params(row.action),
        )

    assert (raised.value.status, raised.value.code) == (409, "invalid_transition")
    assert transitions_and_events(incident) == (0, 0, 0)
    assert row.action not in workflows.available_actions(world.principals[principal], incident)


def test_reviewer_cannot_accept_own_org_report(world):
    incident = submit(world, by="reviewer_2")  # a regulator's own staff filed it
    reviewer = world.principals["reviewer"]
    incident = services.incident_transition(actor=reviewer, incident=incident, action="claim")
    assert "accept" not in workflows.available_actions(reviewer, incident)

    with pytest.raises(DomainError) as raised:
        services.incident_transition(actor=reviewer, incident=incident, action="accept")

    assert (raised.value.status, raised.value.code) == (403, "own_org_accept")
    assert Incident.objects.get(pk=incident.pk).status == S.IN_REVIEW


@pytest.mark.parametrize("severity", ["serious_incident", "disaster"])
def test_accepting_a_serious_report_needs_a_second_reviewer(world, severity):
    first, second = world.principals["reviewer"], world.principals["reviewer_2"]
    incident = submit(world, severity=severity)
    incident = services.incident_transition(actor=first, incident=incident, action="claim")

    incident = services.incident_transition(actor=first, incident=incident, action="accept")

    assert (incident.status, incident.pending_accept_by_id) == (S.IN_REVIEW, first.user_id)
    assert "confirm_accept" not in workflows.available_actions(first, incident)
    assert "confirm_accept" in workflows.available_actions(second, incident)
    for action, code in (("confirm_accept", "second_reviewer_required"), ("accept", "confirmation_pending")):
        with pytest.raises(DomainError) as raised:
            services.incident_transition(actor=first, incident=incident, action=action)
        assert raised.value.code == code
    incident = services.incident_transition(actor=second, incident=incident, action="confirm_accept")
    assert (incident.status, incident.pending_accept_by_id) == (S.ACCEPTED, None)
    steps = IncidentTransition.objects.filter(incident=incident).values_list(
        "action", "from_state", "to_state"
    )
    assert list(steps) == [
        ("claim", "submitted", "in_review"),
        ("accept", "in_review", "in_review"),
        ("confirm_accept", "in_review", "accepted"),
    ]


def test_a_report_that_is_not_serious_is_accepted_by_one_reviewer(world):
    reviewer = world.principals["reviewer"]
    incident = services.incident_transition(
        actor=reviewer, incident=submit(world, severity="incident"), action="claim"
    )

    incident = services.incident_transition(actor=reviewer, incident=incident, action="accept")

    assert incident.status == S.ACCEPTED


def test_a_new_request_for_information_discards_a_pending_acceptance(world):
    reviewer = world.principals["reviewer"]
    incident = services.incident_transition(
        actor=reviewer, incident=submit(world, severity="disaster"), action="claim"
    )
    incident = services.incident_transition(actor=reviewer, incident=incident, action="accept")

    incident = services.incident_transition(actor=reviewer, incident=incident, action="request_information")

    assert (incident.status, incident.pending_accept_by_id) == (S.NEEDS_INFORMATION, None)


def _claimed(world: World, name: str = "reviewer") -> Incident:
    return services.incident_transition(actor=world.principals[name], incident=submit(world), action="claim")


@pytest.mark.parametrize(
    ("action", "field"), [("mark-duplicate", "duplicate_of"), ("supersede", "replaced_by")]
)
def test_duplicate_of_and_replaced_by_are_required_and_the_old_report_keeps_resolving(world, action, field):
    incident = _claimed(world)
    client = world.client("reviewer")
    url = f"{URL}{incident.public_id}/{action}"

    assert_problem(client.post(url, {}, format="json"), 400)
    assert_problem(client.post(url, {field: incident.public_id}, format="json"), 400, "self_reference")
    assert_problem(client.post(url, {field: "SRI-1999-999999"}, format="json"), 404, "not_found")
    response = client.post(url, {field: world.other.public_id}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()[field] == world.other.public_id
    for name in ("reviewer", "submitter"):
        detail = world.client(name).get(f"{URL}{incident.public_id}")
        assert detail.status_code == 200
        assert detail.json()[field] == world.other.public_id


def test_a_duplicate_target_must_be_visible_to_the_reviewer(world):
    hidden = submit(world)
    Incident.objects.filter(pk=hidden.pk).update(tlp="red")  # the reviewer is no named recipient
    incident = _claimed(world)

    with pytest.raises(DomainError) as raised:
        services.incident_transition(
            actor=world.principals["reviewer"],
            incident=incident,
            action="mark_duplicate",
            duplicate_of=hidden.public_id,
        )

    assert raised.value.status == 404


def test_assign_names_a_reviewer_of_an_oversight_body_who_can_see_the_report(world):
    incident = submit(world)
    reviewer = world.principals["reviewer"]

    for username in (world.username("submitter"), world.username("regulator"), "nobody"):
        with pytest.raises(DomainError) as raised:
            services.incident_transition(
                actor=reviewer, incident=incident, action="assign", assignee=username
            )
        assert raised.value.code == "invalid_assignee"
    incident = services.incident_transition(
        actor=reviewer, incident=incident, action="assign", assignee=world.username("coord_reviewer")
    )

    assert (incident.status, incident.assignee_id) == (S.IN_REVIEW, world.user_id("coord_reviewer"))
    assert "accept" in workflows.available_actions(world.principals["coord_reviewer"], incident)
    assert "accept" not in workflows.available_actions(reviewer, incident)


def test_a_transition_is_audited_with_before_and_after(world):
    incident = _claimed(world)
    incident = services.incident_transition(
        actor=world.principals["reviewer"], incident=incident, action="reject", reason="not_reproducible"
    )

    event = AuditEvent.objects.filter(event_code="incident.transitioned").latest("pk")
    assert event.before["status"] == "in_review"
    assert event.after["status"] == "rejected"
    assert event.after["action"] == "reject"
    assert event.after["reason"] == "not_reproducible"
    assert incident.rejection_reason == "not_reproducible"


def test_transition_rows_are_append_only(world):
    _claimed(world)
    step = IncidentTransition.objects.latest("pk")

    for statement in (
        lambda: IncidentTransition.objects.filter(pk=step.pk).update(reason="rewritten"),
        lambda: IncidentTransition.objects.filter(pk=step.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            statement()


# --- the endpoints ------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", TRANSITIONS, ids=[row.action for row in TRANSITIONS])
def test_every_action_has_its_endpoint(world, row):
    four_eyes = row.action == Action.CONFIRM_ACCEPT
    state = sorted(row.from_states)[0] if row.action != Action.WITHDRAW else S.SUBMITTED
    incident = put_in_state(
        world,
        submit(world, severity="disaster" if four_eyes else ""),
        state,
        pending="reviewer" if four_eyes else None,
    )
    principal = next(
        p for p in ("reviewer_2" if four_eyes else "reviewer", "submitter") if PARTIES[p] & row.parties
    )
    url = f"{URL}{incident.public_id}/{row.action.replace('_', '-')}"

    assert_problem(
        world.client("other_lab").post(url, world.params(row.action), format="json"), 404, "not_found"
    )
    assert_problem(
        world.client("regulator").post(url, world.params(row.action), format="json"),
        403,
        "transition_not_allowed",
    )
    response = world.client(principal).post(url, world.params(row.action), format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == row.to_state
    assert response["ETag"]
    now = Incident.objects.get(pk=incident.pk)
    assert response.json()["available_actions"] == workflows.available_actions(
        world.principals[principal], now
    )


def test_detail_shows_the_actions_the_caller_may_take(world):
    incident = submit(world)

    def actions(name: str) -> list[str]:
        response = world.client(name).get(f"{URL}{incident.public_id}")
        return list(response.json()["available_actions"])

    assert actions("reviewer") == ["claim", "assign"]
    assert actions("submitter") == ["withdraw"]
    assert actions("regulator") == []


def test_a_wrong_state_is_409_and_a_stale_if_match_412(world):
    incident = submit(world)
    client = world.client("reviewer")
    etag = client.get(f"{URL}{incident.public_id}")["ETag"]

    assert_problem(
        client.post(f"{URL}{incident.public_id}/close", {}, format="json"), 409, "invalid_transition"
    )
    response = client.post(f"{URL}{incident.public_id}/claim", {}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200
    response = client.post(f"{URL}{incident.public_id}/unclaim", {}, format="json", HTTP_IF_MATCH=etag)
    assert_problem(response, 412, "etag_mismatch")


def test_an_action_retried_with_its_idempotency_key_happens_once(world):
    incident = submit(world)
    client = world.client("reviewer")
    url = f"{URL}{incident.public_id}/claim"

    first = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="claim-1")
    again = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="claim-1")

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert transitions_and_events(incident) == (1, 1, 1)


# --- the state machine --------------------------------------------------------------------------------

OPEN = {S.DRAFT, S.SUBMITTED, S.IN_REVIEW, S.NEEDS_INFORMATION}
REVIEWERS = ["reviewer", "reviewer_2", "coord_reviewer"]


class WorkflowMachine(RuleBasedStateMachine):
    """Random actions by random principals on one report, against a model of DESIGN 5 written out by
    hand: an action succeeds exactly when the model allows it (and exactly when available_actions
    offered it), and each success writes one transition row, one audit event and one outbox event."""

    world: ClassVar[World]

    @initialize(serious=st.booleans())
    def file_report(self, serious: bool) -> None:
        self.serious = serious
        self.incident = submit(self.world, severity="serious_incident" if serious else "")
        self.status: str = S.SUBMITTED
        self.assignee: str | None = None
        self.pending: str | None = None

    def allows(self, principal: str, action: Action) -> bool:
        if principal in INVISIBLE:
            return False
        reviewer = Party.REVIEWER in PARTIES[principal]
        holder = principal == self.assignee
        decide = reviewer and holder and self.status == S.IN_REVIEW
        return {
            Action.CLAIM: reviewer and self.status == S.SUBMITTED,
            Action.UNCLAIM: decide,
            Action.ASSIGN: reviewer and self.status in (S.SUBMITTED, S.IN_REVIEW),
            Action.REQUEST_INFORMATION: decide,
            Action.RESPOND: Party.SUBMITTER in PARTIES[principal] and self.status == S.NEEDS_INFORMATION,
            Action.ACCEPT: decide and self.pending is None,
            Action.CONFIRM_ACCEPT: reviewer
            and self.status == S.IN_REVIEW
            and self.pending not in (None, principal),
            Action.REJECT: decide,
            Action.MARK_DUPLICATE: decide,
            Action.SUPERSEDE: decide,
            Action.CLOSE: reviewer and holder and self.status == S.ACCEPTED,
            Action.WITHDRAW: bool(PARTIES[principal] & {Party.SUBMITTER, Party.PLATFORM_ADMIN})
            and self.status in OPEN,
        }[action]

    def apply(self, principal: str, action: Action, assignee: str) -> None:
        accepted_alone = action == Action.ACCEPT and not self.serious
        if action == Action.ACCEPT and self.serious:
            self.pending = principal
            return
        self.pending = None
        if action == Action.CLAIM:
            self.assignee = principal
        elif action == Action.UNCLAIM:
            self.assignee = None
        elif action == Action.ASSIGN:
            self.assignee = assignee
        self.status = S.ACCEPTED if accepted_alone else workflows.TABLE[action].to_state

    def perform(self, principal: str, action: Action, assignee: str) -> None:
        actor = self.world.principals[principal]
        incident = Incident.objects.get(pk=self.incident.pk)
        allowed = self.allows(principal, action)
        params = self.world.params(action)
        if action == Action.ASSIGN:
            params = {"assignee": self.world.username(assignee)}
        before = transitions_and_events(incident)
        try:
            services.incident_transition(actor=actor, incident=incident, action=action, **params)
        except DomainError as error:
            assert not allowed, (principal, action, error.code, error.detail)
            assert transitions_and_events(incident) == before
            return
        assert allowed, (principal, action, self.status)
        assert transitions_and_events(incident) == (before[0] + 1, before[1] + 1, before[2] + 1)
        self.apply(principal, action, assignee)

    @rule(
        principal=st.sampled_from(PRINCIPALS),
        action=st.sampled_from(list(Action)),
        assignee=st.sampled_from(REVIEWERS),
    )
    def anyone_tries_anything(self, principal: str, action: Action, assignee: str) -> None:
        self.perform(principal, action, assignee)

    @rule(data=st.data(), assignee=st.sampled_from(REVIEWERS))
    def someone_takes_an_allowed_step(self, data: st.DataObject, assignee: str) -> None:
        """Drives the report deep into the workflow (random pairs alone rarely get past review)."""
        steps = [(p, a) for p in PRINCIPALS for a in Action if self.allows(p, a)]
        if steps:
            self.perform(*data.draw(st.sampled_from(steps)), assignee)

    @invariant()
    def the_report_is_in_the_modelled_state(self) -> None:
        if not hasattr(self, "incident"):
            return
        incident = Incident.objects.get(pk=self.incident.pk)
        assert incident.status == self.status
        assert incident.assignee_id == (self.world.user_id(self.assignee) if self.assignee else None)
        assert incident.pending_accept_by_id == (self.world.user_id(self.pending) if self.pending else None)
        for principal in sorted(set(PRINCIPALS) - INVISIBLE):
            offered = workflows.available_actions(self.world.principals[principal], incident)
            assert offered == [a.value for a in Action if self.allows(principal, a)], (principal, self.status)


def test_random_actions_by_random_principals_follow_the_rules(world):
    WorkflowMachine.world = world
    run_state_machine_as_test(
        WorkflowMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# --- concurrency --------------------------------------------------------------------------------------

REPETITIONS = 100


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("first", "second"),
    [(("reviewer", "claim"), ("reviewer_2", "claim")), (("reviewer", "accept"), ("submitter", "withdraw"))],
    ids=["two-claims", "accept-vs-withdraw"],
)
def test_two_concurrent_actions_one_wins_and_the_other_gets_409(first, second):
    """Two request threads (each its own database connection) act on one report at the same moment,
    100 times: always exactly one 200 and one 409, never a 500 and never both."""
    world = build_world()
    sides = [(world.client(name), action) for name, action in (first, second)]
    barrier = threading.Barrier(2)

    def send(side: int, public_id: str) -> tuple[int, str]:
        client, action = sides[side]
        body = {"reason": "Filed twice."} if action == "withdraw" else {}
        barrier.wait(timeout=30)
        response = client.post(f"{URL}{public_id}/{action}", body, format="json")
        return response.status_code, response.json().get("code", "")

    def close_connection(_: int) -> None:
        barrier.wait(timeout=30)  # both pool threads, each closing its own connection
        connection.close()

    outcomes = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        try:
            for _ in range(REPETITIONS):
                incident = submit(world)
                if first[1] == "accept":
                    incident = services.incident_transition(
                        actor=world.principals["reviewer"], incident=incident, action="claim"
                    )
                results = sorted(pool.map(send, [0, 1], [incident.public_id] * 2))
                outcomes.append(results)
                assert (
                    IncidentTransition.objects.filter(
                        incident=incident, action__in=[first[1], second[1]]
                    ).count()
                    == 1
                )
        finally:
            list(pool.map(close_connection, [0, 1]))
    connections.close_all()

    for results in outcomes:
        assert [status for status, _ in results] == [200, 409], results
        assert results[1][1] in ("concurrent_transition", "invalid_transition"), results
