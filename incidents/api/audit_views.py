"""The audit log's Merkle side: signed checkpoints, inclusion proofs and the public key (DESIGN 7).

Checkpoints and proofs are read by the same principals as GET /api/v1/audit/ (the selector
`audit_event_list` refuses everyone else), and a proof only for an event that selector lets the caller
read. The public key is public: anyone may verify a checkpoint a regulator kept.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actors import Principal, principal_of
from core.api.pagination import CheckpointCursorPagination
from core.api.serializers import (
    AuditCheckpointSerializer,
    AuditConsistencyProofSerializer,
    AuditInclusionProofSerializer,
    AuditPublicKeySerializer,
)
from core.api.views import RecordViewSet
from core.errors import NotFound, ValidationFailed
from core.filters import AuditCheckpointFilter
from core.models import AuditCheckpoint
from core.sealing import (
    CHECKPOINT_ORIGIN,
    audit_checkpoint_get,
    audit_consistency_proof,
    audit_inclusion_proof,
)
from core.signing import audit_signing_key, key_id_of, public_key_bytes
from incidents import selectors

_SIZE_RE = re.compile(r"[0-9]{1,18}")


def _tree_size(raw: str, name: str) -> int:
    if not _SIZE_RE.fullmatch(raw):
        raise ValidationFailed(f"{name} must be a positive integer.", code="invalid_tree_size")
    return int(raw)


@extend_schema_view(
    list=extend_schema(summary="Signed audit checkpoints, newest first", tags=["audit"]),
    retrieve=extend_schema(
        summary="The signed audit checkpoint of one tree size",
        tags=["audit"],
        parameters=[
            OpenApiParameter("ref", OpenApiTypes.INT, OpenApiParameter.PATH, description="Tree size")
        ],
    ),
)
class AuditCheckpointViewSet(RecordViewSet):
    """Signed tree heads of the audit log, for the readers of the audit log."""

    serializer_class = AuditCheckpointSerializer
    pagination_class = CheckpointCursorPagination
    filterset_class = AuditCheckpointFilter
    read_requires_auth = True
    http_method_names = ["get", "head", "options"]
    lookup_value_regex = r"[0-9]{1,18}"
    queryset = AuditCheckpoint.objects.none()  # for the schema generator; requests use the selector

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return AuditCheckpoint.objects.none()
        return super().get_queryset()

    def list_selector(self, actor: Principal) -> Any:
        selectors.audit_event_list(actor=actor)  # who may read the log may read its checkpoints (else 403)
        return AuditCheckpoint.objects.all()

    def get_selector(self, actor: Principal, ref: str) -> Any:
        selectors.audit_event_list(actor=actor)
        return audit_checkpoint_get(tree_size=_tree_size(ref, "tree size"))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)


class AuditInclusionProofView(APIView):
    """An RFC 9162 inclusion proof of one audit event the caller may read."""

    read_requires_auth = True

    @extend_schema(
        summary="Inclusion proof of an audit event in a signed checkpoint",
        tags=["audit"],
        parameters=[
            OpenApiParameter("event_id", OpenApiTypes.INT, OpenApiParameter.PATH),
            OpenApiParameter(
                "tree_size", OpenApiTypes.INT, description="Checkpoint to prove against (default: latest)."
            ),
        ],
        responses=AuditInclusionProofSerializer,
    )
    def get(self, request: Request, event_id: str) -> Response:
        actor = principal_of(request)
        event = selectors.audit_event_list(actor=actor).filter(pk=int(event_id)).first()
        if event is None:
            raise NotFound("No such audit event.", code="not_found")
        raw_size = request.query_params.get("tree_size")
        tree_size = _tree_size(raw_size, "tree_size") if raw_size is not None else None
        proof = audit_inclusion_proof(event=event, tree_size=tree_size)
        return Response(AuditInclusionProofSerializer(proof).data)


class AuditConsistencyProofView(APIView):
    """An RFC 9162 consistency proof between two signed checkpoints: a regulator who kept checkpoint
    `first` checks that the log was only appended to since."""

    read_requires_auth = True

    @extend_schema(
        summary="Consistency proof between two signed audit checkpoints",
        tags=["audit"],
        parameters=[
            OpenApiParameter("first", OpenApiTypes.INT, required=True, description="Tree size you kept."),
            OpenApiParameter("second", OpenApiTypes.INT, description="Later tree size (default: latest)."),
        ],
        responses=AuditConsistencyProofSerializer,
    )
    def get(self, request: Request) -> Response:
        selectors.audit_event_list(actor=principal_of(request))  # readers of the log only (else 403)
        raw_first = request.query_params.get("first")
        if raw_first is None:
            raise ValidationFailed("first (a checkpoint tree size) is required.", code="invalid_tree_size")
        raw_second = request.query_params.get("second")
        proof = audit_consistency_proof(
            first=_tree_size(raw_first, "first"),
            second=_tree_size(raw_second, "second") if raw_second is not None else None,
        )
        return Response(AuditConsistencyProofSerializer(proof).data)


class AuditPublicKeyView(APIView):
    """The public half of the checkpoint signing key. Anyone may fetch it."""

    @extend_schema(
        summary="Public key that signs audit checkpoints", tags=["audit"], responses=AuditPublicKeySerializer
    )
    def get(self, request: Request) -> Response:
        key = audit_signing_key()
        data = {
            "algorithm": "Ed25519",
            "key_id": key_id_of(key),
            "public_key": base64.b64encode(public_key_bytes(key)).decode(),
            "checkpoint_origin": CHECKPOINT_ORIGIN,
        }
        return Response(AuditPublicKeySerializer(data).data)
