"""Mass assignment (issue 8 item 3): a field the caller may not set (status, owner_org, tlp where the
endpoint does not take it, created_at, submitted_at, public_id, id, revision numbers, assignee, ...) in
the body of any writable endpoint is refused with 400 problem+json naming the field (`unknown_field`,
DESIGN 6: unknown fields are rejected, never dropped), and nothing in the database changes. The same body
without it is accepted: the control that shows each case could fail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Model

from accounts.models import ApiKey
from coordination.models import EmailSubscription, WebhookEndpoint
from core.models import AuditEvent, IdempotencyRecord
from incidents.models import (
    Assessment,
    Comment,
    Evidence,
    Incident,
    IncidentAlias,
    IncidentRecipient,
    IncidentRevision,
)
from registry.models import AgentScaffold, EvaluationResult, FrontierModel
from tests.problems import assert_problem, field_error_codes
from tests.security.world import World

FORBIDDEN = [
    "status",
    "owner_org",
    "org",
    "organization",
    "tlp",
    "created_at",
    "modified_at",
    "submitted_at",
    "public_id",
    "id",
    "revision_number",
    "revision",
    "assignee",
    "submitted_by",
    "pending_accept_by",
    "is_active",
    "secret",
]
# The state every case must leave as it found it.
TABLES: list[type[Model]] = [
    Incident,
    IncidentRevision,
    IncidentRecipient,
    IncidentAlias,
    Comment,
    Assessment,
    Evidence,
    FrontierModel,
    AgentScaffold,
    EvaluationResult,
    ApiKey,
    WebhookEndpoint,
    EmailSubscription,
    AuditEvent,
    IdempotencyRecord,
]


@dataclass(frozen=True)
class Write:
    name: str
    role: str
    method: str
    path: str  # {obj} placeholders: the world's objects' refs
    body: dict[str, Any]
    takes: frozenset[str] = frozenset()  # forbidden-list fields this endpoint does take
    multipart: bool = False


WRITES = [
    Write(
        "model-create",
        "key_lab_admin",
        "POST",
        "/api/v1/models/",
        {"name": "MA-1B", "weights_availability": "open", "market_status": "in_development"},
        frozenset({"tlp"}),
    ),
    Write(
        "model-update",
        "key_lab_admin",
        "PATCH",
        "/api/v1/models/{model@amber}",
        {"description": "x"},
        frozenset({"tlp"}),
    ),
    Write(
        "scaffold-create",
        "key_lab_admin",
        "POST",
        "/api/v1/scaffolds/",
        {"name": "MA-Scaffold", "version": "1"},
        frozenset({"tlp"}),
    ),
    Write(
        "scaffold-update",
        "key_lab_admin",
        "PATCH",
        "/api/v1/scaffolds/{scaffold@amber}",
        {"version": "3"},
        frozenset({"tlp"}),
    ),
    Write(
        "evaluation-create",
        "key_lab_admin",
        "POST",
        "/api/v1/evaluations/",
        {
            "model": "{model@clear}",
            "task": "ma_task",
            "capability_domain": "end_to_end",
            "scenario_type": "instructed_replication_local",
            "n_trials": 10,
            "n_successes": 2,
        },
        frozenset({"tlp"}),
    ),
    Write(
        "evaluation-supersede",
        "key_lab_admin",
        "POST",
        "/api/v1/evaluations/{evaluation@amber}/supersede",
        {"n_successes": 4, "reason": "re-scored"},
        frozenset({"tlp"}),
    ),
    Write(
        "evaluation-import",
        "key_lab_admin",
        "POST",
        "/api/v1/evaluations/import",
        {"capability_domain": "end_to_end", "scenario_type": "instructed_replication_local"},
        frozenset({"tlp"}),
        multipart=True,
    ),
    Write(
        "incident-create",
        "key_lab_admin",
        "POST",
        "/api/v1/incidents/",
        {
            "record_class": "real_world_incident",
            "title": "MA",
            "description": "A replica.",
            "submitter_capacity": "provider",
            "instruction_provenance": "uninstructed",
        },
        frozenset({"tlp"}),
    ),
    Write(
        "incident-amend",
        "key_lab_admin",
        "PATCH",
        "/api/v1/incidents/{incident@amber}",
        {"change_summary": "ma", "title": "Amended"},
        frozenset({"tlp"}),
    ),
    Write("incident-claim", "lead_reviewer", "POST", "/api/v1/incidents/{incident@amber}/claim", {}),
    Write(
        "incident-assign",
        "lead_reviewer",
        "POST",
        "/api/v1/incidents/{incident@amber}/assign",
        {"assignee": "sec-lead_reviewer"},
        frozenset({"assignee"}),
    ),
    Write(
        "incident-reject",
        "lead_reviewer",
        "POST",
        "/api/v1/incidents/{incident@in_review}/reject",
        {"reason": "out_of_scope"},
    ),
    Write(
        "incident-withdraw",
        "key_lab_admin",
        "POST",
        "/api/v1/incidents/{incident@amber}/withdraw",
        {"reason": "filed twice"},
    ),
    Write(
        "incident-tlp",
        "key_lab_admin",
        "POST",
        "/api/v1/incidents/{incident@green}/tlp",
        {"tlp": "amber", "reason": "raise"},
        frozenset({"tlp"}),
    ),
    Write(
        "evidence-add",
        "key_lab_admin",
        "POST",
        "/api/v1/incidents/{incident@amber}/evidence",
        {"kind": "log"},
        multipart=True,
    ),
    Write(
        "comment-add",
        "key_lab_admin",
        "POST",
        "/api/v1/incidents/{incident@amber}/comments",
        {"visibility": "shared", "body": "ma"},
    ),
    Write(
        "assessment-set",
        "lead_regulator",
        "PUT",
        "/api/v1/incidents/{incident@amber}/assessments/mine",
        {"verdict": "inconclusive"},
        frozenset({"tlp"}),
    ),
    Write(
        "recipient-add",
        "lab_submitter",
        "POST",
        "/api/v1/incidents/{incident@red}/recipients",
        {"username": "sec-lead_regulator"},
    ),
    Write(
        "alias-add",
        "key_lab_admin",
        "POST",
        "/api/v1/incidents/{incident@amber}/aliases",
        {"source": "aiid", "external_id": "77"},
    ),
    Write(
        "api-key-create",
        "key_lab_admin",
        "POST",
        "/api/v1/api-keys/",
        {"name": "ma", "role": "lab_submitter", "scopes": ["incidents:write"]},
    ),
    Write(
        "api-key-revoke", "key_lab_admin", "POST", "/api/v1/api-keys/{api_key@lab_a}/revoke", {"reason": "ma"}
    ),
    Write(
        "webhook-create",
        "key_lab_admin",
        "POST",
        "/api/v1/webhooks/",
        {"url": "https://93.184.216.34/hook", "subscriptions": ["own_reports"]},
    ),
    Write(
        "webhook-update", "key_lab_admin", "PATCH", "/api/v1/webhooks/{webhook@lab_a}", {"description": "ma"}
    ),
    Write(
        "webhook-disable",
        "key_lab_admin",
        "POST",
        "/api/v1/webhooks/{webhook@lab_a}/disable",
        {"reason": "ma"},
    ),
    Write(
        "email-subscription",
        "lab_submitter",
        "PUT",
        "/api/v1/email-subscription",
        {"subscriptions": ["own_reports"]},
    ),
]


def _path(w: World, write: Write) -> str:
    path = write.path
    for name, obj in w.objects.items():
        token = "{" + name + "}"
        if token in path:
            path = path.replace(token, obj.attrs["ref"])
    return path


def _body(w: World, write: Write, extra: dict[str, Any]) -> dict[str, Any]:
    body = {
        key: (w.objects[value[1:-1]].attrs["ref"] if value == "{model@clear}" else value)
        for key, value in write.body.items()
    }
    body.update(extra)
    if write.multipart:
        if write.name == "evaluation-import":
            from tests.security.world import INSPECT_LOG

            log = INSPECT_LOG.with_name("replication_probe_9of10.json")
            body["file"] = ContentFile(log.read_bytes(), name=log.name)
        else:
            body["file"] = ContentFile(b"mass assignment evidence\n", name="ma.log")
        body = {
            key: (str(value) if not isinstance(value, ContentFile) else value) for key, value in body.items()
        }
    return body


def _send(w: World, write: Write, extra: dict[str, Any]) -> Any:
    client = w.client(write.role)
    fmt = "multipart" if write.multipart else "json"
    return getattr(client, write.method.lower())(_path(w, write), _body(w, write, extra), format=fmt)


def _state() -> list[list[dict[str, Any]]]:
    return [list(table.objects.order_by("pk").values()) for table in TABLES]


@pytest.mark.parametrize("write", WRITES, ids=[write.name for write in WRITES])
def test_a_field_the_caller_may_not_set_is_a_400_naming_it_and_changes_nothing(
    w: World, write: Write
) -> None:
    with transaction.atomic():  # the control: the same body without the field is accepted
        response = _send(w, write, {})
        assert 200 <= response.status_code < 300, (write.name, response.content[:300])
        transaction.set_rollback(True)
    failures = []
    before = _state()
    for name in sorted(set(FORBIDDEN) - write.takes):
        with transaction.atomic():
            response = _send(w, write, {name: "clear" if name == "tlp" else "2001-01-01T00:00:00Z"})
            try:
                body = assert_problem(response, 400, "validation_error")
                assert field_error_codes(body) == {name: "unknown_field"}, body
                assert _state() == before, "the database changed"
            except AssertionError as exc:
                failures.append(f"{name}: {exc}")
            transaction.set_rollback(True)
    assert not failures, "\n".join(failures)


# Writes whose body is one of the listed endpoints' serializers (the workflow actions share
# TransitionSerializer and its subclasses) or that take no body at all.
SAME_SERIALIZER_OR_BODILESS = {
    "api:incident-unclaim",
    "api:incident-request-information",
    "api:incident-respond",
    "api:incident-accept",
    "api:incident-confirm-accept",
    "api:incident-mark-duplicate",
    "api:incident-supersede",
    "api:incident-close",
    "api:webhook-enable",
    "api:webhook-ping",
    "api:webhook-rotate-secret",
}


def test_every_writable_api_endpoint_is_covered(w: World) -> None:
    from django.urls import resolve

    from tests.security import policy

    writable = {
        (item["route"], item["method"])
        for item in policy.load()["endpoints"]
        if item["route"].startswith("api:") and item["method"] in ("POST", "PATCH", "PUT")
    }
    covered = {(resolve(_path(w, write)).view_name, write.method) for write in WRITES}
    missing = {
        (route, method) for route, method in writable - covered if route not in SAME_SERIALIZER_OR_BODILESS
    }
    assert not missing
