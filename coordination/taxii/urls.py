"""/taxii2/: discovery, then the same endpoints under each API root (`default/`, `community/<slug>/`)."""

from __future__ import annotations

from django.urls import include, path, re_path

from coordination.taxii import views

# TAXII ids: a UUID for collections and statuses, a STIX id (type--uuid) for objects.
_UUID = r"[0-9a-fA-F-]{36}"
_STIX_ID = r"[a-z0-9-]{1,250}--[0-9a-fA-F-]{36}"

root_patterns = [
    path("", views.ApiRootView.as_view(), name="taxii-root"),
    path("collections/", views.CollectionsView.as_view(), name="taxii-collections"),
    re_path(
        rf"^collections/(?P<collection_id>{_UUID})/$", views.CollectionView.as_view(), name="taxii-collection"
    ),
    re_path(
        rf"^collections/(?P<collection_id>{_UUID})/objects/$",
        views.ObjectsView.as_view(),
        name="taxii-objects",
    ),
    re_path(
        rf"^collections/(?P<collection_id>{_UUID})/objects/(?P<object_id>{_STIX_ID})/$",
        views.ObjectView.as_view(),
        name="taxii-object",
    ),
    re_path(
        rf"^collections/(?P<collection_id>{_UUID})/objects/(?P<object_id>{_STIX_ID})/versions/$",
        views.VersionsView.as_view(),
        name="taxii-versions",
    ),
    re_path(
        rf"^collections/(?P<collection_id>{_UUID})/manifest/$",
        views.ManifestView.as_view(),
        name="taxii-manifest",
    ),
    # taxii2-client polls the status it computes as `../../status/<id>` (no trailing slash): both answer.
    re_path(rf"^status/(?P<status_id>{_UUID})/?$", views.StatusView.as_view(), name="taxii-status"),
]

urlpatterns = [
    path("", views.DiscoveryView.as_view(), name="taxii-discovery"),
    path("default/", include(root_patterns)),
    path("community/<slug:community>/", include(root_patterns)),
]
