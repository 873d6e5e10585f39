"""Throttles count in the ``throttle`` cache, which every process shares when it is Redis.

DRF's throttles keep their counters in the ``default`` cache, a per-process ``LocMemCache``
unless configured: with two gunicorn workers each counts its own half of the calls, and a
budget of 60/min lets about twice that through. The ``throttle`` alias is Redis whenever
``FASHIONREC_THROTTLE_CACHE_URL`` (or ``REDIS_CACHE_URL``) is set, and production settings
refuse to start without one.
"""

from __future__ import annotations

from django.core.cache import BaseCache, caches

THROTTLE_CACHE = "throttle"


class SharedCacheThrottleMixin:
    """Put first in a DRF throttle's bases: its counters go to the ``throttle`` cache."""

    @property
    def cache(self) -> BaseCache:
        # Looked up per use, not bound at import: settings (and tests) may change the alias.
        return caches[THROTTLE_CACHE]
