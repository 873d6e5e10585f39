"""The replica routing rules that need no replica (the real primary + standby: tests/replicas/)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory

from catalog.models import Product
from fashionrec import db_routing
from recommender.models import Garment
from users.models import UserPreference


def test_outside_a_replica_scope_every_read_and_write_is_on_the_primary():
    router = db_routing.ReplicaRouter()
    assert db_routing.read_alias() == "default"
    assert router.db_for_read(Product) == "default"
    assert router.db_for_write(Product) == "default"


def test_inside_a_replica_scope_only_catalog_and_recommender_reads_move():
    router = db_routing.ReplicaRouter()
    with db_routing.reading_from("replica1"):
        assert db_routing.read_alias() == "replica1"
        assert router.db_for_read(Product) == "replica1"
        assert router.db_for_read(Garment) == "replica1"
        # read-your-writes: a shopper's own rows, users and sessions stay on the primary
        assert router.db_for_read(UserPreference) == "default"
        assert router.db_for_read(User) == "default"
        assert router.db_for_write(Product) == "default"
    assert db_routing.read_alias() == "default"


def test_migrations_run_on_the_primary_only():
    router = db_routing.ReplicaRouter()
    assert router.allow_migrate("default", "catalog") is True
    assert router.allow_migrate("replica1", "catalog") is False


@pytest.mark.parametrize(
    ("method", "route", "write"),
    [
        ("GET", "product-similar", False),
        ("POST", "recommendations", False),  # a query by photo or product id: a read
        ("POST", "me-interactions", True),
        ("PUT", "me-preferences", True),
        ("POST", "products", True),
    ],
)
def test_which_requests_are_writes(method, route, write):
    request = RequestFactory().generic(method, "/")
    assert db_routing._is_write(request, route) is write


def test_a_write_pins_its_client_to_the_primary_and_no_one_else():
    factory = RequestFactory()
    author = factory.get("/", HTTP_AUTHORIZATION="Token abc")
    other = factory.get("/", HTTP_AUTHORIZATION="Token xyz")
    anonymous = factory.get("/")
    assert not db_routing.pinned_to_primary(author)
    db_routing.pin_to_primary(author)
    assert db_routing.pinned_to_primary(author)
    assert not db_routing.pinned_to_primary(other)
    db_routing.pin_to_primary(anonymous)  # no credential: nothing to pin
    assert not db_routing.pinned_to_primary(anonymous)


def test_a_buffered_post_body_is_read_again_in_full_when_the_request_is_replayed():
    request = RequestFactory().post("/api/v1/recommendations/", {"product_id": "7", "k": "5"})
    assert db_routing._buffer_body(request)
    assert request.POST["product_id"] == "7"  # the first run parses it
    db_routing._rewind(request)
    assert request.POST.dict() == {"product_id": "7", "k": "5"}


def test_a_body_over_the_in_memory_limit_is_not_buffered(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    request = RequestFactory().post("/api/v1/recommendations/", {"product_id": "7", "k": "5"})
    assert not db_routing._buffer_body(request)
