"""The one API permission class: reads are open (selectors scope them), writes need a principal with the
view's scope. Which object a principal may change is a domain rule and lives in the services."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from core.actors import principal_of
from core.errors import Forbidden


class PrincipalPermission(BasePermission):
    """Anonymous callers may read (TLP:CLEAR only, via selectors); any write needs authentication and the
    view's `write_scope` (among an API key's granted scopes, or a user's role's scopes). Views can also set
    `read_requires_auth = True`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = principal_of(request)
        if request.method in SAFE_METHODS and not getattr(view, "read_requires_auth", False):
            return True
        if not principal.is_authenticated:
            return False  # -> 401 with WWW-Authenticate
        scope = getattr(view, "write_scope", None) if request.method not in SAFE_METHODS else None
        if scope and not principal.has_scope(scope):
            raise Forbidden(
                f"This {principal.kind.replace('_', ' ')} lacks the scope {scope!r}.",
                code="insufficient_scope",
            )
        return True
