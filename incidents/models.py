"""Self-replication incident reports (DESIGN 3.4): the incident, its immutable revisions, the models it
involves, its named recipients (TLP:RED)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q

from accounts.models import Organization
from core.enums import TLP, ScenarioType
from core.models import SharedRecord
from registry.models import AgentScaffold, EvaluationResult, FrontierModel


class RecordClass(models.TextChoices):
    """What kind of event the report describes: an instructed evaluation is never a real-world incident."""

    REAL_WORLD_INCIDENT = "real_world_incident"
    HAZARD_NEAR_MISS = "hazard_near_miss"
    CONTROLLED_EVALUATION_FINDING = "controlled_evaluation_finding"
    RED_TEAM_EXERCISE = "red_team_exercise"


class AISystemRelation(models.TextChoices):
    """How the AI system relates to the event (OECD common reporting framework)."""

    CAUSED = "caused"
    CONTRIBUTED = "contributed"
    INVOLVED = "involved"
    UNKNOWN = "unknown"


class SubmitterCapacity(models.TextChoices):
    PROVIDER = "provider"
    DEPLOYER = "deployer"
    EVALUATOR = "evaluator"
    AUTHORISED_REPRESENTATIVE = "authorised_representative"
    REGULATOR = "regulator"


class InstructionProvenance(models.TextChoices):
    EXPLICIT_REPLICATION_INSTRUCTION = "explicit_replication_instruction"
    PERSISTENCE_GOAL_INSTRUCTION = "persistence_goal_instruction"
    ADVERSARY_INJECTED = "adversary_injected"
    UNINSTRUCTED = "uninstructed"
    UNKNOWN = "unknown"


class Outcome(models.TextChoices):
    LIVE_SEPARATE_REPLICA = "live_separate_replica"
    REPLICA_STARTED_UNRESPONSIVE = "replica_started_unresponsive"
    PARTIAL_MILESTONES = "partial_milestones"
    NO_REPLICA = "no_replica"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    CONTAINED_BY_OPERATOR = "contained_by_operator"
    UNKNOWN = "unknown"


class Severity(models.TextChoices):
    """OECD severity, in increasing order."""

    HAZARD = "hazard"
    SERIOUS_HAZARD = "serious_hazard"
    INCIDENT = "incident"
    SERIOUS_INCIDENT = "serious_incident"
    DISASTER = "disaster"


SEVERITY_ORDER = {value: index for index, value in enumerate(Severity.values)}


class HarmType(models.TextChoices):
    """OECD AI incident harm types."""

    PHYSICAL = "physical"
    PSYCHOLOGICAL = "psychological"
    ECONOMIC_PROPERTY = "economic_property"
    REPUTATIONAL = "reputational"
    PUBLIC_INTEREST = "public_interest"
    FUNDAMENTAL_RIGHTS = "fundamental_rights"
    ENVIRONMENTAL = "environmental"
    CYBERSECURITY = "cybersecurity"
    NONE = "none"


class EUCategory(models.TextChoices):
    ART3_49_A_DEATH = "art3_49_a_death"
    ART3_49_A_HEALTH = "art3_49_a_health"
    ART3_49_B_CRITICAL_INFRASTRUCTURE = "art3_49_b_critical_infrastructure"
    ART3_49_C_FUNDAMENTAL_RIGHTS = "art3_49_c_fundamental_rights"
    ART3_49_D_PROPERTY_ENVIRONMENT = "art3_49_d_property_environment"
    COP_CYBER_BREACH_SELF_EXFILTRATION = "cop_cyber_breach_self_exfiltration"
    NOT_REPORTABLE = "not_reportable"


class ReportStage(models.TextChoices):
    INITIAL = "initial"
    INTERMEDIATE = "intermediate"
    FINAL = "final"


class DatePrecision(models.TextChoices):
    EXACT = "exact"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class Separateness(models.TextChoices):
    PROCESS = "process"
    SOFTWARE = "software"
    HARDWARE = "hardware"


class ContainmentStatus(models.TextChoices):
    CONTAINED = "contained"
    PARTIALLY_CONTAINED = "partially_contained"
    NOT_CONTAINED = "not_contained"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"


class Determination(models.TextChoices):
    """STIX incident-core determination."""

    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"
    BLOCKED = "blocked"
    FAILED_ATTEMPT = "failed_attempt"


class IncidentStatus(models.TextChoices):
    """The triage state (DESIGN 5); transitions arrive with the workflow (issue 4)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    NEEDS_INFORMATION = "needs_information"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class RejectionReason(models.TextChoices):
    """Why a reviewer rejected a report (DESIGN 5)."""

    OUT_OF_SCOPE = "out_of_scope"
    NOT_REPRODUCIBLE = "not_reproducible"
    FALSE_POSITIVE = "false_positive"
    INSUFFICIENT_INFORMATION = "insufficient_information"


class DeadlineRegime(models.TextChoices):
    """Whose clock a deadline is (incidents.deadlines explains each rule)."""

    GPAI_COP = "gpai_cop", "GPAI Code of Practice, Measure 9.3"
    AI_ACT_ART73 = "ai_act_art73", "EU AI Act Art. 73"
    TRIAGE = "triage", "Reviewers' triage service level"


class DeadlineStage(models.TextChoices):
    INITIAL = "initial"
    INTERMEDIATE = "intermediate"
    FINAL = "final"
    ACKNOWLEDGE = "acknowledge"


class ModelRole(models.TextChoices):
    ORIGINATING = "originating"
    REPLICA = "replica"
    OTHER = "other"


class Incident(SharedRecord):
    """A self-replication incident report (`SRI-YYYY-NNNNNN`). The row holds the latest revision's
    content; every amendment is also kept as an immutable IncidentRevision. Never deleted: withdrawn,
    rejected, duplicate and superseded reports keep resolving."""

    owner_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="incidents")
    status = models.CharField(max_length=24, choices=IncidentStatus.choices, default=IncidentStatus.SUBMITTED)
    revision_number = models.PositiveIntegerField(default=1)
    external_id = models.CharField(max_length=200, blank=True)

    # Mandatory core (OECD CRF + what makes self-replication reports comparable).
    record_class = models.CharField(max_length=40, choices=RecordClass.choices)
    title = models.CharField(max_length=300)
    description = models.TextField()
    ai_system_relation = models.CharField(max_length=16, choices=AISystemRelation.choices, blank=True)
    submitter_capacity = models.CharField(max_length=32, choices=SubmitterCapacity.choices)
    submitted_by = models.CharField(max_length=200)
    submitted_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_by_key = models.UUIDField(null=True, blank=True)
    scenario_type = models.CharField(max_length=48, choices=ScenarioType.choices, blank=True)
    instruction_provenance = models.CharField(max_length=40, choices=InstructionProvenance.choices)
    outcome = models.CharField(max_length=32, choices=Outcome.choices, blank=True)
    severity = models.CharField(max_length=20, choices=Severity.choices, blank=True)
    harm_types = ArrayField(
        models.CharField(max_length=24, choices=HarmType.choices), default=list, blank=True
    )

    # Context.
    scaffold = models.ForeignKey(
        AgentScaffold, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_start = models.DateTimeField(null=True, blank=True)
    occurred_end = models.DateTimeField(null=True, blank=True)
    occurred_precision = models.CharField(max_length=8, choices=DatePrecision.choices, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    provider_aware_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="When the incident was resolved: the final report is due 60 days on."
    )
    submitted_at = models.DateTimeField(
        help_text="Server receipt time of the first submission: the one that counts."
    )
    countries = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    jurisdictions = ArrayField(
        models.CharField(max_length=2),
        default=list,
        blank=True,
        help_text="Derived: the countries, plus EU when one of them is an EU member state.",
    )
    # [{"behaviour", "timestamp", "description", "evidence"}] in order
    observed_behaviours = models.JSONField(default=list, blank=True)
    milestones_reached = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    replica_count = models.PositiveIntegerField(null=True, blank=True)
    replication_depth = models.PositiveIntegerField(null=True, blank=True)
    replica_location = models.CharField(max_length=500, blank=True)
    separateness = ArrayField(
        models.CharField(max_length=16, choices=Separateness.choices), default=list, blank=True
    )
    replica_liveness_verified = models.BooleanField(null=True, blank=True)
    replica_liveness_method = models.CharField(max_length=500, blank=True)
    containment_status = models.CharField(max_length=24, choices=ContainmentStatus.choices, blank=True)
    actions_taken = models.TextField(blank=True)
    # {"hosts_affected", "gpu_hours", "cost_usd"}
    harm_quantification = models.JSONField(default=dict, blank=True)
    critical_infrastructure = models.BooleanField(default=False)
    eu_category = models.CharField(max_length=40, choices=EUCategory.choices, blank=True)
    high_risk_system = models.BooleanField(
        default=False, help_text="Concerns a high-risk AI system (AI Act Art. 73)."
    )
    report_stage = models.CharField(max_length=16, choices=ReportStage.choices, default=ReportStage.INITIAL)
    determination = models.CharField(max_length=16, choices=Determination.choices, blank=True)
    chain_of_events = models.TextField(blank=True)
    root_cause_analysis = models.TextField(blank=True)
    recommendation = models.TextField(blank=True)
    steps_to_reproduce = models.TextField(blank=True)
    # {"atlas": [...], "avid": [...], "replibench": [...]}
    taxonomy_mappings = models.JSONField(default=dict, blank=True)
    related_evaluations = models.ManyToManyField(EvaluationResult, blank=True, related_name="incidents")
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaces"
    )
    withdrawal_reason = models.TextField(blank=True)
    # The workflow (incidents.workflows): who holds the report in review, and a first reviewer's accept of
    # a serious report waiting for a second reviewer's confirmation (four eyes).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pending_accept_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejection_reason = models.CharField(max_length=32, choices=RejectionReason.choices, blank=True)
    # Denormalised from IncidentDeadline (services.incident_refresh_deadlines): the earliest due time not
    # yet met, so the queue filters and orders on one indexed column instead of scanning the deadlines.
    next_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner_org", "external_id"],
                condition=~Q(external_id=""),
                name="incident_org_external_id_uniq",
            ),
            models.CheckConstraint(condition=Q(tlp__in=TLP.values), name="incident_tlp_valid"),
            models.CheckConstraint(
                condition=Q(status__in=IncidentStatus.values), name="incident_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(record_class__in=RecordClass.values), name="incident_record_class_valid"
            ),
            models.CheckConstraint(
                condition=Q(instruction_provenance__in=InstructionProvenance.values),
                name="incident_provenance_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | ~Q(withdrawal_reason=""),
                name="incident_withdrawal_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="duplicate") | Q(duplicate_of__isnull=False),
                name="incident_duplicate_has_target",
            ),
            models.CheckConstraint(
                condition=~Q(status="superseded") | Q(replaced_by__isnull=False),
                name="incident_superseded_has_target",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | Q(rejection_reason__in=RejectionReason.values),
                name="incident_rejection_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["modified_at", "id"], name="incident_sync_idx"),
            models.Index(fields=["owner_org", "modified_at"], name="incident_owner_idx"),
            models.Index(fields=["tlp", "modified_at"], name="incident_tlp_idx"),
            GinIndex(fields=["search_vector"], name="incident_search_gin"),
            GinIndex(fields=["jurisdictions"], name="incident_jurisdictions_gin"),
            models.Index(
                fields=["next_due_at", "id"],
                condition=Q(next_due_at__isnull=False),
                name="incident_next_due_idx",
            ),
            # The triage queue's default: the open reports by (next_due_at NULLS LAST, id), the order of a
            # plain btree; partial, so it holds the open reports only and the queue reads 50 rows of it
            # instead of sorting every visible report.
            models.Index(
                fields=["next_due_at", "id"],
                condition=Q(status__in=["submitted", "in_review", "needs_information"]),
                name="incident_queue_idx",
            ),
            # The pages' "newest submission first" (ordering=-submitted_at), read backwards.
            models.Index(fields=["submitted_at", "id"], name="incident_submitted_idx"),
            # The public snapshot (coordination.snapshots): the TLP:CLEAR reports in public-id order, read
            # without visiting the rows nobody outside may see.
            models.Index(fields=["public_id"], condition=Q(tlp="clear"), name="incident_public_clear_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.title}"


class IncidentModel(models.Model):
    """A model involved in an incident, with its role; unregistered models are named in free text."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="involved_models")
    model = models.ForeignKey(
        FrontierModel, null=True, blank=True, on_delete=models.PROTECT, related_name="incident_links"
    )
    model_name = models.CharField(max_length=200, blank=True, help_text="For a model not in the registry.")
    role = models.CharField(max_length=16, choices=ModelRole.choices)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(model__isnull=False) | ~Q(model_name=""), name="incident_model_named"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.model_id or self.model_name} ({self.role})"


class IncidentRecipient(models.Model):
    """A named recipient of a TLP:RED incident (besides its submitter)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "user"], name="incident_recipient_uniq")]

    def __str__(self) -> str:
        return f"{self.incident_id} -> {self.user_id}"


class AliasSource(models.TextChoices):
    """The public AI incident databases a report can be linked to (issue 6): the label is the registry's
    own name, used as STIX `source_name`."""

    AIID = "aiid", "AI Incident Database"
    OECD_AIM = "oecd_aim", "OECD AI Incidents Monitor"
    AVID = "avid", "AI Vulnerability Database"
    ATLAS = "atlas", "MITRE ATLAS"


class IncidentAlias(models.Model):
    """The same event as recorded in another database ("also recorded as"). Set by the submitting
    organisation in its submission and amendments, or added by oversight staff; the id format of each
    source is checked by incidents.services (ALIAS_FORMATS). Visible to whoever sees the incident."""

    id = models.BigAutoField(primary_key=True)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alias_links")
    source = models.CharField(max_length=16, choices=AliasSource.choices)
    external_id = models.CharField(max_length=64)
    url = models.URLField(max_length=500, blank=True)
    added_by = models.CharField(max_length=200)
    added_by_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id", "incident"], name="incident_alias_uniq"),
            models.CheckConstraint(
                condition=Q(source__in=AliasSource.values), name="incident_alias_source_valid"
            ),
        ]
        indexes = [models.Index(fields=["external_id"], name="incident_alias_external_idx")]

    def __str__(self) -> str:
        return f"{self.incident_id} = {self.source}:{self.external_id}"


class IncidentRevision(models.Model):
    """One immutable version of a report (append-only in the database). `payload` is the canonical
    submitted document; `sha256` is the digest given on the receipt."""

    id = models.BigAutoField(primary_key=True)
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    payload = models.JSONField()
    sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    submitted_by = models.CharField(max_length=200)
    change_summary = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "number"], name="incident_revision_number_uniq")
        ]
        ordering = ["incident", "number"]

    def __str__(self) -> str:
        return f"{self.incident_id} r{self.number}"


class EvidenceKind(models.TextChoices):
    LOG = "log"
    TRANSCRIPT = "transcript"
    SCREENSHOT = "screenshot"
    NETWORK_CAPTURE = "network_capture"
    REPORT = "report"
    CONFIGURATION = "configuration"
    OTHER = "other"


class Evidence(models.Model):
    """A file supporting a report. Stored in private storage under a per-org key (never deduplicated
    across organisations), its type sniffed from the bytes, its SHA-256 computed while streaming.
    Immutable once stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="evidence")
    owner_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=EvidenceKind.choices, default=EvidenceKind.OTHER)
    description = models.TextField(blank=True)
    file_name = models.CharField(max_length=255, help_text="The client's file name, sanitised; never a path.")
    storage_key = models.CharField(max_length=300, unique=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField()
    detected_type = models.CharField(max_length=100, help_text="MIME type sniffed from the bytes.")
    declared_type = models.CharField(max_length=100, blank=True, help_text="What the client claimed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "owner_org", "sha256"], name="evidence_once_per_incident_org"
            ),
        ]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.file_name} ({self.sha256[:12]})"


class CommentVisibility(models.TextChoices):
    INTERNAL = "internal", "Internal (reviewers and regulators)"
    SHARED = "shared", "Shared with the submitter"


class Comment(models.Model):
    """A remark on a report: internal to reviewers and regulators, or shared with the submitter. Never
    edited or deleted (append-only in the database)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="comments")
    author_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    author = models.CharField(max_length=200)
    # PROTECT, not SET_NULL: the table refuses UPDATE, and people are deactivated, never deleted.
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    visibility = models.CharField(max_length=16, choices=CommentVisibility.choices)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=CommentVisibility.values), name="comment_visibility_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.author} ({self.visibility})"


class Verdict(models.TextChoices):
    PENDING = "pending"
    CONFIRMED_SELF_REPLICATION = "confirmed_self_replication"
    PARTIAL_SELF_REPLICATION = "partial_self_replication"
    NOT_SELF_REPLICATION = "not_self_replication"
    INCONCLUSIVE = "inconclusive"


class Assessment(models.Model):
    """One regulator organisation's container on a report (like CVE's ADP containers): its verdict,
    severity override, notes and its own TLP. Only that organisation edits it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="assessments")
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="assessments")
    verdict = models.CharField(max_length=32, choices=Verdict.choices, default=Verdict.PENDING)
    severity_override = models.CharField(max_length=20, choices=Severity.choices, blank=True)
    notes = models.TextField(blank=True)
    tlp = models.CharField(max_length=16, default="amber")
    updated_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "org"], name="assessment_one_per_org"),
            models.CheckConstraint(condition=Q(tlp__in=TLP.values), name="assessment_tlp_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.org_id} {self.verdict}"


class IncidentTransition(models.Model):
    """One step of the triage workflow, as it happened (append-only in the database): the action, the
    states before and after, who acted for which organisation, and the reason or target given."""

    id = models.BigAutoField(primary_key=True)
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="transitions")
    action = models.CharField(max_length=32)
    from_state = models.CharField(max_length=24, choices=IncidentStatus.choices)
    to_state = models.CharField(max_length=24, choices=IncidentStatus.choices)
    actor_label = models.CharField(max_length=200)
    # PROTECT, not SET_NULL: the table refuses UPDATE, and people are deactivated, never deleted.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    # What the action named: the assignee, the duplicate_of / replaced_by report, a pending confirmation.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_state__in=IncidentStatus.values) & Q(to_state__in=IncidentStatus.values),
                name="incident_transition_states_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.action} {self.from_state} -> {self.to_state}"


class IncidentDeadline(models.Model):
    """The due time of one report stage under one regime (incidents.deadlines computes them; services.
    incident_refresh_deadlines stores them with every submission, amendment and transition). The row
    doubles as the notification queue: `reminded_at` / `alerted_at` record that the reminder before and
    the alert after the due time were emitted (services.deadline_notices_send), once each."""

    id = models.BigAutoField(primary_key=True)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deadlines")
    regime = models.CharField(max_length=16, choices=DeadlineRegime.choices)
    stage = models.CharField(max_length=16, choices=DeadlineStage.choices)
    sequence = models.PositiveSmallIntegerField(default=1)
    due_at = models.DateTimeField()
    satisfied_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["incident", "due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "regime", "stage", "sequence"], name="incident_deadline_uniq"
            ),
            models.CheckConstraint(
                condition=Q(regime__in=DeadlineRegime.values), name="incident_deadline_regime_valid"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=DeadlineStage.values), name="incident_deadline_stage_valid"
            ),
        ]
        indexes = [
            # The notice sender and the per-regime queue filters read open deadlines by due time only.
            models.Index(
                fields=["due_at"], condition=Q(satisfied_at__isnull=True), name="incident_deadline_open_idx"
            ),
            models.Index(
                fields=["regime", "due_at"],
                condition=Q(satisfied_at__isnull=True),
                name="incident_deadline_regime_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.regime} {self.stage} #{self.sequence} due {self.due_at:%Y-%m-%d}"


class IncidentDraft(models.Model):
    """A report being written in the browser, step by step (issue 5): the submission form's values as the
    API would receive them, saved as the author goes so it survives sign-out. A draft is not a report: it
    has no public id, never appears in a list, export, feed or the API, is private to its author within
    their organisation, and is deleted when it is filed (services.incident_draft_submit)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    step = models.CharField(max_length=16, default="what", help_text="The step the author was last on.")
    data = models.JSONField(default=dict, blank=True, help_text="The submission so far, in the API's shape.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "id"]
        indexes = [models.Index(fields=["owner", "org", "-updated_at"], name="incident_draft_owner_idx")]

    def __str__(self) -> str:
        return f"draft {self.pk} by {self.owner_id}"


class VisibilityChangeReason(models.TextChoices):
    """Why who may see a report changed (GET /api/v1/incidents/removed gives it as `reason`)."""

    TLP_RAISED = "tlp_raised", "TLP raised"
    TLP_LOWERED = "tlp_lowered", "TLP lowered"
    JURISDICTIONS_CHANGED = "jurisdictions_changed", "Jurisdictions changed"


class IncidentVisibilityChange(models.Model):
    """A change to who may see a report: its TLP, or the jurisdictions that amber+strict reads (the
    submitter, owner and named recipients never lose anyone: recipients are only ever added). Written by
    the service that makes the change, in its transaction (incidents.services); append-only.

    `tlp` and `jurisdictions` hold the facts *before* the change, under the names the visibility rule
    reads, so "could the caller see it before?" is the one rule (selectors.incident_visibility_q) read
    on this row; `new_tlp` and `new_jurisdictions` are kept for the record. GET
    /api/v1/incidents/removed lists the changes that took a report out of the caller's sight (a
    tombstone for a partner's mirror), keyed by (changed_at, id) like every sync list."""

    id = models.BigAutoField(primary_key=True)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="visibility_changes")
    reason = models.CharField(max_length=24, choices=VisibilityChangeReason.choices)
    tlp = models.CharField(max_length=16, help_text="The TLP before the change.")
    jurisdictions = ArrayField(
        models.CharField(max_length=2), default=list, blank=True, help_text="The jurisdictions before it."
    )
    new_tlp = models.CharField(max_length=16)
    new_jurisdictions = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(tlp__in=TLP.values) & Q(new_tlp__in=TLP.values),
                name="incident_visibility_tlp_valid",
            ),
            models.CheckConstraint(
                condition=Q(reason__in=VisibilityChangeReason.values),
                name="incident_visibility_reason_valid",
            ),
        ]
        indexes = [models.Index(fields=["changed_at", "id"], name="incident_visibility_sync_idx")]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.tlp} -> {self.new_tlp} ({self.reason}) at {self.changed_at}"
