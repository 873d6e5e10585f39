"""Production settings: everything in ``settings`` plus the hardening ``check --deploy`` asks for.

Select with ``DJANGO_SETTINGS_MODULE=fashionrec.settings_production`` (docker-compose does).
"""

import os

from django.core.exceptions import ImproperlyConfigured

from fashionrec.settings import *  # noqa: F403
from fashionrec.settings import env_bool, env_list

DEBUG = False
try:
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
except KeyError as missing:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production.") from missing
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", 31_536_000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
# Several gunicorn workers: throttle counters must be shared (fashionrec/api/throttling.py).
if not FASHIONREC_THROTTLE_CACHE_URL:  # noqa: F405
    raise ImproperlyConfigured(
        "Production throttles need a shared cache: set FASHIONREC_THROTTLE_CACHE_URL or REDIS_CACHE_URL "
        "(a Redis URL, e.g. redis://redis:6379/1)."
    )
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "fashionrec.static_storage.ModuleManifestStaticFilesStorage"},
}
