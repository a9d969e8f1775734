"""The acting principal: who is doing something, on behalf of which organisation, in which role.

Services take it as an explicit `actor=` argument, never from a thread-local. It is built by the
authentication classes in accounts (API key -> service account, session -> user) and carries plain values
only, so core imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

PrincipalKind = Literal["user", "service_account", "anonymous", "system"]


@dataclass(frozen=True)
class Principal:
    """A user or an API key's service account, with its organisation and role."""

    kind: PrincipalKind
    label: str
    org_id: UUID | None = None
    org_short_name: str | None = None
    org_kind: str | None = None
    org_jurisdictions: tuple[str, ...] = ()
    org_communities: tuple[str, ...] = ()
    role: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None
    api_key_id: UUID | None = None

    # DRF and Django check these on request.user.
    @property
    def is_authenticated(self) -> bool:
        return self.kind in ("user", "service_account", "system")

    @property
    def is_anonymous(self) -> bool:
        return not self.is_authenticated

    def has_scope(self, scope: str) -> bool:
        """Session users act with their role's scopes, API keys with the (role-bounded) scopes they were
        given: both are in `scopes`, filled in by accounts.authentication. The system has every scope."""
        return self.kind == "system" or scope in self.scopes

    @property
    def idempotency_scope(self) -> str:
        """Idempotency keys are unique per principal (an org's key, or a user)."""
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return "anonymous"

    def audit_fields(self) -> dict[str, object]:
        return {
            "actor_kind": self.kind,
            "actor_label": self.label,
            "actor_user_id": self.user_id,
            "actor_api_key_id": self.api_key_id,
            "actor_org_id": self.org_id,
            "actor_role": self.role or "",
        }


ANONYMOUS = Principal(kind="anonymous", label="anonymous")
SYSTEM = Principal(kind="system", label="system", role="platform_admin")


def principal_of(request: Any) -> Principal:
    """The acting principal of a DRF request (the authentication classes put it in request.user), or of a
    browser page (accounts.middleware puts it in request.principal): shared code such as the FilterSets
    takes either request."""
    user = getattr(request, "user", None)
    return user if isinstance(user, Principal) else web_principal(request)


def anonymous_principal() -> Principal:
    """DRF's UNAUTHENTICATED_USER: an anonymous caller is a principal too (it reads TLP:CLEAR)."""
    return ANONYMOUS


def web_principal(request: Any) -> Principal:
    """The acting principal of a browser page (accounts.middleware.PrincipalMiddleware sets it)."""
    actor = getattr(request, "principal", None)
    return actor if isinstance(actor, Principal) else ANONYMOUS
