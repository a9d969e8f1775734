"""The triage workflow (DESIGN 5) as one explicit transition table.

Each row says: which action, from which states, to which state, which parties may take it and which
guards must hold. The service (`services.incident_transition`), the API (one POST per action), the UI
(`available_actions`: which buttons to draw) and the tests all read this table; nothing else decides
whether a transition is allowed.

Parties, not raw roles, because the same role means different things on different reports: a member
of the submitting organisation is the *submitter* of that report only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from accounts.models import Role
from accounts.selectors import OVERSIGHT_KINDS
from core.actors import Principal
from core.errors import Conflict, DomainError, Forbidden
from incidents.models import Incident, IncidentStatus, Severity


class Party(StrEnum):
    """Who the actor is with respect to one report."""

    SUBMITTER = "submitter"  # any member (or API key) of the submitting organisation
    REVIEWER = "reviewer"  # a reviewer of a regulator or coordination body
    PLATFORM_ADMIN = "platform_admin"


class Action(StrEnum):
    CLAIM = "claim"
    UNCLAIM = "unclaim"
    ASSIGN = "assign"
    REQUEST_INFORMATION = "request_information"
    RESPOND = "respond"
    ACCEPT = "accept"
    CONFIRM_ACCEPT = "confirm_accept"
    REJECT = "reject"
    MARK_DUPLICATE = "mark_duplicate"
    SUPERSEDE = "supersede"
    CLOSE = "close"
    WITHDRAW = "withdraw"


# A guard returns the error that refuses the transition, or None when it holds.
Guard = Callable[[Principal, Incident], DomainError | None]

# Accepting these needs a second reviewer's confirmation (four eyes).
FOUR_EYES_SEVERITIES = frozenset({Severity.SERIOUS_INCIDENT, Severity.DISASTER})


def parties_of(actor: Principal, incident: Incident) -> frozenset[Party]:
    """The parties `actor` belongs to for `incident` (possibly none)."""
    parties = set()
    if actor.org_id is not None and actor.org_id == incident.owner_org_id:
        parties.add(Party.SUBMITTER)
    if actor.role == Role.REVIEWER and actor.org_kind in OVERSIGHT_KINDS:
        parties.add(Party.REVIEWER)
    if actor.role == Role.PLATFORM_ADMIN:
        parties.add(Party.PLATFORM_ADMIN)
    return frozenset(parties)


def needs_second_reviewer(incident: Incident) -> bool:
    return incident.severity in FOUR_EYES_SEVERITIES


# --- guards -------------------------------------------------------------------------------------------


def is_person(actor: Principal, incident: Incident) -> DomainError | None:
    """A report in review is held by a named person, not an API key."""
    if actor.user_id is None:
        return Forbidden("Only a signed-in reviewer claims a report.", code="person_required")
    return None


def is_assignee(actor: Principal, incident: Incident) -> DomainError | None:
    """Only the reviewer holding the report decides on it."""
    if actor.user_id is None or incident.assignee_id != actor.user_id:
        return Forbidden("Only the reviewer the report is assigned to acts on it.", code="not_assignee")
    return None


def not_own_org(actor: Principal, incident: Incident) -> DomainError | None:
    """A reviewer never accepts a report from their own organisation."""
    if actor.org_id is not None and actor.org_id == incident.owner_org_id:
        return Forbidden(
            "A reviewer cannot accept a report of their own organisation.", code="own_org_accept"
        )
    return None


def no_pending_confirmation(actor: Principal, incident: Incident) -> DomainError | None:
    if incident.pending_accept_by_id is not None:
        return Conflict(
            "The acceptance already waits for a second reviewer's confirmation.", code="confirmation_pending"
        )
    return None


def pending_confirmation(actor: Principal, incident: Incident) -> DomainError | None:
    if incident.pending_accept_by_id is None:
        return Conflict("No acceptance waits for confirmation.", code="no_pending_confirmation")
    return None


def second_reviewer(actor: Principal, incident: Incident) -> DomainError | None:
    """Four eyes: the confirming reviewer is not the one who accepted first."""
    if actor.user_id is None or actor.user_id == incident.pending_accept_by_id:
        return Forbidden(
            "A second, different reviewer confirms the acceptance.", code="second_reviewer_required"
        )
    return None


# --- the table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One row of the table. `required` names the parameters the action needs (checked by the service);
    `four_eyes` marks the accept whose first call on a serious report only records a pending
    confirmation."""

    action: Action
    from_states: frozenset[IncidentStatus]
    to_state: IncidentStatus
    parties: frozenset[Party]
    guards: tuple[Guard, ...] = ()
    required: tuple[str, ...] = ()
    four_eyes: bool = False


S = IncidentStatus
OPEN_STATES = frozenset({S.DRAFT, S.SUBMITTED, S.IN_REVIEW, S.NEEDS_INFORMATION})
REVIEWER = frozenset({Party.REVIEWER})

TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.CLAIM, frozenset({S.SUBMITTED}), S.IN_REVIEW, REVIEWER, (is_person,)),
    Transition(Action.UNCLAIM, frozenset({S.IN_REVIEW}), S.SUBMITTED, REVIEWER, (is_assignee,)),
    Transition(
        Action.ASSIGN, frozenset({S.SUBMITTED, S.IN_REVIEW}), S.IN_REVIEW, REVIEWER, required=("assignee",)
    ),
    Transition(
        Action.REQUEST_INFORMATION, frozenset({S.IN_REVIEW}), S.NEEDS_INFORMATION, REVIEWER, (is_assignee,)
    ),
    Transition(Action.RESPOND, frozenset({S.NEEDS_INFORMATION}), S.IN_REVIEW, frozenset({Party.SUBMITTER})),
    Transition(
        Action.ACCEPT,
        frozenset({S.IN_REVIEW}),
        S.ACCEPTED,
        REVIEWER,
        (is_assignee, not_own_org, no_pending_confirmation),
        four_eyes=True,
    ),
    Transition(
        Action.CONFIRM_ACCEPT,
        frozenset({S.IN_REVIEW}),
        S.ACCEPTED,
        REVIEWER,
        (pending_confirmation, second_reviewer, not_own_org),
    ),
    Transition(Action.REJECT, frozenset({S.IN_REVIEW}), S.REJECTED, REVIEWER, (is_assignee,), ("reason",)),
    Transition(
        Action.MARK_DUPLICATE,
        frozenset({S.IN_REVIEW}),
        S.DUPLICATE,
        REVIEWER,
        (is_assignee,),
        ("duplicate_of",),
    ),
    Transition(
        Action.SUPERSEDE, frozenset({S.IN_REVIEW}), S.SUPERSEDED, REVIEWER, (is_assignee,), ("replaced_by",)
    ),
    Transition(Action.CLOSE, frozenset({S.ACCEPTED}), S.CLOSED, REVIEWER, (is_assignee,)),
    Transition(
        Action.WITHDRAW,
        OPEN_STATES,
        S.WITHDRAWN,
        frozenset({Party.SUBMITTER, Party.PLATFORM_ADMIN}),
        required=("reason",),
    ),
)
TABLE: dict[Action, Transition] = {row.action: row for row in TRANSITIONS}
assert len(TABLE) == len(TRANSITIONS), "one row per action"


def party_refusal(actor: Principal, incident: Incident, row: Transition) -> DomainError | None:
    """403 `transition_not_allowed` when none of the actor's parties may take `row` at all."""
    if not parties_of(actor, incident) & row.parties:
        return Forbidden(f"You may not `{row.action}` this report.", code="transition_not_allowed")
    return None


def refusal(actor: Principal, incident: Incident, row: Transition) -> DomainError | None:
    """Why `actor` may not take `row` on `incident` in its current state, or None when it may: 403
    `transition_not_allowed` for a party the row does not name, 409 `invalid_transition` for a wrong
    state, then the row's own guards in order."""
    error = party_refusal(actor, incident, row)
    if error is not None:
        return error
    if incident.status not in row.from_states:
        return Conflict(
            f"`{row.action}` is not possible on a report that is {incident.status} "
            f"(only from: {', '.join(sorted(row.from_states))}).",
            code="invalid_transition",
        )
    for guard in row.guards:
        error = guard(actor, incident)
        if error is not None:
            return error
    return None


def available_actions(actor: Principal, incident: Incident) -> list[str]:
    """The actions `actor` may take on `incident` now, in table order (what the UI draws as buttons).
    The caller already resolved `incident` through the visibility rule."""
    return [row.action.value for row in TRANSITIONS if refusal(actor, incident, row) is None]
