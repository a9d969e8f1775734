"""Registry API shapes. Read serializers render; write serializers parse and check shape only (the rules
are in registry.services)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import AliasSerializer, ExternalReferenceSerializer, StrictSerializer, TLPField
from core.enums import ObservedBehaviour, ScenarioType
from registry.models import (
    AgentScaffold,
    CapabilityDomain,
    EvaluationResult,
    EvaluatorType,
    FrontierModel,
    MarketStatus,
    Metric,
    SystemicRiskStatus,
    VerificationStatus,
    WeightsAvailability,
)

SHA256 = r"^[0-9a-f]{64}$"


def _jurisdictions() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.RegexField(r"^([A-Z]{2}|EU)$", max_length=2), max_length=60, required=False
    )


def _short_list(max_items: int = 20, max_length: int = 64) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=max_length), max_length=max_items, required=False
    )


# --- models -------------------------------------------------------------------------------------------


class FrontierModelWriteSerializer(StrictSerializer):
    """Fields a lab sets when registering or updating a model."""

    name = serializers.CharField(max_length=200)
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    family = serializers.CharField(max_length=100, required=False, allow_blank=True)
    base_model = serializers.CharField(
        max_length=40, required=False, allow_null=True, help_text="Public id of the base model (fine-tunes)."
    )
    release_date = serializers.DateField(required=False, allow_null=True)
    weights_availability = serializers.ChoiceField(choices=WeightsAvailability.choices)
    distribution_methods = _short_list()
    licence = serializers.CharField(max_length=200, required=False, allow_blank=True)
    architecture = serializers.CharField(max_length=200, required=False, allow_blank=True)
    parameter_count = serializers.IntegerField(min_value=1, max_value=10**15, required=False, allow_null=True)
    input_modalities = _short_list(10, 32)
    output_modalities = _short_list(10, 32)
    context_window = serializers.IntegerField(min_value=1, max_value=10**9, required=False, allow_null=True)
    training_compute_flop = serializers.FloatField(
        min_value=0, max_value=1e40, required=False, allow_null=True
    )
    compute_estimation_method = serializers.CharField(max_length=500, required=False, allow_blank=True)
    systemic_risk_status = serializers.ChoiceField(choices=SystemicRiskStatus.choices, required=False)
    market_status = serializers.ChoiceField(choices=MarketStatus.choices)
    jurisdictions = _jurisdictions()
    documentation_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    weights_sha256 = serializers.RegexField(SHA256, required=False, allow_blank=True)
    huggingface_repo = serializers.RegexField(
        r"^[\w.-]+/[\w.-]+$", max_length=200, required=False, allow_blank=True
    )
    eu_database_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    tlp = TLPField(required=False)
    external_references = ExternalReferenceSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]
    aliases = AliasSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]


class ProviderField(serializers.SlugRelatedField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="short_name", read_only=True, **kwargs)


class RedLineEvidenceSerializer(serializers.ModelSerializer):
    evaluator = serializers.CharField(source="evaluator_org.short_name")
    wilson_lower = serializers.FloatField()
    wilson_upper = serializers.FloatField()

    class Meta:
        model = EvaluationResult
        fields = [
            "public_id",
            "task",
            "capability_domain",
            "scenario_type",
            "n_trials",
            "n_successes",
            "wilson_lower",
            "wilson_upper",
            "evaluator",
            "verification_status",
        ]


class RedLineSerializer(serializers.Serializer):
    flagged = serializers.BooleanField()
    rule = serializers.DictField(help_text="The configured rule the flag was computed with.")
    evidence = RedLineEvidenceSerializer(many=True, help_text="The current results that meet the rule.")


class FrontierModelSerializer(serializers.ModelSerializer):
    provider = ProviderField()
    owner_org = ProviderField()
    base_model = serializers.CharField(
        source="visible_base_model",
        read_only=True,
        allow_null=True,
        help_text="Public id of the base model (null when there is none or the reader may not see it).",
    )
    red_line_flagged = serializers.BooleanField(
        read_only=True, help_text="A current, visible evaluation result meets the red-line rule."
    )

    class Meta:
        model = FrontierModel
        fields = [
            "id",
            "public_id",
            "schema_version",
            "name",
            "version",
            "family",
            "provider",
            "base_model",
            "release_date",
            "weights_availability",
            "distribution_methods",
            "licence",
            "architecture",
            "parameter_count",
            "input_modalities",
            "output_modalities",
            "context_window",
            "training_compute_flop",
            "compute_estimation_method",
            "systemic_risk_status",
            "market_status",
            "jurisdictions",
            "documentation_url",
            "weights_sha256",
            "huggingface_repo",
            "eu_database_id",
            "description",
            "tlp",
            "owner_org",
            "external_references",
            "aliases",
            "red_line_flagged",
            "created_at",
            "modified_at",
        ]
        read_only_fields = fields


class FrontierModelDetailSerializer(FrontierModelSerializer):
    red_line = serializers.SerializerMethodField()
    lineage = serializers.SerializerMethodField(help_text="Base models, nearest first.")

    class Meta(FrontierModelSerializer.Meta):
        fields = [*FrontierModelSerializer.Meta.fields, "red_line", "lineage"]
        read_only_fields = fields

    @extend_schema_field(RedLineSerializer)
    def get_red_line(self, obj: FrontierModel) -> dict[str, Any]:
        evidence = self.context["red_line_evidence"]
        return {
            "flagged": bool(evidence),
            "rule": self.context["red_line_rule"],
            "evidence": RedLineEvidenceSerializer(evidence, many=True).data,
        }

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_lineage(self, obj: FrontierModel) -> list[str]:
        return [m.public_id for m in self.context["lineage"]]


# --- scaffolds ----------------------------------------------------------------------------------------


class AgentScaffoldWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    source_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    tools = _short_list(50, 64)
    reasoning_template = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    planning_horizon = serializers.IntegerField(min_value=1, max_value=10000, required=False, allow_null=True)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    tlp = TLPField(required=False)
    external_references = ExternalReferenceSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]
    aliases = AliasSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]


class AgentScaffoldSerializer(serializers.ModelSerializer):
    owner_org = ProviderField()

    class Meta:
        model = AgentScaffold
        fields = [
            "id",
            "public_id",
            "schema_version",
            "name",
            "version",
            "source_url",
            "tools",
            "reasoning_template",
            "planning_horizon",
            "description",
            "tlp",
            "owner_org",
            "external_references",
            "aliases",
            "created_at",
            "modified_at",
        ]
        read_only_fields = fields


# --- evaluation results -------------------------------------------------------------------------------


class EnvironmentSerializer(StrictSerializer):
    sandbox_type = serializers.CharField(max_length=200, required=False, allow_blank=True)
    hardware = serializers.CharField(max_length=500, required=False, allow_blank=True)
    network_egress_allowed = serializers.BooleanField(required=False, allow_null=True)
    external_services_simulated = serializers.BooleanField(required=False, allow_null=True)


class RunConfigSerializer(StrictSerializer):
    epochs = serializers.IntegerField(min_value=1, max_value=100000, required=False, allow_null=True)
    time_limit_seconds = serializers.IntegerField(
        min_value=1, max_value=10**8, required=False, allow_null=True
    )
    message_limit = serializers.IntegerField(min_value=1, max_value=10**8, required=False, allow_null=True)
    token_limit = serializers.IntegerField(min_value=1, max_value=10**12, required=False, allow_null=True)


class MilestoneCountsSerializer(StrictSerializer):
    m1_resource_acquisition = serializers.IntegerField(min_value=0, max_value=10**7, required=False)
    m2_file_transfer = serializers.IntegerField(min_value=0, max_value=10**7, required=False)
    m3_llm_server_started = serializers.IntegerField(min_value=0, max_value=10**7, required=False)
    m4_agent_started = serializers.IntegerField(min_value=0, max_value=10**7, required=False)


class BehaviourCountSerializer(StrictSerializer):
    behaviour = serializers.ChoiceField(choices=ObservedBehaviour.choices)
    count = serializers.IntegerField(min_value=0, max_value=10**7)


class SourceReferenceSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=["paper", "system_card", "log", "dataset", "other"])
    title = serializers.CharField(max_length=500)
    url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    locator = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Where in the source, e.g. 'Table 1'."
    )


class EvaluationFieldsSerializer(StrictSerializer):
    """The fields of an evaluation result that its recorder sets."""

    model_revision = serializers.CharField(max_length=100, required=False, allow_blank=True)
    evaluator_type = serializers.ChoiceField(choices=EvaluatorType.choices, required=False)
    benchmark = serializers.CharField(max_length=200, required=False, allow_blank=True)
    task = serializers.CharField(max_length=200)
    task_version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    task_family = serializers.CharField(max_length=200, required=False, allow_blank=True)
    capability_domain = serializers.ChoiceField(choices=CapabilityDomain.choices)
    scenario_type = serializers.ChoiceField(choices=ScenarioType.choices)
    environment = EnvironmentSerializer(required=False)
    config = RunConfigSerializer(required=False)
    n_trials = serializers.IntegerField(min_value=1, max_value=10**9, required=False, allow_null=True)
    n_completed = serializers.IntegerField(min_value=0, max_value=10**9, required=False, allow_null=True)
    n_successes = serializers.IntegerField(min_value=0, max_value=10**9, required=False, allow_null=True)
    n_refusals = serializers.IntegerField(min_value=0, max_value=10**9, required=False, allow_null=True)
    metric = serializers.ChoiceField(choices=Metric.choices, required=False)
    metric_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    metric_k = serializers.IntegerField(min_value=1, max_value=10000, required=False, allow_null=True)
    metric_value = serializers.FloatField(min_value=-1e12, max_value=1e12, required=False, allow_null=True)
    milestone_counts = MilestoneCountsSerializer(required=False)
    observed_behaviours = BehaviourCountSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]
    run_started_at = serializers.DateTimeField(required=False, allow_null=True)
    run_completed_at = serializers.DateTimeField(required=False, allow_null=True)
    verification_status = serializers.ChoiceField(choices=VerificationStatus.choices, required=False)
    source_references = SourceReferenceSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]
    caveats = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    tlp = TLPField(required=False)
    external_references = ExternalReferenceSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]
    aliases = AliasSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]


class EvaluationCreateSerializer(EvaluationFieldsSerializer):
    model = serializers.CharField(max_length=40, help_text="Public id (or UUID) of the evaluated model.")
    scaffold = serializers.CharField(
        max_length=40, required=False, allow_null=True, help_text="Public id of the scaffold."
    )


class EvaluationSupersedeSerializer(EvaluationFieldsSerializer):
    """A correction: the fields that change (the rest is carried over) and why."""

    reason = serializers.CharField(max_length=5000, help_text="Why the old result is corrected.")
    scaffold = serializers.CharField(max_length=40, required=False, allow_null=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "reason":
                field.required = False


class WilsonSerializer(serializers.Serializer):
    lower = serializers.FloatField(allow_null=True)
    upper = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField()
    method = serializers.CharField()


class RawLogSerializer(serializers.Serializer):
    name = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    format = serializers.CharField()
    download = serializers.CharField(help_text="Path of the download endpoint (visibility-checked).")


class EvaluationResultSerializer(serializers.ModelSerializer):
    model: serializers.SlugRelatedField[FrontierModel] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True
    )
    model_name = serializers.CharField(source="model.name", read_only=True)
    provider = serializers.CharField(source="model.provider.short_name", read_only=True)
    scaffold = serializers.CharField(
        source="visible_scaffold",
        read_only=True,
        allow_null=True,
        help_text="Public id of the agent scaffold (null when there is none or the reader may not see it).",
    )
    evaluator_org = ProviderField()
    owner_org = ProviderField()
    wilson_interval = serializers.SerializerMethodField()
    supersedes = serializers.CharField(
        source="visible_supersedes",
        read_only=True,
        allow_null=True,
        help_text="Public id of the result this one corrects (null when none or the reader may not see it).",
    )
    superseded_by = serializers.CharField(
        source="visible_superseded_by",
        read_only=True,
        allow_null=True,
        help_text="Public id of the result that corrects this one (null when none or not visible).",
    )
    is_current = serializers.SerializerMethodField()
    meets_red_line = serializers.BooleanField(read_only=True)
    raw_log = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationResult
        fields = [
            "id",
            "public_id",
            "schema_version",
            "model",
            "model_name",
            "provider",
            "model_revision",
            "scaffold",
            "evaluator_org",
            "evaluator_type",
            "benchmark",
            "task",
            "task_version",
            "task_family",
            "capability_domain",
            "scenario_type",
            "environment",
            "config",
            "n_trials",
            "n_completed",
            "n_successes",
            "n_refusals",
            "metric",
            "metric_name",
            "metric_k",
            "metric_value",
            "wilson_interval",
            "milestone_counts",
            "observed_behaviours",
            "run_started_at",
            "run_completed_at",
            "raw_log",
            "verification_status",
            "source_references",
            "caveats",
            "supersedes",
            "superseded_by",
            "correction_reason",
            "is_current",
            "meets_red_line",
            "tlp",
            "owner_org",
            "submitted_by",
            "external_references",
            "aliases",
            "created_at",
            "modified_at",
        ]
        read_only_fields = fields

    @extend_schema_field(WilsonSerializer)
    def get_wilson_interval(self, obj: EvaluationResult) -> dict[str, Any]:
        return {
            "lower": obj.wilson_lower,
            "upper": obj.wilson_upper,
            "confidence": 0.95,
            "method": "wilson_score",
        }

    @extend_schema_field(serializers.BooleanField())
    def get_is_current(self, obj: EvaluationResult) -> bool:
        return getattr(obj, "superseded_by", None) is None

    @extend_schema_field(RawLogSerializer(allow_null=True))
    def get_raw_log(self, obj: EvaluationResult) -> dict[str, Any] | None:
        if not obj.raw_log:
            return None
        return {
            "name": obj.raw_log_name,
            "sha256": obj.raw_log_sha256,
            "size": obj.raw_log_size,
            "format": obj.import_format,
            "download": f"/api/v1/evaluations/{obj.public_id}/raw-log",
        }


class EvaluationImportSerializer(StrictSerializer):
    """Multipart form of an import: the file and what the file cannot say."""

    file = serializers.FileField(
        allow_empty_file=True,  # the importer answers an empty file with its own code, empty_file
        help_text=(
            "An Inspect AI log (.eval or .json, log format 2) or a Hugging Face model-index "
            "(YAML or model card)."
        ),
    )
    format = serializers.ChoiceField(
        choices=["auto", "inspect", "huggingface"],
        required=False,
        default="auto",
        help_text="Detected from the bytes when `auto`.",
    )
    capability_domain = serializers.ChoiceField(choices=CapabilityDomain.choices)
    scenario_type = serializers.ChoiceField(choices=ScenarioType.choices)
    model = serializers.CharField(
        max_length=40, required=False, help_text="Public id of the model; else matched by name."
    )
    scaffold = serializers.CharField(max_length=40, required=False)
    evaluator_type = serializers.ChoiceField(choices=EvaluatorType.choices, required=False)
    verification_status = serializers.ChoiceField(choices=VerificationStatus.choices, required=False)
    scorer = serializers.CharField(
        max_length=200, required=False, help_text="Inspect scorer to use when several."
    )
    tlp = TLPField(required=False)
    caveats = serializers.CharField(max_length=20000, required=False, allow_blank=True)


class EvaluationImportResultSerializer(serializers.Serializer):
    sha256 = serializers.CharField(help_text="SHA-256 of the stored raw file.")
    evaluations = EvaluationResultSerializer(many=True)
    created_models = serializers.ListField(
        child=serializers.CharField(), help_text="Public ids of models registered by the import."
    )
