"""Ingestion through a REAL Celery worker subprocess over the local Redis.

Each test gets its own queue name and the worker uses the test database (see conftest), so
these tests commit their data (``transaction=True``): the worker must see it.
"""

from __future__ import annotations

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count

from catalog.models import ProductImage
from catalog.models.products import ProcessingStatus
from catalog.services.images import product_image_create
from recommender.models import EncoderVersion, Garment
from recommender.services.ingest import product_images_enqueue
from tests.factories import product_create
from tests.ingestion.conftest import dataset_photos, small_jpeg, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CATEGORIES = ("t-shirt", "pants", "dress", "shoes", "hat", "outwear", "skirt")


def status_of(image_id: int) -> str:
    return ProductImage.objects.values_list("status", flat=True).get(pk=image_id)


def stored_images(count: int) -> list[int]:
    """``count`` committed, pending images of distinct products (nothing enqueued yet)."""
    ids = []
    per_category = -(-count // len(CATEGORIES))
    for category in CATEGORIES:
        for path in dataset_photos(category, per_category):
            if len(ids) < count:
                image = product_image_create(product=product_create(), file=small_jpeg(path, width=160), enqueue=False)
                ids.append(image.pk)
    return ids


def test_an_upload_through_the_api_is_processed_by_the_worker(worker, staff_client):
    # given
    product = product_create()
    photo = small_jpeg(dataset_photos("t-shirt", 1)[0])
    # when
    response = staff_client.post(
        f"/api/v1/products/{product.pk}/images/",
        {"image": SimpleUploadedFile("tee.jpg", photo, content_type="image/jpeg")},
        format="multipart",
    )
    # then
    assert response.status_code == 201, response.content
    image_id = response.json()["id"]
    wait_until(lambda: status_of(image_id) == ProcessingStatus.READY, timeout=60, what="the image to be ready")
    image = ProductImage.objects.get(pk=image_id)
    garments = list(Garment.objects.filter(image=image))
    assert garments and all(g.product_id == product.pk for g in garments)
    assert {g.encoder_version for g in garments} == {image.encoder_version}
    assert EncoderVersion.objects.get(is_active=True).name == image.encoder_version
    assert image.attempts == 1 and image.error == "" and image.processed_at is not None
    listed = staff_client.get(f"/api/v1/products/{product.pk}/images/").json()
    assert listed[0]["status"] == "ready" and len(listed[0]["garments"]) == len(garments)


def test_a_corrupt_image_fails_at_once_with_its_reason_and_is_not_retried(worker):
    # given: an image row whose stored file is damaged (it passed validation at upload time)
    since = worker.mark()
    photo = small_jpeg(dataset_photos("skirt", 1)[0])
    image = ProductImage(product=product_create(), checksum="0" * 64)
    image.file.save("upload", ContentFile(photo[: len(photo) // 3]), save=True)
    # when
    product_images_enqueue(image_ids=[image.pk])
    # then
    wait_until(lambda: status_of(image.pk) == ProcessingStatus.FAILED, timeout=60, what="the image to fail")
    image.refresh_from_db()
    assert image.error.startswith("truncated: ")
    assert image.attempts == 1
    assert not Garment.objects.filter(image=image).exists()
    worker.wait_for_log("succeeded", timeout=10, since=since)
    assert "retrying" not in worker.log(since) and "Retry" not in worker.log(since)


def test_a_database_outage_during_a_task_is_retried_then_succeeds(worker):
    # given
    since = worker.mark()
    image_id = stored_images(1)[0]
    db = connection.settings_dict
    admin = psycopg.connect(host=db["HOST"], user=db["USER"], dbname="postgres", autocommit=True)
    # A real outage for the worker: its connections are cut and new ones are refused.
    admin.execute(f'ALTER DATABASE "{db["NAME"]}" ALLOW_CONNECTIONS false')
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
        [db["NAME"], connection.cursor().connection.info.backend_pid],
    )
    try:
        # when
        product_images_enqueue(image_ids=[image_id])
        worker.wait_for_log("retrying in", timeout=30, since=since)
    finally:
        admin.execute(f'ALTER DATABASE "{db["NAME"]}" ALLOW_CONNECTIONS true')
        admin.close()
    # then
    wait_until(lambda: status_of(image_id) == ProcessingStatus.READY, timeout=60, what="the retried task")
    assert "not currently accepting connections" in worker.log(since)
    assert Garment.objects.filter(image_id=image_id).exists()


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(worker_factory):
    # given: 56 images in batches of 8, and a worker
    ids = stored_images(56)
    first = worker_factory()
    product_images_enqueue(image_ids=ids, batch_size=8)

    def in_flight() -> bool:
        statuses = dict(
            ProductImage.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("pk")).order_by()
        )
        return statuses.get(ProcessingStatus.PROCESSING, 0) > 0 and statuses.get(ProcessingStatus.READY, 0) > 0

    # when: SIGKILL while a batch is being processed (some ready, some processing), then a new worker
    wait_until(in_flight, timeout=90, interval=0.01, what="a batch in flight after another finished")
    first.kill()
    killed_at = dict(ProductImage.objects.filter(pk__in=ids).values_list("pk", "status"))
    worker_factory()
    # then: every image ends ready, each with one set of garments
    wait_until(
        lambda: ProductImage.objects.filter(pk__in=ids, status=ProcessingStatus.READY).count() == len(ids),
        timeout=90,
        what="all 56 images ready after the kill",
    )
    assert ProcessingStatus.PROCESSING in killed_at.values()
    assert sum(status != ProcessingStatus.READY for status in killed_at.values()) > 0
    per_image = Garment.objects.filter(image_id__in=ids).values("image_id").annotate(n=Count("pk"))
    assert len(per_image) == len(ids)
    duplicates = (
        Garment.objects.filter(image_id__in=ids)
        .values("image_id", "box_x1", "box_y1", "box_x2", "box_y2", "label")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert list(duplicates) == []
