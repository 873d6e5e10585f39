"""An image's file lives as long as its row: deleted when the deletion commits, whichever path deletes.

Most tests run in the test's transaction and play the commit with
``django_capture_on_commit_callbacks(execute=True)``, which runs what ``on_commit`` registered
at the end of the block, as a real commit would; one test commits for real.
"""

from __future__ import annotations

import os
import time

import pytest
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from catalog.models import Product, ProductImage
from catalog.services.images import product_image_create, product_image_orphan_files_sweep
from recommender import tasks
from tests.factories import product_create, staff_user_create
from tests.hardening.conftest import image_bytes, media_files


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def staff_api(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff_user_create("staff"))
    return client


@pytest.fixture
def staff_admin(db) -> Client:
    client = Client()
    client.force_login(staff_user_create("admin-staff"))
    return client


def stored_image(product: Product, colour: str = "red") -> ProductImage:
    return product_image_create(product=product, file=image_bytes("PNG", colour=colour), enqueue=False)


def media_url(image: ProductImage) -> str:
    return f"/media/{image.file.name}"


@pytest.mark.django_db
def test_an_image_deleted_through_the_api_loses_its_file_on_commit_and_its_url_404s(
    staff_api, media_root, django_capture_on_commit_callbacks
):
    # given
    image = stored_image(product_create())
    assert Client().get(media_url(image)).status_code == 200
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.delete(f"/api/v1/products/{image.product_id}/images/{image.pk}/")
        file_before_commit = media_files(media_root)
    # then: the file was kept until the commit, then deleted, and is no longer served
    assert response.status_code == 204
    assert file_before_commit == {image.file.name}
    assert media_files(media_root) == set()
    assert Client().get(media_url(image)).status_code == 404
    assert not ProductImage.objects.exists()


@pytest.mark.django_db
def test_a_product_deleted_through_the_api_loses_every_image_file(
    staff_api, media_root, django_capture_on_commit_callbacks
):
    # given: two products; the other one's file must stay
    product, other = product_create(), product_create()
    images = [stored_image(product, "red"), stored_image(product, "blue")]
    kept = stored_image(other, "green")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.delete(f"/api/v1/products/{product.pk}/")
    # then
    assert response.status_code == 204
    assert media_files(media_root) == {kept.file.name}
    assert all(Client().get(media_url(image)).status_code == 404 for image in images)
    assert not Product.objects.filter(pk=product.pk).exists()


@pytest.mark.django_db
def test_a_product_deleted_in_admin_loses_its_image_files(staff_admin, media_root, django_capture_on_commit_callbacks):
    # given
    image = stored_image(product_create())
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_admin.post(f"/admin/catalog/product/{image.product_id}/delete/", {"post": "yes"})
    # then
    assert response.status_code == 302
    assert media_files(media_root) == set()
    assert Client().get(media_url(image)).status_code == 404


@pytest.mark.django_db
def test_images_deleted_in_bulk_from_the_admin_list_lose_their_files(
    staff_admin, media_root, django_capture_on_commit_callbacks
):
    # given: the "delete selected" action deletes a queryset
    product = product_create()
    images = [stored_image(product, "red"), stored_image(product, "blue"), stored_image(product, "white")]
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_admin.post(
            "/admin/catalog/productimage/",
            {"action": "delete_selected", "post": "yes", "_selected_action": [images[0].pk, images[1].pk]},
        )
    # then
    assert response.status_code == 302
    assert media_files(media_root) == {images[2].file.name}


@pytest.mark.django_db
def test_a_queryset_delete_and_a_cascade_delete_the_files_too(media_root, django_capture_on_commit_callbacks):
    # given
    first, second = product_create(), product_create()
    stored_image(first, "red")
    stored_image(second, "blue")
    # when: a bulk delete of images, then a cascade from a product deleted without the service
    with django_capture_on_commit_callbacks(execute=True):
        ProductImage.objects.filter(product=first).delete()
    with django_capture_on_commit_callbacks(execute=True):
        Product.objects.filter(pk=second.pk).delete()
    # then
    assert media_files(media_root) == set()


@pytest.mark.django_db
def test_a_rolled_back_deletion_keeps_the_file(media_root, django_capture_on_commit_callbacks):
    # given
    image = stored_image(product_create())
    # when: the deletion is rolled back (here by an error after it in the same transaction)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        image.product.delete()
        raise RuntimeError("something later in the transaction failed")
    # then
    assert callbacks == []
    assert ProductImage.objects.filter(pk=image.pk).exists()
    assert media_files(media_root) == {image.file.name}
    assert Client().get(media_url(image)).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_with_real_commits_a_deletion_removes_the_file_and_a_rollback_keeps_it(media_root):
    # given
    product = product_create()
    kept, deleted = stored_image(product, "red"), stored_image(product, "blue")
    # when
    with pytest.raises(RuntimeError), transaction.atomic():
        ProductImage.objects.filter(pk=kept.pk).delete()
        raise RuntimeError("rolled back")
    with transaction.atomic():
        ProductImage.objects.filter(pk=deleted.pk).delete()
        still_there = media_files(media_root)  # not yet committed
    # then
    assert still_there == {kept.file.name, deleted.file.name}
    assert media_files(media_root) == {kept.file.name}


def age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.mark.django_db
def test_the_sweep_deletes_old_orphans_and_keeps_fresh_or_referenced_files(media_root):
    # given: an old file with a row, an old file without one, and a fresh file without one
    # (an upload whose row is not committed yet looks like that)
    referenced = stored_image(product_create())
    orphans = media_root / "products" / "999"
    orphans.mkdir(parents=True)
    old_orphan, fresh_orphan = orphans / "old.img", orphans / "fresh.img"
    old_orphan.write_bytes(image_bytes("PNG"))
    fresh_orphan.write_bytes(image_bytes("PNG"))
    age(old_orphan, 2 * 3600)
    age(media_root / referenced.file.name, 2 * 3600)
    # when
    deleted = product_image_orphan_files_sweep(min_age_s=3600)
    # then
    assert deleted == 1
    assert media_files(media_root) == {referenced.file.name, "products/999/fresh.img"}


@pytest.mark.django_db
def test_the_catch_up_task_sweeps_at_most_once_per_period(media_root, settings):
    # given: an old orphan, and the sweep due
    settings.FASHIONREC_MEDIA_SWEEP_EVERY_S = 3600
    orphan = media_root / "products" / "1" / "gone.img"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    age(orphan, 2 * 3600)
    # when
    first = tasks._sweep_orphan_files_if_due()
    orphan.write_bytes(b"x")
    age(orphan, 2 * 3600)
    second = tasks._sweep_orphan_files_if_due()
    # then: the first tick swept, the next one within the period did not walk the folder
    assert (first, second) == (1, None)
    assert orphan.exists()
