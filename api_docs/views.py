"""Published JSON Schemas at stable URLs (/schemas/<name>/v1.json)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
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


class CachedSchemaView(SpectacularAPIView):
    """`/api/v1/schema/`: the OpenAPI document, generated once per process (and API version and language)
    and rendered once per media type; every later request is served from memory.

    The document depends on the code only, never on the caller (SERVE_PUBLIC: no per-user filtering; the
    committed api_docs/openapi.yaml is the same document, checked by `make contract-check`), so a process
    never needs to generate it twice. A deploy restarts the processes, and with them the cache."""

    _rendered: ClassVar[dict[tuple[Any, ...], tuple[bytes, str, str]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def _get_schema_response(self, request: Request) -> Any:
        version = self.api_version or request.version or self._get_version_parameter(request)
        renderer, media_type = request.accepted_renderer, request.accepted_media_type
        key = (version, translation.get_language(), type(renderer), media_type)
        cached = self._rendered.get(key)
        if cached is None:
            with self._lock:  # one generation per key, even when the first requests arrive together
                cached = self._rendered.get(key)
                if cached is None:
                    generator = self.generator_class(
                        urlconf=self.urlconf, api_version=version, patterns=self.patterns
                    )
                    schema = generator.get_schema(request=request, public=self.serve_public)
                    body = renderer.render(schema, media_type, {"request": request, "view": self})
                    charset = renderer.charset
                    content_type = f"{media_type}; charset={charset}" if charset else media_type
                    filename = self._get_filename(request, version)
                    cached = (body, content_type, filename)
                    self._rendered[key] = cached
        body, content_type, filename = cached
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response
