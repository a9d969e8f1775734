"""Browser pages of registry (the views call the same services and selectors as the API)."""

from django.urls import URLPattern, URLResolver, path

from registry import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("models/", views.model_list, name="model-list"),
    path("models/<str:ref>/", views.model_detail, name="model-detail"),
    path("evaluations/import/", views.evaluation_import, name="evaluation-import"),
    path("evaluations/import/done/", views.evaluation_import_result, name="evaluation-import-result"),
]
