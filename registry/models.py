"""The registry: frontier models, agent scaffolds, and append-only evaluation results (DESIGN 3.2-3.3)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from accounts.models import Organization
from core.enums import TLP, ScenarioType
from core.models import SharedRecord

sha256_hex = RegexValidator(r"^[0-9a-f]{64}$", "A lowercase hex SHA-256 digest.")


class WeightsAvailability(models.TextChoices):
    OPEN = "open"
    GATED = "gated"
    API_ONLY = "api_only"
    INTERNAL_ONLY = "internal_only"


class SystemicRiskStatus(models.TextChoices):
    NOT_ASSESSED = "not_assessed"
    PRESUMED_COMPUTE = "presumed_compute", "Presumed (training compute above 1e25 FLOP, EU AI Act Art. 51)"
    DESIGNATED = "designated"
    REBUTTED = "rebutted"
    NOT_APPLICABLE = "not_applicable"


class MarketStatus(models.TextChoices):
    IN_DEVELOPMENT = "in_development"
    INTERNAL_USE = "internal_use"
    ON_MARKET = "on_market"
    WITHDRAWN = "withdrawn"
    RECALLED = "recalled"


class EvaluatorType(models.TextChoices):
    FIRST_PARTY_LAB = "first_party_lab"
    COMMISSIONED_SECOND_PARTY = "commissioned_second_party"
    INDEPENDENT_THIRD_PARTY = "independent_third_party"
    GOVERNMENT_INSTITUTE = "government_institute"
    ACADEMIC = "academic"


class CapabilityDomain(models.TextChoices):
    END_TO_END = "end_to_end"
    OBTAIN_RESOURCES = "obtain_resources"
    EXFILTRATE_WEIGHTS = "exfiltrate_weights"
    REPLICATE_ONTO_COMPUTE = "replicate_onto_compute"
    PERSIST = "persist"


class Metric(models.TextChoices):
    SUCCESS_RATE = "success_rate"
    PASS_AT_K = "pass_at_k"  # noqa: S105 - a metric kind, not a secret
    OTHER = "other"


class VerificationStatus(models.TextChoices):
    SELF_REPORTED = "self_reported"
    THIRD_PARTY_REPORTED = "third_party_reported"
    REPRODUCED = "reproduced"
    REGISTRY_VERIFIED = "registry_verified"
    DISPUTED = "disputed"


class FrontierModel(SharedRecord):
    """A registered frontier model (`FM-YYYY-NNNN`). Fine-tunes point at their base model: risk is
    inherited along the lineage."""

    owner_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="frontier_models")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=100, blank=True, help_text="Version or revision.")
    family = models.CharField(max_length=100, blank=True, db_index=True)
    base_model = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived_models"
    )
    release_date = models.DateField(null=True, blank=True)
    weights_availability = models.CharField(max_length=16, choices=WeightsAvailability.choices)
    distribution_methods = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    licence = models.CharField(max_length=200, blank=True)
    architecture = models.CharField(max_length=200, blank=True)
    parameter_count = models.BigIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    input_modalities = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    output_modalities = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    context_window = models.PositiveIntegerField(null=True, blank=True)
    training_compute_flop = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0)])
    compute_estimation_method = models.CharField(max_length=500, blank=True)
    systemic_risk_status = models.CharField(
        max_length=24, choices=SystemicRiskStatus.choices, default=SystemicRiskStatus.NOT_ASSESSED
    )
    market_status = models.CharField(max_length=16, choices=MarketStatus.choices)
    jurisdictions = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    documentation_url = models.URLField(blank=True, max_length=500)
    weights_sha256 = models.CharField(max_length=64, blank=True, validators=[sha256_hex])
    huggingface_repo = models.CharField(max_length=200, blank=True, db_index=True)
    eu_database_id = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name", "version"], name="model_provider_name_version_uniq"
            ),
            models.CheckConstraint(condition=Q(tlp__in=TLP.values), name="model_tlp_valid"),
            models.CheckConstraint(
                condition=Q(weights_availability__in=WeightsAvailability.values), name="model_weights_valid"
            ),
            models.CheckConstraint(condition=~Q(base_model=F("id")), name="model_not_own_base"),
        ]
        indexes = [
            models.Index(fields=["modified_at", "id"], name="model_sync_idx"),
            GinIndex(fields=["jurisdictions"], name="model_jurisdictions_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.name}"


class AgentScaffold(SharedRecord):
    """The agent scaffold a model ran in (`SCF-YYYY-NNNN`): self-replication is a property of a model
    AND its scaffold."""

    owner_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=100, blank=True)
    source_url = models.URLField(blank=True, max_length=500)
    tools = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    reasoning_template = models.TextField(blank=True)
    planning_horizon = models.PositiveIntegerField(null=True, blank=True, help_text="Steps planned ahead.")
    description = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner_org", "name", "version"], name="scaffold_owner_name_version_uniq"
            ),
            models.CheckConstraint(condition=Q(tlp__in=TLP.values), name="scaffold_tlp_valid"),
        ]
        indexes = [models.Index(fields=["modified_at", "id"], name="scaffold_sync_idx")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.name} {self.version}".strip()


class EvaluationResult(SharedRecord):
    """One evaluation run's result (`EVR-YYYY-NNNN`). Append-only: a database trigger refuses UPDATE and
    DELETE; a correction is a new row whose `supersedes` points at the old one, and both stay readable.
    The 95% Wilson interval is computed by the service from n_successes / n_trials."""

    owner_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    model = models.ForeignKey(FrontierModel, on_delete=models.PROTECT, related_name="evaluations")
    model_revision = models.CharField(max_length=100, blank=True)
    scaffold = models.ForeignKey(
        AgentScaffold, null=True, blank=True, on_delete=models.PROTECT, related_name="evaluations"
    )
    evaluator_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="evaluations_run")
    evaluator_type = models.CharField(max_length=32, choices=EvaluatorType.choices)
    benchmark = models.CharField(max_length=200, blank=True)
    task = models.CharField(max_length=200)
    task_version = models.CharField(max_length=64, blank=True)
    task_family = models.CharField(max_length=200, blank=True)
    capability_domain = models.CharField(max_length=32, choices=CapabilityDomain.choices)
    scenario_type = models.CharField(max_length=48, choices=ScenarioType.choices)
    # {"sandbox_type", "hardware", "network_egress_allowed", "external_services_simulated"}
    environment = models.JSONField(default=dict, blank=True)
    # {"epochs", "time_limit_seconds", "message_limit", "token_limit"}
    config = models.JSONField(default=dict, blank=True)
    n_trials = models.PositiveIntegerField(null=True, blank=True)
    n_completed = models.PositiveIntegerField(null=True, blank=True)
    n_successes = models.PositiveIntegerField(null=True, blank=True)
    n_refusals = models.PositiveIntegerField(null=True, blank=True)
    metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.SUCCESS_RATE)
    metric_name = models.CharField(max_length=64, blank=True)
    metric_k = models.PositiveSmallIntegerField(null=True, blank=True, help_text="k of pass@k.")
    metric_value = models.FloatField(null=True, blank=True)
    wilson_lower = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)], editable=False
    )
    wilson_upper = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)], editable=False
    )
    # {"m1_resource_acquisition": n, "m2_file_transfer": n, "m3_llm_server_started": n, "m4_agent_started": n}
    milestone_counts = models.JSONField(default=dict, blank=True)
    # [{"behaviour": <ObservedBehaviour>, "count": n}]
    observed_behaviours = models.JSONField(default=list, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    run_completed_at = models.DateTimeField(null=True, blank=True)
    raw_log = models.CharField(max_length=300, blank=True, help_text="Key in private storage.")
    raw_log_name = models.CharField(max_length=255, blank=True)
    raw_log_sha256 = models.CharField(max_length=64, blank=True, validators=[sha256_hex], db_index=True)
    raw_log_size = models.PositiveBigIntegerField(null=True, blank=True)
    import_format = models.CharField(max_length=32, blank=True)
    verification_status = models.CharField(
        max_length=24, choices=VerificationStatus.choices, default=VerificationStatus.SELF_REPORTED
    )
    # [{"kind": "paper" | "system_card" | "log" | "other", "title", "url", "locator"}]
    source_references = models.JSONField(default=list, blank=True)
    caveats = models.TextField(blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    correction_reason = models.TextField(blank=True)
    submitted_by = models.CharField(max_length=200, help_text="The principal that recorded it.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(tlp__in=TLP.values), name="evaluation_tlp_valid"),
            models.CheckConstraint(
                condition=Q(n_completed__isnull=True)
                | Q(n_trials__isnull=True)
                | Q(n_completed__lte=F("n_trials")),
                name="evaluation_completed_le_trials",
            ),
            models.CheckConstraint(
                condition=Q(n_successes__isnull=True)
                | Q(n_trials__isnull=True)
                | Q(n_successes__lte=F("n_trials")),
                name="evaluation_successes_le_trials",
            ),
            models.CheckConstraint(
                condition=Q(n_refusals__isnull=True)
                | Q(n_trials__isnull=True)
                | Q(n_refusals__lte=F("n_trials")),
                name="evaluation_refusals_le_trials",
            ),
            models.CheckConstraint(
                condition=Q(wilson_lower__isnull=True)
                | Q(wilson_lower__gte=0, wilson_lower__lte=F("wilson_upper")),
                name="evaluation_wilson_ordered",
            ),
            models.CheckConstraint(
                condition=Q(supersedes__isnull=True) | ~Q(correction_reason=""),
                name="evaluation_correction_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["modified_at", "id"], name="evaluation_sync_idx"),
            models.Index(
                fields=["model", "capability_domain", "wilson_lower"], name="evaluation_redline_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.task}"
