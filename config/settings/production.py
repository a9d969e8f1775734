"""Production: every setting that matters must come from the environment, or start-up fails loudly.

Passes `manage.py check --deploy` (tested)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    REDLINE_AUDIT_SIGNING_KEY,
    REDLINE_AUDIT_SIGNING_KEY_FILE,
    database_config,
    env,
    logging_config,
)
from core.signing import load_signing_key


def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production.")
    return value


DEBUG = False
SECRET_KEY = _required("DJANGO_SECRET_KEY")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set in production.")
DATABASES = {"default": database_config(_required("DATABASE_URL"))}
# Links in notification payloads point here; a localhost default would send readers nowhere.
REDLINE_PUBLIC_BASE_URL = _required("REDLINE_PUBLIC_BASE_URL")
if not REDLINE_PUBLIC_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured("REDLINE_PUBLIC_BASE_URL must be an https:// URL in production.")
# Redis: one cache, and so one rate-limit count, shared by every web process.
CACHES = {"default": env.cache_url_config(_required("CACHE_URL"))}
if not CACHES["default"]["BACKEND"].endswith("RedisCache"):
    raise ImproperlyConfigured("CACHE_URL must be a redis:// or rediss:// URL in production.")
# Audit checkpoints are signed with a key from the environment or a file; refuse to start without a
# readable, well-formed one rather than fail at the first seal.
load_signing_key(REDLINE_AUDIT_SIGNING_KEY, REDLINE_AUDIT_SIGNING_KEY_FILE)
# The webhook SSRF guard: receivers are https on public addresses, whatever the environment says.
if env.bool("REDLINE_WEBHOOK_ALLOW_HTTP", default=False) or env.bool(
    "REDLINE_WEBHOOK_ALLOW_LOOPBACK", default=False
):
    raise ImproperlyConfigured(
        "REDLINE_WEBHOOK_ALLOW_HTTP and REDLINE_WEBHOOK_ALLOW_LOOPBACK are for tests and local use only."
    )
REDLINE_WEBHOOK_ALLOW_HTTP = False
REDLINE_WEBHOOK_ALLOW_LOOPBACK = False

# One JSON object per log line (request id and org id on each), for the log pipeline.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(LOG_FORMAT)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_SAMESITE = "Lax"
