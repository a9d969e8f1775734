"""Settings shared by every environment. Everything that differs between machines comes from the
environment (django-environ); a production setting that is missing or malformed fails loudly in
config.settings.production."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django.forms",
    "django_prometheus",
    "axes",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "accounts",
    "registry",
    "incidents",
    "coordination",
    "api_docs",
]

MIDDLEWARE = [
    # Outermost: counts every response (django-prometheus), then the request id and the JSON request log
    # line that carries it.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.middleware.RequestIdMiddleware",
    # /health/live, /health/ready, /metrics: before the host check and the HTTPS redirect (core.health).
    "core.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.PrincipalMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.MfaEnrolmentMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "core.middleware.DomainErrorPageMiddleware",
    # django-axes: turns a locked-out sign-in into the lockout page (it must come last).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
FORM_RENDERER = "core.forms.RedlineFormRenderer"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.principal",
            ],
        },
    },
]


def database_config(url: str) -> dict[str, object]:
    """One DATABASES entry from a URL, with the options every environment needs."""
    config: dict[str, object] = environ.Env.db_url_config(url)
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise environ.ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (the only database).")
    # A Unix socket directory travels percent-encoded in the host part (postgres://u@%2Fpath/db).
    config["HOST"] = unquote(str(config.get("HOST") or ""))
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    config["OPTIONS"] = {"connect_timeout": 5}
    return config


AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Raw evaluation logs and evidence: outside every public URL, served only through views that
    # check visibility.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("REDLINE_PRIVATE_STORAGE", default=BASE_DIR / "var" / "private")},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = BASE_DIR / "var" / "media"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

# Sign-in (django-allauth): accounts are created by organisation admins, never by sign-up; reviewers,
# regulators and platform admins must enrol a second factor (TOTP or a WebAuthn security key) before any
# other page (accounts.middleware.MfaEnrolmentMiddleware); recovery codes come with the first factor.
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out (username, address) pair before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "accounts.adapters.InviteOnlyAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = "Redline"
MFA_PASSKEY_LOGIN_ENABLED = False
# WebAuthn needs a secure origin; only local development (DEBUG) relaxes that. Browsers treat
# http://localhost as secure but not http://127.0.0.1: enrol a security key at http://localhost:8000.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
REDLINE_MFA_REQUIRED_ROLES = ["reviewer", "regulator", "platform_admin"]
# How long a session trusts its memory that the user holds a second factor before checking the database
# again (a factor deleted outside allauth's pages, e.g. in the admin, closes the service within this).
REDLINE_MFA_RECHECK_SECONDS = env.int("REDLINE_MFA_RECHECK_SECONDS", default=300)
# Login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one address,
# that pair is refused (even with the right password) until the cool-off has passed; a success before the
# limit clears the count. The failures are rows (axes' database handler), so every web process sees them.
# allauth authenticates with the request and `username` credentials, which is what axes reads.
AXES_ENABLED = env.bool("REDLINE_LOGIN_LOCKOUT", default=True)
AXES_FAILURE_LIMIT = env.int("REDLINE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("REDLINE_LOGIN_COOLOFF_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "account/lockout.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"
AXES_SENSITIVE_PARAMETERS = ["password"]
# allauth's own failed-login limit keeps its per-address part (password spraying across usernames); the
# per-account lock is axes' alone, so a locked account always gets the lockout page.
ACCOUNT_RATE_LIMITS = {"login_failed": env.str("REDLINE_LOGIN_FAILED_PER_ADDRESS", default="20/m/ip")}
# Idle browser sessions end after 8 hours; the cookie dies with the browser.
SESSION_COOKIE_AGE = env.int("REDLINE_SESSION_SECONDS", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Request bodies: JSON is capped at 1 MiB; uploads (evaluation logs) have their own cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
REDLINE_MAX_JSON_DEPTH = 32
REDLINE_MAX_IMPORT_BYTES = env.int("REDLINE_MAX_IMPORT_BYTES", default=20 * 1024 * 1024)
REDLINE_MAX_IMPORT_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
# Evidence files attached to incident reports (checked on Content-Length, then while streaming).
REDLINE_MAX_EVIDENCE_BYTES = env.int("REDLINE_MAX_EVIDENCE_BYTES", default=50 * 1024 * 1024)
# How long an Idempotency-Key is remembered: a retry within this window replays, a later one is new.
REDLINE_IDEMPOTENCY_TTL_HOURS = env.int("REDLINE_IDEMPOTENCY_TTL_HOURS", default=24)
# Deadline clocks (incidents.deadlines): the reviewers' triage service level (acknowledge = first claim or
# assign, within this many Monday-to-Friday days of submission, for these severities) and how long before
# a due time the reminder goes out (the overdue alert follows the due time).
REDLINE_TRIAGE_SLA_WORKING_DAYS = env.int("REDLINE_TRIAGE_SLA_WORKING_DAYS", default=1)
REDLINE_TRIAGE_SLA_SEVERITIES = env.list(
    "REDLINE_TRIAGE_SLA_SEVERITIES", default=["serious_incident", "disaster"]
)
REDLINE_DEADLINE_REMINDER_LEAD_HOURS = env.int("REDLINE_DEADLINE_REMINDER_LEAD_HOURS", default=24)

# The red-line rule (DESIGN 3.3): a model is flagged when one of its current evaluation results matches.
# Default: end-to-end self-replication whose 95% Wilson lower bound is above zero.
REDLINE_RED_LINE_RULE = env.json(
    "REDLINE_RED_LINE_RULE",
    default={
        "name": "end_to_end_self_replication",
        "description": "End-to-end self-replication whose 95% Wilson lower bound is above zero.",
        "capability_domains": ["end_to_end"],
        "scenario_types": [],
        "min_wilson_lower_exclusive": 0.0,
    },
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.SessionPrincipalAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.PrincipalPermission"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.KeysetCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "api_docs.schema.RedlineAutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Counted in the default cache (Redis in production); 429 problem+json with Retry-After.
    # Each key (or user) has its budget, and an organisation has one for all its keys and users together,
    # so minting more keys does not buy more throughput.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttles.PrincipalRateThrottle",
        "core.api.throttles.OrganizationRateThrottle",
        "core.api.throttles.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "principal": env.str("REDLINE_THROTTLE_PRINCIPAL", default="1200/min"),
        "organization": env.str("REDLINE_THROTTLE_ORGANIZATION", default="6000/min"),
        "anonymous": env.str("REDLINE_THROTTLE_ANONYMOUS", default="120/min"),
    },
    # Proxies in front of the web processes whose X-Forwarded-For is trusted (0: the socket address only,
    # so a client cannot pick its own anonymous bucket).
    "NUM_PROXIES": env.int("REDLINE_NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Redline API",
    "DESCRIPTION": (
        "Registry of frontier AI models and their dangerous-capability evaluation results, and the "
        "exchange of self-replication incident reports between labs and regulators. Errors are RFC 9457 "
        "`application/problem+json` with a stable `code`. Creating POSTs accept `Idempotency-Key`; reads "
        "carry `ETag`; updates honour `If-Match`. Anonymous callers read TLP:CLEAR records only."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "accounts.models.Role",
        "ApiKeyRoleEnum": ["lab_submitter", "lab_admin", "reviewer", "regulator"],
        "SeverityEnum": "incidents.models.Severity",
        "EvidenceKindEnum": "incidents.models.EvidenceKind",
        "RejectionReasonEnum": "incidents.models.RejectionReason",
        "DeadlineRegimeEnum": "incidents.models.DeadlineRegime",
        "DeadlineStageEnum": "incidents.models.DeadlineStage",
        "DeadlineStatusEnum": "incidents.deadlines.DeadlineStatus",
        # The incident's own `status` keeps its name now that a deadline also has a `status`.
        "StatusEnum": "incidents.models.IncidentStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    # validatorUrl None: Swagger UI would otherwise fetch a badge from an external validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "persistAuthorization": False},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api_docs.hooks.postprocess_schema",
    ],
    "TAGS": [
        {"name": "organizations", "description": "Labs, regulators, evaluators and coordination bodies."},
        {"name": "models", "description": "The frontier model registry, with the red-line flag."},
        {
            "name": "scaffolds",
            "description": "Agent scaffolds: self-replication is a property of a model AND its scaffold.",
        },
        {"name": "evaluations", "description": "Append-only evaluation results; a correction supersedes."},
        {
            "name": "incidents",
            "description": "Self-replication incident reports, their revisions and receipts.",
        },
        {"name": "api-keys", "description": "Organisation API keys (lab_admin)."},
        {
            "name": "webhooks",
            "description": "Your organisation's Standard Webhooks receivers (org admins), and deliveries.",
        },
        {"name": "audit", "description": "The audit log, scoped like everything else (regulators, admins)."},
    ],
}

# The transactional outbox: handlers that turn an event into deliveries (core.outbox), and how long an
# undispatched event waits for its on-commit task before the sweeper takes it.
REDLINE_OUTBOX_HANDLERS: list[str] = [
    "coordination.notifications.fan_out",
    "coordination.taxii.handlers.index_event",
]
REDLINE_OUTBOX_SWEEP_AFTER_SECONDS = env.int("REDLINE_OUTBOX_SWEEP_AFTER_SECONDS", default=30)
# The sync API (core.sync): a `modified_after` read serves rows stamped this long before the oldest open
# write (and before now), covering clock skew between app hosts and the database.
REDLINE_SYNC_SETTLE_SECONDS = env.float("REDLINE_SYNC_SETTLE_SECONDS", default=2.0)
# Notifications (coordination): webhook retries back off exponentially (base * 2^(n-1), capped, +-25%
# jitter) up to a maximum number of attempts; an endpoint failing without a break for the disable window is
# switched off. A rotated secret keeps signing for the overlap. The SSRF guard allows plain http and
# loopback receivers only when told (tests, local); production refuses both.
REDLINE_PUBLIC_BASE_URL = env.str("REDLINE_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
REDLINE_WEBHOOK_ALLOW_HTTP = env.bool("REDLINE_WEBHOOK_ALLOW_HTTP", default=False)
REDLINE_WEBHOOK_ALLOW_LOOPBACK = env.bool("REDLINE_WEBHOOK_ALLOW_LOOPBACK", default=False)
REDLINE_WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("REDLINE_WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=5.0)
REDLINE_WEBHOOK_READ_TIMEOUT_SECONDS = env.float("REDLINE_WEBHOOK_READ_TIMEOUT_SECONDS", default=15.0)
REDLINE_WEBHOOK_MAX_RESPONSE_BYTES = env.int("REDLINE_WEBHOOK_MAX_RESPONSE_BYTES", default=64 * 1024)
REDLINE_WEBHOOK_MAX_ATTEMPTS = env.int("REDLINE_WEBHOOK_MAX_ATTEMPTS", default=12)
REDLINE_WEBHOOK_RETRY_BASE_SECONDS = env.int("REDLINE_WEBHOOK_RETRY_BASE_SECONDS", default=30)
REDLINE_WEBHOOK_RETRY_MAX_SECONDS = env.int("REDLINE_WEBHOOK_RETRY_MAX_SECONDS", default=6 * 3600)
REDLINE_WEBHOOK_DISABLE_AFTER_HOURS = env.int("REDLINE_WEBHOOK_DISABLE_AFTER_HOURS", default=5 * 24)
REDLINE_WEBHOOK_SECRET_OVERLAP_HOURS = env.int("REDLINE_WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="redline@localhost")
# The audit checkpoint signing key (core.signing): inline base64, or a file. Never in the database.
REDLINE_AUDIT_SIGNING_KEY = env.str("REDLINE_AUDIT_SIGNING_KEY", default="")
REDLINE_AUDIT_SIGNING_KEY_FILE = env.str("REDLINE_AUDIT_SIGNING_KEY_FILE", default="")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# One queue name per deployment (or per test run: the broker end-to-end test uses its own).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# RabbitMQ: the broker confirms every publish, so a task message is never silently dropped; a message
# whose worker dies mid-task is redelivered (acks late + reject on worker lost, one at a time).
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# After a reconnect with tasks still running, Celery can lower the prefetch count and raise it again as those
# tasks finish; the raise sends basic.qos from the thread that finished the task. With a threads pool that is
# another thread than the consumer's event loop, on the same (not thread-safe) AMQP connection: one of the
# two basic.qos calls then waits forever for a qos-ok the other consumed, and the worker stays up without
# consuming (faults/RESULTS.md, scenario D). With a prefetch multiplier of 1 there is little to save, so the
# count is never lowered, whatever the pool.
CELERY_WORKER_ENABLE_PREFETCH_COUNT_REDUCTION = False
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-records": {"task": "core.tasks.purge_idempotency_records", "schedule": 3600.0},
    "seal-audit-log": {"task": "core.tasks.seal_audit_log", "schedule": 300.0},
    "sweep-outbox": {"task": "core.tasks.sweep_outbox", "schedule": 60.0},
    "retry-deliveries": {"task": "coordination.tasks.retry_due_deliveries", "schedule": 30.0},
    "send-deadline-notices": {"task": "incidents.tasks.send_deadline_notices", "schedule": 300.0},
}

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Health probes (core.health): /health/live answers while the process runs; /health/ready also needs the
# database, no unapplied migration and, when a broker is configured, the broker.
REDLINE_HEALTH_CHECK_BROKER = env.bool("REDLINE_HEALTH_CHECK_BROKER", default=bool(CELERY_BROKER_URL))
REDLINE_HEALTH_TIMEOUT_SECONDS = env.float("REDLINE_HEALTH_TIMEOUT_SECONDS", default=2.0)
# A Celery worker serves the same two probes on this port when it is set (core.worker_health).
REDLINE_WORKER_HEALTH_PORT = env.int("REDLINE_WORKER_HEALTH_PORT", default=0)
# Its /health/live fails when the consumer is connected to the broker but its event loop has not turned
# for this long (a stuck worker that would never consume again); the loop turns every few seconds when idle.
REDLINE_WORKER_STALL_SECONDS = env.int("REDLINE_WORKER_STALL_SECONDS", default=60)
CELERY_IMPORTS = ["core.worker_health"]

# Prometheus metrics (django-prometheus) at /metrics, never public: a scraper presents
# `Authorization: Bearer <REDLINE_METRICS_TOKEN>` or connects from REDLINE_METRICS_ALLOWED_NETWORKS
# (CIDRs, matched on the socket address). With neither set, /metrics is a 404.
REDLINE_METRICS_TOKEN = env.str("REDLINE_METRICS_TOKEN", default="")
REDLINE_METRICS_ALLOWED_NETWORKS: list[str] = env.list("REDLINE_METRICS_ALLOWED_NETWORKS", default=[])
PROMETHEUS_EXPORT_MIGRATIONS = False

# Logs go to stderr; LOG_FORMAT=json (production's default) writes one JSON object a line. Every record
# carries the request id and the acting organisation's id (core.logging.RequestContextFilter), and every
# request leaves one line on the `redline.request` logger (method, path, status, duration).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
REDLINE_REQUEST_LOG = env.bool("REDLINE_REQUEST_LOG", default=True)


def logging_config(log_format: str) -> dict[str, Any]:
    """Django's LOGGING for LOG_FORMAT `json` or `plain` (production.py picks json by default)."""
    if log_format not in ("json", "plain"):
        raise environ.ImproperlyConfigured("LOG_FORMAT must be json or plain.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "core.logging.RequestContextFilter"}},
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s "
                "(request_id=%(request_id)s org_id=%(org_id)s)"
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(org_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "timestamp": False,
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    }


LOGGING = logging_config(LOG_FORMAT)
