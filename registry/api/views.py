"""Registry endpoints: thin views that parse, call a selector or a service, and render."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from api_docs import examples
from api_docs.contract import validate_submission
from core.actors import Principal
from core.api.parsers import BoundedMultiPartParser
from core.api.views import RecordViewSet, check_if_match
from core.errors import NotFound, PayloadTooLarge
from core.idempotency import idempotent
from registry import selectors, services
from registry.api.serializers import (
    AgentScaffoldSerializer,
    AgentScaffoldWriteSerializer,
    EvaluationCreateSerializer,
    EvaluationImportResultSerializer,
    EvaluationImportSerializer,
    EvaluationResultSerializer,
    EvaluationSupersedeSerializer,
    FrontierModelDetailSerializer,
    FrontierModelSerializer,
    FrontierModelWriteSerializer,
)
from registry.filters import AgentScaffoldFilter, EvaluationResultFilter, FrontierModelFilter
from registry.importers.base import ImportFormatError
from registry.importers.detect import parse_upload
from registry.models import AgentScaffold, EvaluationResult, FrontierModel
from registry.rules import red_line_rule

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Retry-safe key (1-255 printable ASCII): a repeat returns the first response.",
)
IF_MATCH_HEADER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag you read; 412 if the record changed since.",
)
REF = OpenApiParameter("ref", OpenApiTypes.STR, OpenApiParameter.PATH, description="Public id (or UUID).")


def _resolve_optional(actor: Principal, ref: str | None, getter: Any) -> Any:
    return getter(actor=actor, ref=ref) if ref else None


def _version_of(evaluation: EvaluationResult) -> EvaluationResult:
    """The record an evaluation's ETag is computed from. The row never changes (append-only), but what it
    shows does once a correction supersedes it: the successor then names the version, so a cached copy
    stops revalidating."""
    successor: EvaluationResult | None = getattr(evaluation, "superseded_by", None)
    return successor or evaluation


@extend_schema_view(
    list=extend_schema(summary="List registered models", parameters=[]),
    retrieve=extend_schema(
        summary="A model, with its red-line flag and the results behind it", parameters=[REF]
    ),
)
class FrontierModelViewSet(RecordViewSet):
    """Frontier models. Anyone reads what is TLP:CLEAR; a lab registers and changes only its own."""

    filterset_class = FrontierModelFilter
    serializer_class = FrontierModelSerializer
    write_scope = "registry:write"

    def list_selector(self, actor: Principal) -> Any:
        return selectors.frontier_model_list(actor=actor)

    def get_selector(self, actor: Principal, ref: str) -> FrontierModel:
        return selectors.frontier_model_get(actor=actor, ref=ref)

    def _detail(self, model: FrontierModel) -> dict[str, Any]:
        context = {
            **self.get_serializer_context(),
            "red_line_evidence": list(selectors.red_line_evidence(actor=self.actor, model=model)),
            "red_line_rule": red_line_rule().as_dict(),
            "lineage": selectors.frontier_model_lineage(actor=self.actor, model=model),
        }
        data: dict[str, Any] = FrontierModelDetailSerializer(model, context=context).data
        return data

    def retrieve(self, request: Request, ref: str) -> Response:
        return Response(self._detail(self.get_object()))

    @extend_schema(
        summary="Register a model (labs: their own)",
        request=FrontierModelWriteSerializer,
        responses={201: FrontierModelDetailSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[OpenApiExample("Register a model", value=examples.MODEL_CREATE, request_only=True)],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = self.parse(FrontierModelWriteSerializer)
        validate_submission("model", request.data)
        base = _resolve_optional(self.actor, data.pop("base_model", None), selectors.frontier_model_get)
        model = services.frontier_model_create(actor=self.actor, data=data, base_model=base)
        model = self.get_selector(self.actor, model.public_id)
        return self.created(model, self._detail(model), f"/api/v1/models/{model.public_id}")

    @extend_schema(
        summary="Change a model (the owning lab; If-Match honoured)",
        request=FrontierModelWriteSerializer(partial=True),
        responses={200: FrontierModelDetailSerializer},
        parameters=[IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample("Mark as on market", value={"market_status": "on_market"}, request_only=True)
        ],
    )
    def partial_update(self, request: Request, ref: str) -> Response:
        model = self.get_object()
        check_if_match(request, model)
        data = self.parse(FrontierModelWriteSerializer, partial=True)
        kwargs: dict[str, Any] = {}
        if "base_model" in data:
            kwargs["base_model"] = _resolve_optional(
                self.actor, data.pop("base_model"), selectors.frontier_model_get
            )
        services.frontier_model_update(actor=self.actor, model=model, changes=data, **kwargs)
        model = self.get_selector(self.actor, model.public_id)
        self.etag_instance = model
        return Response(self._detail(model))


@extend_schema_view(
    list=extend_schema(summary="List agent scaffolds"),
    retrieve=extend_schema(summary="An agent scaffold", parameters=[REF]),
)
class AgentScaffoldViewSet(RecordViewSet):
    """Agent scaffolds (tools, reasoning template, planning horizon)."""

    filterset_class = AgentScaffoldFilter
    serializer_class = AgentScaffoldSerializer
    write_scope = "registry:write"

    def list_selector(self, actor: Principal) -> Any:
        return selectors.scaffold_list(actor=actor)

    def get_selector(self, actor: Principal, ref: str) -> AgentScaffold:
        return selectors.scaffold_get(actor=actor, ref=ref)

    def retrieve(self, request: Request, ref: str) -> Response:
        return Response(AgentScaffoldSerializer(self.get_object()).data)

    @extend_schema(
        summary="Register an agent scaffold",
        request=AgentScaffoldWriteSerializer,
        responses={201: AgentScaffoldSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[OpenApiExample("Register a scaffold", value=examples.SCAFFOLD_CREATE, request_only=True)],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = self.parse(AgentScaffoldWriteSerializer)
        validate_submission("scaffold", request.data)
        scaffold = services.scaffold_create(actor=self.actor, data=data)
        return self.created(
            scaffold, AgentScaffoldSerializer(scaffold).data, f"/api/v1/scaffolds/{scaffold.public_id}"
        )

    @extend_schema(
        summary="Change a scaffold (its owner; If-Match honoured)",
        request=AgentScaffoldWriteSerializer(partial=True),
        responses={200: AgentScaffoldSerializer},
        parameters=[IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample(
                "Add a tool", value={"tools": ["EXECUTE_CMD", "RECEIVE_MSG", "FINISH"]}, request_only=True
            )
        ],
    )
    def partial_update(self, request: Request, ref: str) -> Response:
        scaffold = self.get_object()
        check_if_match(request, scaffold)
        changes = self.parse(AgentScaffoldWriteSerializer, partial=True)
        scaffold = services.scaffold_update(actor=self.actor, scaffold=scaffold, changes=changes)
        self.etag_instance = scaffold
        return Response(AgentScaffoldSerializer(scaffold).data)


@extend_schema_view(
    list=extend_schema(summary="List evaluation results (superseded ones included; filter current=true)"),
    retrieve=extend_schema(summary="An evaluation result with its Wilson interval", parameters=[REF]),
)
class EvaluationResultViewSet(RecordViewSet):
    """Append-only evaluation results. A correction supersedes; nothing is overwritten."""

    filterset_class = EvaluationResultFilter
    serializer_class = EvaluationResultSerializer
    write_scope = "registry:write"
    http_method_names = ["get", "post", "head", "options"]

    def list_selector(self, actor: Principal) -> Any:
        return selectors.evaluation_list(actor=actor)

    def get_selector(self, actor: Principal, ref: str) -> EvaluationResult:
        return selectors.evaluation_get(actor=actor, ref=ref)

    def get_object(self) -> EvaluationResult:
        evaluation: EvaluationResult = super().get_object()
        self.etag_instance = _version_of(evaluation)
        return evaluation

    def _render(self, evaluation: EvaluationResult) -> dict[str, Any]:
        fresh = self.get_selector(self.actor, evaluation.public_id)
        self.etag_instance = _version_of(fresh)
        data: dict[str, Any] = EvaluationResultSerializer(fresh).data
        return data

    def retrieve(self, request: Request, ref: str) -> Response:
        return Response(EvaluationResultSerializer(self.get_object()).data)

    @extend_schema(
        summary="Record an evaluation result (the Wilson interval is computed)",
        request=EvaluationCreateSerializer,
        responses={201: EvaluationResultSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[OpenApiExample("Record a result", value=examples.EVALUATION_CREATE, request_only=True)],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = self.parse(EvaluationCreateSerializer)
        validate_submission("evaluation", request.data)
        model = selectors.frontier_model_get(actor=self.actor, ref=data.pop("model"))
        scaffold = _resolve_optional(self.actor, data.pop("scaffold", None), selectors.scaffold_get)
        evaluation = services.evaluation_create(actor=self.actor, model=model, data=data, scaffold=scaffold)
        return self.created(
            evaluation, self._render(evaluation), f"/api/v1/evaluations/{evaluation.public_id}"
        )

    @extend_schema(
        summary="Correct a result: a new result supersedes it (both stay readable)",
        request=EvaluationSupersedeSerializer,
        responses={201: EvaluationResultSerializer},
        parameters=[IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample("Correct the counts", value=examples.EVALUATION_SUPERSEDE, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def supersede(self, request: Request, ref: str) -> Response:
        old = self.get_object()
        check_if_match(request, _version_of(old))
        data = self.parse(EvaluationSupersedeSerializer)
        reason = data.pop("reason")
        kwargs: dict[str, Any] = {}
        if "scaffold" in data:
            kwargs["scaffold"] = _resolve_optional(self.actor, data.pop("scaffold"), selectors.scaffold_get)
        evaluation = services.evaluation_supersede(
            actor=self.actor, old=old, data=data, reason=reason, **kwargs
        )
        return self.created(
            evaluation, self._render(evaluation), f"/api/v1/evaluations/{evaluation.public_id}"
        )

    @extend_schema(
        summary="Download the raw log a result was imported from",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        parameters=[REF],
    )
    @action(detail=True, methods=["get"], url_path="raw-log")
    def raw_log(self, request: Request, ref: str) -> FileResponse:
        evaluation = self.get_object()
        self.etag_instance = None
        if not evaluation.raw_log:
            raise NotFound("This result has no raw log.", code="no_raw_log")
        handle = storages["private"].open(evaluation.raw_log, "rb")
        return FileResponse(
            handle,
            as_attachment=True,
            filename=evaluation.raw_log_name or "log",
            content_type="application/octet-stream",
        )

    @extend_schema(
        summary="Import an Inspect AI eval log or a Hugging Face model-index",
        request={"multipart/form-data": EvaluationImportSerializer},
        responses={201: EvaluationImportResultSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[
            OpenApiExample(
                "Import an Inspect log",
                value={
                    "file": "replication_probe.eval",
                    "capability_domain": "end_to_end",
                    "scenario_type": "instructed_replication_local",
                    "tlp": "amber",
                },
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
    )
    @action(
        detail=False, methods=["post"], url_path="import", parser_classes=[BoundedMultiPartParser, FormParser]
    )
    @idempotent
    def import_file(self, request: Request) -> Response:
        data = self.parse(EvaluationImportSerializer)
        upload = data.pop("file")
        if upload.size > settings.REDLINE_MAX_IMPORT_BYTES:
            raise PayloadTooLarge(
                f"The file is {upload.size} bytes; the limit is {settings.REDLINE_MAX_IMPORT_BYTES}."
            )
        raw = upload.read()
        try:
            parsed = parse_upload(
                raw,
                filename=upload.name,
                kind=data.pop("format"),
                scorer=data.pop("scorer", None),
                max_uncompressed=settings.REDLINE_MAX_IMPORT_UNCOMPRESSED_BYTES,
            )
        except ImportFormatError as exc:
            raise services.import_error(exc) from exc
        model = _resolve_optional(self.actor, data.pop("model", None), selectors.frontier_model_get)
        scaffold = _resolve_optional(self.actor, data.pop("scaffold", None), selectors.scaffold_get)
        outcome = services.evaluation_import(
            actor=self.actor,
            parsed=parsed,
            raw=raw,
            filename=upload.name or "upload",
            defaults=data,
            model=model,
            scaffold=scaffold,
            visible_models=selectors.frontier_model_list(actor=self.actor),
        )
        body = {
            "sha256": outcome.sha256,
            "evaluations": [self._render(e) for e in outcome.evaluations],
            "created_models": [m.public_id for m in outcome.created_models],
        }
        self.etag_instance = None
        first = outcome.evaluations[0].public_id
        return Response(body, status=201, headers={"Location": f"/api/v1/evaluations/{first}"})
