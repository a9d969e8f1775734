"""Browser pages of accounts (the views call the same services and selectors as the API)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
