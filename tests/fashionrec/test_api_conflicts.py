"""Database errors from concurrent writes reach API clients as 409 in the error format, never as 500.

The errors are real PostgreSQL errors (a lock wait that times out, a unique violation), passed
through the API's exception handler as a view would raise them.
"""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction

from catalog.models import Product
from fashionrec.api.errors import api_exception_handler
from tests.factories import category_create, product_create


def raised_by(work) -> Exception:
    try:
        work()
    except Exception as error:
        return error
    raise AssertionError("no error raised")


@pytest.mark.django_db(transaction=True)
def test_a_lock_wait_that_times_out_is_a_409_with_retry_after():
    # given: another connection holds a product row
    product = product_create()
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Product.objects.select_for_update().get(pk=product.pk)
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)

    def lock_it():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '50ms'")
            Product.objects.select_for_update().get(pk=product.pk)

    # when: this connection gives up waiting for it
    error = raised_by(lock_it)
    release.set()
    holder.join()
    response = api_exception_handler(error, {})
    # then: a retry can succeed once the other transaction is done
    assert isinstance(error, OperationalError)
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.data["error"]["code"] == "conflict"
    assert set(response.data["error"]) == {"code", "message", "details"}


@pytest.mark.django_db
def test_a_constraint_violation_no_service_foresaw_is_a_409_without_retry_after():
    # given
    category = category_create("women/tops")
    product_create(sku="TAKEN")

    def insert_duplicate():
        with transaction.atomic():
            Product.objects.create(sku="TAKEN", title="x", category=category, price="1.00")

    # when
    error = raised_by(insert_duplicate)
    response = api_exception_handler(error, {})
    # then: the same request would fail the same way, so no Retry-After
    assert isinstance(error, IntegrityError)
    assert response.status_code == 409
    assert "Retry-After" not in response
    assert response.data["error"]["code"] == "conflict"


@pytest.mark.django_db  # the handler closes unusable connections, which an earlier test may have left
def test_an_unreachable_database_is_still_a_503():
    # given
    error = OperationalError("server closed the connection unexpectedly")
    # when
    response = api_exception_handler(error, {})
    # then
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
