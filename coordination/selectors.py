"""Reads for notifications: endpoints and deliveries of the caller's organisation, and who may be told
of an incident event (always through the incident visibility rule, DESIGN 4)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.authentication import principal_for_membership, system_principal
from accounts.models import Organization, Role
from coordination.models import (
    Delivery,
    DeliveryAttempt,
    EmailSubscription,
    TaxiiObject,
    TaxiiStatus,
    WebhookEndpoint,
)
from coordination.stix import incidents_stix_objects
from coordination.taxii.media import format_timestamp, parse_timestamp
from core.actors import Principal
from core.errors import Forbidden, NotFound
from incidents.models import Incident
from incidents.selectors import incident_list

WEBHOOK_ADMIN_ROLES = (Role.LAB_ADMIN, Role.REGULATOR, Role.PLATFORM_ADMIN)
WEBHOOKS_SCOPE = "webhooks:manage"


def _require_webhook_admin(actor: Principal) -> UUID:
    """Org admins (lab_admin; regulator in oversight orgs) manage their own organisation's endpoints;
    any other member is refused (403)."""
    allowed = actor.role in WEBHOOK_ADMIN_ROLES and actor.has_scope(WEBHOOKS_SCOPE)
    if actor.org_id is None or not allowed:
        raise Forbidden("Only an organisation admin may manage its webhooks.", code="not_webhook_admin")
    return actor.org_id


def endpoint_list(*, actor: Principal) -> QuerySet[WebhookEndpoint]:
    """The caller's organisation's endpoints (admins only)."""
    org_id = _require_webhook_admin(actor)
    return WebhookEndpoint.objects.filter(organization_id=org_id).select_related("organization", "created_by")


def endpoint_get(*, actor: Principal, ref: str) -> WebhookEndpoint:
    """One endpoint of the caller's organisation; another org's endpoint is 404."""
    try:
        pk = UUID(ref)
    except ValueError:
        raise NotFound(f"No webhook {ref!r}.") from None
    endpoint = endpoint_list(actor=actor).filter(pk=pk).first()
    if endpoint is None:
        raise NotFound(f"No webhook {ref!r}.")
    return endpoint


def delivery_list(*, actor: Principal, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    """An endpoint's deliveries, newest first, each with its attempts."""
    endpoint_get(actor=actor, ref=str(endpoint.pk))
    return (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(
            Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("attempted_at", "id"))
        )
    )


def endpoint_principal(org: Organization) -> Principal:
    """Whom an endpoint speaks for: its organisation, as a service of that org (no user, no key), so a
    TLP:RED report, which reaches named people only, never goes to a webhook."""
    role = Role.REGULATOR if org.is_oversight else Role.LAB_SUBMITTER
    return system_principal(org, label=f"webhooks@{org.short_name}", role=role)


def incident_visible_to(*, actor: Principal, incident_id: UUID | str) -> Incident | None:
    """The incident as `actor` may see it, or None."""
    return incident_list(actor=actor).filter(pk=incident_id).first()


def active_endpoints(*, subscriptions: list[str]) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(
        disabled_at__isnull=True, subscriptions__overlap=subscriptions
    ).select_related("organization")


def email_subscribers(*, subscriptions: list[str]) -> QuerySet[EmailSubscription]:
    return (
        EmailSubscription.objects.filter(
            subscriptions__overlap=subscriptions, membership__user__is_active=True
        )
        .exclude(membership__user__email="")
        .select_related("membership__organization", "membership__user")
    )


def subscriber_principal_for_email(subscription: EmailSubscription) -> Principal:
    return principal_for_membership(subscription.membership)


def due_delivery_ids(*, now: object, limit: int) -> list[UUID]:
    """Pending deliveries whose next attempt is due, for channels still receiving."""
    return list(
        Delivery.objects.filter(status="pending", next_attempt_at__lte=now)
        .filter(Q(endpoint__isnull=True) | Q(endpoint__disabled_at__isnull=True))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def email_subscriptions_of(*, actor: Principal) -> list[str]:
    """The acting user's email topics (empty when none, or when the actor is not a member user)."""
    if actor.user_id is None or actor.org_id is None:
        raise Forbidden("Email notifications are for organisation members.", code="not_a_member")
    row = EmailSubscription.objects.filter(
        membership__user_id=actor.user_id, membership__organization_id=actor.org_id
    ).first()
    return list(row.subscriptions) if row is not None else []


# --- TAXII 2.1 (issue 6) ----------------------------------------------------------------------------------
#
# API roots: `default` (every caller, anonymous included: what the caller may see, TLP:CLEAR only for an
# anonymous one) and one per sharing community of the caller's organisation (the same rule, narrowed to
# reports filed by members of that community). Each root has a read collection of incident objects and,
# for authenticated callers, an inbound collection that only partner registries may write to.

TAXII_NAMESPACE = uuid.UUID("2f0c8a4e-9b7d-5c31-8e64-1a7b3d9f0c52")  # never change: collection ids derive
DEFAULT_ROOT = "default"
EXCHANGE_SCOPE = "exchange:write"
PARTNER_ORG_KINDS = ("regulator", "coordination_body")
TAXII_MAX_PAGE = 500
TAXII_DEFAULT_PAGE = 100
# A page is filled from at most this many batches of index rows (objects the caller may not see inside a
# visible report, or not yet re-indexed, are skipped): a bounded number of queries per request.
TAXII_MAX_BATCHES = 4


@dataclass(frozen=True)
class TaxiiCollection:
    id: str
    root: str
    kind: str  # "incidents" (read) or "inbound" (write)
    title: str
    description: str
    can_read: bool
    can_write: bool


def taxii_is_partner(actor: Principal) -> bool:
    """A partner registry: an API key of a regulator or coordination body carrying exchange:write."""
    return (
        actor.api_key_id is not None
        and actor.org_kind in PARTNER_ORG_KINDS
        and actor.has_scope(EXCHANGE_SCOPE)
    )


def taxii_api_roots(*, actor: Principal) -> list[str]:
    """The API roots the caller may use: `default`, then its organisation's sharing communities."""
    return [DEFAULT_ROOT, *sorted(set(actor.org_communities))]


def taxii_root_check(*, actor: Principal, root: str) -> None:
    """404 for a community the caller's organisation does not belong to (as for an unknown root)."""
    if root != DEFAULT_ROOT and root not in actor.org_communities:
        raise NotFound(f"No API root {root!r}.")


def _collection_id(root: str, kind: str) -> str:
    return str(uuid.uuid5(TAXII_NAMESPACE, f"{root}:{kind}"))


def taxii_collections(*, actor: Principal, root: str) -> list[TaxiiCollection]:
    """The collections of a root as the caller sees them (the inbound one only for signed-in callers)."""
    taxii_root_check(actor=actor, root=root)
    scope = "" if root == DEFAULT_ROOT else f" filed by members of the {root!r} sharing community"
    collections = [
        TaxiiCollection(
            id=_collection_id(root, "incidents"),
            root=root,
            kind="incidents",
            title="Self-replication incidents",
            description="STIX 2.1 objects of the incident reports you may see" + scope + " (TLP 2.0 "
            "marked: incidents, organisations, models, evaluations, assessments, behaviours).",
            can_read=True,
            can_write=False,
        )
    ]
    if actor.is_authenticated:
        collections.append(
            TaxiiCollection(
                id=_collection_id(root, "inbound"),
                root=root,
                kind="inbound",
                title="Partner submissions (inbound)",
                description="Partner registries POST STIX 2.1 incidents here; each lands in the triage "
                "queue as a report of the sending organisation.",
                can_read=False,
                can_write=taxii_is_partner(actor),
            )
        )
    return collections


def taxii_collection_get(*, actor: Principal, root: str, collection_id: str) -> TaxiiCollection:
    for collection in taxii_collections(actor=actor, root=root):
        if collection.id == collection_id:
            return collection
    raise NotFound(f"No collection {collection_id[:40]!r} in this API root.")


@dataclass(frozen=True)
class TaxiiFilter:
    """The TAXII 2.1 filters of an objects / manifest / versions request, already parsed."""

    added_after: datetime | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()
    limit: int = TAXII_DEFAULT_PAGE
    after: tuple[datetime, int] | None = None  # the `next` cursor's position


@dataclass(frozen=True)
class TaxiiItem:
    row: TaxiiObject
    object: dict[str, Any]
    version: str


@dataclass
class TaxiiPage:
    items: list[TaxiiItem] = field(default_factory=list)
    more: bool = False
    last: TaxiiObject | None = None  # the last index row examined: where `next` resumes


def _visible_rows(actor: Principal, root: str) -> QuerySet[TaxiiObject]:
    """Index rows of the reports `actor` may see (incident_list: the one rule), narrowed to the root."""
    rows = TaxiiObject.objects.filter(incident__in=incident_list(actor=actor).values("pk"))
    if root != DEFAULT_ROOT:
        rows = rows.filter(incident__owner_org__sharing_communities__contains=[root])
    return rows


def taxii_object_version(obj: dict[str, Any], row: TaxiiObject) -> str:
    """TAXII's version of an object: `modified`, else `created`, else (an SCO) the date it was added."""
    return str(obj.get("modified") or obj.get("created") or format_timestamp(row.date_added))


def taxii_index_version(obj: dict[str, Any]) -> str:
    """What the index compares to tell a new version: `modified` / `created` with a short digest of the
    object's markings (a comment's note turns TLP:RED with its report while its `modified` stays: it must
    be added again, or a mirror polling `added_after` keeps the old marking), or a digest of an SCO."""
    stamp = obj.get("modified") or obj.get("created")
    if stamp:
        markings = ",".join(sorted(obj.get("object_marking_refs") or []))
        return f"{stamp}|{hashlib.sha256(markings.encode()).hexdigest()[:4]}"  # <= 32 characters
    return "#" + hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:30]


def _matches_version(version: str, wanted: tuple[str, ...]) -> bool:
    # Redline serves the current version of each object: it is the first, the last and all of them.
    if not wanted or {"last", "first", "all"} & set(wanted):
        return True
    served = parse_timestamp(version, field="version")
    return any(parse_timestamp(v, field="match[version]") == served for v in wanted)


TAXII_SHARED_FALLBACK = 20


def _shared_objects(
    actor: Principal, visible: QuerySet[TaxiiObject], stix_ids: set[str], *, exclude: set[Any]
) -> dict[str, dict[str, Any]]:
    """Objects shared by several reports (an organisation, a marking definition, a model) that `actor`
    does not get through the report of their newest row (e.g. a TLP marking used there only by an
    evaluation it may not read) but may get through another visible report: rendered from up to
    TAXII_SHARED_FALLBACK of those reports, for `actor`, so nothing is shown that its exports would not."""
    other_ids = list(
        visible.filter(stix_id__in=stix_ids)
        .exclude(incident_id__in=exclude)
        .order_by("-date_added")
        .values_list("incident_id", flat=True)[:TAXII_SHARED_FALLBACK]
    )
    incidents = list(incident_list(actor=actor).filter(pk__in=set(other_ids))) if other_ids else []
    rendered = incidents_stix_objects(actor=actor, incidents=incidents)
    return {obj["id"]: obj for obj in rendered if obj["id"] in stix_ids}


def taxii_object_page(*, actor: Principal, root: str, filters: TaxiiFilter) -> TaxiiPage:
    """One page of a read collection, oldest `date_added` first, each object as `actor` may see it now.

    The rows come from the index, restricted to visible reports in SQL; the content is regenerated with
    coordination.stix for `actor` (the registry, assessment and comment rules decide which objects of a
    visible report it sees). An object shared by several reports (an organisation, a model, a behaviour)
    is listed once, at its newest row (rendered from another visible report when the caller does not get
    it through that row's: _shared_objects). Cost: at most TAXII_MAX_BATCHES x (1 index query + the fixed
    queries of one STIX page, twice when the shared fallback runs), whatever the page size."""
    page = TaxiiPage()
    if filters.spec_versions and "2.1" not in filters.spec_versions:
        return page
    visible = _visible_rows(actor, root)
    newer = visible.filter(stix_id=OuterRef("stix_id"), date_added__gt=OuterRef("date_added"))
    rows = visible.filter(~Exists(newer))
    if filters.added_after is not None:
        rows = rows.filter(date_added__gt=filters.added_after)
    if filters.ids:
        rows = rows.filter(stix_id__in=filters.ids)
    if filters.types:
        rows = rows.filter(stix_type__in=filters.types)
    rows = rows.order_by("date_added", "id")
    position = filters.after
    limit = filters.limit
    for _ in range(TAXII_MAX_BATCHES):
        batch_qs = rows
        if position is not None:
            batch_qs = batch_qs.filter(
                Q(date_added__gt=position[0]) | Q(date_added=position[0], id__gt=position[1])
            )
        batch = list(batch_qs[: limit + 1])
        chunk, rows_left = batch[:limit], len(batch) > limit
        incident_ids = {row.incident_id for row in chunk}
        incidents = list(incident_list(actor=actor).filter(pk__in=incident_ids)) if chunk else []
        by_id = {obj["id"]: obj for obj in incidents_stix_objects(actor=actor, incidents=incidents)}
        missing = {row.stix_id for row in chunk} - set(by_id)
        if missing:
            by_id.update(_shared_objects(actor, visible, missing, exclude=incident_ids))
        for row in chunk:
            if len(page.items) == limit:
                page.more = True
                return page
            page.last = row
            obj = by_id.get(row.stix_id)
            if obj is None:
                continue
            version = taxii_object_version(obj, row)
            if _matches_version(version, filters.versions):
                page.items.append(TaxiiItem(row=row, object=obj, version=version))
        if not rows_left:
            page.more = False
            return page
        if len(page.items) == limit:
            page.more = True
            return page
        assert page.last is not None
        position = (page.last.date_added, page.last.pk)
    page.more = True
    return page


def taxii_status_get(*, actor: Principal, status_id: str) -> TaxiiStatus:
    """A status resource, for the organisation that sent the POST only (anyone else: 404)."""
    try:
        pk = UUID(status_id)
    except ValueError as exc:
        raise NotFound("No such status.") from exc
    status = TaxiiStatus.objects.filter(pk=pk, sender_org_id=actor.org_id).first() if actor.org_id else None
    if status is None:
        raise NotFound("No such status.")
    return status
