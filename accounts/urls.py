"""Browser pages of accounts (the views call the same services and selectors as the API)."""

from django.urls import URLPattern, URLResolver, path

from accounts import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("org/api-keys/", views.api_keys, name="org-api-keys"),
    path("org/api-keys/<str:key_id>/revoke", views.api_key_revoke, name="org-api-key-revoke"),
]
