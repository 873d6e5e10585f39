from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from fashionrec.api.errors import error_body, request_refused_response
from fashionrec.uploads import UploadTooLarge, announced_body_length, request_body_limit

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """Answer 503 with ``Retry-After`` instead of a 500 while the database is unreachable.

    DRF views get the same answer from ``api_exception_handler``; this covers every other
    view (admin, demo pages). Django drops the broken connection at the end of the request
    (``CONN_HEALTH_CHECKS``), so the next request reconnects by itself once the server is back.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        for connection in connections.all(initialized_only=True):
            # Drop broken connections now, so the next request reconnects by itself.
            connection.close_if_unusable_or_obsolete()
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        response = JsonResponse(
            error_body("service_unavailable", "The database is unavailable; try again shortly."), status=503
        )
        response["Retry-After"] = "5"
        return response


class RequestLimitsMiddleware:
    """Refuse an oversized body before reading it, and answer Django's request refusals in our format.

    Goes first (after ``SecurityMiddleware``): nothing before it may read the body. A
    ``Content-Length`` over the path's limit (``fashionrec.uploads.request_body_limit``) gets 413
    at once; a proxy in front should refuse it even earlier (docs/security.md, "Behind a reverse proxy").

    Refusals raised while a view reads the request (more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``
    parameters, a file over the limit) are answered in the API's error format under /api/, with
    DEBUG on or off: Django's debug page would read the same parameters again and crash.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = request_body_limit(request)
        length = announced_body_length(request)
        if length > limit:
            message = f"The request body is {length:,} bytes; at most {limit:,} are accepted."
            return request_refused_response(request, UploadTooLarge(message, limit=limit))
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, SuspiciousOperation):
            return None
        if request.path.startswith("/api/") or isinstance(exception, RequestDataTooBig):
            return request_refused_response(request, exception)
        return None  # Django's own 400 page
