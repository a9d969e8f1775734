"""Every incident read goes through `incident_list`: the one visibility rule (DESIGN 4) for list, detail,
search, revisions, evidence, comments and exports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.postgres.aggregates import JSONBAgg
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchQueryField, SearchRank
from django.db import OperationalError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Concat, JSONObject, Least, Replace, Substr, TruncMonth
from django.utils import timezone

from accounts.models import Membership, Role
from accounts.selectors import OVERSIGHT_KINDS, tlp_visibility_q
from core.actors import Principal
from core.errors import Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from core.lookups import ref_q
from core.models import AuditEvent
from incidents.models import (
    Assessment,
    Comment,
    CommentVisibility,
    Evidence,
    Incident,
    IncidentAlias,
    IncidentDeadline,
    IncidentDraft,
    IncidentModel,
    IncidentRecipient,
    IncidentRevision,
    IncidentStatus,
    IncidentTransition,
    IncidentVisibilityChange,
)
from registry.models import FrontierModel
from registry.selectors import frontier_model_list


def incident_visibility_q(actor: Principal, *, via: str = "", as_of: str | None = None) -> Q:
    """TLP 2.0 for incidents: TLP:RED reaches only its submitter and its named recipients.

    Read on an Incident by default. Read on a row that records a report's `tlp` and `jurisdictions` at
    some moment (an IncidentVisibilityChange: the facts before the change), `via` is the path from that
    row to the report (`"incident__"`), for what never changes (owner, submitter), and `as_of` names the
    row's time field: only recipients named by then count. One rule, whichever state it is read on."""
    named = Q(pk__in=[])
    if actor.user_id is not None:
        recipients = IncidentRecipient.objects.filter(incident_id=OuterRef(f"{via}pk"), user_id=actor.user_id)
        if as_of is not None:
            recipients = recipients.filter(added_at__lte=OuterRef(as_of))
        named |= Q(**{f"{via}submitted_by_user_id": actor.user_id}) | Q(Exists(recipients))
    if actor.api_key_id is not None:
        named |= Q(**{f"{via}submitted_by_key": actor.api_key_id})
    return tlp_visibility_q(
        actor, owner_field=f"{via}owner_org", jurisdictions_field="jurisdictions", red_recipients_q=named
    )


def incident_list(*, actor: Principal) -> QuerySet[Incident]:
    """The incidents `actor` may see, with what a list row shows joined in."""
    return Incident.objects.filter(incident_visibility_q(actor)).select_related("owner_org", "scaffold")


# The columns of one row of the API's incident list (IncidentListSerializer reads these keys): a page is
# read as plain rows, not model instances, so a page of 200 costs neither the other ~50 columns (the text,
# the search vector) nor building a model object per row.
INCIDENT_LIST_COLUMNS = (
    "id",
    "public_id",
    "schema_version",
    "status",
    "title",
    "record_class",
    "scenario_type",
    "instruction_provenance",
    "outcome",
    "severity",
    "report_stage",
    "tlp",
    "owner_org__short_name",
    "revision_number",
    "submitted_at",
    "created_at",
    "modified_at",
    "next_due_at",
)


def incident_list_rows(*, actor: Principal) -> QuerySet[Incident, dict[str, Any]]:
    """The API list: the same visible incidents as `incident_list`, as dicts of INCIDENT_LIST_COLUMNS.
    FilterSets and the keyset pagination apply to it as to the model queryset."""
    return Incident.objects.filter(incident_visibility_q(actor)).values(*INCIDENT_LIST_COLUMNS)


def incident_removed_list(*, actor: Principal) -> QuerySet[IncidentVisibilityChange]:
    """Tombstones for a mirror: the visibility changes after which `actor` no longer sees a report it
    could see just before (the same rule read on the facts before the change, and on the report now).

    A report the actor could never see never appears, whatever happened to it. One that was hidden and
    then shown again is absent (it is in the report list again, with a newer `modified_at`); one hidden
    twice appears twice (deleting a mirrored copy is idempotent)."""
    sees_now = Incident.objects.filter(incident_visibility_q(actor), pk=OuterRef("incident_id"))
    return (
        IncidentVisibilityChange.objects.filter(
            incident_visibility_q(actor, via="incident__", as_of="changed_at")
        )
        .filter(~Exists(sees_now))
        .select_related("incident")
        .only("id", "changed_at", "reason", "incident__public_id")
    )


def incident_alias_rows() -> Subquery:
    """The report's aliases as one JSON array (`alias_rows`), so the detail costs no extra query."""
    rows = (
        IncidentAlias.objects.filter(incident_id=OuterRef("pk"))
        .order_by()
        .values("incident_id")
        .annotate(
            rows=JSONBAgg(
                JSONObject(
                    source="source",
                    external_id="external_id",
                    url="url",
                    added_by="added_by",
                    created_at="created_at",
                ),
                order_by=("source", "external_id"),
            )
        )
        .values("rows")
    )
    return Subquery(rows)


def incident_detail_queryset(*, actor: Principal) -> QuerySet[Incident]:
    involved = IncidentModel.objects.select_related("model").order_by("pk")
    deadlines = IncidentDeadline.objects.order_by("due_at", "id")
    return (
        incident_list(actor=actor)
        .annotate(alias_rows=incident_alias_rows())
        .prefetch_related(
            Prefetch("involved_models", queryset=involved),
            "related_evaluations",
            Prefetch("deadlines", queryset=deadlines),
        )
        .select_related("duplicate_of", "replaced_by")
    )


def incident_deadline_q(
    *, regime: str | None, overdue: bool | None, due_before: datetime | None, now: datetime | None = None
) -> Q:
    """The deadline queue's condition (incidents.filters): without a regime, on the indexed `next_due_at`
    (the earliest open deadline: some open deadline is past due, or due before a time, exactly when the
    earliest is); with one, on that regime's open deadlines. Narrows; never widens visibility."""
    now = now or timezone.now()
    if regime is None:
        q = Q()
        if overdue is True:
            q &= Q(next_due_at__lt=now)
        elif overdue is False:
            q &= Q(next_due_at__isnull=True) | Q(next_due_at__gte=now)
        if due_before is not None:
            q &= Q(next_due_at__lt=due_before)
        return q
    open_in_regime = IncidentDeadline.objects.filter(
        incident_id=OuterRef("pk"), regime=regime, satisfied_at__isnull=True
    )
    q = Q(Exists(open_in_regime))
    if overdue is True:
        q &= Q(Exists(open_in_regime.filter(due_at__lt=now)))
    elif overdue is False:
        q &= ~Q(Exists(open_in_regime.filter(due_at__lt=now)))
    if due_before is not None:
        q &= Q(Exists(open_in_regime.filter(due_at__lt=due_before)))
    return q


def incident_get(*, actor: Principal, ref: str) -> Incident:
    """One visible incident by public id or UUID; anything else is 404 (never 403)."""
    incident = incident_detail_queryset(actor=actor).filter(ref_q(ref)).first()
    if incident is None:
        raise NotFound(f"No incident {ref!r}.")
    return incident


def incident_by_external_id(*, org_id: Any, external_id: str) -> Incident | None:
    """The org's own incident with this external id (used to turn a re-send into a revision)."""
    if not external_id:
        return None
    return Incident.objects.filter(owner_org_id=org_id, external_id=external_id).first()


def revision_list(*, actor: Principal, incident_ref: str) -> QuerySet[IncidentRevision]:
    incident = incident_get(actor=actor, ref=incident_ref)
    return IncidentRevision.objects.filter(incident=incident).order_by("number")


def revision_get(*, actor: Principal, incident_ref: str, number: int) -> IncidentRevision:
    revision = revision_list(actor=actor, incident_ref=incident_ref).filter(number=number).first()
    if revision is None:
        raise NotFound(f"No revision {number} of {incident_ref}.")
    return revision


def revision_diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-by-field differences between two revision payloads, in field order."""
    changes = []
    for field in sorted(set(old) | set(new)):
        if old.get(field) != new.get(field):
            changes.append({"field": field, "from": old.get(field), "to": new.get(field)})
    return changes


def revision_compare(
    *, actor: Principal, incident_ref: str, from_number: int, to_number: int
) -> dict[str, Any]:
    incident_get(actor=actor, ref=incident_ref)  # visibility first: out of scope is 404 whatever the query
    if from_number == to_number:
        raise ValidationFailed("Compare two different revisions.", code="same_revision")
    old = revision_get(actor=actor, incident_ref=incident_ref, number=from_number)
    new = revision_get(actor=actor, incident_ref=incident_ref, number=to_number)
    return {"from": from_number, "to": to_number, "changes": revision_diff(old.payload, new.payload)}


# Search (DESIGN 4: the results and their snippets come from the visible queryset only).
SEARCH_MAX_LENGTH = 200
# Measured with scripts/search_bench.py (README "Search"): every query shape answers well inside this on
# 100k incidents; it only cuts off a pathological plan instead of letting it hold a worker for seconds.
SEARCH_TIMEOUT_MS: int = getattr(settings, "REDLINE_SEARCH_TIMEOUT_MS", 1000)
SNIPPET_MAX_CHARS = 300
_SNIPPET_SOURCE_CHARS = 5000  # ts_headline re-parses its document: bound the work per page row
_QUERY_CANCELED = "57014"


def incident_search_query(text: str) -> SearchQuery:
    """The caller's words in websearch syntax ("quoted phrase", -exclusion, or). Never a syntax error:
    input without lexemes (`!!!`, `&|:*`) becomes an empty query that matches nothing."""
    return SearchQuery(text, search_type="websearch", config="english")


def incident_search(queryset: QuerySet[Incident], *, text: str) -> QuerySet[Incident]:
    """Narrow an already visibility-scoped incident queryset to the full-text matches of `text` (title A,
    description B, chain of events / root cause / actions C; the GIN index on `search_vector`)."""
    return queryset.filter(search_vector=incident_search_query(text))


@contextmanager
def incident_search_time_limit(timeout_ms: int | None = None) -> Iterator[None]:
    """Run the block's queries under `statement_timeout`: a search whose plan degenerates is cut off and
    answered 503 `search_timeout` instead of holding a worker and a connection for seconds.

    SET LOCAL semantics through set_config(..., true), restored on the way out, so that inside an outer
    transaction (a savepoint here) the limit does not outlive the search."""
    limit = f"{timeout_ms if timeout_ms is not None else SEARCH_TIMEOUT_MS}ms"
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                    [limit],
                )
                previous = cursor.fetchone()[0]
            yield
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != _QUERY_CANCELED:
            raise
        raise ServiceUnavailable(
            "The search took too long; narrow it (more specific words, a phrase, or other filters).",
            code="search_timeout",
        ) from exc


def incident_search_snippets(
    *, actor: Principal, incidents: Sequence[Incident] | Sequence[Mapping[str, Any]], text: str
) -> dict[UUID, str]:
    """The matching passage of title and description for the rows of one page (one query, whatever the
    page size), through the visibility rule again: a snippet never comes from a record the caller cannot
    read. Matched words are wrapped in «…»; plain text, never markup (the source is user input). The rows
    are incidents or `incident_list_rows` dicts."""
    pks = [row["id"] if isinstance(row, Mapping) else row.pk for row in incidents]
    if not pks:
        return {}
    document = Concat(
        "title", Value(" — "), Substr("description", 1, _SNIPPET_SOURCE_CHARS), output_field=TextField()
    )
    headline = SearchHeadline(
        document,
        incident_search_query(text),
        config="english",
        start_sel="«",
        stop_sel="»",
        min_words=8,
        max_words=30,
        max_fragments=2,
        fragment_delimiter=" … ",
    )
    rows = (
        incident_list(actor=actor).filter(pk__in=pks).annotate(snippet=headline).values_list("pk", "snippet")
    )
    return {pk: _clip(snippet or "") for pk, snippet in rows}


def _clip(snippet: str) -> str:
    snippet = " ".join(snippet.split())
    return snippet if len(snippet) <= SNIPPET_MAX_CHARS else snippet[: SNIPPET_MAX_CHARS - 1] + "…"


def incident_visible_models(*, actor: Principal, incident: Incident) -> dict[UUID, FrontierModel]:
    """The registered models involved in a (visible) incident that `actor` may also read, with their
    provider: an export names the others by public id only. One query."""
    ids = [link.model_id for link in incident.involved_models.all() if link.model_id is not None]
    if not ids:
        return {}
    return {model.pk: model for model in frontier_model_list(actor=actor).filter(pk__in=ids)}


# Comments, assessment containers and the audit log: each read is scoped by the incident rule above first.

OVERSIGHT_ROLES = (Role.REVIEWER, Role.REGULATOR, Role.PLATFORM_ADMIN)
AUDIT_READER_ROLES = (Role.REVIEWER, Role.REGULATOR)
INCIDENT_TARGET = "incidents.incident"
ASSESSMENT_SET_EVENT = "incident.assessment_set"


def is_oversight_staff(actor: Principal) -> bool:
    """Reviewers, regulators and platform admins of a regulator or coordination body: the people who read
    internal comments and keep assessment containers."""
    return actor.org_kind in OVERSIGHT_KINDS and actor.role in OVERSIGHT_ROLES


def _visible_incident(actor: Principal, ref: str) -> Incident:
    """A visible incident without the detail prefetches (child lists need only its key)."""
    incident = incident_list(actor=actor).filter(ref_q(ref)).first()
    if incident is None:
        raise NotFound(f"No incident {ref!r}.")
    return incident


def comment_visibility_q(actor: Principal, incident: Incident) -> Q:
    """Which comments of a visible incident `actor` reads: oversight staff read internal and shared ones,
    the submitting organisation reads shared ones, anyone else who may see the incident reads none."""
    if (actor.kind == "system" and actor.org_id is None) or is_oversight_staff(actor):
        return Q()
    if actor.org_id is not None and actor.org_id == incident.owner_org_id:
        return Q(visibility=CommentVisibility.SHARED)
    return Q(pk__in=[])


def comment_list(*, actor: Principal, incident_ref: str) -> QuerySet[Comment]:
    """The comments on a report that `actor` may read (404 when the report itself is out of scope)."""
    incident = _visible_incident(actor, incident_ref)
    return (
        Comment.objects.filter(incident=incident)
        .filter(comment_visibility_q(actor, incident))
        .select_related("author_org")
    )


def assessment_visibility_q(actor: Principal) -> Q:
    """TLP 2.0 applied to an assessment container, whose owner is the assessing organisation and whose
    jurisdictions are its incident's: clear and green reach every participant organisation that may see the
    incident (the submitting lab included: the container is the regulator's record, not another lab's);
    amber every oversight org; amber+strict oversight orgs whose jurisdictions meet the incident's; red the
    assessing organisation only. Always combined with the incident's own visibility."""
    visible = tlp_visibility_q(actor, owner_field="org", jurisdictions_field="incident__jurisdictions")
    if actor.org_id is not None:
        visible |= Q(tlp="green")
    return visible


def assessment_list(*, actor: Principal, incident_ref: str) -> QuerySet[Assessment]:
    """The assessment containers on a visible report that `actor` may see, oldest first."""
    incident = _visible_incident(actor, incident_ref)
    return (
        Assessment.objects.filter(incident=incident)
        .filter(assessment_visibility_q(actor))
        .select_related("org")
        .order_by("created_at", "pk")
    )


def assessment_get_own(*, actor: Principal, incident_ref: str) -> Assessment:
    """The acting organisation's own container on a visible report (404 when it has none)."""
    incident = _visible_incident(actor, incident_ref)
    assessment = (
        Assessment.objects.filter(incident=incident, org_id=actor.org_id).select_related("org").first()
        if actor.org_id is not None
        else None
    )
    if assessment is None:
        raise NotFound("Your organisation has no assessment of this report.", code="no_assessment")
    return assessment


def audit_event_list(*, actor: Principal) -> QuerySet[AuditEvent]:
    """The audit events `actor` may read. Readers: reviewers and regulators of oversight orgs, and
    platform admins; anyone else is refused (403).

    An event about an incident is visible exactly when the incident is (the one rule above), and an
    assessment event also needs its container to be visible. Other incident-app targets (evidence, ...)
    stay hidden until a rule for them is written here. Events about anything else (registry records,
    organisations, API keys): platform admins read all of them, regulators and reviewers those their own
    organisation caused.
    """
    if actor.kind == "system" and actor.org_id is None:
        return AuditEvent.objects.all()
    platform_admin = actor.role == Role.PLATFORM_ADMIN
    if not platform_admin and not (actor.org_kind in OVERSIGHT_KINDS and actor.role in AUDIT_READER_ROLES):
        raise Forbidden(
            "The audit log is read by reviewers and regulators of oversight bodies and platform admins.",
            code="audit_not_allowed",
        )
    visible_incident = Exists(
        Incident.objects.filter(incident_visibility_q(actor), public_id=OuterRef("target_public_id"))
    )
    visible_container = Exists(
        Assessment.objects.filter(assessment_visibility_q(actor))
        .annotate(org_text=Cast("org_id", output_field=TextField()))
        .filter(incident__public_id=OuterRef("target_public_id"), org_text=OuterRef("assessment_org"))
    )
    incident_events = (
        Q(target_type=INCIDENT_TARGET)
        & Q(visible_incident)
        & (~Q(event_code=ASSESSMENT_SET_EVENT) | Q(visible_container))
    )
    other_events = ~Q(target_type__startswith="incidents.")
    if not platform_admin:
        other_events &= Q(actor_org_id=actor.org_id)
    return AuditEvent.objects.annotate(assessment_org=KT("after__org_id")).filter(
        incident_events | other_events
    )


def evidence_list(*, actor: Principal, incident_ref: str) -> QuerySet[Evidence]:
    """The evidence files of a report the actor can see (they share its TLP); otherwise 404."""
    incident = _visible_incident(actor, incident_ref)
    return (
        Evidence.objects.filter(incident=incident)
        .select_related("incident", "owner_org")
        .order_by("created_at", "id")
    )


def evidence_get(*, actor: Principal, incident_ref: str, evidence_id: str) -> Evidence:
    """One evidence file of a visible report; anything else is 404."""
    try:
        pk = UUID(evidence_id)
    except ValueError as exc:
        raise NotFound(f"No evidence {evidence_id!r}.") from exc
    evidence = evidence_list(actor=actor, incident_ref=incident_ref).filter(pk=pk).first()
    if evidence is None:
        raise NotFound(f"No evidence {evidence_id!r} on {incident_ref}.")
    return evidence


def recipient_list(*, actor: Principal, incident_ref: str) -> QuerySet[IncidentRecipient]:
    """The named recipients of a visible report (the submitting org and oversight staff see them)."""
    incident = incident_get(actor=actor, ref=incident_ref)
    return (
        IncidentRecipient.objects.filter(incident=incident).select_related("user").order_by("added_at", "pk")
    )


# Duplicate candidates (issue 4 item 3): a ranked hint for the reviewer, who confirms with the workflow's
# mark_duplicate. Nothing here writes or merges.

DUPLICATE_WINDOW = timedelta(days=30)
DUPLICATE_LIMIT_MAX = 50
_LEAD_CHARS = 280  # the description's lead joins the title in the text query: enough words, bounded work
# The score is a weighted sum in [0, 1]. A shared registered model is the strongest structured signal (two
# reports of one event almost always name the same model); the scenario type is coarser (a dozen values)
# and the date window coarser still; the text similarity carries the rest and separates candidates that
# tie on the structured signals.
WEIGHT_SAME_MODEL = 0.40
WEIGHT_SAME_SCENARIO = 0.20
WEIGHT_WITHIN_WINDOW = 0.15
WEIGHT_TEXT = 0.25
# ts_rank of an OR query over a title and lead: a near-verbatim title scores around this; anything above
# counts as full text similarity (the text part of the score is min(rank / TEXT_RANK_FULL, 1)).
TEXT_RANK_FULL = 0.5


@dataclass(frozen=True)
class CandidateReasons:
    """Which signals a candidate shares with the incident; text_rank is PostgreSQL's ts_rank."""

    same_model: bool
    same_scenario: bool
    within_window: bool
    text_rank: float


@dataclass(frozen=True)
class Candidate:
    """One likely duplicate of an incident, with its score and why."""

    public_id: str
    title: str
    status: str
    submitted_at: Any
    score: float
    reasons: CandidateReasons


def _or_tsquery(text: str) -> Cast:
    """The lexemes of `text` (english stemming, stop words dropped) OR-combined: plainto_tsquery ANDs them,
    and its text form quotes every lexeme, so swapping the operator and casting back is safe for any input
    (words without lexemes give an empty query that matches nothing)."""
    plain = Func(
        Value(text),
        template="plainto_tsquery('english'::regconfig, %(expressions)s)",
        output_field=TextField(),
    )
    return Cast(Replace(Cast(plain, TextField()), Value(" & "), Value(" | ")), SearchQueryField())


def _flag(condition: Q | Exists) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def _weight(flag: str, weight: float) -> Case:
    return Case(When(**{flag: True}, then=Value(weight)), default=Value(0.0), output_field=FloatField())


def duplicate_candidates(*, actor: Principal, incident: Incident, limit: int = 10) -> list[Candidate]:
    """Likely duplicates of a (visible) incident among the incidents `actor` may see, best first: oversight
    staff only (403 `not_reviewer`). One query, whatever the corpus size.

    Candidates: not the incident itself, not withdrawn, and either dated within DUPLICATE_WINDOW of the
    incident (occurred_start, or submitted_at when unknown, on both sides) while sharing a registered model,
    the scenario type or some text, or sharing a registered model and some text at any date. Score: the
    WEIGHT_* sum above."""
    if not is_oversight_staff(actor):
        raise Forbidden("Duplicate candidates are for reviewers of oversight bodies.", code="not_reviewer")
    limit = max(1, min(limit, DUPLICATE_LIMIT_MAX))
    anchor = incident.occurred_start or incident.submitted_at
    query = _or_tsquery(f"{incident.title} {incident.description[:_LEAD_CHARS]}")
    models_of_incident = IncidentModel.objects.filter(incident_id=incident.pk, model__isnull=False)
    same_model = Exists(
        IncidentModel.objects.filter(
            incident_id=OuterRef("pk"), model_id__in=models_of_incident.values("model_id")
        )
    )
    same_scenario = Q(scenario_type=incident.scenario_type) if incident.scenario_type else Q(pk__in=[])
    rows = (
        incident_list(actor=actor)
        .exclude(pk=incident.pk)
        .exclude(status=IncidentStatus.WITHDRAWN)
        .annotate(
            candidate_date=Coalesce("occurred_start", "submitted_at"),
            same_model=_flag(same_model),
            same_scenario=_flag(same_scenario),
            text_match=Func(
                F("search_vector"),
                query,
                template="%(expressions)s",
                arg_joiner=" @@ ",
                output_field=BooleanField(),
            ),
        )
        .annotate(
            within_window=_flag(
                Q(
                    candidate_date__gte=anchor - DUPLICATE_WINDOW,
                    candidate_date__lte=anchor + DUPLICATE_WINDOW,
                )
            )
        )
        .filter(
            Q(within_window=True) & (Q(same_model=True) | Q(same_scenario=True) | Q(text_match=True))
            | Q(same_model=True, text_match=True)
        )
        .annotate(text_rank=Coalesce(SearchRank(F("search_vector"), query), Value(0.0)))
        .annotate(
            score=_weight("same_model", WEIGHT_SAME_MODEL)
            + _weight("same_scenario", WEIGHT_SAME_SCENARIO)
            + _weight("within_window", WEIGHT_WITHIN_WINDOW)
            + Value(WEIGHT_TEXT) * Least(F("text_rank") / Value(TEXT_RANK_FULL), Value(1.0))
        )
        .order_by("-score", "-submitted_at", "pk")
        .values_list(
            "public_id",
            "title",
            "status",
            "submitted_at",
            "score",
            "same_model",
            "same_scenario",
            "within_window",
            "text_rank",
        )[:limit]
    )
    return [
        Candidate(
            public_id=public_id,
            title=title,
            status=status,
            submitted_at=submitted_at,
            score=round(score, 4),
            reasons=CandidateReasons(
                same_model=model, same_scenario=scenario, within_window=window, text_rank=round(rank, 4)
            ),
        )
        for public_id, title, status, submitted_at, score, model, scenario, window, rank in rows
    ]


# --- the dashboard: counts grouped in the database; small cross-organisation counts suppressed -------


@dataclass(frozen=True)
class SuppressedCount:
    """A dashboard count split into the viewer's own organisation's records and everyone else's.

    DESIGN 4: dashboard aggregates suppress small counts. A count of other organisations' records from 1
    to threshold-1 is never shown exactly (nor drawn to scale), so nobody learns that a single other lab
    filed a report of some rare kind; the viewer's own records are never suppressed."""

    own: int
    others: int
    threshold: int

    @property
    def suppressed(self) -> bool:
        return 0 < self.others < self.threshold

    @property
    def value(self) -> int | None:
        """The exact total, or None when it would reveal a small count of other organisations' records."""
        return None if self.suppressed else self.own + self.others

    @property
    def display(self) -> str:
        if not self.suppressed:
            return str(self.own + self.others)
        band = f"<{self.threshold}"
        return band if self.own == 0 else f"{self.own} + {band}"


def small_count_threshold() -> int:
    return int(getattr(settings, "REDLINE_SMALL_COUNT_THRESHOLD", 5))


def suppress_count(*, own: int, others: int, threshold: int | None = None) -> SuppressedCount:
    return SuppressedCount(
        own=own, others=others, threshold=small_count_threshold() if threshold is None else threshold
    )


@dataclass(frozen=True)
class DashboardSummary:
    """What the dashboard shows, every number scoped to the viewer (incident_list)."""

    by_state: dict[str, SuppressedCount]
    by_severity: dict[str, SuppressedCount]
    by_scenario: dict[str, SuppressedCount]
    per_month: list[tuple[datetime, SuppressedCount]]
    deadlines: list[IncidentDeadline]
    my_queue: list[Incident]
    now: datetime


DASHBOARD_GROUPS = ("status", "severity", "scenario_type")


def _grouped_counts(actor: Principal, queryset: QuerySet[Incident], field: str) -> dict[Any, SuppressedCount]:
    own = Count("pk", filter=Q(owner_org_id=actor.org_id)) if actor.org_id is not None else Value(0)
    rows = queryset.order_by().values(field).annotate(total=Count("pk"), own=own)
    threshold = small_count_threshold()
    return {
        row[field]: SuppressedCount(own=row["own"], others=row["total"] - row["own"], threshold=threshold)
        for row in rows
    }


def dashboard_summary(
    *,
    actor: Principal,
    now: datetime | None = None,
    months: int = 12,
    due_soon_hours: int = 72,
    limit: int = 50,
) -> DashboardSummary:
    """The dashboard's numbers for `actor`: open incidents by state, severity and scenario, incidents
    submitted per month (the last `months`, this one included), open deadlines overdue or due within
    `due_soon_hours`, and a reviewer's own queue. Counts are GROUP BY queries over the visible incidents;
    other organisations' small counts are suppressed (SuppressedCount)."""
    from incidents.workflows import OPEN_STATES

    now = now or timezone.now()
    visible = incident_list(actor=actor)
    open_incidents = visible.filter(status__in=OPEN_STATES)
    groups = {field: _grouped_counts(actor, open_incidents, field) for field in DASHBOARD_GROUPS}

    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = [first]
    for _ in range(months - 1):
        starts.append((starts[-1] - timedelta(days=1)).replace(day=1))
    starts.reverse()
    monthly = _grouped_counts(
        actor,
        visible.exclude(status=IncidentStatus.DRAFT)
        .filter(submitted_at__gte=starts[0])
        .annotate(month=TruncMonth("submitted_at")),
        "month",
    )
    empty = suppress_count(own=0, others=0)
    per_month = [(start, monthly.get(start, empty)) for start in starts]

    deadlines = list(
        IncidentDeadline.objects.filter(
            incident_id__in=open_incidents.values("pk"),
            satisfied_at__isnull=True,
            due_at__lt=now + timedelta(hours=due_soon_hours),
        )
        .select_related("incident")
        .order_by("due_at", "id")[:limit]
    )
    my_queue: list[Incident] = []
    if actor.user_id is not None and is_oversight_staff(actor):
        my_queue = list(
            open_incidents.filter(assignee_id=actor.user_id).order_by(
                F("next_due_at").asc(nulls_last=True), "submitted_at"
            )[:limit]
        )
    return DashboardSummary(
        by_state=groups["status"],
        by_severity=groups["severity"],
        by_scenario=groups["scenario_type"],
        per_month=per_month,
        deadlines=deadlines,
        my_queue=my_queue,
        now=now,
    )


def incidents_involving_model(*, actor: Principal, model: FrontierModel) -> QuerySet[Incident]:
    """Visible incidents that name this (visible) registered model among their involved models."""
    links = IncidentModel.objects.filter(incident_id=OuterRef("pk"), model_id=model.pk)
    return incident_list(actor=actor).filter(Exists(links)).order_by("-submitted_at", "-pk")


# The triage queue and the incident list pages (issue 5 item 3).

QUEUE_OPEN_STATES = (IncidentStatus.SUBMITTED, IncidentStatus.IN_REVIEW, IncidentStatus.NEEDS_INFORMATION)


def is_triage_staff(actor: Principal) -> bool:
    """Who works the triage queue: oversight staff (reviewers, regulators, platform admins of a regulator or
    coordination body) and platform admins."""
    return is_oversight_staff(actor) or actor.role == Role.PLATFORM_ADMIN


def assignee_visible(actor: Principal, incident: Incident) -> bool:
    """Who holds a report in review is shown to triage staff and to the submitting organisation only."""
    return is_triage_staff(actor) or (actor.org_id is not None and actor.org_id == incident.owner_org_id)


def incident_assignee_q(*, actor: Principal, assignee: str = "", unassigned: bool | None = None) -> Q:
    """The assignee filters of the incident list: `assignee` a username or `me` (the actor's own user),
    `unassigned` true / false. Narrows only; and since the assignee is shown to triage staff and the
    submitting organisation only (`assignee_visible`), anyone else filters their own organisation's
    reports, so that the filter cannot tell who holds another organisation's report either."""
    q = Q()
    if assignee:
        if assignee == "me":
            q &= Q(assignee_id=actor.user_id) if actor.user_id is not None else Q(pk__in=[])
        else:
            q &= Q(assignee__username=assignee)
    if unassigned is not None:
        q &= Q(assignee__isnull=unassigned)
    if q and not is_triage_staff(actor):
        q &= Q(owner_org_id=actor.org_id) if actor.org_id is not None else Q(pk__in=[])
    return q


# The columns of the web incident list and triage queue (incidents/views/queue.py): the API list's plus
# the parties the workflow rules read.
INCIDENT_PAGE_COLUMNS = (
    "id",
    "public_id",
    "title",
    "status",
    "severity",
    "scenario_type",
    "tlp",
    "owner_org_id",
    "owner_org__short_name",
    "assignee_id",
    "assignee__username",
    "pending_accept_by_id",
    "modified_at",
    "submitted_at",
    "next_due_at",
)


def incident_page_rows(*, queue: bool, actor: Principal) -> QuerySet[Incident, dict[str, Any]]:
    """The rows of the incident list and the triage queue: the API list's plain rows with
    INCIDENT_PAGE_COLUMNS, and on the queue each report's open deadline clocks, earliest first, as one JSON
    array (`open_clocks`): a page is one query whatever its length, and FilterSets and the keyset pagination
    apply to it as to the API list."""
    rows = incident_list_rows(actor=actor)
    if not queue:
        return rows.values(*INCIDENT_PAGE_COLUMNS)
    # ARRAY(SELECT ... ORDER BY): an ordered aggregate would start a sort per row.
    clocks = (
        IncidentDeadline.objects.filter(incident_id=OuterRef("pk"), satisfied_at__isnull=True)
        .order_by("due_at", "id")
        .values(clock=JSONObject(regime="regime", stage="stage", due_at="due_at"))
    )
    return rows.annotate(open_clocks=ArraySubquery(clocks)).values(*INCIDENT_PAGE_COLUMNS, "open_clocks")


def assignable_reviewers(*, actor: Principal) -> list[str]:
    """The usernames a triage page offers for assignment: the active reviewers of the actor's own oversight
    organisation, offered to a reviewer (the party the workflow table lets assign); the service re-checks
    every one."""
    if actor.org_id is None or actor.org_kind not in OVERSIGHT_KINDS or actor.role != Role.REVIEWER:
        return []
    return list(
        Membership.objects.filter(organization_id=actor.org_id, role=Role.REVIEWER, user__is_active=True)
        .order_by("user__username")
        .values_list("user__username", flat=True)
        .distinct()
    )


# The incident page's timeline (issue 5 item 4).


def transition_list(*, actor: Principal, incident: Incident) -> QuerySet[IncidentTransition]:
    """The workflow steps of a (visible) report, oldest first, for the people who may know who holds it
    (`assignee_visible`: triage staff and the submitting organisation); anyone else gets none, because a
    step names the reviewer who took it and the reason given. Re-checks the visibility rule (404)."""
    if not incident_list(actor=actor).filter(pk=incident.pk).exists():
        raise NotFound(f"No incident {incident.public_id!r}.")
    if not assignee_visible(actor, incident):
        return IncidentTransition.objects.none()
    return IncidentTransition.objects.filter(incident_id=incident.pk).order_by("created_at", "id")


# Drafts of the browser's submission form (issue 5 item 5): private to their author, within their org.

FILING_ORG_KINDS = ("lab", "evaluator")


def can_file_reports(actor: Principal) -> bool:
    """Whether `actor` files reports from the browser: a signed-in member of a lab or evaluator whose
    role carries incidents:write. Everyone else finds no submission pages (404)."""
    return (
        actor.user_id is not None
        and actor.org_id is not None
        and actor.org_kind in FILING_ORG_KINDS
        and actor.has_scope("incidents:write")
    )


def incident_draft_list(*, actor: Principal) -> QuerySet[IncidentDraft]:
    """The actor's own drafts in their current organisation, most recently edited first."""
    if not can_file_reports(actor):
        return IncidentDraft.objects.none()
    return IncidentDraft.objects.filter(owner_id=actor.user_id, org_id=actor.org_id).order_by(
        "-updated_at", "id"
    )


def incident_draft_get(*, actor: Principal, draft_id: Any) -> IncidentDraft:
    """One of the actor's own drafts; anybody else's (another user's, another org's) is 404."""
    draft = incident_draft_list(actor=actor).filter(pk=draft_id).first()
    if draft is None:
        raise NotFound("No such draft.")
    return draft
