"""Registry records in the admin, read-only: every write goes through registry.services."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from registry.models import AgentScaffold, EvaluationResult, FrontierModel


@admin.register(FrontierModel)
class FrontierModelAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "name", "provider", "weights_availability", "tlp", "modified_at")
    list_filter = ("weights_availability", "systemic_risk_status", "tlp")
    search_fields = ("public_id", "name", "huggingface_repo")


@admin.register(AgentScaffold)
class AgentScaffoldAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "name", "version", "owner_org", "tlp")


@admin.register(EvaluationResult)
class EvaluationResultAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "model", "scenario_type", "n_successes", "n_trials", "wilson_lower", "tlp")
    list_filter = ("capability_domain", "scenario_type", "verification_status", "tlp")
    search_fields = ("public_id", "task", "model__name")
