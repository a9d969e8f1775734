"""FilterSets for the registry: one definition serves the API and (later) the UI."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from core.actors import principal_of
from core.enums import ScenarioType
from core.filters import ModifiedAfterFilter
from registry import selectors
from registry.models import (
    AgentScaffold,
    CapabilityDomain,
    EvaluationResult,
    EvaluatorType,
    FrontierModel,
    MarketStatus,
    SystemicRiskStatus,
    VerificationStatus,
    WeightsAvailability,
)

MAX_SEARCH = 200


class SearchFilter(df.CharFilter):
    """Case-insensitive substring search over a few text columns; bounded length."""

    def __init__(self, fields: tuple[str, ...], **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_SEARCH)
        kwargs.setdefault("help_text", f"Case-insensitive text search (at most {MAX_SEARCH} characters).")
        super().__init__(**kwargs)
        self.search_fields = fields

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        value = (value or "").strip()
        if not value:
            return qs
        query = Q()
        for name in self.search_fields:
            query |= Q(**{f"{name}__icontains": value})
        return qs.filter(query)


class StrictBooleanField(forms.NullBooleanField):
    """`true`/`false` (or 1/0); anything else is a 400, not silently "no filter" as django-filter's
    NullBooleanSelect would make it (`red_line=yes` must not return the whole registry)."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # None: no filter
        if value is None or value == "":
            return None
        lowered = str(value).strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ValidationError("Must be true or false.", code="invalid_choice")

    def validate(self, value: Any) -> None:
        pass


class StrictBooleanFilter(df.BooleanFilter):
    field_class = StrictBooleanField


class ModifiedAfterMixin(df.FilterSet):
    modified_after = ModifiedAfterFilter()


class FrontierModelFilter(ModifiedAfterMixin):
    provider = df.CharFilter(field_name="provider__short_name", help_text="Provider organisation short name.")
    family = df.CharFilter(field_name="family", lookup_expr="iexact")
    weights_availability = df.ChoiceFilter(choices=WeightsAvailability.choices)
    systemic_risk_status = df.ChoiceFilter(choices=SystemicRiskStatus.choices)
    market_status = df.ChoiceFilter(choices=MarketStatus.choices)
    capability_domain = df.ChoiceFilter(
        choices=CapabilityDomain.choices, method="filter_evaluated", help_text="Has a result in this domain."
    )
    scenario_type = df.ChoiceFilter(
        choices=ScenarioType.choices, method="filter_evaluated", help_text="Has a result in this scenario."
    )
    red_line = StrictBooleanFilter(field_name="red_line_flagged", help_text="Flagged by the red-line rule.")
    search = SearchFilter(fields=("name", "family", "huggingface_repo", "description"))

    class Meta:
        model = FrontierModel
        fields: list[str] = []

    def filter_evaluated(self, qs: QuerySet[FrontierModel], name: str, value: str) -> QuerySet[FrontierModel]:
        # Only results the reader may see count: a hidden result must not show through a filter.
        actor = principal_of(self.request)
        matching = selectors.current_evaluations(actor=actor).filter(model_id=OuterRef("pk"), **{name: value})
        return qs.filter(Exists(matching))


class AgentScaffoldFilter(ModifiedAfterMixin):
    owner = df.CharFilter(field_name="owner_org__short_name")
    search = SearchFilter(fields=("name", "description"))

    class Meta:
        model = AgentScaffold
        fields: list[str] = []


class EvaluationResultFilter(ModifiedAfterMixin):
    model = df.CharFilter(field_name="model__public_id", help_text="Model public id.")
    provider = df.CharFilter(field_name="model__provider__short_name")
    family = df.CharFilter(field_name="model__family", lookup_expr="iexact")
    evaluator = df.CharFilter(field_name="evaluator_org__short_name")
    evaluator_type = df.ChoiceFilter(choices=EvaluatorType.choices)
    capability_domain = df.ChoiceFilter(choices=CapabilityDomain.choices)
    scenario_type = df.ChoiceFilter(choices=ScenarioType.choices)
    verification_status = df.ChoiceFilter(choices=VerificationStatus.choices)
    weights_availability = df.ChoiceFilter(
        field_name="model__weights_availability", choices=WeightsAvailability.choices
    )
    systemic_risk_status = df.ChoiceFilter(
        field_name="model__systemic_risk_status", choices=SystemicRiskStatus.choices
    )
    current = StrictBooleanFilter(
        field_name="superseded_by", lookup_expr="isnull", help_text="true: only results not superseded."
    )
    red_line = StrictBooleanFilter(field_name="meets_red_line", help_text="Meets the red-line rule.")
    search = SearchFilter(fields=("task", "task_family", "benchmark", "caveats"))

    class Meta:
        model = EvaluationResult
        fields: list[str] = []
