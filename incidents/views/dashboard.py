"""The dashboard (placeholder until the dashboard lands)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "incidents/dashboard.html")


urlpatterns: list[URLPattern | URLResolver] = [path("dashboard/", dashboard, name="dashboard")]
