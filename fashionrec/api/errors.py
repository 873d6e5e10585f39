"""One error format for every 4xx (and the rare 5xx) the API returns:

    {"error": {"code": "not_found", "message": "Product 42 does not exist.", "details": {...}}}

``code`` is stable and machine-readable, ``message`` is for people, ``details`` carries
per-field validation messages when there are any.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connections
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from psycopg import errors as pg_errors
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from fashionrec.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable
from fashionrec.imaging import ImageRejected
from fashionrec.uploads import UploadTooLarge


class ApiError(exceptions.APIException):
    """Raise from a view for what only the API layer knows (a malformed body); below it, domain errors."""

    def __init__(self, message: str, *, code: str, status_code: int = 400, details: Any = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_message(details: Any) -> str:
    if isinstance(details, dict) and details:
        field, messages = next(iter(details.items()))
        first = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(first, dict):
            return f"Invalid input in {field}."
        return f"{field}: {first}" if field != "non_field_errors" else str(first)
    if isinstance(details, list) and details:
        return str(details[0])
    return "Invalid input."


# The one mapping from domain errors (fashionrec.errors) to HTTP; the first matching kind wins.
_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, status.HTTP_400_BAD_REQUEST),
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
    (Unavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
)


def domain_error_status(error: DomainError) -> int:
    return next((code for kind, code in _DOMAIN_STATUS if isinstance(error, kind)), status.HTTP_400_BAD_REQUEST)


# Lost a race that the database resolved by aborting us: the same request can succeed at once.
_RETRYABLE_DATABASE_ERRORS = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure, pg_errors.LockNotAvailable)


def _conflict(message: str, *, retry_after: int | None) -> Response:
    response = Response(error_body("conflict", message), status=status.HTTP_409_CONFLICT)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, OperationalError) and isinstance(exc.__cause__, _RETRYABLE_DATABASE_ERRORS):
        # A deadlock, a serialization failure or a lock timeout between concurrent writes.
        return _conflict("A concurrent change got in the way; retry the request.", retry_after=1)
    if isinstance(exc, ProtectedError | RestrictedError):  # IntegrityError's subclasses: first
        exc = still_used_error(exc)
    elif isinstance(exc, IntegrityError):
        # Services turn the races they foresee into validation errors or "not found"; any other
        # constraint a concurrent write made us violate is still the client's conflict, not a 500.
        return _conflict("The change conflicts with the current state of the data.", retry_after=None)
    if isinstance(exc, DomainError):
        exc = ApiError(exc.message, code=exc.code, status_code=domain_error_status(exc), details=exc.details)
    if isinstance(exc, ImageRejected):
        exc = image_rejected_error(exc)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is restarting or unreachable: tell the client to come back shortly, and
        # drop broken connections so the next request reconnects by itself.
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        response = Response(
            error_body("service_unavailable", "The database is unavailable; try again shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "5"
        return response
    if isinstance(exc, SuspiciousOperation):
        exc = request_refused(exc)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, ApiError):
        body = error_body(exc.error_code, str(exc.detail), exc.details)
    elif isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = error_body("invalid", _validation_message(details), details)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = detail.code if hasattr(detail, "code") else getattr(exc, "default_code", "error")
        body = error_body(str(code), str(detail))
    response.data = body
    return response


def still_used_error(error: ProtectedError | RestrictedError) -> ApiError:
    """A delete refused because other rows still point at the row (``on_delete=PROTECT``): 409."""
    objects = error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
    counts = Counter(obj._meta.model for obj in objects)
    kinds = sorted(counts.items(), key=lambda item: str(item[0]._meta.verbose_name))
    text = ", ".join(
        f"{count} {model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural}"
        for model, count in kinds
    )
    return ApiError(
        f"Still used by {text}; change or delete them first.",
        code="in_use",
        status_code=status.HTTP_409_CONFLICT,
        details={"used_by": {str(model._meta.verbose_name_plural): count for model, count in kinds}},
    )


# Django's own error pages answer HTML; under /api/ they answer in the API's error format too
# (an unknown route such as /api/v1/nothing/, or an error outside a DRF view). Set in fashionrec/urls.py.
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        if isinstance(exception, SuspiciousOperation):
            return request_refused_response(request, exception)
        return JsonResponse(error_body("bad_request", "Bad request."), status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", "Internal server error."), status=500)
    return defaults.server_error(request)


# Which HTTP status a rejected image gets: too big → 413, not a photo we accept → 415, else 400.
_IMAGE_REJECTION_STATUS = {
    "too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    "too_many_pixels": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    "decoded_too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    "unsupported_mode": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    "unsupported_format": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    "not_an_image": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
}


def image_rejected_error(rejected: ImageRejected) -> ApiError:
    """The API answer to a ``fashionrec.imaging.ImageRejected`` (same for every endpoint)."""
    return ApiError(
        rejected.message,
        code=rejected.code,
        status_code=_IMAGE_REJECTION_STATUS.get(rejected.code, status.HTTP_400_BAD_REQUEST),
    )


def request_refused(exc: SuspiciousOperation) -> ApiError:
    """The API answer to a request Django refuses while reading it (size, parameter count…).

    Django raises these from ``request.GET``/``POST``/``FILES``; left to Django they become an
    HTML 400 page, and under DEBUG the debug page reads the same parameters again and crashes.
    """
    # Keep Django's own security log of the refusal (it is skipped when we answer ourselves).
    logging.getLogger(f"django.security.{exc.__class__.__name__}").warning("%s", exc)
    if isinstance(exc, UploadTooLarge):
        return ApiError(exc.message, code="too_large", status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, RequestDataTooBig):
        return ApiError(
            f"The form fields are larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
            code="too_large",
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent):
        return ApiError(
            f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} parameters were sent.", code="too_many_fields"
        )
    if isinstance(exc, TooManyFilesSent):
        return ApiError(f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files were sent.", code="too_many_files")
    return ApiError("The request is malformed.", code="bad_request")


def request_refused_response(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    """``request_refused`` outside DRF views: the error format under /api/, plain text elsewhere."""
    error = request_refused(exc)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(error.error_code, str(error.detail)), status=error.status_code)
    return HttpResponse(str(error.detail), status=error.status_code, content_type="text/plain; charset=utf-8")
