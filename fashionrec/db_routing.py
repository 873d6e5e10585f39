"""Read replicas: which database a read runs on (docs/database.md, "Read replicas").

With ``DATABASE_REPLICA_URLS`` set, ``settings.DATABASES`` holds ``default`` (the primary) and
``replica1``, ``replica2``, … (PostgreSQL streaming replicas). The rule:

* **Replica**: the reads of the routes in :data:`REPLICA_READ_ROUTES` (recommend, similar,
  complete-the-look, catalog lists and details), chosen by :class:`ReplicaReadMiddleware`. Inside
  such a request the ORM reads of the ``catalog`` and ``recommender`` apps go to the chosen replica
  (:class:`ReplicaRouter`) and the raw recommend SQL asks :func:`read_connection` for its cursor.
* **Primary**: everything else: every write, the admin, Celery tasks (they never enter a replica
  scope), sessions, users and tokens, and a shopper's own preferences and interactions. A client
  that has just written (any successful non-GET request) reads from the primary for
  ``DATABASE_REPLICA_PIN_S`` seconds, so it reads its own writes although the replicas lag.

Health: a replica is checked at most every ``DATABASE_REPLICA_CHECK_S`` seconds per process (one
query that also measures its replay lag); a replica that fails the check, or a query during a
request, is left out for ``DATABASE_REPLICA_DOWN_S`` seconds and the request is run again on the
primary, so the client sees no error. A replica lagging more than ``DATABASE_REPLICA_MAX_LAG_S``
seconds is skipped until a later check finds it caught up.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

logger = logging.getLogger(__name__)

REPLICA_ALIAS_PREFIX = "replica"
# The apps whose tables a replica serves inside a replica scope. Others (auth, sessions, tokens,
# users' preferences and interactions, admin log) are always read on the primary.
REPLICA_APPS = frozenset({"catalog", "recommender"})
# URL names whose reads may go to a replica (GET/HEAD; POST only where listed in REPLAYABLE_POSTS).
# A name not (yet) in the URL conf is harmless: it simply never matches.
REPLICA_READ_ROUTES = frozenset(
    {
        "recommendations",
        "product-similar",
        "product-complete-the-look",
        "complete-the-look",
        "products",
        "product-detail",
        "categories",
        "category-detail",
        "seasons",
    }
)
# POST /recommendations/ is a read (a query by photo or product id). Its body is buffered so the
# request can be run again on the primary; bodies over DATA_UPLOAD_MAX_MEMORY_SIZE stay on the primary.
REPLAYABLE_POSTS = frozenset({"recommendations"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Lag in seconds as the replica sees it. A replica that has replayed all it received is 0 behind,
# even when the primary has been idle (pg_last_xact_replay_timestamp() is then old, not late).
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
END::float8
"""

# A replica found lagging is checked again after this long (see ReplicaPool.usable).
LAGGING_RECHECK_S = 0.1

_read_alias: ContextVar[str] = ContextVar("fashionrec_read_alias", default=DEFAULT_DB_ALIAS)


def replica_aliases() -> list[str]:
    return sorted(alias for alias in settings.DATABASES if alias.startswith(REPLICA_ALIAS_PREFIX))


def read_alias() -> str:
    """The database this request's replica-eligible reads go to (``default`` outside a replica scope)."""
    return _read_alias.get()


def read_connection():
    """The connection for a raw read cursor: the chosen replica inside a replica scope, else the primary.

    Raw SQL bypasses the router, so the recommend statements ask for their connection here.
    """
    return connections[read_alias()]


@contextmanager
def reading_from(alias: str) -> Iterator[None]:
    token = _read_alias.set(alias)
    try:
        yield
    finally:
        _read_alias.reset(token)


def replica_lag_seconds(cursor) -> float:
    cursor.execute(LAG_SQL)
    return float(cursor.fetchone()[0])


@dataclass
class ReplicaState:
    down_until: float = 0.0
    checked_at: float = float("-inf")
    lag_s: float = 0.0


class ReplicaPool:
    """Process-wide health of the replicas and the round-robin choice among the usable ones."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, ReplicaState] = {}
        self._turn = itertools.count()

    def state(self, alias: str) -> ReplicaState:
        with self._lock:
            return self._states.setdefault(alias, ReplicaState())

    def mark_down(self, alias: str, reason: object) -> None:
        state = self.state(alias)
        state.down_until = self._clock() + settings.DATABASE_REPLICA_DOWN_S
        logger.warning(
            "replica %s left out for %ss: %s", alias, settings.DATABASE_REPLICA_DOWN_S, str(reason).strip()[:200]
        )

    def choose(self) -> str | None:
        """A usable replica (round robin), or None: read on the primary."""
        aliases = replica_aliases()
        if not aliases:
            return None
        start = next(self._turn)
        for offset in range(len(aliases)):
            alias = aliases[(start + offset) % len(aliases)]
            if self.usable(alias):
                return alias
        return None

    def usable(self, alias: str) -> bool:
        state = self.state(alias)
        now = self._clock()
        if now < state.down_until:
            return False
        if now - state.checked_at >= settings.DATABASE_REPLICA_CHECK_S:
            state.checked_at = now  # first caller checks; the others use the last result meanwhile
            try:
                with connections[alias].cursor() as cursor:
                    state.lag_s = replica_lag_seconds(cursor)
            except (OperationalError, InterfaceError) as error:
                connections[alias].close()
                self.mark_down(alias, error)
                return False
            if state.lag_s > settings.DATABASE_REPLICA_MAX_LAG_S:
                # Look again soon rather than in CHECK_S: after an idle spell, the first write
                # to arrive makes the replay timestamp look old (the time since the last replayed
                # commit) for the few milliseconds the replica needs to replay it.
                state.checked_at = now - settings.DATABASE_REPLICA_CHECK_S + LAGGING_RECHECK_S
                logger.warning("replica %s skipped: %.1f s behind the primary", alias, state.lag_s)
        return state.lag_s <= settings.DATABASE_REPLICA_MAX_LAG_S

    def reachable(self, alias: str) -> bool:
        """A fresh connection answers (after a failed request: was it the replica?)."""
        connections[alias].close()
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except (OperationalError, InterfaceError):
            connections[alias].close()
            return False


pool = ReplicaPool()


class ReplicaRouter:
    """Django database router: reads of catalog and recommender models follow :func:`read_alias`."""

    def db_for_read(self, model, **hints) -> str:
        alias = read_alias()
        if alias != DEFAULT_DB_ALIAS and model._meta.app_label in REPLICA_APPS:
            return alias
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # every alias holds the same data

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS  # replicas replay the primary's schema


# --- read-your-writes -------------------------------------------------------------------------


def _client_key(request: HttpRequest) -> str | None:
    """Who sent the request, from its credentials (no database read): session cookie or token."""
    credential = request.META.get("HTTP_AUTHORIZATION") or request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not credential:
        return None
    return "replica-pin:" + hashlib.sha256(credential.encode()).hexdigest()[:32]


def _pin_cache():
    # The throttle cache: production requires it to be shared by every process (Redis).
    return caches["throttle"]


def pin_to_primary(request: HttpRequest) -> None:
    key = _client_key(request)
    if key:
        _pin_cache().set(key, 1, timeout=settings.DATABASE_REPLICA_PIN_S)


def pinned_to_primary(request: HttpRequest) -> bool:
    key = _client_key(request)
    return bool(key and _pin_cache().get(key))


# --- the middleware ---------------------------------------------------------------------------


class _FailureRecorder:
    """``execute_wrapper`` on the replica's connection: notes a query that failed there."""

    def __init__(self) -> None:
        self.error: BaseException | None = None

    def __call__(self, execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except (OperationalError, InterfaceError) as error:
            self.error = error
            raise
        except DatabaseError as error:
            # e.g. "canceling statement due to conflict with recovery": the primary answers instead
            if "recovery" in str(error):
                self.error = error
            raise


def _route_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None


def _is_write(request: HttpRequest, name: str | None) -> bool:
    return request.method not in SAFE_METHODS and not (request.method == "POST" and name in REPLAYABLE_POSTS)


def _buffer_body(request: HttpRequest) -> bool:
    """Read a small body into memory so the request can be run twice; False when it is too big."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    if not 0 < length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return False
    request.body  # noqa: B018 (cached on the request as _body)
    return True


def _rewind(request: HttpRequest) -> None:
    if hasattr(request, "_body"):
        request._stream = io.BytesIO(request._body)
        request._read_started = False
    for parsed in ("_post", "_files"):
        request.__dict__.pop(parsed, None)


class ReplicaReadMiddleware:
    """Run replica-eligible requests with their reads on a replica; fall back to the primary.

    A request whose replica fails (a connection or query error there, seen by an execute wrapper,
    or a 503 while the replica no longer answers) is run again, whole, on the primary: it made no
    writes (only reads are routed), so running it twice is safe.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_aliases():
            return self.get_response(request)
        name = _route_name(request)
        alias = self._replica_for(request, name)
        if alias is None:
            response = self.get_response(request)
            if _is_write(request, name) and response.status_code < 400:
                pin_to_primary(request)  # this client reads its own writes for a while
            return response
        failures = _FailureRecorder()
        with reading_from(alias), connections[alias].execute_wrapper(failures):
            response = self.get_response(request)
        if failures.error is None and (response.status_code != 503 or pool.reachable(alias)):
            return response
        pool.mark_down(alias, failures.error or "unreachable after a 503")
        connections[alias].close()
        _rewind(request)
        return self.get_response(request)

    def _replica_for(self, request: HttpRequest, name: str | None) -> str | None:
        if name not in REPLICA_READ_ROUTES or _is_write(request, name):
            return None
        if pinned_to_primary(request):
            return None
        alias = pool.choose()
        if alias is not None and request.method == "POST" and not _buffer_body(request):
            return None
        return alias
