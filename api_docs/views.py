"""Published JSON Schemas at stable URLs (/schemas/<name>/v1.json)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from api_docs.contract import PUBLISHED_SCHEMAS, published_schema_path
from core.middleware import CONTENT_SECURITY_POLICY


def json_schema(request: HttpRequest, name: str) -> HttpResponse:
    if name not in PUBLISHED_SCHEMAS:
        raise Http404("No such schema.")
    response = HttpResponse(published_schema_path(name).read_bytes(), content_type="application/schema+json")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    return response


# ReDoc renders with styled-components, which injects <style> elements: its page alone allows inline
# styles (never inline scripts), and a blob: worker for its search index. Everything stays same-origin.
DOCS_CSP = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + (
    "; worker-src 'self' blob:"
)


class RedocView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class SwaggerView(SpectacularSwaggerSplitView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response
