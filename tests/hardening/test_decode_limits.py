"""Images that are small files but huge once decoded get a clear 4xx from both image endpoints."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.hardening.conftest import assert_error_format, client_for, database_fingerprint, media_files

pytestmark = pytest.mark.django_db

HUGE = (6300, 6300)  # the shape: under the 40-megapixel limit


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def huge_images() -> dict[str, bytes]:
    return {
        "float_tiff": encoded(Image.new("F", HUGE, 0.5), "TIFF", compression="tiff_adobe_deflate"),
        "png": encoded(Image.new("RGB", HUGE, (10, 20, 30)), "PNG"),
    }


CASES = [("float_tiff", 415, "unsupported_mode"), ("png", 413, "decoded_too_large")]


@pytest.mark.parametrize(("name", "status", "code"), CASES)
def test_an_anonymous_photo_query_that_would_decode_huge_is_refused(huge_images, shop, name, status, code):
    # given
    upload = SimpleUploadedFile(f"q.{name}", huge_images[name], content_type="application/octet-stream")
    # when
    response = client_for("anonymous", {"anonymous": None}).post(
        "/api/v1/recommendations/", {"image": upload}, format="multipart"
    )
    # then
    assert assert_error_format(response, status)["code"] == code


@pytest.mark.parametrize(("name", "status", "code"), CASES)
def test_a_product_photo_that_would_decode_huge_is_refused_and_not_stored(
    huge_images, users, shop, media_root, name, status, code
):
    # given
    before = database_fingerprint()
    upload = SimpleUploadedFile(f"p.{name}", huge_images[name], content_type="application/octet-stream")
    # when
    response = client_for("staff", users).post(
        f"/api/v1/products/{shop['products'][0].pk}/images/", {"image": upload}, format="multipart"
    )
    # then
    assert assert_error_format(response, status)["code"] == code
    assert database_fingerprint() == before
    assert media_files(media_root) == set()
