"""Local development (`make run`): DEBUG on, embedded PostgreSQL unless DATABASE_URL is set."""

from __future__ import annotations

import secrets

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    BASE_DIR,
    REDLINE_AUDIT_SIGNING_KEY,
    REDLINE_AUDIT_SIGNING_KEY_FILE,
    database_config,
    env,
)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    # A per-checkout key kept in the git-ignored var/ folder: sessions survive restarts, nothing in git.
    key_file = BASE_DIR / "var" / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

if not REDLINE_AUDIT_SIGNING_KEY and not REDLINE_AUDIT_SIGNING_KEY_FILE:
    from core.signing import ensure_local_key_file

    # A per-checkout audit signing key in the git-ignored var/ folder, like SECRET_KEY above.
    REDLINE_AUDIT_SIGNING_KEY_FILE = str(ensure_local_key_file(BASE_DIR / "var" / "audit_signing_key"))

_database_url = env.str("DATABASE_URL", default="")
if not _database_url:
    from core.embedded_pg import embedded_database_url

    _database_url = embedded_database_url()
DATABASES = {"default": database_config(_database_url)}
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
