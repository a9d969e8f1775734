"""Browser forms of the registry: they check the shape of input only; the rules live in registry.services."""

from __future__ import annotations

from django import forms

from core.enums import TLP, ScenarioType
from registry.models import CapabilityDomain, EvaluatorType, VerificationStatus

FORMAT_CHOICES = [
    ("auto", "Detect from the file"),
    ("inspect", "Inspect AI eval log (.eval or .json)"),
    ("huggingface", "Hugging Face model-index (YAML or model card)"),
]


def _optional(choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", "---------"), *choices]


class EvaluationImportForm(forms.Form):
    """The same fields as the API's import (registry.api.serializers.EvaluationImportSerializer)."""

    file = forms.FileField(
        allow_empty_file=True,  # the importer answers an empty file with its own message
        help_text="An Inspect AI log (.eval or .json, log format 2) or a Hugging Face model-index.",
    )
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="auto")
    capability_domain = forms.ChoiceField(choices=CapabilityDomain.choices)
    scenario_type = forms.ChoiceField(choices=ScenarioType.choices)
    model = forms.CharField(
        max_length=40,
        required=False,
        help_text="Public id of the model (e.g. FM-2025-0007); else matched by the log's model name.",
    )
    scaffold = forms.CharField(max_length=40, required=False, help_text="Public id of the agent scaffold.")
    evaluator_type = forms.ChoiceField(choices=_optional(EvaluatorType.choices), required=False)
    verification_status = forms.ChoiceField(choices=_optional(VerificationStatus.choices), required=False)
    scorer = forms.CharField(
        max_length=200, required=False, help_text="The Inspect scorer to use when the log has several."
    )
    tlp = forms.ChoiceField(
        choices=_optional(TLP.choices),
        required=False,
        label="TLP",
        help_text="Who may see the results (default TLP:AMBER).",
    )
    caveats = forms.CharField(max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
