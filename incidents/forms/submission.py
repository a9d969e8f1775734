"""Forms of the lab's submission pages (issue 5 item 5): the multi-step report, the amendment, the answer
to an information request, evidence uploads.

The step forms carry values only. They check nothing themselves: each turns what the browser sent into
the API's submission shape (`to_api`), and the API's own input serializer (incidents.api.serializers)
validates the assembled report, so a page shows exactly the errors the API would give for the same data
(`place_errors` puts them next to the fields)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from core.enums import TLP, ScenarioType
from core.errors import FieldError
from incidents.models import (
    AISystemRelation,
    ContainmentStatus,
    DatePrecision,
    EUCategory,
    EvidenceKind,
    HarmType,
    InstructionProvenance,
    ModelRole,
    Outcome,
    RecordClass,
    ReportStage,
    Severity,
    SubmitterCapacity,
)

BLANK = ("", "—")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class _Unchecked:
    """The API serializer validates; the form field only carries the value (and says, for the label,
    whether the API requires it)."""

    def validate(self, value: Any) -> None:
        return None

    def run_validators(self, value: Any) -> None:
        return None


class TextInput(_Unchecked, forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)


class ChoiceInput(_Unchecked, forms.ChoiceField):
    def __init__(self, *, choices: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(choices=[BLANK, *choices], **kwargs)


class MultiChoiceInput(_Unchecked, forms.MultipleChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        super().__init__(**kwargs)


def _datetime(label: str, help_text: str = "") -> TextInput:
    return TextInput(
        label=f"{label} (UTC)",
        help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
    )


def _area(label: str, rows: int = 4, **kwargs: Any) -> TextInput:
    return TextInput(label=label, widget=forms.Textarea(attrs={"rows": rows}), **kwargs)


def datetime_value(value: Any) -> str:
    """An API timestamp as a datetime-local input shows it (UTC)."""
    if isinstance(value, datetime):
        from datetime import UTC

        return value.astimezone(UTC).strftime(DATETIME_FORMAT)
    return str(value or "")


class StepForm(forms.Form):
    """One step of the report (`heading`); `api_fields`: the submission fields it edits (its errors)."""

    slug: ClassVar[str] = ""
    heading: ClassVar[str] = ""
    api_fields: ClassVar[tuple[str, ...]] = ()
    datetime_fields: ClassVar[tuple[str, ...]] = ()
    list_fields: ClassVar[tuple[str, ...]] = ()
    bool_fields: ClassVar[tuple[str, ...]] = ()
    nullable_fields: ClassVar[tuple[str, ...]] = ()
    integer_fields: ClassVar[tuple[str, ...]] = ()
    # No browser-side `required`: a draft is saved however incomplete it is. The label says it instead.
    use_required_attribute = False
    required_css_class = "rl-required"

    def __init__(self, *args: Any, api_required: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in api_required:
            if name in self.fields:
                self.fields[name].required = True

    @classmethod
    def initial_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Form initial values from a submission in the API's shape (a draft, or the current report)."""
        initial: dict[str, Any] = {}
        for name in cls.api_fields:
            if name not in data:
                continue
            value = data[name]
            if name in cls.datetime_fields:
                value = datetime_value(value)
            elif name == "countries":
                value = ", ".join(value or [])
            elif value is None:
                value = ""
            initial[name] = value
        return initial

    def to_api(self) -> dict[str, Any]:
        """The step's values in the API's submission shape (call after is_valid())."""
        data: dict[str, Any] = {}
        for name in self.api_fields:
            if name not in self.fields:
                continue
            value = self.cleaned_data.get(name)
            if name in self.bool_fields:
                data[name] = bool(value)
            elif name in self.list_fields:
                data[name] = list(value or [])
            elif name == "countries":
                data[name] = [part for part in re.split(r"[\s,;]+", value or "") if part]
            elif name in self.integer_fields:
                # A number as JSON has it; anything else as typed, for the serializer to refuse.
                text = str(value or "").strip()
                data[name] = int(text) if re.fullmatch(r"-?\d{1,18}", text) else (text or None)
            elif name in self.nullable_fields or name in self.datetime_fields:
                data[name] = value if value not in (None, "") else None
            else:
                data[name] = value if value is not None else ""
        return data

    def owns(self, error_field: str) -> bool:
        return self.top_level(error_field) in self.api_fields

    @staticmethod
    def top_level(error_field: str) -> str:
        return error_field.split(".")[0].split("[")[0]

    def form_field_for(self, error_field: str) -> str | None:
        name = self.top_level(error_field)
        return name if name in self.fields else None

    def place_errors(self, errors: Iterable[FieldError]) -> None:
        """The API's errors of this step's fields, next to those fields (others on the form)."""
        for error in errors:
            if not self.owns(error.field):
                continue
            target = self.form_field_for(error.field)
            if target is not None:
                self.add_error(target, error.message)
            else:
                self.add_error(None, f"{error.field}: {error.message}")


class WhatHappenedForm(StepForm):
    slug = "what"
    heading = "What happened"
    api_fields = (
        "title",
        "record_class",
        "scenario_type",
        "description",
        "ai_system_relation",
        "submitter_capacity",
        "occurred_start",
        "occurred_end",
        "occurred_precision",
        "detected_at",
        "provider_aware_at",
        "countries",
        "external_id",
    )
    datetime_fields = ("occurred_start", "occurred_end", "detected_at", "provider_aware_at")

    title = TextInput(label="Title")
    record_class = ChoiceInput(
        label="Record class",
        choices=RecordClass.choices,
        help_text="An instructed evaluation is a controlled evaluation finding, not a real-world incident.",
    )
    scenario_type = ChoiceInput(label="Scenario type", choices=ScenarioType.choices)
    description = _area("Description", rows=6)
    ai_system_relation = ChoiceInput(
        label="How the AI system relates to the event", choices=AISystemRelation.choices
    )
    submitter_capacity = ChoiceInput(label="You file as", choices=SubmitterCapacity.choices)
    occurred_start = _datetime("Occurred from")
    occurred_end = _datetime("Occurred until")
    occurred_precision = ChoiceInput(label="Precision of those dates", choices=DatePrecision.choices)
    detected_at = _datetime("Detected at")
    provider_aware_at = _datetime(
        "Provider aware at",
        "When your organisation became aware: the GPAI Code of Practice clocks start here.",
    )
    countries = TextInput(
        label="Countries", help_text="ISO 3166-1 alpha-2 codes, comma-separated (e.g. FR, DE)."
    )
    external_id = TextInput(
        label="Your reference",
        help_text="Your own id for this report (optional; unique in your organisation).",
    )


class ModelsForm(StepForm):
    slug = "models"
    heading = "Models and scaffold"
    api_fields = (
        "models",
        "scaffold",
        "instruction_provenance",
        "outcome",
        "severity",
        "harm_types",
        "replica_count",
        "replication_depth",
        "containment_status",
    )
    list_fields = ("harm_types",)
    nullable_fields = ("scaffold",)
    integer_fields = ("replica_count", "replication_depth")
    MIN_ROWS = 3

    scaffold = ChoiceInput(label="Agent scaffold", choices=[])
    instruction_provenance = ChoiceInput(
        label="Instruction provenance", choices=InstructionProvenance.choices
    )
    outcome = ChoiceInput(label="Outcome", choices=Outcome.choices)
    severity = ChoiceInput(label="Severity (OECD)", choices=Severity.choices)
    harm_types = MultiChoiceInput(label="Harm types", choices=HarmType.choices)
    replica_count = TextInput(label="Replicas", widget=forms.NumberInput(attrs={"min": 0}))
    replication_depth = TextInput(
        label="Replication depth",
        help_text="Generations in a chain.",
        widget=forms.NumberInput(attrs={"min": 0}),
    )
    containment_status = ChoiceInput(label="Containment", choices=ContainmentStatus.choices)

    def __init__(
        self,
        *args: Any,
        model_choices: Sequence[tuple[str, str]] = (),
        scaffold_choices: Sequence[tuple[str, str]] = (),
        rows: int = MIN_ROWS,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows = max(rows, self.MIN_ROWS)
        self._api_rows: list[int] = []
        scaffold = self.fields["scaffold"]
        assert isinstance(scaffold, forms.ChoiceField)
        scaffold.choices = [BLANK, *scaffold_choices]
        for index in range(self.rows):
            self.fields[f"models-{index}-model"] = ChoiceInput(
                label=f"Model {index + 1}: registered model", choices=list(model_choices)
            )
            self.fields[f"models-{index}-model_name"] = TextInput(
                label=f"Model {index + 1}: or its name, if not registered"
            )
            self.fields[f"models-{index}-role"] = ChoiceInput(
                label=f"Model {index + 1}: role", choices=ModelRole.choices
            )
        # The model rows first, as the page shows them.
        order = [name for name in self.fields if name.startswith("models-")]
        self.order_fields(order)

    @classmethod
    def initial_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        initial = super().initial_from(data)
        initial.pop("models", None)
        for index, item in enumerate(data.get("models") or []):
            if isinstance(item, dict):
                initial[f"models-{index}-model"] = item.get("model") or ""
                initial[f"models-{index}-model_name"] = item.get("model_name") or ""
                initial[f"models-{index}-role"] = item.get("role") or ""
        return initial

    def to_api(self) -> dict[str, Any]:
        data = super().to_api()
        models: list[dict[str, Any]] = []
        self._api_rows = []
        for index in range(self.rows):
            model = self.cleaned_data.get(f"models-{index}-model") or ""
            name = self.cleaned_data.get(f"models-{index}-model_name") or ""
            role = self.cleaned_data.get(f"models-{index}-role") or ""
            if not (model or name or role):
                continue
            item: dict[str, Any] = {"role": role}
            if model:
                item["model"] = model
            if name:
                item["model_name"] = name
            models.append(item)
            self._api_rows.append(index)
        data["models"] = models
        return data

    def model_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (self[f"models-{i}-model"], self[f"models-{i}-model_name"], self[f"models-{i}-role"])
            for i in range(self.rows)
        ]

    def other_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith("models-")]

    def form_field_for(self, error_field: str) -> str | None:
        match = re.fullmatch(r"models\[(\d+)\](?:\.(\w+))?", error_field)
        if match:
            position = int(match.group(1))
            row = self._api_rows[position] if position < len(self._api_rows) else position
            sub = match.group(2) or "model"
            name = f"models-{row}-{sub}"
            return name if name in self.fields else None
        return super().form_field_for(error_field)


class ImpactForm(StepForm):
    slug = "impact"
    heading = "Impact and handling"
    api_fields = (
        "chain_of_events",
        "root_cause_analysis",
        "actions_taken",
        "recommendation",
        "eu_category",
        "high_risk_system",
        "critical_infrastructure",
        "report_stage",
        "resolved_at",
        "tlp",
    )
    datetime_fields = ("resolved_at",)
    bool_fields = ("high_risk_system", "critical_infrastructure")

    chain_of_events = _area("Chain of events", rows=5)
    root_cause_analysis = _area("Root cause analysis")
    actions_taken = _area("Actions taken")
    recommendation = _area("Recommendation to the authority", rows=3)
    eu_category = ChoiceInput(label="EU category", choices=EUCategory.choices)
    high_risk_system = forms.BooleanField(
        label="Concerns a high-risk AI system (AI Act Art. 73)", required=False
    )
    critical_infrastructure = forms.BooleanField(label="Critical infrastructure was affected", required=False)
    report_stage = ChoiceInput(
        label="Report stage",
        choices=ReportStage.choices,
        help_text="A final report needs every mandatory field and at least one evidence file: file an "
        "initial report, attach the evidence, then amend it to final.",
    )
    resolved_at = _datetime("Resolved at", "The final report is due within 60 days of resolution.")
    tlp = ChoiceInput(
        label="TLP",
        choices=TLP.choices,
        help_text="Who may see the report (TLP 2.0). You can raise it later; lowering it needs a regulator.",
    )


STEP_FORMS: tuple[type[StepForm], ...] = (WhatHappenedForm, ModelsForm, ImpactForm)
STEPS: dict[str, type[StepForm]] = {form.slug: form for form in STEP_FORMS}


def step_of(error_field: str) -> type[StepForm] | None:
    """The step whose fields an API error names."""
    top = StepForm.top_level(error_field)
    for form in STEP_FORMS:
        if top in form.api_fields:
            return form
    return None


def max_evidence_bytes() -> int:
    limit: int = settings.REDLINE_MAX_EVIDENCE_BYTES
    return limit


class EvidenceForm(forms.Form):
    """One evidence file; the service sniffs its type, hashes it and enforces the size limit."""

    use_required_attribute = False

    file = forms.FileField(label="Evidence file", required=False)
    kind = forms.ChoiceField(
        label="Kind of evidence", choices=EvidenceKind.choices, initial=EvidenceKind.OTHER
    )
    evidence_description = forms.CharField(
        label="What the file shows", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, file_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].required = file_required
        self.fields["file"].help_text = (
            f"At most {filesizeformat(max_evidence_bytes())}. PDF, PNG, JPEG, GIF, ZIP (Inspect .eval "
            "included), gzip, pcap/pcapng, JSON or UTF-8 text; the type is read from the bytes."
        )


class AmendSummaryForm(forms.Form):
    use_required_attribute = False

    version = forms.CharField(widget=forms.HiddenInput)
    change_summary = forms.CharField(
        label="Summary of changes",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What changed and why; kept with the new revision.",
    )


class RespondForm(forms.Form):
    use_required_attribute = False

    response = forms.CharField(
        label="Response",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Your answer to the reviewer; it is recorded with the report's history.",
    )
