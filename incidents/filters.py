"""The incident FilterSet: one definition for the API and the UI queue."""

from __future__ import annotations

import django_filters as df
from django.db.models import QuerySet

from core.enums import TLP, ScenarioType
from incidents import selectors
from incidents.models import (
    EUCategory,
    Incident,
    IncidentStatus,
    InstructionProvenance,
    Outcome,
    RecordClass,
    ReportStage,
    Severity,
)


class IncidentFilter(df.FilterSet):
    modified_after = df.IsoDateTimeFilter(
        field_name="modified_at", lookup_expr="gt", help_text="Only records modified after this time (sync)."
    )
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
    search = df.CharFilter(
        method="filter_search",
        max_length=selectors.SEARCH_MAX_LENGTH,
        help_text=(
            "Full-text search over title, description, chain of events, root cause and actions taken, in "
            'websearch syntax: words, "a quoted phrase", -excluded, or. Results keep the list order; each '
            "row then carries a `snippet` of the match."
        ),
    )

    def filter_search(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        # The form already stripped the value; empty means no filter (django-filter skips it).
        return selectors.incident_search(queryset, text=value)

    class Meta:
        model = Incident
        fields: list[str] = []
