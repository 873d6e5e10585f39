"""``/healthz`` tells anyone whether the app is ready, and only the logs why not."""

import logging

import psycopg
import pytest
from django.db import connection


def kill_this_connection() -> None:
    """Have the server drop this process's connection, as a restart would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    params = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in params.items() if k in {"host", "user", "dbname", "port", "password"}}, autocommit=True
    ) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db(transaction=True)
def test_an_unavailable_database_is_logged_and_answered_without_its_error_text(client, caplog):
    # given: a connection the server has dropped
    assert client.get("/healthz").json() == {"status": "ok"}
    kill_this_connection()
    # when
    with caplog.at_level(logging.WARNING, logger="fashionrec.health"):
        response = client.get("/healthz")
    # then: a generic answer (no server message, role, socket path or host) ...
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    params = connection.get_connection_params()
    for secret in (params.get("host"), params.get("user"), "terminat", "connection"):
        assert not secret or secret not in response.content.decode()
    # ... and the reason in the log, for the operator
    [record] = [r for r in caplog.records if r.name == "fashionrec.health"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is not None
