"""The incident FilterSet: one definition for the API and the UI queue."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.actors import Principal, principal_of
from core.enums import TLP, ScenarioType
from core.filters import FilterSet, ModifiedAfterFilter, UtcIsoDateTimeFilter
from incidents import selectors
from incidents.models import (
    AliasSource,
    DeadlineRegime,
    EUCategory,
    Incident,
    IncidentAlias,
    IncidentStatus,
    InstructionProvenance,
    Outcome,
    RecordClass,
    ReportStage,
    Severity,
)


class IncidentFilter(FilterSet):
    modified_after = ModifiedAfterFilter()
    status = df.ChoiceFilter(choices=IncidentStatus.choices)
    record_class = df.ChoiceFilter(choices=RecordClass.choices)
    scenario_type = df.ChoiceFilter(choices=ScenarioType.choices)
    instruction_provenance = df.ChoiceFilter(choices=InstructionProvenance.choices)
    outcome = df.ChoiceFilter(choices=Outcome.choices)
    severity = df.ChoiceFilter(choices=Severity.choices)
    report_stage = df.ChoiceFilter(choices=ReportStage.choices)
    eu_category = df.ChoiceFilter(choices=EUCategory.choices)
    tlp = df.ChoiceFilter(choices=TLP.choices)
    submitter = df.CharFilter(
        field_name="owner_org__short_name", help_text="Submitting organisation short name."
    )
    model = df.CharFilter(
        field_name="involved_models__model__public_id", distinct=True, help_text="Model public id."
    )
    alias = df.CharFilter(
        method="filter_alias",
        max_length=100,
        help_text=(
            "Reports also recorded in another database: `aiid:23`, `oecd_aim:2024-05-22-4a1b`, "
            "`avid:AVID-2023-V013`, `atlas:AML.CS0042`, or the id alone (any source)."
        ),
    )
    search = df.CharFilter(
        method="filter_search",
        max_length=selectors.SEARCH_MAX_LENGTH,
        help_text=(
            "Full-text search over title, description, chain of events, root cause and actions taken, in "
            'websearch syntax: words, "a quoted phrase", -excluded, or. Results keep the list order; each '
            "row then carries a `snippet` of the match."
        ),
    )

    # The deadline queue (incidents.deadlines). The three read together (`filter_queryset`): with `regime`,
    # `overdue` and `due_before` speak of that regime's open deadlines; without it, of the report's
    # earliest open one, the indexed `next_due_at`.
    # A strict choice, not BooleanFilter: that one silently ignores `overdue=maybe`.
    overdue = df.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        method="filter_deadlines",
        help_text="true: a deadline not met is past due; false: none is (of `regime` when given).",
    )
    due_before = extend_schema_field(OpenApiTypes.DATETIME)(
        UtcIsoDateTimeFilter(
            method="filter_deadlines",
            help_text="A deadline not met falls due before this time (of `regime` when given).",
        )
    )
    regime = df.ChoiceFilter(
        choices=DeadlineRegime.choices,
        method="filter_deadlines",
        help_text="Has a deadline not met under this regime.",
    )

    # Who holds the report in review (the triage queue's "Assigned to me"). Read together in
    # filter_queryset; outside triage staff they narrow to the caller's own organisation's reports
    # (selectors.incident_assignee_q).
    assignee = df.CharFilter(
        method="filter_assignee",
        max_length=150,
        help_text=(
            "Username of the reviewer holding the report, or `me`. Reviewers, regulators and platform "
            "admins filter every report they see; others their own organisation's reports only."
        ),
    )
    unassigned = df.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        method="filter_assignee",
        help_text="true: no reviewer holds the report; false: one does (scoped like `assignee`).",
    )

    def filter_assignee(self, queryset: QuerySet[Incident], name: str, value: Any) -> QuerySet[Incident]:
        return queryset  # applied together in filter_queryset

    def actor(self) -> Principal:
        """The caller: DRF's authenticated principal (API keys too), else the browser page's."""
        return principal_of(self.request)

    def filter_deadlines(self, queryset: QuerySet[Incident], name: str, value: Any) -> QuerySet[Incident]:
        return queryset  # applied together in filter_queryset

    def filter_queryset(self, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        assignee, unassigned = data.get("assignee") or "", data.get("unassigned")
        unassigned = unassigned if isinstance(unassigned, bool) else None  # an empty choice is ''
        if assignee or unassigned is not None:
            queryset = queryset.filter(
                selectors.incident_assignee_q(actor=self.actor(), assignee=assignee, unassigned=unassigned)
            )
        overdue, due_before, regime = data.get("overdue"), data.get("due_before"), data.get("regime")
        if overdue is None and due_before is None and not regime:
            return queryset
        return queryset.filter(
            selectors.incident_deadline_q(regime=regime or None, overdue=overdue, due_before=due_before)
        )

    def filter_alias(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        source, _, external_id = value.partition(":")
        aliases = IncidentAlias.objects.all()
        if external_id and source in AliasSource.values:
            aliases = aliases.filter(source=source)
        else:
            external_id = value
        # Ids are stored in their source's canonical case (upper for AVID and ATLAS, lower for OECD AIM).
        spellings = {external_id, external_id.upper(), external_id.lower()}
        return queryset.filter(pk__in=aliases.filter(external_id__in=spellings).values("incident_id"))

    def filter_search(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        # The form already stripped the value; empty means no filter (django-filter skips it).
        return selectors.incident_search(queryset, text=value)

    class Meta:
        model = Incident
        fields: list[str] = []


class CommentFilter(df.FilterSet):
    """`GET /api/v1/incidents/{ref}/comments`: comments are never edited, so their sync time is
    `created_at`."""

    modified_after = ModifiedAfterFilter(
        field_name="created_at",
        help_text="Sync: comments added after this time, oldest first (see `modified_after` on the lists).",
    )

    # No Meta.model: the filter serves an action of a viewset of another model (its schema and its
    # queryset differ), and it names its own field.


class IncidentRemovedFilter(df.FilterSet):
    """`GET /api/v1/incidents/removed`: tombstones by the time the report left the caller's sight."""

    modified_after = ModifiedAfterFilter(
        field_name="changed_at",
        help_text=(
            "Sync: reports that left your sight after this time, oldest first. Ask with the same bookmark as "
            "the report list (see there)."
        ),
    )

    # No Meta.model: the filter serves an action of a viewset of another model (its schema and its
    # queryset differ), and it names its own field.
