"""The incident FilterSet: one definition for the API and the UI queue."""

from __future__ import annotations

import django_filters as df

from core.enums import TLP, ScenarioType
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

    class Meta:
        model = Incident
        fields: list[str] = []
