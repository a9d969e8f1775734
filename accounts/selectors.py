"""Reads for accounts, and the TLP visibility rule every record read goes through (DESIGN 4)."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import ApiKey, Membership, Organization, OrganizationKind, Role
from core.actors import Principal
from core.errors import Forbidden, NotFound

OVERSIGHT_KINDS = (OrganizationKind.REGULATOR, OrganizationKind.COORDINATION_BODY)


def tlp_visibility_q(
    principal: Principal,
    *,
    owner_field: str = "owner_org",
    jurisdictions_field: str | None = None,
    red_recipients_q: Q | None = None,
) -> Q:
    """The TLP 2.0 rule as a filter (DESIGN 4): the one place that decides who sees which record.

    clear: everyone. green: every registered participant organisation, except that a lab never sees another
    lab's non-public records. amber: the owning org plus every regulator and coordination body.
    amber+strict: the owning org plus oversight orgs whose jurisdictions meet the record's. red: the named
    recipients (`red_recipients_q`, for records that name them), else the owning org.
    """
    visible = Q(tlp="clear")
    if principal.org_id is None:
        if principal.kind == "system":
            return Q()
        return visible
    own = Q(**{f"{owner_field}_id": principal.org_id})
    if red_recipients_q is None:
        visible |= own
    else:
        visible |= (own & ~Q(tlp="red")) | (Q(tlp="red") & red_recipients_q)
    if principal.org_kind != OrganizationKind.LAB:
        visible |= Q(tlp="green")
    if principal.org_kind in OVERSIGHT_KINDS:
        visible |= Q(tlp="amber")
        if jurisdictions_field and principal.org_jurisdictions:
            visible |= Q(
                tlp="amber+strict", **{f"{jurisdictions_field}__overlap": list(principal.org_jurisdictions)}
            )
    return visible


def organization_list() -> QuerySet[Organization]:
    """The participant directory is public."""
    return Organization.objects.all()


def organization_get(*, ref: str) -> Organization:
    lookup = Q(short_name=ref)
    with suppress(ValueError):
        lookup |= Q(pk=UUID(ref))
    org = Organization.objects.filter(lookup).first()
    if org is None:
        raise NotFound(f"No organisation {ref!r}.")
    return org


def membership_for_user(*, user_id: int, org_id: UUID | None = None) -> Membership | None:
    """The membership a session acts through: the chosen org's, else the oldest."""
    memberships = Membership.objects.select_related("organization").filter(user_id=user_id)
    if org_id is not None:
        memberships = memberships.filter(organization_id=org_id)
    return memberships.order_by("created_at", "pk").first()


def _require_key_admin(actor: Principal, org_id: UUID) -> None:
    if actor.role == Role.PLATFORM_ADMIN:
        return
    if actor.role != Role.LAB_ADMIN or actor.org_id != org_id or not actor.has_scope("api_keys:manage"):
        raise Forbidden("Only the organisation's lab_admin can manage its API keys.", code="not_key_admin")


def api_key_list(*, actor: Principal) -> QuerySet[ApiKey]:
    """The actor's organisation's keys (platform admins: all), newest first."""
    if actor.org_id is None:
        raise Forbidden("Only organisation members can list API keys.", code="not_key_admin")
    _require_key_admin(actor, actor.org_id)
    keys = ApiKey.objects.select_related("organization", "created_by")
    if actor.role != Role.PLATFORM_ADMIN:
        keys = keys.filter(organization_id=actor.org_id)
    return keys


def api_key_get(*, actor: Principal, key_id: str) -> ApiKey:
    try:
        pk = UUID(key_id)
    except ValueError as exc:
        raise NotFound("No such API key.") from exc
    key = api_key_list(actor=actor).filter(pk=pk).first()
    if key is None:
        raise NotFound("No such API key.")
    return key


def api_key_is_usable(key: ApiKey) -> bool:
    now = timezone.now()
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > now)


LAST_USED_RESOLUTION = timedelta(seconds=60)


def organization_own(*, actor: Principal) -> Organization:
    """The actor's own organisation (the organisation page): a principal of no organisation gets 404."""
    org = Organization.objects.filter(pk=actor.org_id).first() if actor.org_id is not None else None
    if org is None:
        raise NotFound("You belong to no organisation.")
    return org


def organization_member_list(*, actor: Principal) -> QuerySet[Membership]:
    """The members of the actor's own organisation with their roles; nobody lists another org's members
    (platform admins included: the page is about the organisation one acts for)."""
    if actor.org_id is None:
        raise NotFound("You belong to no organisation.")
    return (
        Membership.objects.filter(organization_id=actor.org_id)
        .select_related("user")
        .order_by("role", "user__username", "pk")
    )


def can_manage_api_keys(actor: Principal) -> bool:
    """Whether the API key pages are for this actor (the same check as `api_key_list`)."""
    if actor.org_id is None:
        return False
    try:
        _require_key_admin(actor, actor.org_id)
    except Forbidden:
        return False
    return True
