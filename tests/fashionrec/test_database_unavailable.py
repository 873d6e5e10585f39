"""While PostgreSQL is unreachable, requests answer 503 with the error format, and recover."""

import psycopg
import pytest
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import RequestFactory

from fashionrec.middleware import DatabaseUnavailableMiddleware


@pytest.mark.django_db  # the middleware checks open connections, which an earlier test may have left
def test_a_database_error_becomes_a_503_with_retry_after():
    middleware = DatabaseUnavailableMiddleware(lambda request: HttpResponse("ok"))
    request = RequestFactory().get("/admin/")

    response = middleware.process_exception(request, OperationalError("server closed the connection unexpectedly"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b'"code": "service_unavailable"' in response.content


def test_other_errors_are_left_alone():
    middleware = DatabaseUnavailableMiddleware(lambda request: HttpResponse("ok"))
    assert middleware.process_exception(RequestFactory().get("/"), ValueError("bug")) is None


@pytest.mark.django_db(transaction=True)
def test_health_answers_503_when_the_connection_is_killed_then_recovers(client):
    assert client.get("/healthz").status_code == 200
    # given: the server drops this process's connection (as a restart would)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    params = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in params.items() if k in {"host", "user", "dbname", "port", "password"}}, autocommit=True
    ) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])
    # when / then: the broken connection gives a clear 503 ...
    assert client.get("/healthz").status_code == 503
    # ... and the next request reconnects by itself
    assert client.get("/healthz").status_code == 200
