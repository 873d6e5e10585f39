from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from fashionrec.api.errors import ApiError


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """limit/offset pagination; a client cannot ask for more than ``max_limit`` rows a page."""

    default_limit = 24
    max_limit = 100


def validated_paginator(request: Request) -> CappedLimitOffsetPagination:
    # DRF silently falls back to the default for a malformed limit; we answer 400 instead, so
    # a client learns that "limit=abc" was not understood.
    for name in ("limit", "offset"):
        raw = request.query_params.get(name)
        if raw is not None and not (raw.isdigit() and len(raw) < 12):
            raise ApiError(f"{name} must be a non-negative integer.", code="invalid", details={name: ["Invalid."]})
    return CappedLimitOffsetPagination()
