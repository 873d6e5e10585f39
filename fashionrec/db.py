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


def replica_database_settings(urls: str, *, conn_max_age: int, connect_timeout: int) -> dict[str, dict]:
    """``DATABASES`` entries ``replica1``, ``replica2``, … for comma-separated replica URLs.

    Replicas are never created or migrated by the test runner (``MIRROR``: the test database of
    ``default``); a short connect timeout lets a dead replica be left out quickly.
    """
    import dj_database_url

    replicas = {}
    for number, url in enumerate((url.strip() for url in urls.split(",") if url.strip()), start=1):
        entry = dj_database_url.parse(url)
        entry["CONN_MAX_AGE"] = conn_max_age
        entry["CONN_HEALTH_CHECKS"] = True
        entry.setdefault("OPTIONS", {})["connect_timeout"] = connect_timeout
        entry["TEST"] = {"MIRROR": "default"}
        replicas[f"replica{number}"] = entry
    return replicas
