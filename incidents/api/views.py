"""Incident endpoints: submission with receipts, amendment, revisions, withdrawal, TLP."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api_docs import examples
from api_docs.contract import validate_submission
from core.actors import Principal
from core.api.views import RecordViewSet, check_if_match
from core.errors import FieldError, ValidationFailed
from core.idempotency import idempotent
from incidents import selectors, services
from incidents.api.serializers import (
    IncidentAmendSerializer,
    IncidentDetailSerializer,
    IncidentListSerializer,
    IncidentWriteSerializer,
    ReceiptSerializer,
    RevisionCompareSerializer,
    RevisionSerializer,
    TLPChangeSerializer,
    WithdrawSerializer,
)
from incidents.filters import IncidentFilter
from incidents.models import Incident, IncidentRevision
from registry import selectors as registry_selectors
from registry.api.views import IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF


def resolve_links(actor: Principal, data: dict[str, Any], *, partial: bool = False) -> services.Links | None:
    """Turn the public ids of a submission into records the submitter may see (404 otherwise)."""
    keys = ("models", "scaffold", "related_evaluations")
    if partial and not any(key in data for key in keys):
        for key in keys:
            data.pop(key, None)
        return None
    models = [
        services.InvolvedModel(
            role=item["role"],
            model=registry_selectors.frontier_model_get(actor=actor, ref=item["model"])
            if item.get("model")
            else None,
            model_name=item.get("model_name", ""),
        )
        for item in data.pop("models", [])
    ]
    scaffold_ref = data.pop("scaffold", None)
    evaluations = [
        registry_selectors.evaluation_get(actor=actor, ref=ref) for ref in data.pop("related_evaluations", [])
    ]
    return services.Links(
        models=models,
        scaffold=registry_selectors.scaffold_get(actor=actor, ref=scaffold_ref) if scaffold_ref else None,
        related_evaluations=evaluations,
    )


def receipt(result: services.Receipt) -> dict[str, Any]:
    incident, revision = result.incident, result.revision
    return {
        "public_id": incident.public_id,
        "received_at": revision.received_at,
        "submitted_at": incident.submitted_at,
        "revision": revision.number,
        "sha256": revision.sha256,
        "created": result.created,
        "url": f"/api/v1/incidents/{incident.public_id}",
    }


def _revision_data(revision: IncidentRevision) -> dict[str, Any]:
    return {
        "number": revision.number,
        "received_at": revision.received_at,
        "submitted_by": revision.submitted_by,
        "change_summary": revision.change_summary,
        "sha256": revision.sha256,
        "payload": revision.payload,
    }


@extend_schema_view(
    list=extend_schema(summary="Incidents you may see (TLP 2.0)"),
    retrieve=extend_schema(summary="One incident (latest revision)", parameters=[REF]),
)
class IncidentViewSet(RecordViewSet):
    """Self-replication incident reports."""

    filterset_class = IncidentFilter
    serializer_class = IncidentListSerializer
    write_scope = "incidents:write"

    def list_selector(self, actor: Principal) -> Any:
        return selectors.incident_list(actor=actor)

    def get_selector(self, actor: Principal, ref: str) -> Incident:
        return selectors.incident_get(actor=actor, ref=ref)

    def retrieve(self, request: Request, ref: str) -> Response:
        return Response(IncidentDetailSerializer(self.get_object()).data)

    @extend_schema(
        summary="File an incident report (a re-sent external_id files a revision)",
        request=IncidentWriteSerializer,
        responses={201: ReceiptSerializer, 200: ReceiptSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[
            OpenApiExample(
                "A controlled evaluation finding", value=examples.INCIDENT_CREATE, request_only=True
            )
        ],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = self.parse(IncidentWriteSerializer)
        validate_submission("incident", request.data)
        links = resolve_links(self.actor, data)
        assert links is not None
        result = services.incident_submit(actor=self.actor, data=data, links=links)
        self.etag_instance = result.incident
        return Response(
            receipt(result),
            status=201 if result.created else 200,
            headers={"Location": f"/api/v1/incidents/{result.incident.public_id}"},
        )

    @extend_schema(
        summary="Amend a report (a new immutable revision; If-Match honoured)",
        request=IncidentAmendSerializer,
        responses={200: ReceiptSerializer},
        parameters=[IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample(
                "Add the outcome",
                value={"outcome": "live_separate_replica", "change_summary": "Replica confirmed."},
                request_only=True,
            )
        ],
    )
    def partial_update(self, request: Request, ref: str) -> Response:
        incident = self.get_object()
        check_if_match(request, incident)
        data = self.parse(IncidentAmendSerializer)
        summary = data.pop("change_summary", "")
        links = resolve_links(self.actor, data, partial=True)
        incident, revision = services.incident_amend(
            actor=self.actor, incident=incident, changes=data, links=links, summary=summary
        )
        self.etag_instance = incident
        return Response(receipt(services.Receipt(incident=incident, revision=revision, created=False)))

    @extend_schema(
        summary="Every revision of a report, oldest first",
        responses={200: RevisionSerializer(many=True)},
        parameters=[REF],
    )
    @action(detail=True, methods=["get"])
    def revisions(self, request: Request, ref: str) -> Response:
        revisions = selectors.revision_list(actor=self.actor, incident_ref=ref)
        return Response([_revision_data(r) for r in revisions])

    @extend_schema(
        summary="Compare two revisions field by field",
        parameters=[
            REF,
            OpenApiParameter("from", OpenApiTypes.INT, OpenApiParameter.QUERY, required=True),
            OpenApiParameter("to", OpenApiTypes.INT, OpenApiParameter.QUERY, required=True),
        ],
        responses={200: RevisionCompareSerializer},
    )
    @action(detail=True, methods=["get"], url_path="revisions/compare")
    def compare(self, request: Request, ref: str) -> Response:
        self.get_object()  # visibility before any validation: out of scope is 404, whatever the query
        self.etag_instance = None
        numbers = []
        for name in ("from", "to"):
            raw = request.query_params.get(name, "")
            if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
                raise ValidationFailed(
                    f"`{name}` must be a revision number.",
                    code="invalid_revision",
                    errors=[FieldError(field=name, code="invalid", message="A revision number.")],
                )
            numbers.append(int(raw))
        comparison = selectors.revision_compare(
            actor=self.actor, incident_ref=ref, from_number=numbers[0], to_number=numbers[1]
        )
        return Response(RevisionCompareSerializer(comparison).data)

    @extend_schema(
        summary="Withdraw a report (reason required; the record is kept)",
        request=WithdrawSerializer,
        responses={200: IncidentDetailSerializer},
        parameters=[IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample("Withdraw", value={"reason": "Filed against the wrong model."}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def withdraw(self, request: Request, ref: str) -> Response:
        incident = self.get_object()
        check_if_match(request, incident)
        data = self.parse(WithdrawSerializer)
        services.incident_withdraw(actor=self.actor, incident=incident, reason=data["reason"])
        incident = self.get_selector(self.actor, ref)
        self.etag_instance = incident
        return Response(IncidentDetailSerializer(incident).data)

    @extend_schema(
        summary="Raise TLP (submitter) or lower it (regulator, with a reason)",
        request=TLPChangeSerializer,
        responses={200: IncidentDetailSerializer},
        parameters=[IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample(
                "Lower to green",
                value={"tlp": "green", "reason": "Mitigated; share with participants."},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def tlp(self, request: Request, ref: str) -> Response:
        incident = self.get_object()
        check_if_match(request, incident)
        data = self.parse(TLPChangeSerializer)
        services.incident_change_tlp(
            actor=self.actor, incident=incident, tlp=data["tlp"], reason=data.get("reason", "")
        )
        incident = selectors.incident_get(actor=self.actor, ref=ref)
        self.etag_instance = incident
        return Response(IncidentDetailSerializer(incident).data)
