"""Browser pages of coordination (the views call the same services and selectors as the API)."""

from django.urls import URLPattern, URLResolver, path

from coordination import views
from coordination.feeds import PublicIncidentFeed

urlpatterns: list[URLPattern | URLResolver] = [
    path("org/", views.org_home, name="org-home"),
    path("org/webhooks/", views.webhooks, name="org-webhooks"),
    path("org/webhooks/<str:endpoint_id>/", views.webhook_detail, name="org-webhook-detail"),
    path("org/webhooks/<str:endpoint_id>/rotate", views.webhook_rotate, name="org-webhook-rotate"),
    path("org/webhooks/<str:endpoint_id>/enable", views.webhook_enable, name="org-webhook-enable"),
    path("org/webhooks/<str:endpoint_id>/disable", views.webhook_disable, name="org-webhook-disable"),
    path("org/webhooks/<str:endpoint_id>/ping", views.webhook_ping, name="org-webhook-ping"),
    path("org/notifications/", views.notifications, name="org-notifications"),
    path("public/", views.public_home, name="public-home"),
    path("public/tlp/", views.public_tlp, name="public-tlp"),
    path("public/incidents.atom", PublicIncidentFeed(), name="public-incident-feed"),
]
