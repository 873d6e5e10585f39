import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database readiness, used by docker-compose health checks.

    Anyone can call it, so the answer is only "ok" or "unavailable": the database's error text
    names roles, hosts and socket paths, and goes to the log instead.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database failure means "not ready"
        logger.warning("health check: the database is unavailable", exc_info=True)
        # Drop a broken connection now so that the next request reconnects by itself.
        connection.close_if_unusable_or_obsolete()
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
