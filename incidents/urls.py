"""Browser pages of incidents: each views module keeps its own routes."""

from django.urls import URLPattern, URLResolver

from incidents.views import audit, dashboard, detail, queue, submission

urlpatterns: list[URLPattern | URLResolver] = [
    *dashboard.urlpatterns,
    *queue.urlpatterns,
    *submission.urlpatterns,
    *detail.urlpatterns,
    *audit.urlpatterns,
]
