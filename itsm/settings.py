"""Settings for the whole product, read from the environment.

Safe defaults give the embedded mode (SQLite under var/, a Celery broker on
the file system, email on the console). Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and EMAIL_URL; see docker-compose.yml.
"""

import datetime as dt
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from itsm.env import (
    env_bool,
    env_database,
    env_email,
    env_int,
    env_list,
    env_str,
    env_time_zone,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ITSM_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", default=False)

DEVELOPMENT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set (it may be left out only when DEBUG=true).")
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
elif SECRET_KEY == DEVELOPMENT_SECRET_KEY and not DEBUG:
    # Copied from a development setup, it is public: anyone could sign sessions and links with it.
    raise ImproperlyConfigured("SECRET_KEY is the public development key; set a secret one of your own.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_htmx",
    "simple_history",
    # Counts failed logins and refuses further tries for a while (see "Login throttling" below).
    "axes",
    "escalation",
    "incidents",
    "reports",
]

MIDDLEWARE = [
    "itsm.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "incidents.web.middleware.UserTimeZoneMiddleware",
    "incidents.web.middleware.UserLanguageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "itsm.urls"
WSGI_APPLICATION = "itsm.wsgi.application"
ASGI_APPLICATION = "itsm.asgi.application"

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
            ],
        },
    },
]

# --- Database --------------------------------------------------------------
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'itsm.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default keeps its database file here; make sure the folder exists.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL lets the web process read while the worker writes; a generous
    # timeout turns a brief write lock into a wait rather than an error.
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # Take the write lock when a transaction starts, so two writers
            # queue up instead of one failing on a stale snapshot.
            "transaction_mode": "IMMEDIATE",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database host that does not answer fails a request within seconds (a 503), not a hang.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 3, minimum=1))
# The alert intake's INSERT is prepared on the server, parsed and planned once per connection
# (incidents/intake/sql.py). Off for a pooler that does not keep a session's prepared statements,
# such as PgBouncer before 1.21 in transaction mode.
DATABASE_PREPARED_STATEMENTS = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_PREPARED_STATEMENTS", True
)
if DATABASE_PREPARED_STATEMENTS:
    # psycopg prepares only what a server-binding cursor asks for; Django's own cursors bind in the
    # client and prepare nothing, so no other statement is prepared. (None would refuse even the ask.)
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ----------------------------------------------
REDIS_URL = env_str("REDIS_URL")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Celery ETAs in this product are short (minutes at most); the database
    # keeps the real deadlines, so a task redelivered after this timeout is
    # harmless, and one lost with a worker comes back after it.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "itsm.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Installations (or test runs) that share one Redis keep apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# The clock's wake-ups have a queue of their own, so a backlog of deliveries
# (or anything else) never holds back a deadline. The Procfile's worker
# consumes all three queues; docker-compose.yml runs a worker for each.
CELERY_CLOCK_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.clock"
# Outbound webhooks too: a slow or failing receiver never delays pages or deadlines.
CELERY_WEBHOOK_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.webhooks"
CELERY_TASK_ROUTES = {
    "escalation.fire_timer": {"queue": CELERY_CLOCK_QUEUE},
    "escalation.sweep_timers": {"queue": CELERY_CLOCK_QUEUE},
    "escalation.deliver_webhook": {"queue": CELERY_WEBHOOK_QUEUE},
    "escalation.sweep_webhooks": {"queue": CELERY_WEBHOOK_QUEUE},
    "escalation.purge_delivered_webhooks": {"queue": CELERY_WEBHOOK_QUEUE},
    # Stakeholder updates to subscribers (email and webhooks) wait on receivers too.
    "incidents.deliver_status_update": {"queue": CELERY_WEBHOOK_QUEUE},
    "incidents.sweep_status_updates": {"queue": CELERY_WEBHOOK_QUEUE},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# A publish while the broker is away gives up quickly: every wake-up has a
# sweeper behind it, and a request should not hang on Redis.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # The safety nets behind the precise wake-ups: due timers and due notifications.
    "sweep-timers": {"task": "escalation.sweep_timers", "schedule": 1.0, "options": {"expires": 5}},
    "sweep-notifications": {"task": "escalation.sweep_notifications", "schedule": 5.0, "options": {"expires": 15}},
    # Alert events the request path's wake-up did not reach (broker away, a lost task).
    "process-alert-events": {"task": "incidents.process_alert_events", "schedule": 2.0, "options": {"expires": 10}},
    "purge-alert-events": {"task": "incidents.purge_alert_events", "schedule": 24 * 3600, "options": {"expires": 3600}},
    "sweep-webhooks": {"task": "escalation.sweep_webhooks", "schedule": 5.0, "options": {"expires": 15}},
    "sweep-status-updates": {"task": "incidents.sweep_status_updates", "schedule": 5.0, "options": {"expires": 15}},
    "purge-delivered-webhooks": {
        "task": "escalation.purge_delivered_webhooks",
        "schedule": 24 * 60 * 60,
        "options": {"expires": 60 * 60},
    },
    # Weekly and monthly summaries for subscribed managers, sent once their period ends.
    "send-due-reports": {"task": "reports.send_due_reports", "schedule": 15 * 60, "options": {"expires": 10 * 60}},
    # Ended months added up ahead for the summary (reports/rollups.py), rebuilt when their facts change.
    "refresh-report-rollups": {
        "task": "reports.refresh_rollups",
        "schedule": 15 * 60,
        "options": {"expires": 10 * 60},
    },
    "close-resolved-incidents": {
        "task": "incidents.tasks.close_stale_resolved_incidents",
        "schedule": 15 * 60,
    },
    # Expired sessions and old entries of the login log, which nothing else deletes.
    "purge-login-records": {
        "task": "incidents.purge_login_records",
        "schedule": 24 * 3600,
        "options": {"expires": 3600},
    },
}

# --- Auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:queue"
LOGOUT_REDIRECT_URL = "login"

# --- Login throttling (django-axes) -----------------------------------------
# The web login, the admin's and the browsable API's all go through authenticate(), where the
# first backend refuses a username or an address that failed LOGIN_FAILURE_LIMIT times in a row,
# for LOGIN_COOLOFF_MINUTES. Attempts are kept in the database (AccessAttempt, AccessLog in the
# admin, where an admin unlocks early; or `manage.py axes_reset`); passwords are never stored.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("LOGIN_THROTTLE_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_CALLABLE = "itsm.lockout.locked_out"
# No start-up banner on every manage.py command and worker start; lockouts are still logged.
AXES_VERBOSE = False

# --- Internationalisation -------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("id", _("Indonesian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
# Extensions an attachment may have; each one's content is checked too (incidents/attachments.py).
ATTACHMENT_TYPES = env_list(
    "ATTACHMENT_TYPES", ["png", "jpg", "jpeg", "gif", "webp", "pdf", "txt", "log", "csv", "json", "zip"]
)
# Requests larger than an attachment plus its form fields are refused by Django itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Email ----------------------------------------------------------------
vars().update(env_email("EMAIL_URL", "consolemail://"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "itsm@localhost")

# --- Product rules --------------------------------------------------------
# Where people reach this installation: links in pages, emails and webhooks.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Resolved incidents that nobody reopens are closed automatically after this
# many hours (P1/P2 only once their post-mortem is published). 0 turns it off.
AUTO_CLOSE_RESOLVED_AFTER_HOURS = env_int("AUTO_CLOSE_RESOLVED_AFTER_HOURS", 72, minimum=0)
# Delivered outbound webhook events are kept this many days in the delivery
# log, then deleted by a daily task (failed ones stay). 0 keeps them all.
WEBHOOK_RETENTION_DAYS = env_int("WEBHOOK_RETENTION_DAYS", 30, minimum=0)
# The login log (django-axes: who logged in, from where, when) is kept this many days.
LOGIN_LOG_RETENTION_DAYS = env_int("LOGIN_LOG_RETENTION_DAYS", 90, minimum=1)
# The account that background work acts as, so the audit trail names it.
SYSTEM_USERNAME = "itsm-system"

# --- Alert intake ---------------------------------------------------------
# Larger bodies are refused with 413 (PagerDuty's own limit is 512 KB an event).
INTAKE_MAX_BYTES = env_int("INTAKE_MAX_BYTES", 1024 * 1024, minimum=1024)
# At most one wake-up of the alert processor per this many seconds from the request path,
# where the cache that keeps count is shared by every process (Redis).
INTAKE_WAKE_SECONDS = env_int("INTAKE_WAKE_SECONDS", 2, minimum=1)
INTAKE_WAKE_SHARED = bool(REDIS_URL)
# At most one wake-up attempt per process this often; a request inside the gap gets one at its end.
INTAKE_WAKE_GAP_MS = env_int("INTAKE_WAKE_GAP_MS", 100, minimum=0)
# While events keep coming, the processor waits this long after a batch that was not
# full, so batches grow with the rate (alerts reach incidents at most this much later).
INTAKE_GATHER_MS = env_int("INTAKE_GATHER_MS", 200, minimum=0)
# Processed events (each alert's log) are kept this long; alerts and incidents stay.
INTAKE_EVENT_RETENTION_DAYS = env_int("INTAKE_EVENT_RETENTION_DAYS", 30, minimum=1)

# --- Prometheus ------------------------------------------------------------
# GET /metrics answers only with this bearer token; unset (the default), the endpoint is off (404).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "itsm.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "itsm.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "itsm.throttling.AnonRateThrottle",
        "itsm.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/minute"),
        "user": env_str("API_THROTTLE_USER", "6000/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ITSM incident management API",
    "DESCRIPTION": "Report, triage, coordinate and resolve incidents; every change audited.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The error answers (401/403/404/409/429/503…) are documented too (itsm/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "itsm.openapi.document_error_responses",
    ],
    # Choice sets that share a field name keep stable names (status updates reuse the incident's
    # states; tasks, options and deliveries all have a kind or a status).
    "ENUM_NAME_OVERRIDES": {
        "FixKindEnum": "incidents.choices.FixKind",
        "TaskStatusEnum": "incidents.choices.TaskStatus",
        "ChannelEnum": "escalation.models.notifications.Channel",
        "IncidentStateEnum": "incidents.choices.State",
        "SubscriptionChannelEnum": "incidents.choices.SubscriptionChannel",
        "PostMortemStatusEnum": "incidents.choices.PostMortemStatus",
        "ActionItemStatusEnum": "incidents.choices.ActionItemStatus",
        "ActionItemKindEnum": "incidents.choices.ActionItemKind",
        "MomentSourceEnum": "incidents.choices.MomentSource",
        "SourceEnum": "incidents.choices.Source",
        # Impact and urgency share one scale.
        "LevelEnum": "incidents.choices.Level",
    },
}

# --- Security -------------------------------------------------------------
# Served over TLS when people reach it by https (TLS ends at a proxy in front of granian):
# then HTTP is redirected, HSTS is sent and cookies are secure, unless a variable says otherwise.
SERVED_OVER_TLS = SITE_URL.startswith("https://")
# Trust the proxy's X-Forwarded-Proto only when told to: behind no proxy (or one that passes the
# client's header through), anyone could claim https.
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=SERVED_OVER_TLS)
# Load balancers and orchestrators probe the container itself, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Django sends HSTS only on responses to HTTPS requests, never over plain HTTP.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SERVED_OVER_TLS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SERVED_OVER_TLS)
# Preloading is a promise about the whole domain to every browser maker: each installation opts in.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
INSTALLED_APPS += ["csp", "drf_spectacular_sidecar"]
# Content-Security-Policy: scripts and styles only from our own static files (no inline code,
# no eval), nothing framed anywhere. The API docs page widens style-src for itself (itsm/urls.py).
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: for the empty favicon in base.html and the icons Swagger UI draws.
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# The API docs' Swagger UI from this server's static files, not from a CDN.
SPECTACULAR_SETTINGS.update(
    {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
)

# --- Logging --------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not a logging level.")
# One JSON object a line in production; readable lines while developing.
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be 'json' or 'plain'.")
# A line per request (itsm/access_log.py). runserver, the DEBUG server, writes its own.
ACCESS_LOG = env_bool("ACCESS_LOG", default=not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "itsm.request_id.RequestIdFilter"},
        # Paths that carry a secret (feeds, acknowledgement links, integration keys) are never logged whole.
        "redact": {"()": "itsm.redaction.RedactCapabilities"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id", "redact"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # At DEBUG urllib3 logs every host and request line, and a webhook URL may be a credential.
        "urllib3": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
    },
}
