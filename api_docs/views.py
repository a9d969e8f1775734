"""Published JSON Schemas at stable URLs (/schemas/<name>/v1.json)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from api_docs.contract import PUBLISHED_SCHEMAS, published_schema_path


def json_schema(request: HttpRequest, name: str) -> HttpResponse:
    if name not in PUBLISHED_SCHEMAS:
        raise Http404("No such schema.")
    response = HttpResponse(published_schema_path(name).read_bytes(), content_type="application/schema+json")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    return response
