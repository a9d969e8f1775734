"""Incident endpoints: submission with receipts, amendment, revisions, withdrawal, TLP."""

from __future__ import annotations

import base64
from typing import Any

from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from api_docs import examples
from api_docs.contract import validate_submission
from core.actors import Principal
from core.api.pagination import AuditCursorPagination, CreatedCursorPagination
from core.api.parsers import EvidenceMultiPartParser
from core.api.views import RecordViewSet, check_if_match
from core.errors import FieldError, ValidationFailed
from core.filters import AuditEventFilter
from core.idempotency import idempotent
from core.models import AuditEvent
from core.sync import sync_horizon
from incidents import exports, selectors, services
from incidents.api.export_serializers import IncidentCRFSerializer, IncidentEUTemplateSerializer
from incidents.api.pagination import IncidentCursorPagination
from incidents.api.serializers import (
    AliasAddSerializer,
    AssessmentSerializer,
    AssessmentWriteSerializer,
    AssignSerializer,
    AuditEventSerializer,
    CommentCreateSerializer,
    CommentSerializer,
    DuplicateCandidateSerializer,
    EvidenceSerializer,
    EvidenceUploadSerializer,
    IncidentAliasSerializer,
    IncidentAmendSerializer,
    IncidentDetailSerializer,
    IncidentListSerializer,
    IncidentWriteSerializer,
    MarkDuplicateSerializer,
    ReceiptSerializer,
    RecipientAddSerializer,
    RecipientSerializer,
    RejectSerializer,
    RevisionCompareSerializer,
    RevisionSerializer,
    SupersedeSerializer,
    TLPChangeSerializer,
    TransitionSerializer,
    WithdrawSerializer,
)
from incidents.filters import CommentFilter, IncidentFilter, IncidentRemovedFilter
from incidents.models import Incident, IncidentRevision, VisibilityChangeReason
from incidents.workflows import Action
from registry import selectors as registry_selectors
from registry.api.views import IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF


def resolve_links(actor: Principal, data: dict[str, Any], *, partial: bool = False) -> services.Links | None:
    """Turn the public ids of a submission into records the submitter may see (404 otherwise)."""
    keys = ("models", "scaffold", "related_evaluations")
    if partial and not any(key in data for key in keys):
        for key in keys:
            data.pop(key, None)
        return None
    items = data.pop("models", [])
    # One scoped query for every model reference (a 404 names the first one that is not visible).
    found = registry_selectors.frontier_models_by_ref(
        actor=actor, refs=[item["model"] for item in items if item.get("model")]
    )
    models = [
        services.InvolvedModel(
            role=item["role"],
            model=found[item["model"]] if item.get("model") else None,
            model_name=item.get("model_name", ""),
        )
        for item in items
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


class IncidentRemovedSerializer(serializers.Serializer):
    """A tombstone: a report the caller could see and no longer may."""

    public_id = serializers.CharField(source="incident.public_id")
    removed_at = serializers.DateTimeField(source="changed_at")
    reason = serializers.ChoiceField(choices=VisibilityChangeReason.choices)


class IncidentRemovedCursorPagination(AuditCursorPagination):
    """Tombstones page by (changed_at, id), oldest first: the only order a mirror needs."""

    sort_field = "changed_at"
    orderings = ("changed_at",)  # type: ignore[assignment]
    ordering_description = "`changed_at` (oldest first; the only order)."


def _transition_endpoint(step: Action, body: type[Serializer], summary: str) -> Any:
    """The POST endpoint of one workflow action (`/incidents/{ref}/<action>`): visibility (404), If-Match
    (412), Idempotency-Key, then the one service call."""

    def handler(self: IncidentViewSet, request: Request, ref: str) -> Response:
        incident = self.get_object()
        check_if_match(request, incident)
        return self.transition(incident, step, self.parse(body))

    handler.__name__ = step.value
    handler.__qualname__ = f"IncidentViewSet.{step.value}"
    endpoint = action(detail=True, methods=["post"], url_path=step.value.replace("_", "-"))(
        idempotent(handler)
    )
    schema = extend_schema(
        summary=summary,
        request=body,
        responses={200: IncidentDetailSerializer},
        parameters=[IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample(summary, value=examples.TRANSITIONS[step.value], request_only=True),
        ],
    )
    return schema(endpoint)


MIRROR_LOOP = """Mirroring (the sync API). A partner keeps an exact copy of what it may see:

1. First run: page this list with `modified_after=1970-01-01T00:00:00Z`, following `next` until it is
   null, and store every row by `id` (a list read without `modified_after` is no safe starting point:
   it is not held to the sync horizon).
2. Every run after: remember B, the largest `modified_at` you stored. Page
   `GET /api/v1/incidents?modified_after=B` to the end and upsert each row by `id` (a report changed
   while you page comes again on a later page, in its newer version: keep the newer `modified_at`).
   Page `GET /api/v1/incidents/removed?modified_after=<your removals bookmark>` to the end and delete
   each `public_id` listed (keep the largest `removed_at` as that bookmark).
3. Nothing is missed and nothing repeats: with `modified_after`, rows are served oldest first by
   (`modified_at`, id), and only rows stamped before the sync horizon (every write that could still
   commit with an earlier time has committed or is held back) are served, so a later commit never lands
   behind your bookmark. Changes reach the list a couple of seconds after they commit
   (`REDLINE_SYNC_SETTLE_SECONDS`), or after the oldest open write transaction ends.

A TLP change, a withdrawal, any transition, an amendment and a new named recipient all move
`modified_at`: a withdrawn report stays visible with status `withdrawn`; a report whose TLP was lowered
reaches the newly entitled in the list; one you may no longer see is in `/removed`."""


@extend_schema_view(
    list=extend_schema(summary="Incidents you may see (TLP 2.0)", description=MIRROR_LOOP),
    retrieve=extend_schema(
        summary="One incident (latest revision)", parameters=[REF], responses={200: IncidentDetailSerializer}
    ),
)
class IncidentViewSet(RecordViewSet):
    """Self-replication incident reports."""

    filterset_class = IncidentFilter
    serializer_class = IncidentListSerializer
    pagination_class = IncidentCursorPagination
    write_scope = "incidents:write"

    def list_selector(self, actor: Principal) -> Any:
        # Plain rows of the list's columns (IncidentListSerializer reads them): no model instances.
        return selectors.incident_list_rows(actor=actor)

    def get_selector(self, actor: Principal, ref: str) -> Incident:
        return selectors.incident_get(actor=actor, ref=ref)

    def retrieve(self, request: Request, ref: str) -> Response:
        return Response(self.detail_data(self.get_object()))

    def detail_data(self, incident: Incident) -> Any:
        """The detail shape, with the actions the caller may take now."""
        return IncidentDetailSerializer(incident, context={"actor": self.actor}).data

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
    # The whole history as one plain list, unfiltered: without these two the schema documents a page
    # and the incident list's filters, and a generated client cannot parse the answer.
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
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
        return self.transition(incident, Action.WITHDRAW, data)

    claim = _transition_endpoint(Action.CLAIM, TransitionSerializer, "Claim a report for review (a reviewer)")
    unclaim = _transition_endpoint(
        Action.UNCLAIM, TransitionSerializer, "Release a claimed report (its assignee)"
    )
    assign = _transition_endpoint(
        Action.ASSIGN, AssignSerializer, "Assign a report to a reviewer of an oversight body"
    )
    request_information = _transition_endpoint(
        Action.REQUEST_INFORMATION,
        TransitionSerializer,
        "Ask the submitter for more information (the assignee)",
    )
    respond = _transition_endpoint(
        Action.RESPOND, TransitionSerializer, "Answer a request for information (the submitting organisation)"
    )
    accept = _transition_endpoint(
        Action.ACCEPT,
        TransitionSerializer,
        "Accept a report (the assignee; a serious incident or disaster then needs a second reviewer's "
        "confirm-accept)",
    )
    confirm_accept = _transition_endpoint(
        Action.CONFIRM_ACCEPT, TransitionSerializer, "Confirm another reviewer's acceptance (four eyes)"
    )
    reject = _transition_endpoint(
        Action.REJECT, RejectSerializer, "Reject a report with a reason code (the assignee)"
    )
    mark_duplicate = _transition_endpoint(
        Action.MARK_DUPLICATE,
        MarkDuplicateSerializer,
        "Mark a report a duplicate of another (it keeps resolving)",
    )
    supersede = _transition_endpoint(
        Action.SUPERSEDE, SupersedeSerializer, "Mark a report superseded by another (it keeps resolving)"
    )
    close = _transition_endpoint(
        Action.CLOSE, TransitionSerializer, "Close an accepted report (the assignee)"
    )

    def transition(self, incident: Incident, step: Action, data: dict[str, Any]) -> Response:
        """One workflow action: one service call, then the report as the caller now sees it."""
        services.incident_transition(actor=self.actor, incident=incident, action=step, **data)
        incident = self.get_selector(self.actor, incident.public_id)
        self.etag_instance = incident
        return Response(self.detail_data(incident))

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
        return Response(self.detail_data(incident))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Incidents you may see, newest first. With `search`, full-text matches (websearch syntax), each
        with a snippet of its match; a search runs under a time limit (503 `search_timeout`)."""
        text = request.query_params.get("search", "").strip()
        if not text:
            return super().list(request, *args, **kwargs)
        with selectors.incident_search_time_limit():
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
            assert page is not None
            snippets = selectors.incident_search_snippets(actor=self.actor, incidents=page, text=text)
        for row in page:
            row["search_snippet"] = snippets.get(row["id"], "")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Reports you could see and may no longer (tombstones for a mirror; oldest first)",
        description=(
            "One row per change of TLP or jurisdictions after which you cannot see a report you could see "
            "just before: delete it from your mirror. A report you could never see never appears. A report "
            "hidden and shown again is not here (it is in the report list again).\n\n" + MIRROR_LOOP
        ),
        responses={200: IncidentRemovedSerializer(many=True)},
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=IncidentRemovedCursorPagination,
        filterset_class=IncidentRemovedFilter,
    )
    def removed(self, request: Request) -> Response:
        changes = selectors.incident_removed_list(actor=self.actor).filter(changed_at__lt=sync_horizon())
        page = self.paginate_queryset(self.filter_queryset(changes))
        return self.get_paginated_response(IncidentRemovedSerializer(page, many=True).data)

    def _export(self) -> tuple[Incident, dict[Any, Any]]:
        incident = self.get_object()  # the visibility rule: out of scope is 404
        return incident, selectors.incident_visible_models(actor=self.actor, incident=incident)

    @extend_schema(
        summary="The incident in the OECD common reporting framework (JSON)",
        parameters=[REF],
        responses={200: IncidentCRFSerializer},
    )
    @action(detail=True, methods=["get"])
    def crf(self, request: Request, ref: str) -> Response:
        return Response(IncidentCRFSerializer(exports.crf_document(*self._export())).data)

    @extend_schema(
        summary="The EU GPAI serious-incident template's ten fields (JSON)",
        parameters=[REF],
        responses={200: IncidentEUTemplateSerializer},
    )
    @action(detail=True, methods=["get"], url_path="eu-template")
    def eu_template(self, request: Request, ref: str) -> Response:
        return Response(IncidentEUTemplateSerializer(exports.eu_template(*self._export())).data)

    @extend_schema(
        summary="The EU GPAI serious-incident template, as a printable HTML page",
        operation_id="incidents_eu_template_html_retrieve",
        parameters=[REF],
        responses={(200, "text/html"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], url_path=r"eu-template\.html")
    def eu_template_html(self, request: Request, ref: str) -> HttpResponse:
        document = IncidentEUTemplateSerializer(exports.eu_template(*self._export())).data
        context = {
            "document": document,
            "sections": exports.eu_template_sections(document),
            "generated_at": timezone.now(),
        }
        return render(request._request, "incidents/eu_template.html", context)

    @extend_schema(
        summary="The evidence files of a report (they share its TLP)",
        parameters=[REF],
        responses={200: EvidenceSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get"],
        parser_classes=[EvidenceMultiPartParser],
        filter_backends=[],
        pagination_class=None,
    )
    def evidence(self, request: Request, ref: str) -> Response:
        evidence = selectors.evidence_list(actor=self.actor, incident_ref=ref)
        return Response(EvidenceSerializer(evidence, many=True).data)

    @extend_schema(
        summary="Attach an evidence file (multipart; type sniffed from the bytes, SHA-256 computed)",
        request={"multipart/form-data": EvidenceUploadSerializer},
        responses={201: EvidenceSerializer},
        parameters=[IDEMPOTENCY_HEADER, REF],
        examples=[
            OpenApiExample(
                "A transcript",
                value=examples.EVIDENCE_UPLOAD,
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
    )
    @evidence.mapping.post
    @idempotent
    def evidence_add(self, request: Request, ref: str) -> Response:
        incident = self.get_object()
        data = self.parse(EvidenceUploadSerializer)
        upload = data["file"]
        evidence = services.evidence_add(
            actor=self.actor,
            incident=incident,
            upload=upload,
            kind=data["kind"],
            description=data["description"],
            declared_type=upload.content_type or "",
        )
        self.etag_instance = None
        body = EvidenceSerializer(evidence).data
        return Response(body, status=201, headers={"Location": body["download_url"]})

    @extend_schema(
        summary="Download an evidence file (visibility checked; every download is audited)",
        parameters=[REF, OpenApiParameter("evidence_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], url_path=r"evidence/(?P<evidence_id>[0-9a-fA-F-]{36})/download")
    def evidence_download(self, request: Request, ref: str, evidence_id: str) -> FileResponse:
        evidence = selectors.evidence_get(actor=self.actor, incident_ref=ref, evidence_id=evidence_id)
        handle = services.evidence_open(actor=self.actor, evidence=evidence)
        response = FileResponse(
            handle, as_attachment=True, filename=evidence.file_name, content_type="application/octet-stream"
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox"
        response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(evidence.sha256)).decode()}:"
        return response

    @extend_schema(
        summary="Comments on a report you may read (internal ones: reviewers and regulators only)",
        parameters=[REF],
        responses={200: CommentSerializer(many=True)},
    )
    @action(
        detail=True, methods=["get"], pagination_class=CreatedCursorPagination, filterset_class=CommentFilter
    )
    def comments(self, request: Request, ref: str) -> Response:
        comments = self.filter_queryset(selectors.comment_list(actor=self.actor, incident_ref=ref))
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(
        summary="Comment on a report (internal: oversight staff; shared: also the submitting org)",
        request=CommentCreateSerializer,
        responses={201: CommentSerializer},
        parameters=[IDEMPOTENCY_HEADER, REF],
        examples=[OpenApiExample("Ask the submitter", value=examples.COMMENT_CREATE, request_only=True)],
    )
    @comments.mapping.post
    @idempotent
    def comment_add(self, request: Request, ref: str) -> Response:
        incident = self.get_object()
        data = self.parse(CommentCreateSerializer)
        comment = services.comment_add(
            actor=self.actor, incident=incident, visibility=data["visibility"], body=data["body"]
        )
        self.etag_instance = None  # comments are immutable and have no address of their own
        return Response(CommentSerializer(comment).data, status=201)

    @extend_schema(
        summary="The assessment containers on a report you may see (each has its own TLP)",
        parameters=[REF],
        responses={200: AssessmentSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def assessments(self, request: Request, ref: str) -> Response:
        containers = selectors.assessment_list(actor=self.actor, incident_ref=ref)
        return Response(AssessmentSerializer(containers, many=True).data)

    @extend_schema(
        summary="Your organisation's assessment container on a report",
        parameters=[REF],
        responses={200: AssessmentSerializer},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="assessments/mine",
        url_name="assessment-mine",
        http_method_names=["get", "put", "head", "options"],
    )
    def assessment_mine(self, request: Request, ref: str) -> Response:
        assessment = selectors.assessment_get_own(actor=self.actor, incident_ref=ref)
        self.etag_instance = assessment
        return Response(AssessmentSerializer(assessment).data)

    @extend_schema(
        summary="Create or replace your organisation's assessment container (If-Match honoured)",
        request=AssessmentWriteSerializer,
        responses={200: AssessmentSerializer, 201: AssessmentSerializer},
        parameters=[IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample("Confirm and raise severity", value=examples.ASSESSMENT_SET, request_only=True)
        ],
    )
    @assessment_mine.mapping.put
    def assessment_set(self, request: Request, ref: str) -> Response:
        incident = self.get_object()
        data = self.parse(AssessmentWriteSerializer)
        assessment, created = services.assessment_set(
            actor=self.actor, incident=incident, data=data, if_match=request.headers.get("If-Match")
        )
        self.etag_instance = assessment
        return Response(AssessmentSerializer(assessment).data, status=201 if created else 200)

    @extend_schema(
        summary="Named recipients of a report (they can read it even at TLP:RED)",
        parameters=[REF],
        responses={200: RecipientSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def recipients(self, request: Request, ref: str) -> Response:
        return Response(
            RecipientSerializer(selectors.recipient_list(actor=self.actor, incident_ref=ref), many=True).data
        )

    @extend_schema(
        summary="Name a reviewer or regulator as a recipient (the submitting organisation)",
        request=RecipientAddSerializer,
        responses={201: RecipientSerializer},
        parameters=[IDEMPOTENCY_HEADER, REF],
        examples=[
            OpenApiExample("Name the lead reviewer", value={"username": "reviewer"}, request_only=True)
        ],
    )
    @recipients.mapping.post
    @idempotent
    def recipient_add(self, request: Request, ref: str) -> Response:
        incident = self.get_object()
        self.etag_instance = None
        data = self.parse(RecipientAddSerializer)
        recipient = services.incident_recipient_add(
            actor=self.actor, incident=incident, username=data["username"]
        )
        return Response(RecipientSerializer(recipient).data, status=201)

    @extend_schema(
        summary="Also recorded as: the report's aliases in other databases (AIID, OECD AIM, AVID, ATLAS)",
        parameters=[REF],
        responses={200: IncidentAliasSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def aliases(self, request: Request, ref: str) -> Response:
        incident = self.get_object()  # the visibility rule: out of scope is 404
        self.etag_instance = None
        rows = incident.alias_links.order_by("source", "external_id")
        return Response(IncidentAliasSerializer(rows, many=True).data)

    @extend_schema(
        summary="Link a report to the same event in another database (submitter or oversight staff)",
        request=AliasAddSerializer,
        responses={201: IncidentAliasSerializer, 200: IncidentAliasSerializer},
        parameters=[IDEMPOTENCY_HEADER, REF],
        examples=[
            OpenApiExample(
                "An ATLAS case study",
                value={"source": "atlas", "external_id": "AML.CS0042"},
                request_only=True,
            )
        ],
    )
    @aliases.mapping.post
    @idempotent
    def alias_add(self, request: Request, ref: str) -> Response:
        incident = self.get_object()
        self.etag_instance = None
        data = self.parse(AliasAddSerializer)
        alias, created = services.incident_alias_add(
            actor=self.actor,
            incident=incident,
            source=data["source"],
            external_id=data["external_id"],
            url=data.get("url", ""),
        )
        return Response(IncidentAliasSerializer(alias).data, status=201 if created else 200)

    @extend_schema(
        summary="Likely duplicates of a report, best first (oversight staff; confirm with mark-duplicate)",
        parameters=[
            REF,
            OpenApiParameter(
                "limit", OpenApiTypes.INT, OpenApiParameter.QUERY, description="1-50, default 10."
            ),
        ],
        responses={200: DuplicateCandidateSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="duplicate-candidates",
        pagination_class=None,
        filter_backends=[],
    )
    def duplicate_candidates(self, request: Request, ref: str) -> Response:
        incident = self.get_object()  # the visibility rule first: out of scope is 404
        self.etag_instance = None
        raw = request.query_params.get("limit", "10")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 2) or not 1 <= int(raw) <= 50:
            raise ValidationFailed(
                "`limit` must be a number from 1 to 50.",
                code="invalid_limit",
                errors=[FieldError(field="limit", code="invalid", message="1 to 50.")],
            )
        candidates = selectors.duplicate_candidates(actor=self.actor, incident=incident, limit=int(raw))
        return Response(DuplicateCandidateSerializer(candidates, many=True).data)


@extend_schema_view(list=extend_schema(summary="Audit events you may read, newest first", tags=["audit"]))
class AuditEventViewSet(RecordViewSet):
    """The audit log, scoped like every other read: reviewers, regulators and platform admins only."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = AuditCursorPagination
    read_requires_auth = True
    http_method_names = ["get", "head", "options"]
    queryset = AuditEvent.objects.none()  # for the schema generator; requests use the selector

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return super().get_queryset()

    def list_selector(self, actor: Principal) -> Any:
        return selectors.audit_event_list(actor=actor)
