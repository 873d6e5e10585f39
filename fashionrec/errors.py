"""Domain errors: what went wrong, named for what happened, raised by services and selectors.

They know nothing of HTTP. Each app declares its own (``catalog.errors``, ``recommender.errors``)
as subclasses of the four kinds below; the API maps a kind to a status code in one place
(``fashionrec.api.errors.api_exception_handler``), and admin pages and commands show the message.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """``code`` is stable and machine-readable; the message is for people; ``details`` per field."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(DomainError):
    """The request names something that does not fit (an unknown filter id, crossed bounds)."""

    code = "invalid"


class NotFound(DomainError):
    """The object the request is about does not exist (or is not visible to the caller)."""

    code = "not_found"


class Conflict(DomainError):
    """The object exists but is not in a state that allows the request yet."""

    code = "conflict"


class Unavailable(DomainError):
    """The service cannot answer now (no index yet, models missing, switching versions); retry later."""

    code = "service_unavailable"
