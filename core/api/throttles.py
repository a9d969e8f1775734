"""Rate limits (DRF throttles), counted in the default cache: Redis in production (CACHE_URL), so every
web process shares one count; local memory in the embedded default.

A caller is counted as what authenticated it: an API key (a lab pipeline), a user (a browser session),
or, with no credentials, the client address; an authenticated caller is also counted in its organisation's
bucket. Rates come from REDLINE_THROTTLE_* (README, Configuration).

When the cache cannot be reached (Redis restarting), the limits are not applied until it is back: a
warning is logged and the request goes on. The record must stay writable through a cache outage; a 500 on
every request would turn a lost counter into a lost report (faults/broker_restart.py).
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core.actors import principal_of

logger = logging.getLogger(__name__)


class CacheTolerantThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle that lets the request through when its cache is unreachable."""

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as error:
            logger.warning("rate limit %s not applied: cache unavailable (%s)", self.scope, error)
            return True


class PrincipalRateThrottle(CacheTolerantThrottle):
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


class OrganizationRateThrottle(CacheTolerantThrottle):
    """Authenticated callers again, one bucket per organisation: all of an org's keys and users share it, so
    issuing more keys does not multiply what the org may send. A principal without an org (a superuser
    acting as platform admin) is held by its own bucket only."""

    scope = "organization"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        principal = principal_of(request)
        if not principal.is_authenticated or principal.org_id is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"org:{principal.org_id}"}


class AnonymousRateThrottle(CacheTolerantThrottle):
    """Callers without credentials: one bucket per client address (the public TLP:CLEAR reads)."""

    scope = "anonymous"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if principal_of(request).is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
