"""Catalog writes that race each other on PostgreSQL: a clear 4xx in the API's format, never a 500.

Each test forces the interleaving instead of hoping for it: the test's own connection opens a
transaction that holds the contested row or index entry, the request runs in a thread (with
its own connection) until PostgreSQL makes it wait for that transaction, then the test commits
and the request finishes against the committed state. The tests need real commits, hence
``transaction=True``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.test import Client
from rest_framework.test import APIClient

from catalog.models import Product, ProductImage, ProductVariant
from catalog.services.images import product_image_create
from tests.factories import category_create, product_create, staff_user_create
from tests.hardening.conftest import assert_error_format, image_bytes, media_files

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def staff() -> APIClient:
    client = APIClient()
    client.force_authenticate(staff_user_create("staff"))
    return client


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def in_thread(pool: ThreadPoolExecutor, work: Callable[[], object]) -> Future:
    """Run ``work`` on a thread (so on its own database connection), closing that connection after."""

    def run():
        try:
            return work()
        finally:
            connections.close_all()

    return pool.submit(run)


def wait_for_lock_waiters(count: int, *, unless_done: list[Future] = (), timeout: float = 20.0) -> None:
    """Return once ``count`` other sessions wait for a lock (or every future in ``unless_done`` ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            # Inside a transaction, statistics views answer from a snapshot taken at first use.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= count:
                return
        if unless_done and all(future.done() for future in unless_done):
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} sessions waited for a lock within {timeout}s")


def upload(client: APIClient, product_id: int, *, colour: str, primary: bool = False):
    image = SimpleUploadedFile("p.png", image_bytes("PNG", colour=colour), content_type="image/png")
    return client.post(
        f"/api/v1/products/{product_id}/images/", {"image": image, "is_primary": primary}, format="multipart"
    )


def test_two_creations_of_one_sku_give_the_loser_the_duplicate_sku_400(staff, pool):
    # given: another transaction has inserted SKU "RACE-1" and not committed yet
    category = category_create("women/tops")
    body = {"sku": "RACE-1", "title": "Mine", "category": category.pk, "price": "9.90"}
    with transaction.atomic():
        Product.objects.create(sku="RACE-1", title="Theirs", category=category, price="5.00")
        # when: the request passes the uniqueness check (the row is invisible), then waits on the index
        request = in_thread(pool, lambda: staff.post("/api/v1/products/", body, format="json"))
        wait_for_lock_waiters(1, unless_done=[request])
    response = request.result(timeout=30)
    # then: the answer a sequential duplicate gets, and the winner's row untouched
    error = assert_error_format(response, 400)
    assert error["code"] == "invalid" and "sku" in error["details"], error
    assert list(Product.objects.values_list("sku", "title")) == [("RACE-1", "Theirs")]


def test_renaming_a_sku_to_one_being_created_gives_the_loser_the_duplicate_sku_400(staff, pool):
    # given
    category = category_create("women/tops")
    mine = product_create(sku="MINE-1", category=category)
    with transaction.atomic():
        Product.objects.create(sku="RACE-2", title="Theirs", category=category, price="5.00")
        # when
        request = in_thread(pool, lambda: staff.patch(f"/api/v1/products/{mine.pk}/", {"sku": "RACE-2"}, format="json"))
        wait_for_lock_waiters(1, unless_done=[request])
    response = request.result(timeout=30)
    # then
    error = assert_error_format(response, 400)
    assert "sku" in error["details"], error
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["MINE-1", "RACE-2"]


@pytest.mark.parametrize(
    ("theirs", "mine", "field"),
    [
        ({"sku": "V-1", "size": "S"}, {"sku": "V-1", "size": "M"}, "sku"),
        ({"sku": "V-1", "size": "S"}, {"sku": "V-2", "size": "S"}, "__all__"),  # as a sequential duplicate
    ],
    ids=["same sku", "same size"],
)
def test_two_variants_with_one_sku_or_size_give_the_loser_a_400(staff, pool, theirs, mine, field):
    # given
    product = product_create(sizes={"XS": 0})
    with transaction.atomic():
        ProductVariant.objects.create(product=product, stock=1, **theirs)
        # when
        request = in_thread(
            pool, lambda: staff.post(f"/api/v1/products/{product.pk}/variants/", {**mine, "stock": 2}, format="json")
        )
        wait_for_lock_waiters(1, unless_done=[request])
    response = request.result(timeout=30)
    # then
    error = assert_error_format(response, 400)
    assert field in error["details"], error
    assert list(product.variants.exclude(size="XS").values_list("sku", "size", "stock")) == [
        (theirs["sku"], theirs["size"], 1)
    ]


def test_four_primary_uploads_during_another_upload_all_succeed_and_the_last_is_primary(staff, pool, media_root):
    # given: an upload of a primary image is in progress (its transaction not yet committed)
    product = product_create()
    with transaction.atomic():
        theirs = product_image_create(product=product, file=image_bytes("PNG", colour="black"), is_primary=True)
        # when: four more primary uploads arrive
        requests = [
            in_thread(pool, lambda colour=colour: upload(staff, product.pk, colour=colour, primary=True))
            for colour in ("red", "green", "blue", "white")
        ]
        wait_for_lock_waiters(4, unless_done=requests)
    responses = [request.result(timeout=60) for request in requests]
    # then: every upload stored, one primary image, and it is the last one committed
    assert [response.status_code for response in responses] == [201] * 4, [r.content[:200] for r in responses]
    images = ProductImage.objects.filter(product=product).order_by("pk")
    assert images.count() == 5 and theirs.pk == images.first().pk
    assert list(images.filter(is_primary=True).values_list("pk", flat=True)) == [images.last().pk]
    assert len(media_files(media_root)) == 5


def test_an_upload_to_a_product_being_deleted_is_a_404_and_stores_nothing(staff, pool, media_root):
    # given: a deletion of the product is in progress (as admin did it: a plain ORM delete)
    product = product_create()
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).delete()
        # when: an upload arrives, finds the product still there, then waits for the deletion
        request = in_thread(pool, lambda: upload(staff, product.pk, colour="red"))
        wait_for_lock_waiters(1, unless_done=[request])
    response = request.result(timeout=30)
    # then: as if the upload came after the deletion
    error = assert_error_format(response, 404)
    assert error["code"] == "not_found", error
    assert not ProductImage.objects.exists()
    assert media_files(media_root) == set()


def test_deleting_a_product_in_admin_during_an_upload_waits_and_deletes_the_new_image_too(pool, media_root):
    # given: an upload in progress, and a Catalog staff member in admin
    product = product_create()
    admin = Client()
    admin.force_login(staff_user_create("admin-staff"))
    with transaction.atomic():
        product_image_create(product=product, file=image_bytes("PNG", colour="red"))
        # when: the product is deleted in admin
        request = in_thread(pool, lambda: admin.post(f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"}))
        wait_for_lock_waiters(1, unless_done=[request])
        assert not request.done(), "the deletion must wait for the upload, not fail it at commit"
    response = request.result(timeout=30)
    # then: both committed in turn; nothing of the product is left, its file included
    assert response.status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not ProductImage.objects.exists()
    assert media_files(media_root) == set()


def test_a_patch_of_a_product_deleted_meanwhile_is_a_404_and_does_not_bring_it_back(staff, pool):
    # given: a deletion in progress
    product = product_create()
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).delete()
        # when
        request = in_thread(
            pool, lambda: staff.patch(f"/api/v1/products/{product.pk}/", {"title": "Back?"}, format="json")
        )
        wait_for_lock_waiters(1, unless_done=[request])
    response = request.result(timeout=30)
    # then
    assert_error_format(response, 404)
    assert not Product.objects.exists()


def test_a_variant_added_to_a_product_being_deleted_is_a_404(staff, pool):
    # given: the product's deletion holds its row
    product = product_create(sizes={"XS": 0})
    with transaction.atomic():
        Product.objects.select_for_update().filter(pk=product.pk).delete()
        # when
        request = in_thread(
            pool,
            lambda: staff.post(
                f"/api/v1/products/{product.pk}/variants/", {"sku": "V-9", "size": "L", "stock": 1}, format="json"
            ),
        )
        wait_for_lock_waiters(1, unless_done=[request])
    response = request.result(timeout=30)
    # then
    assert_error_format(response, 404)
    assert not ProductVariant.objects.exists()
