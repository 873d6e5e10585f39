"""``POST /api/v1/products/{id}/images/``: stored, enqueued after commit, bad uploads refused cleanly."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog.models import ProductImage
from catalog.models.products import ProcessingStatus
from catalog.services.images import image_validate
from recommender.models import ImageIngestState
from tests.factories import product_create, staff_user_create
from tests.ingestion.conftest import celery_broker, dataset_photos, small_jpeg


def upload(client, product_id: int, data: bytes, *, name: str = "photo.jpg", **extra):
    return client.post(
        f"/api/v1/products/{product_id}/images/",
        {"image": SimpleUploadedFile(name, data, content_type="image/jpeg"), **extra},
        format="multipart",
    )


@pytest.fixture
def photo() -> bytes:
    return small_jpeg(dataset_photos("shirt", 1)[0])


def test_an_upload_is_stored_under_a_generated_name_and_answered_pending(staff_client, media_root, photo):
    # given
    product = product_create()
    # when (the `db` fixture's transaction never commits, so nothing is enqueued here)
    response = upload(staff_client, product.pk, photo, name="../../etc/passwd.jpg")
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    image = ProductImage.objects.get(pk=body["id"])
    assert body["status"] == "pending" and body["garments"] == []
    assert (body["width"], body["height"]) == Image.open(io.BytesIO(photo)).size
    assert body["is_primary"] is True  # a product's first image
    assert image.file.name.startswith(f"products/{product.pk}/") and "passwd" not in image.file.name
    assert (media_root / image.file.name).read_bytes() == image_validate(photo).data  # re-encoded, no metadata


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 400, "empty"),
        (b"%PDF-1.7 a document", 415, "unsupported_format"),
        (b"just some text, not a picture", 415, "not_an_image"),
        ("truncated", 400, "truncated"),
    ],
)
def test_a_bad_image_is_refused_with_the_error_format_and_nothing_is_stored(
    staff_client, media_root, photo, data, status, code
):
    # given
    product = product_create()
    data = photo[: len(photo) // 2] if data == "truncated" else data
    # when
    response = upload(staff_client, product.pk, data)
    # then
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert not ProductImage.objects.exists()
    assert not list(media_root.rglob("*.img"))


def test_a_file_over_the_size_limit_is_413(staff_client, media_root, photo, settings):
    settings.FASHIONREC_MAX_UPLOAD_BYTES = len(photo) - 1
    response = upload(staff_client, product_create().pk, photo)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_the_same_photo_twice_is_a_409_naming_the_existing_image(staff_client, media_root, photo):
    product = product_create()
    first = upload(staff_client, product.pk, photo).json()
    response = upload(staff_client, product.pk, photo)
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "duplicate_image",
        "message": f"Product {product.pk} already has this image (image {first['id']}).",
        "details": {"image_id": first["id"]},
    }


def test_a_new_primary_image_demotes_the_previous_one(staff_client, media_root):
    # given
    product = product_create()
    first, second = (small_jpeg(path) for path in dataset_photos("hat", 2))
    upload(staff_client, product.pk, first)
    # when
    response = upload(staff_client, product.pk, second, is_primary="true")
    # then
    assert response.status_code == 201
    assert list(product.images.order_by("pk").values_list("is_primary", flat=True)) == [False, True]


def test_only_staff_may_upload(db, media_root, photo):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("shopper"))
    product = product_create()
    assert upload(client, product.pk, photo).status_code == 403
    assert upload(APIClient(), product.pk, photo).status_code in (401, 403)
    assert not ProductImage.objects.exists()


def test_missing_field_and_unknown_product(staff_client, media_root, photo):
    response = staff_client.post(f"/api/v1/products/{product_create().pk}/images/", {}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert upload(staff_client, 999_999, photo).status_code == 404
    assert staff_client.get("/api/v1/products/abc/images/").json()["error"]["code"] == "not_found"


def test_the_list_shows_each_image_and_its_status(staff_client, media_root, photo):
    product = product_create()
    created = upload(staff_client, product.pk, photo).json()
    response = staff_client.get(f"/api/v1/products/{product.pk}/images/")
    assert response.status_code == 200
    assert [(image["id"], image["status"]) for image in response.json()] == [(created["id"], "pending")]


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_upload_is_kept_pending_for_the_catch_up(media_root, photo):
    # given: a broker URL where nothing listens, and a committed upload (on_commit runs)
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff_user_create("staff"))
    product = product_create()
    # when
    with celery_broker("redis://127.0.0.1:1/0", "nowhere"):
        response = upload(client, product.pk, photo)
    # then: the request succeeds, the image waits, marked as never sent
    assert response.status_code == 201, response.content
    image = ProductImage.objects.get(pk=response.json()["id"])
    assert image.status == ProcessingStatus.PENDING
    assert ImageIngestState.objects.get(image=image).enqueued_at is None


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_upload_is_processed_in_the_request(media_root, photo):
    # given: the default settings (no CELERY_BROKER_URL: tasks run in-process after commit)
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff_user_create("staff"))
    # when
    response = upload(client, product_create().pk, photo)
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "ready" and body["garments"] and body["encoder_version"]
    assert all(len(garment["box"]) == 4 for garment in body["garments"])
