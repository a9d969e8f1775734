"""URL map: the API under /api/v1/, its docs, the published JSON Schemas, the browser pages."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path

from accounts.api.views import ApiKeyViewSet, OrganizationViewSet
from api_docs.views import CachedSchemaView, RedocView, SwaggerView, json_schema
from coordination.api.snapshot_views import SnapshotFileView, SnapshotIndexView
from coordination.api.stix_views import IncidentQueryStixView, IncidentStixView
from coordination.api.views import EmailSubscriptionView, WebhookEndpointViewSet
from core import views as core_views
from core.api.routers import OptionalSlashRouter
from incidents.api.audit_views import (
    AuditCheckpointViewSet,
    AuditConsistencyProofView,
    AuditInclusionProofView,
    AuditPublicKeyView,
)
from incidents.api.views import AuditEventViewSet, IncidentViewSet
from registry.api.views import AgentScaffoldViewSet, EvaluationResultViewSet, FrontierModelViewSet

# The Django admin signs in through the same login (and the same MFA) as every other page.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

router = OptionalSlashRouter()
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("models", FrontierModelViewSet, basename="model")
router.register("scaffolds", AgentScaffoldViewSet, basename="scaffold")
router.register("evaluations", EvaluationResultViewSet, basename="evaluation")
router.register("incidents", IncidentViewSet, basename="incident")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("audit/checkpoints", AuditCheckpointViewSet, basename="audit-checkpoint")
router.register("audit", AuditEventViewSet, basename="audit")

api_v1 = [
    path("schema/", CachedSchemaView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="swagger-ui"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^email-subscription/?$", EmailSubscriptionView.as_view(), name="email-subscription"),
    re_path(r"^audit/public-key/?$", AuditPublicKeyView.as_view(), name="audit-public-key"),
    re_path(r"^audit/consistency/?$", AuditConsistencyProofView.as_view(), name="audit-consistency"),
    re_path(
        r"^audit/(?P<event_id>[0-9]{1,18})/proof/?$", AuditInclusionProofView.as_view(), name="audit-proof"
    ),
    # Before the router: `incidents/stix` would otherwise read as the incident with public id "stix".
    re_path(r"^incidents/stix/?$", IncidentQueryStixView.as_view(), name="incident-stix-query"),
    re_path(
        r"^incidents/(?P<ref>[A-Za-z0-9-]{1,40})/stix/?$", IncidentStixView.as_view(), name="incident-stix"
    ),
    path("snapshots/", SnapshotIndexView.as_view(), name="snapshot-index"),
    re_path(
        r"^snapshots/(?P<dataset>[a-z]{1,32})\.(?P<fmt>[a-z]{1,8})$",
        SnapshotFileView.as_view(),
        name="snapshot-file",
    ),
    *router.urls,
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("problems/<slug:code>", core_views.problem_type, name="problem-type"),
    # Namespaced: the pages reuse names such as incident-detail, and {% url %} must mean the page.
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("schemas/<slug:name>/v1.json", json_schema, name="json-schema"),
    path("taxii2/", include("coordination.taxii.urls")),
    # Sign-in, sign-out, password and MFA (TOTP, WebAuthn, recovery codes): django-allauth.
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # The browser pages (DESIGN 2: each app's views.py + forms.py, calling the same services and selectors).
    path("", include("core.urls")),
    path("", include("accounts.urls")),
    path("", include("registry.urls")),
    path("", include("incidents.urls")),
    path("", include("coordination.urls")),
]

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
