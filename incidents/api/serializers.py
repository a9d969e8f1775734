"""Incident API shapes: the submission (published as /schemas/incident/v1.json), the receipt, the
read views, revisions."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from core.api.serializers import ExternalReferenceSerializer, StrictSerializer, TLPField
from core.enums import ObservedBehaviour, ScenarioType
from core.models import AuditEvent
from incidents import selectors, workflows
from incidents.deadlines import DeadlineStatus, deadline_status
from incidents.models import (
    AISystemRelation,
    AliasSource,
    Assessment,
    Comment,
    CommentVisibility,
    ContainmentStatus,
    DatePrecision,
    Determination,
    EUCategory,
    Evidence,
    EvidenceKind,
    HarmType,
    Incident,
    IncidentAlias,
    IncidentDeadline,
    InstructionProvenance,
    ModelRole,
    Outcome,
    RecordClass,
    RejectionReason,
    ReportStage,
    Separateness,
    Severity,
    SubmitterCapacity,
    Verdict,
)

MILESTONES = ["m1_resource_acquisition", "m2_file_transfer", "m3_llm_server_started", "m4_agent_started"]


def _text(max_length: int = 20000) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True)


def _choice(choices: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, required=False, allow_blank=True)


def _read_choice(choices: Any) -> serializers.ChoiceField:
    """An optional choice as read back: "" when unset. Declared, because ModelSerializer drops
    `allow_blank` from read-only fields and the schema would then promise a value of the enum only
    (a generated client rejects the "")."""
    return serializers.ChoiceField(choices=choices, allow_blank=True, read_only=True)


class InvolvedModelSerializer(StrictSerializer):
    model = serializers.CharField(
        max_length=40, required=False, allow_null=True, help_text="Public id of a registered model."
    )
    model_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="An unregistered model, by name."
    )
    role = serializers.ChoiceField(choices=ModelRole.choices)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("model") and not attrs.get("model_name"):
            raise serializers.ValidationError(
                "Name the model: `model` (registered) or `model_name`.", code="model_required"
            )
        return attrs


class TimelineEntrySerializer(StrictSerializer):
    behaviour = serializers.ChoiceField(choices=ObservedBehaviour.choices)
    timestamp = serializers.DateTimeField(required=False, allow_null=True)
    description = _text(2000)
    evidence = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Evidence pointer (file sha256 or name)."
    )


class HarmQuantificationSerializer(StrictSerializer):
    hosts_affected = serializers.IntegerField(min_value=0, max_value=10**9, required=False, allow_null=True)
    gpu_hours = serializers.FloatField(min_value=0, max_value=1e12, required=False, allow_null=True)
    cost_usd = serializers.FloatField(min_value=0, max_value=1e15, required=False, allow_null=True)


class TaxonomyMappingsSerializer(StrictSerializer):
    atlas = serializers.ListField(
        child=serializers.RegexField(r"^AML\.[A-Z]{1,4}\d{4}(\.\d{3})?$"), max_length=50, required=False
    )
    avid = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50, required=False)
    replibench = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=50, required=False
    )


class IncidentAliasWriteSerializer(StrictSerializer):
    """The same event in another database. Each source's id format is checked (AIID: a number; OECD AIM:
    `2024-05-22-4a1b`; AVID: `AVID-2023-V013` or `AVID-2023-R0001`; ATLAS: `AML.CS0042`); the source's
    own URL for the record is also accepted as `external_id`."""

    source = serializers.ChoiceField(choices=AliasSource.choices)  # type: ignore[assignment]
    external_id = serializers.CharField(max_length=300)
    url = serializers.URLField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="An https address on the source's own site; derived from the id when left out.",
    )


class IncidentAliasSerializer(serializers.ModelSerializer):
    source_name = serializers.SerializerMethodField(help_text="The database's own name.")

    class Meta:
        model = IncidentAlias
        fields = ["source", "source_name", "external_id", "url", "added_by", "created_at"]
        read_only_fields = fields

    def get_source_name(self, obj: IncidentAlias) -> str:
        return str(AliasSource(obj.source).label)


class IncidentWriteSerializer(StrictSerializer):
    """The incident submission: DESIGN 3.4. An initial report may be incomplete."""

    record_class = serializers.ChoiceField(
        choices=RecordClass.choices,
        help_text="What happened: an evaluation finding is not a real-world incident.",
    )
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(max_length=50000)
    ai_system_relation = _choice(AISystemRelation.choices)
    submitter_capacity = serializers.ChoiceField(choices=SubmitterCapacity.choices)
    models = serializers.ListField(child=InvolvedModelSerializer(), max_length=50, required=False)
    scenario_type = _choice(ScenarioType.choices)
    instruction_provenance = serializers.ChoiceField(choices=InstructionProvenance.choices)
    outcome = _choice(Outcome.choices)
    severity = _choice(Severity.choices)
    harm_types = serializers.ListField(
        child=serializers.ChoiceField(choices=HarmType.choices), max_length=10, required=False
    )
    tlp = TLPField(required=False)
    scaffold = serializers.CharField(max_length=40, required=False, allow_null=True)
    occurred_start = serializers.DateTimeField(required=False, allow_null=True)
    occurred_end = serializers.DateTimeField(required=False, allow_null=True)
    occurred_precision = _choice(DatePrecision.choices)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    provider_aware_at = serializers.DateTimeField(required=False, allow_null=True)
    resolved_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the incident was resolved: the final report is due within 60 days (CoP Measure 9.3).",
    )
    countries = serializers.ListField(
        child=serializers.RegexField(r"^[A-Z]{2}$"), max_length=60, required=False
    )
    observed_behaviours = serializers.ListField(
        child=TimelineEntrySerializer(), max_length=200, required=False
    )
    milestones_reached = serializers.ListField(
        child=serializers.ChoiceField(choices=MILESTONES), max_length=4, required=False
    )
    replica_count = serializers.IntegerField(min_value=0, max_value=10**7, required=False, allow_null=True)
    replication_depth = serializers.IntegerField(
        min_value=0, max_value=10**4, required=False, allow_null=True
    )
    replica_location = _text(500)
    separateness = serializers.ListField(
        child=serializers.ChoiceField(choices=Separateness.choices), max_length=3, required=False
    )
    replica_liveness_verified = serializers.BooleanField(required=False, allow_null=True)
    replica_liveness_method = _text(500)
    containment_status = _choice(ContainmentStatus.choices)
    actions_taken = _text()
    harm_quantification = HarmQuantificationSerializer(required=False)
    critical_infrastructure = serializers.BooleanField(required=False)
    eu_category = _choice(EUCategory.choices)
    high_risk_system = serializers.BooleanField(required=False)
    report_stage = serializers.ChoiceField(choices=ReportStage.choices, required=False)
    determination = _choice(Determination.choices)
    chain_of_events = _text()
    root_cause_analysis = _text()
    recommendation = _text()
    steps_to_reproduce = _text()
    taxonomy_mappings = TaxonomyMappingsSerializer(required=False)
    related_evaluations = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=50, required=False
    )
    external_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Your own id: re-sending it files a revision.",
    )
    external_references = serializers.ListField(
        child=ExternalReferenceSerializer(), max_length=50, required=False
    )
    aliases = serializers.ListField(
        child=IncidentAliasWriteSerializer(),
        max_length=50,
        required=False,
        help_text="The same event in the AI Incident Database, OECD AIM, AVID or MITRE ATLAS.",
    )


class IncidentAmendSerializer(IncidentWriteSerializer):
    """An amendment: the fields that change, and a summary of why."""

    change_summary = serializers.CharField(max_length=5000, required=False, allow_blank=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
        self.fields.pop("external_id")


class ReceiptSerializer(serializers.Serializer):
    public_id = serializers.CharField()
    received_at = serializers.DateTimeField(help_text="Server receipt time of this revision.")
    submitted_at = serializers.DateTimeField(
        help_text="Server receipt time of the first submission: the one the clocks count."
    )
    revision = serializers.IntegerField()
    sha256 = serializers.CharField(
        help_text="SHA-256 of the canonical stored payload (the revision's `payload`)."
    )
    created = serializers.BooleanField(
        help_text="false: an existing report (same external_id) got a new revision."
    )
    url = serializers.CharField()


class InvolvedModelReadSerializer(serializers.Serializer):
    model = serializers.CharField(allow_null=True)
    model_name = serializers.CharField()
    role = serializers.CharField()


def _now(serializer: serializers.Field) -> datetime:
    """One clock per response: every row's remaining time is counted from the same instant."""
    context = serializer.context
    if "now" not in context:
        context["now"] = timezone.now()
    now: datetime = context["now"]
    return now


class IncidentDeadlineSerializer(serializers.ModelSerializer):
    """One stage's clock. `remaining_seconds`, `overdue` and `status` are computed when read."""

    remaining_seconds = serializers.SerializerMethodField(
        help_text="Seconds until due (negative once past due); null once the stage is met."
    )
    overdue = serializers.SerializerMethodField(help_text="Not met, and past its due time.")
    status = serializers.SerializerMethodField(
        help_text="pending, overdue, met (on or before the due time) or met_late."
    )

    class Meta:
        model = IncidentDeadline
        fields = [
            "regime",
            "stage",
            "sequence",
            "due_at",
            "satisfied_at",
            "remaining_seconds",
            "overdue",
            "status",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_remaining_seconds(self, obj: IncidentDeadline) -> int | None:
        if obj.satisfied_at is not None:
            return None
        return math.floor((obj.due_at - _now(self)).total_seconds())

    @extend_schema_field(serializers.BooleanField())
    def get_overdue(self, obj: IncidentDeadline) -> bool:
        return deadline_status(obj.due_at, obj.satisfied_at, _now(self)) == DeadlineStatus.OVERDUE

    @extend_schema_field(serializers.ChoiceField(choices=DeadlineStatus.choices))
    def get_status(self, obj: IncidentDeadline) -> str:
        return deadline_status(obj.due_at, obj.satisfied_at, _now(self)).value


class IncidentListSerializer(serializers.ModelSerializer):
    owner_org = serializers.CharField(source="owner_org.short_name")
    scenario_type = _read_choice(ScenarioType.choices)
    outcome = _read_choice(Outcome.choices)
    severity = _read_choice(Severity.choices)
    snippet = serializers.SerializerMethodField(
        help_text="With `search`: the matching passage of title and description, matches in «…»; else null."
    )
    overdue = serializers.SerializerMethodField(help_text="A deadline clock of the report is past due.")

    class Meta:
        model = Incident
        # The list row's columns (selectors.INCIDENT_LIST_COLUMNS, in their order; the organisation by its
        # short name), then the two computed fields.
        fields = [
            "owner_org" if column == "owner_org__short_name" else column
            for column in selectors.INCIDENT_LIST_COLUMNS
        ] + ["overdue", "snippet"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_overdue(self, obj: Incident) -> bool:
        return obj.next_due_at is not None and _now(self) > obj.next_due_at

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_snippet(self, obj: Incident) -> str | None:
        # Set on the page rows by the list view when searching.
        snippet: str | None = getattr(obj, "search_snippet", None)
        return snippet

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """A model instance the DRF way; a row of `selectors.incident_list_rows` (the API list's page)
        through the class's precomputed plan, field by field the same output."""
        if not isinstance(instance, Mapping):
            return super().to_representation(instance)
        now = _now(self)
        zone = _output_timezone(self)
        row: dict[str, Any] = {}
        for name, key, convert, is_datetime in _list_row_plan():
            if name == "overdue":
                due = instance["next_due_at"]
                row[name] = due is not None and now > due
            elif name == "snippet":
                row[name] = instance.get("search_snippet")
            else:
                value = instance[key]
                if value is None:
                    row[name] = None
                elif is_datetime and zone is not None and value.utcoffset() is not None:
                    try:
                        row[name] = _iso_datetime(value, zone)
                    except OverflowError:
                        row[name] = convert(value)  # DRF's own error
                else:
                    row[name] = convert(value)
        return row


def _output_timezone(serializer: serializers.Field) -> Any:
    """The zone DRF's DateTimeField writes times in (DateTimeField.default_timezone), looked up once per
    response rather than once per timestamp."""
    context = serializer.context
    if "_output_timezone" not in context:
        context["_output_timezone"] = serializers.DateTimeField().default_timezone()
    return context["_output_timezone"]


def _iso_datetime(value: datetime, zone: Any) -> str:
    """DateTimeField.to_representation of an aware time in ISO 8601 (UTC written as `Z`)."""
    text = value.astimezone(zone).isoformat()  # OverflowError at the calendar's ends: the caller's fallback
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@cache
def _list_row_plan() -> tuple[tuple[str, str, Callable[[Any], Any], bool], ...]:
    """(output name, row key, the field's to_representation, whether it is an ISO 8601 DateTimeField in the
    response's zone) for every field of IncidentListSerializer, in its order: built once per process from
    the serializer's own fields, so the fast path cannot drift from the declared shape (and nothing is
    rebuilt per request)."""
    plan = []
    for name, field in IncidentListSerializer().fields.items():
        source = str(field.source)
        key = "__".join(source.split(".")) if source != "*" else name
        is_datetime = (
            isinstance(field, serializers.DateTimeField)
            and not hasattr(field, "timezone")
            and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        )
        plan.append((name, key, field.to_representation, is_datetime))
    return tuple(plan)


class IncidentDetailSerializer(serializers.ModelSerializer):
    owner_org = serializers.CharField(source="owner_org.short_name")
    ai_system_relation = _read_choice(AISystemRelation.choices)
    scenario_type = _read_choice(ScenarioType.choices)
    outcome = _read_choice(Outcome.choices)
    severity = _read_choice(Severity.choices)
    occurred_precision = _read_choice(DatePrecision.choices)
    containment_status = _read_choice(ContainmentStatus.choices)
    eu_category = _read_choice(EUCategory.choices)
    determination = _read_choice(Determination.choices)
    rejection_reason = _read_choice(RejectionReason.choices)
    scaffold = serializers.SerializerMethodField()
    models = serializers.SerializerMethodField()
    related_evaluations = serializers.SerializerMethodField()
    duplicate_of = serializers.SerializerMethodField()
    replaced_by = serializers.SerializerMethodField()
    aliases = serializers.SerializerMethodField(
        help_text="Also recorded as: the same event in other databases (AIID, OECD AIM, AVID, ATLAS)."
    )
    available_actions = serializers.SerializerMethodField(
        help_text="The workflow actions you may take on this report now (POST .../<action>)."
    )
    deadlines = IncidentDeadlineSerializer(
        many=True,
        read_only=True,
        help_text="The legal clocks (GPAI CoP Measure 9.3, AI Act Art. 73) and the triage service level.",
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "public_id",
            "schema_version",
            "status",
            "available_actions",
            "next_due_at",
            "deadlines",
            "rejection_reason",
            "revision_number",
            "owner_org",
            "submitted_by",
            "submitted_at",
            "record_class",
            "title",
            "description",
            "ai_system_relation",
            "submitter_capacity",
            "models",
            "scenario_type",
            "instruction_provenance",
            "outcome",
            "severity",
            "harm_types",
            "tlp",
            "scaffold",
            "occurred_start",
            "occurred_end",
            "occurred_precision",
            "detected_at",
            "provider_aware_at",
            "resolved_at",
            "countries",
            "jurisdictions",
            "observed_behaviours",
            "milestones_reached",
            "replica_count",
            "replication_depth",
            "replica_location",
            "separateness",
            "replica_liveness_verified",
            "replica_liveness_method",
            "containment_status",
            "actions_taken",
            "harm_quantification",
            "critical_infrastructure",
            "eu_category",
            "high_risk_system",
            "report_stage",
            "determination",
            "chain_of_events",
            "root_cause_analysis",
            "recommendation",
            "steps_to_reproduce",
            "taxonomy_mappings",
            "related_evaluations",
            "duplicate_of",
            "replaced_by",
            "withdrawal_reason",
            "external_id",
            "external_references",
            "aliases",
            "created_at",
            "modified_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_available_actions(self, obj: Incident) -> list[str]:
        actor = self.context.get("actor")
        return workflows.available_actions(actor, obj) if actor is not None else []

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_scaffold(self, obj: Incident) -> str | None:
        return obj.scaffold.public_id if obj.scaffold else None

    @extend_schema_field(InvolvedModelReadSerializer(many=True))
    def get_models(self, obj: Incident) -> list[dict[str, Any]]:
        return [
            {
                "model": link.model.public_id if link.model else None,
                "model_name": link.model_name,
                "role": link.role,
            }
            for link in obj.involved_models.all()
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_related_evaluations(self, obj: Incident) -> list[str]:
        return sorted(e.public_id for e in obj.related_evaluations.all())

    @extend_schema_field(IncidentAliasSerializer(many=True))
    def get_aliases(self, obj: Incident) -> list[dict[str, Any]]:
        if not hasattr(obj, "alias_rows"):  # not read through incident_detail_queryset
            rows = list(obj.alias_links.order_by("source", "external_id"))
        else:
            annotated: list[dict[str, Any]] = obj.alias_rows or []
            rows = [
                IncidentAlias(**{**row, "created_at": parse_datetime(row["created_at"])}) for row in annotated
            ]
        return list(IncidentAliasSerializer(rows, many=True).data)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_duplicate_of(self, obj: Incident) -> str | None:
        return obj.duplicate_of.public_id if obj.duplicate_of else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_replaced_by(self, obj: Incident) -> str | None:
        return obj.replaced_by.public_id if obj.replaced_by else None


class RevisionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    received_at = serializers.DateTimeField()
    submitted_by = serializers.CharField()
    change_summary = serializers.CharField()
    sha256 = serializers.CharField()
    payload = serializers.DictField(help_text="The canonical stored report of this revision.")


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    from_value = serializers.JSONField(source="from", allow_null=True)
    to_value = serializers.JSONField(source="to", allow_null=True)


class RevisionCompareSerializer(serializers.Serializer):
    from_revision = serializers.IntegerField(source="from")
    to_revision = serializers.IntegerField(source="to")
    changes = FieldChangeSerializer(many=True)


class WithdrawSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=5000)


# The workflow actions' bodies (incidents.workflows): shape only; the service applies the table.
class TransitionSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class AssignSerializer(TransitionSerializer):
    assignee = serializers.CharField(max_length=150, help_text="Username of a reviewer of an oversight body.")


class RejectSerializer(StrictSerializer):
    reason = serializers.ChoiceField(choices=RejectionReason.choices)


class MarkDuplicateSerializer(TransitionSerializer):
    duplicate_of = serializers.CharField(max_length=40, help_text="Public id of the report this duplicates.")


class SupersedeSerializer(TransitionSerializer):
    replaced_by = serializers.CharField(max_length=40, help_text="Public id of the report replacing this.")


class TLPChangeSerializer(StrictSerializer):
    tlp = TLPField()
    reason = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="Required to lower TLP."
    )


class EvidenceUploadSerializer(StrictSerializer):
    file = serializers.FileField(
        help_text=(
            "PDF, PNG, JPEG, GIF, ZIP (Inspect .eval included), gzip, pcap/pcapng, JSON or UTF-8 text; the "
            "type is sniffed from the bytes. At most REDLINE_MAX_EVIDENCE_BYTES (50 MiB by default)."
        ),
    )
    kind = serializers.ChoiceField(choices=EvidenceKind.choices, required=False, default=EvidenceKind.OTHER)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class EvidenceSerializer(serializers.ModelSerializer):
    org = serializers.CharField(source="owner_org.short_name", help_text="The organisation that filed it.")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = [
            "id",
            "kind",
            "description",
            "file_name",
            "sha256",
            "size",
            "detected_type",
            "declared_type",
            "org",
            "uploaded_by",
            "created_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, obj: Evidence) -> str:
        return f"/api/v1/incidents/{obj.incident.public_id}/evidence/{obj.pk}/download"


class CommentCreateSerializer(StrictSerializer):
    visibility = serializers.ChoiceField(
        choices=CommentVisibility.choices,
        help_text="internal: reviewers and regulators only; shared: also the submitting organisation.",
    )
    body = serializers.CharField(max_length=20000)


class CommentSerializer(serializers.ModelSerializer):
    author_org = serializers.CharField(source="author_org.short_name", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "visibility", "body", "author", "author_org", "created_at"]
        read_only_fields = fields


class AssessmentWriteSerializer(StrictSerializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    severity_override = _choice(Severity.choices)
    notes = _text()
    tlp = TLPField(
        required=False,
        help_text="Who may see this container (TLP 2.0; default amber), whatever the report's.",
    )


class AssessmentSerializer(serializers.ModelSerializer):
    org = serializers.CharField(source="org.short_name", read_only=True)
    severity_override = _read_choice(Severity.choices)

    class Meta:
        model = Assessment
        fields = [
            "id",
            "org",
            "verdict",
            "severity_override",
            "notes",
            "tlp",
            "updated_by",
            "created_at",
            "modified_at",
        ]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "event_code",
            "actor_kind",
            "actor_label",
            "actor_org_id",
            "actor_role",
            "target_type",
            "target_id",
            "target_public_id",
            "before",
            "after",
            "request_id",
        ]
        read_only_fields = fields


class RecipientSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    added_at = serializers.DateTimeField()


class RecipientAddSerializer(StrictSerializer):
    username = serializers.CharField(
        max_length=150, help_text="A reviewer or regulator of an oversight body."
    )


class DuplicateCandidateReasonsSerializer(serializers.Serializer):
    same_model = serializers.BooleanField(help_text="Names a registered model the incident also names.")
    same_scenario = serializers.BooleanField(help_text="Has the incident's scenario type.")
    within_window = serializers.BooleanField(
        help_text="Occurred (or, when unknown, was submitted) within 30 days of the incident."
    )
    text_rank = serializers.FloatField(
        help_text="PostgreSQL ts_rank of its text against the incident's title and description lead."
    )


class DuplicateCandidateSerializer(serializers.Serializer):
    """A likely duplicate, for a reviewer to confirm with mark-duplicate (nothing merges by itself)."""

    public_id = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    score = serializers.FloatField(
        help_text="0..1: same model 0.40 + same scenario 0.20 + within the window 0.15 + text 0.25 x "
        "min(text_rank / 0.5, 1)."
    )
    reasons = DuplicateCandidateReasonsSerializer()


class AliasAddSerializer(IncidentAliasWriteSerializer):
    """POST /incidents/{ref}/aliases: one alias."""
