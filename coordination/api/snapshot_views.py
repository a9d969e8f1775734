"""Bulk snapshots of the public record: /api/v1/snapshots/ (the index: datasets, formats, URLs, fields)
and /api/v1/snapshots/<dataset>.<jsonl|csv> (the file, streamed). What is in them, and how each format is
written, is coordination.snapshots."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coordination import snapshots
from core.errors import NotFound

ABOUT = (
    "A snapshot is public data: TLP:CLEAR records only, read as the anonymous principal whoever asks "
    "(a signed-in regulator gets the same file as an anonymous reader), ordered by public id, streamed "
    "from one database query. JSON lines: `application/x-ndjson`, one object per line. CSV: `text/csv`, "
    "RFC 4180, UTF-8, a header row, lists joined with `;`, booleans `true`/`false`; a text cell that "
    "begins with `=` `+` `-` `@`, a tab or a carriage return gets a leading apostrophe (formula-injection "
    "guard). `X-Redline-Snapshot-Generated-At` says when the file was cut."
)


class SnapshotFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(
        help_text="string, integer, number, boolean, date, date-time, array of string"
    )
    description = serializers.CharField()


class SnapshotFormatSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=sorted(snapshots.FORMATS))
    media_type = serializers.CharField()
    url = serializers.URLField()


class SnapshotDatasetSerializer(serializers.Serializer):
    dataset = serializers.ChoiceField(choices=sorted(snapshots.DATASETS))
    title = serializers.CharField()
    formats = SnapshotFormatSerializer(many=True)
    fields = SnapshotFieldSerializer(many=True)  # type: ignore[assignment]  # the field, not .fields


class SnapshotIndexSerializer(serializers.Serializer):
    about = serializers.CharField()
    datasets = SnapshotDatasetSerializer(many=True)


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
        summary="The public bulk snapshots: each dataset, its formats, URLs and documented fields",
        description=ABOUT + " The fields of each dataset are in the body (and in `snapshots_download`).",
        operation_id="snapshots_index",
        tags=["public data"],
        responses={200: SnapshotIndexSerializer},
    )
    def get(self, request: Request) -> Response:
        def url_for(dataset: str, fmt: str) -> str:
            path = reverse("api:snapshot-file", kwargs={"dataset": dataset, "fmt": fmt})
            return request.build_absolute_uri(path)

        return Response({"about": ABOUT, "datasets": snapshots.describe(url_for)})


class SnapshotFileView(APIView):
    permission_classes = [AllowAny]
    content_negotiation_class = _FirstRenderer

    @extend_schema(
        summary="One public dataset as JSON lines or CSV, streamed",
        description=ABOUT + "\n\n" + snapshots.field_table(),
        operation_id="snapshots_download",
        tags=["public data"],
        parameters=[
            OpenApiParameter(
                "dataset", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(snapshots.DATASETS)
            ),
            OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(snapshots.FORMATS)),
        ],
        responses={
            (200, fmt.media_type.split(";")[0]): OpenApiResponse(
                OpenApiTypes.STR, description=fmt.description
            )
            for fmt in snapshots.FORMATS.values()
        },
    )
    def get(self, request: Request, dataset: str, fmt: str) -> StreamingHttpResponse:
        chosen = snapshots.DATASETS.get(dataset)
        file_format = snapshots.FORMATS.get(fmt)
        if chosen is None or file_format is None:
            raise NotFound(f"No snapshot {dataset}.{fmt}: see /api/v1/snapshots/ for the datasets.")
        now = timezone.now()
        response = StreamingHttpResponse(snapshots.stream(chosen, fmt), content_type=file_format.media_type)
        response["Content-Disposition"] = f'attachment; filename="redline-{dataset}-{now:%Y-%m-%d}.{fmt}"'
        response["X-Redline-Snapshot-Generated-At"] = now.isoformat()
        response["X-Content-Type-Options"] = "nosniff"
        return response
