"""Input parsing shared by every endpoint: ids, comma-separated lists, request data as a plain dict."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from fashionrec.api.errors import ApiError

MAX_ID = 2**63 - 1  # bigint: a larger id would overflow in SQL instead of being "not found"


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def parse_id(raw: str) -> int | None:
    """A URL id as an int, or None when it cannot be one (answered with 404, never 500)."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 1 <= value <= MAX_ID else None


class CommaSeparatedListField(serializers.ListField):
    """A list given as repeated parameters, a JSON list, one comma-separated string or one JSON value."""

    def to_internal_value(self, data):
        if not isinstance(data, str | list | tuple):
            data = [data]  # {"exclude": 5} means [5]; the child field judges the value
        if isinstance(data, str):
            data = [part for part in (item.strip() for item in data.split(",")) if part]
        elif isinstance(data, list | tuple):
            flat = []
            for item in data:
                if isinstance(item, str):
                    flat.extend(part for part in (p.strip() for p in item.split(",")) if part)
                else:
                    flat.append(item)
            data = flat
        return super().to_internal_value(data)


def plain_data(data, list_fields: tuple[str, ...]) -> dict:
    """A QueryDict (query string, form) or a JSON object as a plain dict; list fields as lists."""
    if hasattr(data, "getlist"):
        plain = {key: data.get(key) for key in data}
        for name in list_fields:
            if name in data:
                plain[name] = data.getlist(name)
        return plain
    if isinstance(data, Mapping):
        return dict(data)
    raise ApiError("Expected an object of named fields.", code="invalid")
