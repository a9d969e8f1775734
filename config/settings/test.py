"""The test suite: the embedded PostgreSQL, or DATABASE_URL when set (CI points it at PostgreSQL 15)."""

from __future__ import annotations

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    BASE_DIR,
    REDLINE_AUDIT_SIGNING_KEY,
    REDLINE_AUDIT_SIGNING_KEY_FILE,
    database_config,
    env,
)

DEBUG = False
SECRET_KEY = "test-only-not-a-secret"  # noqa: S105
if not REDLINE_AUDIT_SIGNING_KEY and not REDLINE_AUDIT_SIGNING_KEY_FILE:
    from core.signing import ensure_local_key_file

    # A per-checkout audit signing key in the git-ignored var/ folder, shared by test workers.
    REDLINE_AUDIT_SIGNING_KEY_FILE = str(ensure_local_key_file(BASE_DIR / "var" / "audit_signing_key"))

_database_url = env.str("DATABASE_URL", default="")
if not _database_url:
    from core.embedded_pg import embedded_database_url

    _database_url = embedded_database_url()
DATABASES = {"default": database_config(_database_url)}
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": BASE_DIR / "var" / "test-private"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The suite makes thousands of requests from one address and a few keys; tests/core/test_throttles.py
# sets real limits where it checks them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        "principal": "1000000/min",
        "organization": "1000000/min",
        "anonymous": "1000000/min",
    },
}
# Deadline tests move the clock by days with a signed-in client; the 8-hour production session would end
# under them. base.py's value is what deployments get.
SESSION_COOKIE_AGE = 90 * 86400
# One host, one clock: tests read what they just wrote through `modified_after`; the open-transaction
# horizon still holds (tests/incidents/test_sync.py checks it with two connections).
REDLINE_SYNC_SETTLE_SECONDS = 0.0
