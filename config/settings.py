"""Weir settings. Everything that differs between machines comes from the environment.

Documented in docs/operations.md. Kafka client settings beyond the bootstrap servers
(SASL, SSL, ...) come from variables prefixed ``WEIR_KAFKA_``: ``WEIR_KAFKA_SASL_MECHANISM``
becomes librdkafka's ``sasl.mechanism`` (processing/runtime/kafka/config.py).
"""

import os
from pathlib import Path

import dj_database_url

from processing.runtime.kafka.config import connection_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or "weir-insecure-development-key-change-me"
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    f"http://{h}:{p}" for h in ALLOWED_HOSTS for p in ("8000", os.environ.get("WEIR_HTTP_PORT", "8000"))
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "topology",
    "processing",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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

# SQLite by default (WAL + busy timeout so Celery workers and Daphne can share it);
# PostgreSQL or anything else through DATABASE_URL.
DATA_DIR = Path(os.environ.get("WEIR_DATA_DIR", BASE_DIR / "var" / "run"))
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'weir.sqlite3'}"),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # The test database is a file, not :memory:, so the Celery workers and Daphne that the
    # integration tests start as subprocesses share it; one file per pytest process so
    # concurrent test sessions never meet.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS: list[dict] = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Limits on what a request may carry (documents are JSON; 10 MB is far above any real topology).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Kafka -----------------------------------------------------------------------------
KAFKA_BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
# Every Kafka client starts from this (processing/runtime/kafka/config.py says how the
# WEIR_KAFKA_<SETTING> variables map to librdkafka settings and which ones are left out).
KAFKA_CLIENT_CONFIG = connection_config({**os.environ, "KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP_SERVERS})

# --- Live websockets (dashboard/wire.py) -------------------------------------------------
# Hub frames go pre-framed straight to Daphne's Twisted transport (~80 -> ~12 us per socket per
# frame); off, every frame goes through Channels' send and no Daphne private is read.
LIVE_DIRECT_WRITE = env_bool("WEIR_LIVE_DIRECT_WRITE", True)
# A socket whose unsent bytes (queued in Twisted behind a browser that stopped reading) pass
# this is dropped; the browser reconnects and resyncs. 0 = no bound. Enforced by the direct
# writer only.
LIVE_MAX_UNSENT_BYTES = int(os.environ.get("WEIR_LIVE_MAX_UNSENT_BYTES", str(8 * 1024 * 1024)))

# --- Redis, Channels, Celery -------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Prefix for every Redis key, pub/sub channel and Celery queue of this installation, so
# several installations (or concurrent test sessions) can share one Redis without meeting.
# A pytest process gets its own prefix; tests/conftest.py hands it to the processes it starts.
REDIS_KEY_PREFIX = os.environ.get("WEIR_REDIS_PREFIX") or (
    f"weir-test-{os.getpid()}:" if "PYTEST_VERSION" in os.environ else ""
)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_KEY_PREFIX}asgi"},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX} if REDIS_KEY_PREFIX else {}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX} if REDIS_KEY_PREFIX else {}
# Task modules outside <app>/tasks.py, plus test-only ones named by the test fixtures.
CELERY_IMPORTS = [
    "dashboard.diagnostics",
    *[m.strip() for m in os.environ.get("WEIR_CELERY_EXTRA_IMPORTS", "").split(",") if m.strip()],
]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "control"
# Long-running topology instances live on their own queue (see processing/tasks.py):
# prefork, prefetch 1, one task per child, acknowledged on start, no time limits.
CELERY_TASK_ROUTES = {"processing.tasks.run_instance": {"queue": "streams"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_TIME_LIMIT = None
CELERY_TASK_SOFT_TIME_LIMIT = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Where a running instance's events go besides its own status (processing/runner.py): dotted
# paths of classes called with (deployment_id, slot), imported when an instance starts, like
# healthchecks' transports. The dashboards' publisher fills the Redis serving tables and the
# channel-layer groups the live pages read.
WEIR_EVENT_SINKS = ["dashboard.publisher.DeploymentEventSink"]
# Pull queries read a live view's rows through this function (processing/pull.py), named here
# so that processing does not import dashboard (dashboard/serving.py reads Redis).
WEIR_VIEW_READER = "dashboard.serving.read_table_sync"

CELERY_BEAT_SCHEDULE = {
    "reconcile-deployments": {
        "task": "processing.tasks.reconcile",
        "schedule": float(os.environ.get("WEIR_RECONCILE_SECONDS", "3")),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Static files (editor, dashboards, vendored JS) are served by the app itself, so Daphne alone
# serves a working UI (tests, `make run`, small installs); no collectstatic needed thanks to
# the finders. Behind a proxy, collectstatic + the proxy can take over.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
WHITENOISE_USE_FINDERS = True

# Live dashboards (dashboard/hub.py): redis-py 8 reads with a 5 s socket timeout by default,
# exactly channels_redis's BZPOPMIN block time, so an idle receive on a busy machine fails with
# a timeout every few seconds. Reads get headroom; a closed connection still fails fast.
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [{"address": REDIS_URL, "socket_timeout": 30}]
