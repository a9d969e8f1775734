"""Plain Django views of the core: home, health, problem type pages, error handlers."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.api.errors import problem_json_response
from core.middleware import is_machine_path


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "up"})


def problem_type(request: HttpRequest, code: str) -> HttpResponse:
    """The `type` URI of a problem+json response resolves to a short human page."""
    return render(request, "problem_type.html", {"code": code})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_machine_path(request.path):
        return problem_json_response(
            request, status=404, code="not_found", title="Not found", detail="No such resource."
        )
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_machine_path(request.path):
        return problem_json_response(
            request,
            status=500,
            code="internal_error",
            title="Internal error",
            detail="An unexpected error occurred; it has been logged.",
        )
    return render(request, "500.html", status=500)
