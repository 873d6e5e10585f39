from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from fashionrec.api.errors import error_body

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
