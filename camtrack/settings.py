"""Settings for camtrack, all read from the environment with safe local defaults.

One module, in sections. See README "Configuration" for the variables.
"""

import os
import secrets
import socket
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# --- Paths -----------------------------------------------------------------
DATA_DIR = Path(env("CAMTRACK_DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """An explicit SECRET_KEY wins; otherwise one is generated once into the data folder.

    Many hosts must share one key, so they must set it explicitly.
    """
    key = env("SECRET_KEY", default="")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # Processes started together (a launcher, a benchmark) race here: the key is written whole
        # to a file of this process's own and linked into place, which only one of them can do.
        tmp = DATA_DIR / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won; its key is the one
        finally:
            tmp.unlink()
    return path.read_text().strip()


# --- Core --------------------------------------------------------------------
SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Upstream to downstream, the way data flows (see README "Reading the code").
    "cameras",
    "detections",
    "tracking",
    "notify",
    "pipeline",
    "web",
    "devtools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "camtrack.urls"
WSGI_APPLICATION = "camtrack.wsgi.application"
ASGI_APPLICATION = "camtrack.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_TZ = True
USE_I18N = False
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# The console's charting library, installed from npm by `make install` (package.json pins it).
STATICFILES_DIRS = [("vendor/uplot", BASE_DIR / "node_modules" / "uplot" / "dist")]
# Served from the finders too, so a process started without collectstatic (tests, a fresh checkout)
# still has every asset; collectstatic's copies win where they exist.
WHITENOISE_USE_FINDERS = env.bool("CAMTRACK_STATIC_FINDERS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
# Passwords set through the admin or /api/users/ are checked against the usual rules.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- HTTPS (production) ------------------------------------------------------
# CAMTRACK_HTTPS=true when the web UI is served over HTTPS (directly or behind a proxy that sets
# X-Forwarded-Proto): cookies go over HTTPS only, plain HTTP is redirected, browsers are told to keep
# to HTTPS (HSTS). `manage.py check --deploy` is clean with it. The health check and the metrics stay
# reachable over plain HTTP for load balancers and scrapers inside the network.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
CAMTRACK_HTTPS = env.bool("CAMTRACK_HTTPS", default=False)
if CAMTRACK_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    # Start short; raise to a year (31536000) once HTTPS is known to work everywhere it must.
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a site owner's one-way decision (hard to undo for months), not a default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Database ----------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'camtrack.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # IMMEDIATE makes every transaction take the write lock up front, so the dispatch's
    # read-then-update cannot interleave; the timeout rides out short lock waits.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # A file, not memory, so that test workers in other processes share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # Persistent connections: opening one per task was the largest single cost measured.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

# --- REST framework ----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "web.pagination.Pagination",
    "PAGE_SIZE": 100,
    # `format` is a detection filter here, not DRF's renderer override.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The API contract, generated from the code: /api/schema/ (OpenAPI 3), /api/schema/ui/ (Swagger UI).
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "camtrack API",
    "DESCRIPTION": "Cameras, detections, sightings, counts, coverage, alerts and webhooks. Token or session auth.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Like the rest of the API: nothing for anonymous users (the UI uses the admin's login session).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from the installed sidecar package: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for the camera status choices wherever they appear (status, previous).
    "ENUM_NAME_OVERRIDES": {"CameraStatusEnum": "cameras.models.Camera.Status"},
}

# --- Celery ------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CAMTRACK_EMBEDDED_REDIS_PORT = env.int("CAMTRACK_EMBEDDED_REDIS_PORT", default=6380)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=f"redis://127.0.0.1:{CAMTRACK_EMBEDDED_REDIS_PORT}/0")
# Frames travel between io and cpu through Redis, never through the broker.
CAMTRACK_FRAME_STORE_URL = env(
    "CAMTRACK_FRAME_STORE_URL",
    default=CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith("redis")
    else f"redis://127.0.0.1:{CAMTRACK_EMBEDDED_REDIS_PORT}/0",
)
CAMTRACK_FRAME_TTL_S = env.int("CAMTRACK_FRAME_TTL_S", default=60)
# The change gate (pipeline/gate.py): a frame is decoded again when at least MIN_PIXELS pixels of its
# 1/8-size thumbnail differ by more than PIXEL_DELTA grey levels from the last decoded frame's, and at
# least every FULL_EVERY_S whatever happens; 0 turns the gate off everywhere.
CAMTRACK_GATE_FULL_EVERY_S = env.float("CAMTRACK_GATE_FULL_EVERY_S", default=30.0)
CAMTRACK_GATE_PIXEL_DELTA = env.int("CAMTRACK_GATE_PIXEL_DELTA", default=12)
CAMTRACK_GATE_MIN_PIXELS = env.int("CAMTRACK_GATE_MIN_PIXELS", default=2)
# Each camera's latest decoded frame stays this long in the frame store for the console; 0 keeps none.
CAMTRACK_LATEST_FRAME_TTL_S = env.int("CAMTRACK_LATEST_FRAME_TTL_S", default=60)
# The event log (a Redis Stream) that SSE, MQTT, webhooks and alert rules read; bounded by size and age.
CAMTRACK_EVENTS_URL = env("CAMTRACK_EVENTS_URL", default=CAMTRACK_FRAME_STORE_URL)
CAMTRACK_EVENTS_MAXLEN = env.int("CAMTRACK_EVENTS_MAXLEN", default=1_000_000)
CAMTRACK_EVENTS_MAX_AGE_S = env.int("CAMTRACK_EVENTS_MAX_AGE_S", default=7 * 24 * 3600)
# A long sighting announces itself again at most this often (sighting.update).
CAMTRACK_SIGHTING_UPDATE_S = env.float("CAMTRACK_SIGHTING_UPDATE_S", default=10.0)
CAMTRACK_SSE_HEARTBEAT_S = env.float("CAMTRACK_SSE_HEARTBEAT_S", default=15.0)

# A message a worker took and has not acknowledged is delivered again after this (Redis broker). It must
# exceed the longest time a worker holds one: captures and decodes take seconds (decode's hard limit is
# 45 s), but a webhook retry waits up to 600 s in the io worker (an ETA) before it runs. What a worker
# held when it died (SIGKILL, a host lost) comes back after this long: captures then count as late.
# https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=900)
# Through a broker restart or failover (README "Operating camtrack"): commands on a dead connection
# time out instead of waiting forever, a consumer's idle connection is checked, and the workers
# reconnect for as long as it takes rather than giving up after 100 tries and exiting.
# https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "retry_on_timeout": True,
    "health_check_interval": 10,
}
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A publish (beat's rounds, capture handing frames to decode, retries) rides out a broker restart
# of up to about 12 s before it gives up; what still fails is counted, never dropped silently.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 8, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task events cost a publish per state change; Flower needs them (the demo turns them on).
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", default=False)
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "io"
CELERY_TASK_CREATE_MISSING_QUEUES = False
CELERY_TASK_QUEUES_NAMES = ("io", "cpu")
# Task names are pinned in pipeline/tasks.py (they keep the names of their first release).
CELERY_TASK_ROUTES = {
    "cameras.tasks.dispatch_due": {"queue": "io"},
    "cameras.tasks.capture": {"queue": "io"},
    "analytics.tasks.decode": {"queue": "cpu"},
    "analytics.tasks.prune": {"queue": "io"},
    "tracking.tasks.close_stale": {"queue": "io"},
    # Webhook tasks live in notify/tasks.py (notify may not import pipeline).
    "notify.tasks.webhook_deliver": {"queue": "io"},
    "notify.tasks.webhook_sweep": {"queue": "io"},
}
CELERY_BEAT_SCHEDULE = {
    # One entry dispatches every due camera in bulk; it expires with its period so a
    # stalled worker cannot pile up rounds.
    "dispatch-due": {"task": "cameras.tasks.dispatch_due", "schedule": 1.0, "options": {"expires": 1.0}},
    # Retention in bounded batches; each run stops after a time budget and the next one carries on.
    # Every minute with a 20 s budget: at CAMTRACK_PRUNE_ROWS_PER_S (2,000) up to ~660 rows/s on average,
    # above what a 1000-camera site writes (every 5 minutes it was ~130 rows/s, and fell behind).
    "prune": {"task": "analytics.tasks.prune", "schedule": 60.0, "options": {"expires": 60.0}},
    "close-stale-sightings": {"task": "tracking.tasks.close_stale", "schedule": 1.0, "options": {"expires": 1.0}},
    # Webhook deliveries whose retry message was lost are queued again.
    "webhook-sweep": {"task": "notify.tasks.webhook_sweep", "schedule": 300.0, "options": {"expires": 300.0}},
}

# --- camtrack ----------------------------------------------------------------
CAMTRACK_IO_CONCURRENCY = env.int("CAMTRACK_IO_CONCURRENCY", default=16)
CAMTRACK_CPU_CONCURRENCY = env.int("CAMTRACK_CPU_CONCURRENCY", default=os.cpu_count() or 1)
# file:// cameras may only read below this folder.
CAMTRACK_FILE_ROOT = Path(env("CAMTRACK_FILE_ROOT", default=str(DATA_DIR / "files"))).resolve()
CAMTRACK_DEFAULT_ENGINE = env("CAMTRACK_DEFAULT_ENGINE", default="zxing")
CAMTRACK_MAX_FRAME_BYTES = env.int("CAMTRACK_MAX_FRAME_BYTES", default=20 * 1024 * 1024)
CAMTRACK_MAX_FRAME_PIXELS = env.int("CAMTRACK_MAX_FRAME_PIXELS", default=40_000_000)
# A capture that has not finished by timeout + this is considered lost and may be dispatched again.
CAMTRACK_LEASE_SLACK_S = env.float("CAMTRACK_LEASE_SLACK_S", default=10.0)
# A claimed slot with no outcome by its due time + lag + timeout + frame TTL + this is recorded as
# failed ``lost`` (cameras.ledger); this covers a decode's time limit and a store's retries.
CAMTRACK_SLOT_GRACE_S = env.float("CAMTRACK_SLOT_GRACE_S", default=60.0)
# Each dispatch round claims what falls due before the next round (the beat period) and sends it
# with an ETA, so waiting for the next beat tick adds no latency.
CAMTRACK_DISPATCH_LOOKAHEAD_S = env.float("CAMTRACK_DISPATCH_LOOKAHEAD_S", default=1.0)
# Backpressure: a capture not started this long after its due time is dropped (counted as skipped),
# and a dispatch round skips when more decode batches than this wait in the broker.
CAMTRACK_MAX_LAG_S = env.float("CAMTRACK_MAX_LAG_S", default=2.0)
CAMTRACK_MAX_DECODE_BACKLOG = env.int("CAMTRACK_MAX_DECODE_BACKLOG", default=6)
# ... but only once the backlog has lasted this long: a decoder restarting for a few seconds is no overload.
CAMTRACK_SHED_AFTER_S = env.float("CAMTRACK_SHED_AFTER_S", default=3.0)
# io workers cache a camera's capture settings this long (edits apply within it).
CAMTRACK_CAMERA_CACHE_S = env.float("CAMTRACK_CAMERA_CACHE_S", default=10.0)
# Healthy cameras due within this window share one capture task (and one decode task), up to this many.
# Each task, message and store statement is paid once per batch: at 500 snapshots/s on 2 cores, 64
# served every slot where 16 served 72 to 80 % (README, benchmarks).
CAMTRACK_BATCH_SIZE = env.int("CAMTRACK_BATCH_SIZE", default=64)
CAMTRACK_BATCH_WINDOW_S = env.float("CAMTRACK_BATCH_WINDOW_S", default=0.1)
# Threads per io worker process that grab the members of a batch concurrently.
CAMTRACK_GRAB_THREADS = env.int("CAMTRACK_GRAB_THREADS", default=64)
# Frames of a batch ready within this go to decoding at once; slower members follow on their own.
CAMTRACK_STRAGGLER_S = env.float("CAMTRACK_STRAGGLER_S", default=0.5)
# Stream-mode cameras (the streams process): a lease not renewed for this long is taken over by another
# host; renewals every heartbeat. "auto" decodes key frames only where they come at least once per
# capture interval, every frame otherwise ("key" and "all" force one policy).
CAMTRACK_STREAM_LEASE_S = env.float("CAMTRACK_STREAM_LEASE_S", default=10.0)
CAMTRACK_STREAM_HEARTBEAT_S = env.float("CAMTRACK_STREAM_HEARTBEAT_S", default=2.0)
CAMTRACK_STREAM_DECODE = env("CAMTRACK_STREAM_DECODE", default="auto")
# Sessions stuck in FFmpeg past their socket timeout, beyond which the process exits to be restarted.
CAMTRACK_STREAM_MAX_ABANDONED = env.int("CAMTRACK_STREAM_MAX_ABANDONED", default=8)
CAMTRACK_NODE = env("CAMTRACK_NODE", default="1")
# Retention: raw per-frame rows are for audits and debugging; sightings and counts are what operators
# query over months.
CAMTRACK_SNAPSHOT_RETENTION_DAYS = env.int("CAMTRACK_SNAPSHOT_RETENTION_DAYS", default=7)
CAMTRACK_DETECTION_RETENTION_DAYS = env.int("CAMTRACK_DETECTION_RETENTION_DAYS", default=7)
CAMTRACK_SIGHTING_RETENTION_DAYS = env.int("CAMTRACK_SIGHTING_RETENTION_DAYS", default=400)
# Snapshots of unchanged, empty frames (``quiet``) are deleted after this many seconds. A row is its
# slot's once-only key while a redelivered task may still come, so it is kept at least the broker's
# visibility timeout plus five minutes (the ledger's deadline is about two). 0 keeps them as long as
# other snapshots.
CAMTRACK_QUIET_SNAPSHOT_KEEP_S = env.int("CAMTRACK_QUIET_SNAPSHOT_KEEP_S", default=3600)
# Most rows per second retention deletes; 0: as fast as the database goes.
CAMTRACK_PRUNE_ROWS_PER_S = env.int("CAMTRACK_PRUNE_ROWS_PER_S", default=2_000)
# Webhooks may not reach loopback, link-local or private addresses (the cloud metadata service, the
# database, the admin of a router) unless this is set: for receivers on the same host or network.
CAMTRACK_WEBHOOK_ALLOW_PRIVATE = env.bool("CAMTRACK_WEBHOOK_ALLOW_PRIVATE", default=False)
# MQTT channel of the notify process (notify/mqtt.py): mqtt://user:pass@host:1883 or mqtts://...; empty: off.
CAMTRACK_MQTT_URL = env("CAMTRACK_MQTT_URL", default="")
CAMTRACK_MQTT_TOPIC_PREFIX = env("CAMTRACK_MQTT_TOPIC_PREFIX", default="camtrack")
# One client id per process: a broker disconnects the older of two clients that share an id.
CAMTRACK_MQTT_CLIENT_ID = env(
    "CAMTRACK_MQTT_CLIENT_ID", default=f"camtrack-notify-{socket.gethostname()}-{os.getpid()}"
)
# mqtts:// only: a CA file for a private broker certificate (blank: the system's), or no verification at all.
CAMTRACK_MQTT_TLS_CA = env("CAMTRACK_MQTT_TLS_CA", default="")
CAMTRACK_MQTT_TLS_INSECURE = env.bool("CAMTRACK_MQTT_TLS_INSECURE", default=False)

# Metrics (camtrack/metrics.py): /metrics asks for "Authorization: Bearer <token>" when this is set, and
# a worker serves its own processes' metrics on this port when set (hosts whose processes do not share
# PROMETHEUS_MULTIPROC_DIR with a web process, such as containers).
CAMTRACK_METRICS_TOKEN = env("CAMTRACK_METRICS_TOKEN", default="")
CAMTRACK_METRICS_PORT = env.int("CAMTRACK_METRICS_PORT", default=0)
CAMTRACK_METRICS_BIND = env("CAMTRACK_METRICS_BIND", default="127.0.0.1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
