"""Rate limits (DRF throttles), counted in the default cache: Redis in production (CACHE_URL), so every
web process shares one count; local memory in the embedded default.

A caller is counted as what authenticated it: an API key (a lab pipeline), a user (a browser session),
or, with no credentials, the client address; an authenticated caller is also counted in its organisation's
bucket. Rates come from REDLINE_THROTTLE_* (README, Configuration).

With Redis as the cache, every bucket of a request (the key's or user's and the organisation's) is checked
and counted in one round trip: a Lua script keeps each bucket as a sorted set of request times (DRF's
sliding window, the same rule: a request is counted in each bucket that still has room), atomically, so
concurrent web processes cannot both take the last slot. Any other cache (local memory in the embedded
default and the tests) uses DRF's own read-then-write.

When the cache cannot be reached (Redis restarting), the limits are not applied until it is back: a
warning is logged and the request goes on. The record must stay writable through a cache outage; a 500 on
every request would turn a lost counter into a lost report (faults/broker_restart.py).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.cache.backends.redis import RedisCacheClient
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core.actors import principal_of

logger = logging.getLogger(__name__)

# KEYS: the buckets. ARGV: now, a member unique to this request, then (limit, duration) per bucket.
# Returns, per bucket, {counted (1/0), requests in the window before this one, the oldest one's time}.
# A bucket holding anything but a sorted set (DRF's pickled list, from before) is started afresh.
_SLIDING_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local duration = tonumber(ARGV[2 + 2 * i])
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'zset' and kind ~= 'none' then
    redis.call('DEL', key)
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
  local count = redis.call('ZCARD', key)
  if count < limit then
    redis.call('ZADD', key, now, ARGV[2])
    redis.call('EXPIRE', key, duration)
    out[i] = {1, count, ''}
  else
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    out[i] = {0, count, oldest[2] or ''}
  end
end
return out
"""
_VERDICTS = "_redline_throttle_verdicts"
_SCRIPT = "_redline_throttle_script"


@dataclass(frozen=True)
class _Verdict:
    allowed: bool
    now: float
    count: int  # requests in the window before this one
    oldest: float | None  # the oldest of them (when refused)


class CacheTolerantThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle that lets the request through when its cache is unreachable, and that checks
    all of a request's Redis buckets in one round trip (module docstring)."""

    num_requests: int | None  # SimpleRateThrottle's parsed rate
    duration: int | None

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            bucket = self._bucket(request, view)
            if bucket is None:
                return True
            script = self._redis_script()
            if script is None:
                return super().allow_request(request, view)
            return self._allow_with_redis(script, bucket, request, view)
        except (RedisError, OSError) as error:
            logger.warning("rate limit %s not applied: cache unavailable (%s)", self.scope, error)
            return True

    def _redis_script(self) -> Any:
        """The sliding-window script on the cache's Redis (None for another cache), made once per cache
        client: Django's RedisCacheClient builds a new Redis client on every call of its own."""
        backend = getattr(self.cache, "_cache", None)
        if not isinstance(backend, RedisCacheClient):
            return None
        script = backend.__dict__.get(_SCRIPT)
        if script is None:
            script = backend.get_client(write=True).register_script(_SLIDING_WINDOW_LUA)
            backend.__dict__[_SCRIPT] = script
        return script

    def _bucket(self, request: Request, view: Any) -> tuple[str, int, int] | None:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return None
        key = self.get_cache_key(request, view)
        return None if key is None else (self.cache.make_key(key), self.num_requests, self.duration)

    def _allow_with_redis(
        self, script: Any, bucket: tuple[str, int, int], request: Request, view: Any
    ) -> bool:
        verdicts: dict[str, _Verdict] | None = getattr(request, _VERDICTS, None)
        if verdicts is None or bucket[0] not in verdicts:
            # The first throttle of the request counts every bucket of the view's throttles at once.
            others = view.get_throttles() if hasattr(view, "get_throttles") else []
            buckets = {bucket[0]: bucket}
            for throttle in others:
                if isinstance(throttle, CacheTolerantThrottle) and throttle.cache is self.cache:
                    other = throttle._bucket(request, view)
                    if other is not None:
                        buckets.setdefault(other[0], other)
            verdicts = {**(verdicts or {}), **self._count(script, list(buckets.values()))}
            setattr(request, _VERDICTS, verdicts)
        self._verdict = verdicts[bucket[0]]
        return self._verdict.allowed

    def _count(self, script: Any, buckets: list[tuple[str, int, int]]) -> dict[str, _Verdict]:
        now = self.timer()
        args: list[Any] = [repr(now), uuid.uuid4().hex]
        for _, limit, duration in buckets:
            args += [limit, duration]
        rows = script(keys=[key for key, _, _ in buckets], args=args)
        return {
            key: _Verdict(
                allowed=bool(row[0]), now=now, count=int(row[1]), oldest=float(row[2]) if row[2] else None
            )
            for (key, _, _), row in zip(buckets, rows, strict=True)
        }

    def wait(self) -> float | None:
        verdict: _Verdict | None = getattr(self, "_verdict", None)
        if verdict is None:
            return super().wait()
        # DRF's rule (SimpleRateThrottle.wait) on the window Redis holds.
        assert self.num_requests is not None and self.duration is not None
        elapsed = verdict.now - verdict.oldest if verdict.oldest is not None else 0.0
        remaining = self.duration - elapsed
        available = self.num_requests - verdict.count + 1
        return None if available <= 0 else remaining / float(available)


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
