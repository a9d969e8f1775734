"""Rate limits (DRF throttles), counted in the default cache: Redis in production (CACHE_URL), so every
web process shares one count; local memory in the embedded default.

A caller is counted as what authenticated it: an API key (a lab pipeline), a user (a browser session),
or, with no credentials, the client address. Rates come from REDLINE_THROTTLE_* (README, Configuration).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core.actors import principal_of


class PrincipalRateThrottle(SimpleRateThrottle):
    """Authenticated callers: one bucket per API key or per user."""

    scope = "principal"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        principal = principal_of(request)
        if not principal.is_authenticated:
            return None  # AnonymousRateThrottle counts it
        if principal.api_key_id is not None:
            ident = f"key:{principal.api_key_id}"
        elif principal.user_id is not None:
            ident = f"user:{principal.user_id}"
        else:
            ident = f"principal:{principal.label}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(SimpleRateThrottle):
    """Callers without credentials: one bucket per client address (the public TLP:CLEAR reads)."""

    scope = "anonymous"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if principal_of(request).is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
