"""OpenAPI pieces shared by every endpoint: the error responses in the API's one error format."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ApiErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: invalid, not_found, throttled, ...")
    message = serializers.CharField(help_text="For people.")
    details = serializers.DictField(help_text="Per-field messages for validation errors; {} otherwise.")


class ApiErrorResponseSerializer(serializers.Serializer):
    error = ApiErrorBodySerializer()


def error(description: str, code: str = "invalid", message: str = "Invalid input.") -> OpenApiResponse:
    return OpenApiResponse(
        response=ApiErrorResponseSerializer,
        description=description,
        examples=[OpenApiExample(code, value={"error": {"code": code, "message": message, "details": {}}})],
    )


BAD_REQUEST = error("Malformed input (the details name each field).")
NOT_FOUND = error("No such object.", "not_found", "Not found.")
FORBIDDEN = error("Not allowed for this user.", "permission_denied", "You do not have permission.")
UNAUTHENTICATED = error("Sign in (session) or send a token.", "not_authenticated", "Not signed in.")
CONFLICT = error(
    "A concurrent change got in the way; with Retry-After, the same request may succeed then.", "conflict", "Conflict."
)
THROTTLED = error("Too many requests; see Retry-After.", "throttled", "Request was throttled.")
UNAVAILABLE = error("The index or the models are not ready; retry later.", "service_unavailable", "Try again.")
IN_USE = error(
    "Still used by other rows (sub-categories, products, seasonal rules); change or delete those first.",
    "in_use",
    "Still used by 1 seasonal rule; change or delete them first.",
)
