"""Response shapes of the per-incident exports (incidents.exports): the OECD common reporting framework
JSON and the EU GPAI serious-incident template. Read-only; they document the contract and shape the
output."""

from __future__ import annotations

from rest_framework import serializers


def _text() -> serializers.CharField:
    return serializers.CharField(allow_blank=True)


def _stamp() -> serializers.DateTimeField:
    return serializers.DateTimeField(allow_null=True)


def _strings() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField())


class ExportModelSerializer(serializers.Serializer):
    model = serializers.CharField(allow_null=True, help_text="Registry public id; null when unregistered.")
    name = serializers.CharField(allow_blank=True, help_text="Empty when the caller cannot read the model.")
    version = _text()
    provider = _text()
    role = serializers.CharField()


class ExportDatesSerializer(serializers.Serializer):
    occurred_start = _stamp()
    occurred_end = _stamp()
    occurred_precision = _text()
    detected_at = _stamp()
    provider_aware_at = _stamp()
    resolved_at = _stamp()
    submitted_at = serializers.DateTimeField(help_text="Server receipt of the first report.")


class ExportReporterSerializer(serializers.Serializer):
    organization = serializers.CharField()
    organization_name = serializers.CharField()
    country = serializers.CharField()
    submitted_by = serializers.CharField()
    capacity = serializers.CharField()


class CRFIdentificationSerializer(serializers.Serializer):
    incident_id = serializers.CharField()
    title = serializers.CharField()
    event_type = serializers.ChoiceField(choices=["incident", "hazard"])
    record_class = serializers.CharField()
    determination = _text()
    report_stage = serializers.CharField()
    status = serializers.CharField()
    revision = serializers.IntegerField()
    tlp = serializers.CharField()
    external_references = serializers.ListField(child=serializers.DictField())
    aliases = serializers.ListField(child=serializers.DictField())


class CRFDatesSerializer(ExportDatesSerializer):
    last_modified_at = serializers.DateTimeField()


class CRFAISystemsSerializer(serializers.Serializer):
    models = ExportModelSerializer(many=True)
    scaffold = serializers.CharField(allow_null=True)
    ai_system_relation = _text()
    scenario_type = _text()
    instruction_provenance = serializers.CharField()


class CRFHarmSerializer(serializers.Serializer):
    harm_types = _strings()
    severity = _text()
    eu_category = _text()
    critical_infrastructure = serializers.BooleanField()
    hosts_affected = serializers.IntegerField(allow_null=True)
    gpu_hours = serializers.FloatField(allow_null=True)
    cost_usd = serializers.FloatField(allow_null=True)


class CRFAffectedSerializer(serializers.Serializer):
    countries = _strings()
    jurisdictions = _strings()
    hosts_affected = serializers.IntegerField(allow_null=True)
    critical_infrastructure = serializers.BooleanField()


class ExportReplicationSerializer(serializers.Serializer):
    replica_count = serializers.IntegerField(allow_null=True)
    replication_depth = serializers.IntegerField(allow_null=True)
    replica_location = _text()
    separateness = _strings()


class CRFDescriptionSerializer(ExportReplicationSerializer):
    summary = serializers.CharField()
    chain_of_events = _text()
    observed_behaviours = serializers.ListField(child=serializers.DictField())
    outcome = _text()
    milestones_reached = _strings()
    replica_liveness_verified = serializers.BooleanField(allow_null=True)
    replica_liveness_method = _text()


class CRFResponseSerializer(serializers.Serializer):
    containment_status = _text()
    actions_taken = _text()
    root_cause_analysis = _text()
    recommendation = _text()


class CRFTaxonomySerializer(serializers.Serializer):
    atlas = _strings()
    avid = _strings()
    replibench = _strings()


class IncidentCRFSerializer(serializers.Serializer):
    """An incident in the OECD common reporting framework's structure (mapping: incidents.exports)."""

    framework = serializers.CharField()
    mapping_version = serializers.CharField()
    identification = CRFIdentificationSerializer()
    dates = CRFDatesSerializer()
    ai_systems = CRFAISystemsSerializer()
    harm = CRFHarmSerializer()
    affected = CRFAffectedSerializer()
    description = CRFDescriptionSerializer()
    response = CRFResponseSerializer()
    reporter = ExportReporterSerializer()
    taxonomy = CRFTaxonomySerializer()


class EUProviderSerializer(serializers.Serializer):
    provider = serializers.CharField()
    provider_short_name = serializers.CharField()
    models = ExportModelSerializer(many=True)
    scaffold = serializers.CharField(allow_null=True)


class EUDescriptionSerializer(serializers.Serializer):
    title = serializers.CharField()
    description = serializers.CharField()
    record_class = serializers.CharField()
    scenario_type = _text()
    instruction_provenance = serializers.CharField()
    outcome = _text()
    determination = _text()


class EUSeriousHarmSerializer(serializers.Serializer):
    eu_category = _text()
    severity = _text()
    harm_types = _strings()
    critical_infrastructure = serializers.BooleanField()
    high_risk_system = serializers.BooleanField()


class EUAffectedSerializer(ExportReplicationSerializer):
    countries = _strings()
    jurisdictions = _strings()
    hosts_affected = serializers.IntegerField(allow_null=True)
    gpu_hours = serializers.FloatField(allow_null=True)
    cost_usd = serializers.FloatField(allow_null=True)


class EUChainSerializer(serializers.Serializer):
    chain_of_events = _text()
    observed_behaviours = serializers.ListField(child=serializers.DictField())
    milestones_reached = _strings()


class EUContainmentSerializer(serializers.Serializer):
    containment_status = _text()
    actions_taken = _text()
    replica_liveness_verified = serializers.BooleanField(allow_null=True)
    replica_liveness_method = _text()


class EURootCauseSerializer(serializers.Serializer):
    root_cause_analysis = _text()
    steps_to_reproduce = _text()


class EUReportStatusSerializer(serializers.Serializer):
    report_stage = serializers.CharField()
    status = serializers.CharField()
    revision = serializers.IntegerField()
    planned_follow_up = _text()


class IncidentEUTemplateSerializer(serializers.Serializer):
    """The EU GPAI serious-incident template's ten fields (choice documented in incidents.exports)."""

    template = serializers.CharField()
    incident_id = serializers.CharField()
    tlp = serializers.CharField()
    provider_and_model = EUProviderSerializer(help_text="1. Provider and model identification.")
    dates = ExportDatesSerializer(help_text="2. Date and time of the incident and of awareness.")
    description = EUDescriptionSerializer(help_text="3. Description of the incident.")
    serious_harm = EUSeriousHarmSerializer(help_text="4. Serious harm category.")
    affected = EUAffectedSerializer(help_text="5. Affected persons, systems and countries.")
    chain_of_events = EUChainSerializer(help_text="6. Chain of events.")
    containment_and_corrective_measures = EUContainmentSerializer(
        help_text="7. Containment and corrective measures taken."
    )
    root_cause_analysis = EURootCauseSerializer(help_text="8. Root cause analysis.")
    report_status = EUReportStatusSerializer(help_text="9. Report stage, status and planned follow-up.")
    contact = ExportReporterSerializer(help_text="10. Contact and reporter.")
