"""Raw SQL results read by column name, never by position."""

from __future__ import annotations

from typing import Any


def fetch_dicts(cursor) -> list[dict[str, Any]]:
    """The remaining rows of an executed statement as ``{column: value}``."""
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fetch_dict(cursor) -> dict[str, Any] | None:
    """The next row as ``{column: value}``, or None when there is none."""
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip((column.name for column in cursor.description), row, strict=True))
