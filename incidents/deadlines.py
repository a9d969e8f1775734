"""The legal clocks of a report (DESIGN 5), as pure computation: facts in, due times out, no queries.

`compute_deadlines` derives every report stage's due time and when it was met from the incident's fields
and two lists of facts the caller reads (the filings, i.e. the revisions with their report stage, and the
first acknowledgement by a reviewer). `services.incident_refresh_deadlines` stores the result; keeping the
rules here, free of the database, lets the tests walk every category, stage and boundary cheaply.

The rules, as implemented (README "Deadline clocks" says the same):

GPAI Code of Practice, Measure 9.3 (`gpai_cop`), for every reportable `eu_category`:
  - initial (sequence 1): provider_aware_at + 2 days for art3_49_b_critical_infrastructure (serious and
    irreversible disruption of critical infrastructure), + 5 days for cop_cyber_breach_self_exfiltration
    (serious cybersecurity breach, (self-)exfiltration of weights included), + 10 days for
    art3_49_a_death, + 15 days for every other reportable category. Met when the report was filed
    (`submitted_at`).
  - intermediate (sequence 1, 2, ...): "at least every 4 weeks while unresolved" read as: the gap between
    two consecutive reports never exceeds 28 days. Intermediate #1 is due 28 days after the initial report
    was filed (submitted_at); #k+1 is due 28 days after the filing that met #k. A report is met by the
    first filing at stage intermediate or final after the previous one (a final report carries at least
    what an intermediate one does). Only the next outstanding one exists: a missed report does not
    spawn a train of further ones, it stays overdue until filed. No intermediate is due after resolution.
  - final (sequence 1): resolution + 60 days, met by the first filing at stage final. Resolution is
    `resolved_at`, or, when a final report was filed without it, that filing's time (a provider that
    files its final report declares the incident resolved by then).
  - not_reportable or a blank eu_category: no clock. Measure 9.3 covers serious incidents only, and the
    submitter classifies its report; an amendment that makes it reportable starts the clocks (counted
    from provider_aware_at, so they may be overdue at once), one that makes it not reportable drops them.

EU AI Act Art. 73 (`ai_act_art73`), when `high_risk_system` is true and the category is reportable:
  - initial only (Art. 73 has no intermediate or final cadence): + 2 days for
    art3_49_b_critical_infrastructure (Art. 73(3)); + 10 days for art3_49_a_death (Art. 73(4)); + 15 days
    otherwise (Art. 73(2)). art3_49_c_fundamental_rights is NOT mapped to the 2-day "widespread
    infringement": that needs harm to individuals in at least two Member States besides the origin's
    (Art. 3(61)), which the record does not capture; a reviewer who knows it is widespread files under
    critical infrastructure or handles it by hand. Conservative in the other direction would flag
    reports overdue that the law does not consider late.

Both legal regimes start from provider_aware_at. When it is unknown, from submitted_at: the provider
cannot have become aware later than it filed (so the initial stage is met, and the later clocks run).

Reviewers' triage service level (`triage`, stage acknowledge), for severities in
REDLINE_TRIAGE_SLA_SEVERITIES (default serious_incident, disaster): due REDLINE_TRIAGE_SLA_WORKING_DAYS
(default 1) working days after submitted_at, met by the first claim or assign. A working day is 24 hours
of Monday-to-Friday time in UTC (no public holidays): submitted Friday 18:00, due Monday 18:00; submitted
on Saturday, due Tuesday 00:00.

Reports that can no longer be amended (withdrawn, rejected, duplicate, superseded, closed: the duplicate's
or replacement's own clocks carry on) keep the stages already met, as history; their open ones are
dropped, since nobody could meet them any more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models

from incidents.models import DeadlineRegime, DeadlineStage, EUCategory, Incident, IncidentStatus, ReportStage

Regime = DeadlineRegime
Stage = DeadlineStage


class DeadlineStatus(models.TextChoices):
    """How a stage stands at a given moment (derived at read time, never stored)."""

    PENDING = "pending"
    OVERDUE = "overdue"
    MET = "met"
    MET_LATE = "met_late"


COP_INITIAL_DAYS: dict[str, int] = {
    EUCategory.ART3_49_B_CRITICAL_INFRASTRUCTURE: 2,
    EUCategory.COP_CYBER_BREACH_SELF_EXFILTRATION: 5,
    EUCategory.ART3_49_A_DEATH: 10,
}
COP_INITIAL_DEFAULT_DAYS = 15
ART73_INITIAL_DAYS: dict[str, int] = {
    EUCategory.ART3_49_B_CRITICAL_INFRASTRUCTURE: 2,
    EUCategory.ART3_49_A_DEATH: 10,
}
ART73_INITIAL_DEFAULT_DAYS = 15
INTERMEDIATE_INTERVAL = timedelta(weeks=4)
FINAL_AFTER_RESOLUTION = timedelta(days=60)
# No open clock on a report that can no longer be amended (services.CLOSED_STATES; a test keeps them equal).
ENDED_STATES = frozenset(
    {
        IncidentStatus.WITHDRAWN,
        IncidentStatus.REJECTED,
        IncidentStatus.DUPLICATE,
        IncidentStatus.SUPERSEDED,
        IncidentStatus.CLOSED,
    }
)


@dataclass(frozen=True)
class Filing:
    """One revision of the report: when it was received and at which report stage."""

    received_at: datetime
    stage: str


@dataclass(frozen=True)
class TriagePolicy:
    """The reviewers' service level: which severities it covers, and in how many working days."""

    working_days: int
    severities: frozenset[str]

    @classmethod
    def from_settings(cls) -> TriagePolicy:
        return cls(
            working_days=settings.REDLINE_TRIAGE_SLA_WORKING_DAYS,
            severities=frozenset(settings.REDLINE_TRIAGE_SLA_SEVERITIES),
        )


@dataclass(frozen=True)
class Deadline:
    """One stage's due time and, once it happened, when it was met."""

    regime: Regime
    stage: Stage
    sequence: int
    due_at: datetime
    satisfied_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.regime.value, self.stage.value, self.sequence)


def deadline_status(due_at: datetime, satisfied_at: datetime | None, now: datetime) -> DeadlineStatus:
    """Met on time up to and including the due instant; overdue only after it."""
    if satisfied_at is not None:
        return DeadlineStatus.MET if satisfied_at <= due_at else DeadlineStatus.MET_LATE
    return DeadlineStatus.OVERDUE if now > due_at else DeadlineStatus.PENDING


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` plus `days` x 24 hours of Monday-to-Friday time (UTC). Weekend time does not count: a
    start on a weekend counts from the following Monday 00:00."""
    moment = start.astimezone(UTC)
    remaining = timedelta(days=days)
    while True:
        if moment.weekday() >= 5:  # Saturday or Sunday: jump to Monday 00:00
            moment = datetime.combine(
                moment.date() + timedelta(days=7 - moment.weekday()), datetime.min.time(), UTC
            )
            continue
        end_of_day = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
        available = end_of_day - moment
        if remaining <= available:
            return moment + remaining
        remaining -= available
        moment = end_of_day


def is_reportable(incident: Incident) -> bool:
    return bool(incident.eu_category) and incident.eu_category != EUCategory.NOT_REPORTABLE


def _first_after(filings: Iterable[Filing], after: datetime, stages: set[str]) -> datetime | None:
    for filing in filings:
        if filing.received_at > after and filing.stage in stages:
            return filing.received_at
    return None


def _cop(incident: Incident, aware_at: datetime, filings: Sequence[Filing]) -> list[Deadline]:
    days = COP_INITIAL_DAYS.get(incident.eu_category, COP_INITIAL_DEFAULT_DAYS)
    deadlines = [
        Deadline(Regime.GPAI_COP, Stage.INITIAL, 1, aware_at + timedelta(days=days), incident.submitted_at)
    ]
    final_filed = next((f.received_at for f in filings if f.stage == ReportStage.FINAL), None)
    resolved_at = incident.resolved_at or final_filed
    updates = {ReportStage.INTERMEDIATE.value, ReportStage.FINAL.value}
    later = filings[1:]  # the first filing is the initial report itself, whatever its stage
    anchor, sequence = incident.submitted_at, 1
    while True:
        due = anchor + INTERMEDIATE_INTERVAL
        if resolved_at is not None and due > resolved_at:
            break
        met = _first_after(later, anchor, updates)
        deadlines.append(Deadline(Regime.GPAI_COP, Stage.INTERMEDIATE, sequence, due, met))
        if met is None:
            break
        anchor, sequence = met, sequence + 1
    if resolved_at is not None:
        deadlines.append(
            Deadline(Regime.GPAI_COP, Stage.FINAL, 1, resolved_at + FINAL_AFTER_RESOLUTION, final_filed)
        )
    return deadlines


def _art73(incident: Incident, aware_at: datetime) -> Deadline:
    days = ART73_INITIAL_DAYS.get(incident.eu_category, ART73_INITIAL_DEFAULT_DAYS)
    return Deadline(
        Regime.AI_ACT_ART73, Stage.INITIAL, 1, aware_at + timedelta(days=days), incident.submitted_at
    )


def compute_deadlines(
    incident: Incident,
    *,
    filings: Sequence[Filing],
    acknowledged_at: datetime | None,
    triage: TriagePolicy | None = None,
) -> list[Deadline]:
    """Every stage's due time for `incident` (module docstring: the rules), ordered by due time.

    `filings` are the report's revisions (revision 1, the initial report, first); `acknowledged_at` is
    the first claim or assign (None if nobody has); `triage` defaults to the settings."""
    triage = triage or TriagePolicy.from_settings()
    filings = sorted(filings, key=lambda f: f.received_at)
    deadlines: list[Deadline] = []
    if is_reportable(incident):
        aware_at = incident.provider_aware_at or incident.submitted_at
        deadlines += _cop(incident, aware_at, filings)
        if incident.high_risk_system:
            deadlines.append(_art73(incident, aware_at))
    if incident.severity in triage.severities:
        due = add_working_days(incident.submitted_at, triage.working_days)
        deadlines.append(Deadline(Regime.TRIAGE, Stage.ACKNOWLEDGE, 1, due, acknowledged_at))
    if incident.status in ENDED_STATES:
        deadlines = [d for d in deadlines if d.satisfied_at is not None]
    return sorted(deadlines, key=lambda d: (d.due_at, d.key))
