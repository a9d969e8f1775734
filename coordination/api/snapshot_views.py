"""Bulk snapshots of the public record: /api/v1/snapshots/ (the index with each dataset's fields) and
/api/v1/snapshots/<dataset>.<jsonl|csv> (streamed). The rows come from coordination.snapshots."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coordination import snapshots
from core.errors import NotFound

DESCRIPTION = (
    "TLP:CLEAR records only, whoever asks (read as the anonymous principal), ordered by public id, "
    "streamed. CSV: RFC 4180, UTF-8, header row, lists joined with '; ', a cell starting with = + - @ "
    "tab or CR is prefixed with an apostrophe. Fields:\n\n"
)


class _FirstRenderer(BaseContentNegotiation):
    """A file download answers in its own format whatever the Accept header says."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


class SnapshotIndexView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="The public bulk snapshots: datasets, formats, URLs and field lists",
        tags=["public data"],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description=snapshots.field_table())},
    )
    def get(self, request: Request) -> Response:
        base = request.build_absolute_uri("/api/v1/snapshots/")
        return Response({"datasets": snapshots.describe(base)})


class SnapshotFileView(APIView):
    permission_classes = [AllowAny]
    content_negotiation_class = _FirstRenderer

    @extend_schema(
        summary="One public dataset as JSON lines or CSV, streamed",
        description=DESCRIPTION + snapshots.field_table(),
        tags=["public data"],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
        },
    )
    def get(self, request: Request, dataset: str, fmt: str) -> StreamingHttpResponse:
        chosen = snapshots.DATASETS.get(dataset)
        if chosen is None or fmt not in snapshots.FORMATS:
            raise NotFound(f"No snapshot {dataset}.{fmt}: see /api/v1/snapshots/ for the datasets.")
        lines = snapshots.jsonl_lines(chosen) if fmt == "jsonl" else snapshots.csv_lines(chosen)
        now = timezone.now()
        response = StreamingHttpResponse(lines, content_type=snapshots.FORMATS[fmt])
        response["Content-Disposition"] = f'attachment; filename="redline-{dataset}-{now:%Y-%m-%d}.{fmt}"'
        response["X-Redline-Snapshot-Generated-At"] = now.isoformat()
        return response
