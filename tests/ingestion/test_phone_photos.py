"""Photos from phones: HEIC/HEIF decoded with the same limits and errors, and stored without EXIF/GPS.

The HEIC files are written by the test with pillow-heif (the encoder the server's decoder comes
with), the GPS EXIF with Pillow's Exif API: real files through the real API, no mocks.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageDraw
from rest_framework.test import APIClient

from catalog.models import ProductImage
from recommender.models import EncoderVersion
from recommender.vision.pipeline import get_pipeline
from tests.api.conftest import assert_error
from tests.factories import garment_create, product_create

pytestmark = pytest.mark.django_db

ORIENTATION = 0x0112  # EXIF tag: 6 = the camera was turned 90° clockwise


def garment_photo(size: tuple[int, int] = (300, 400)) -> Image.Image:
    image = Image.new("RGB", size, (235, 235, 230))
    w, h = size
    ImageDraw.Draw(image).rectangle((w * 0.25, h * 0.2, w * 0.75, h * 0.8), fill=(180, 30, 40))
    return image


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    exif[ExifTags.Base.BodySerialNumber] = "SN-0042"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 36.0)
    return exif


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def heic(image: Image.Image | None = None, **options) -> bytes:
    return encoded(image or garment_photo(), "HEIF", quality=80, **options)


def upload(client, product_id: int, data: bytes, name: str):
    return client.post(
        f"/api/v1/products/{product_id}/images/",
        {"image": SimpleUploadedFile(name, data, content_type="image/heic")},
        format="multipart",
    )


def assert_no_metadata(stored: bytes) -> Image.Image:
    with Image.open(io.BytesIO(stored)) as image:
        image.load()
    assert image.format == "JPEG"
    assert "exif" not in image.info and not image.getexif()
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif\x00\x00" not in stored and b"PhoneMaker" not in stored and b"SN-0042" not in stored
    return image


def test_a_heic_photo_is_stored_as_an_upright_jpeg_without_its_gps(staff_client, media_root):
    # given: a portrait HEIC of a phone held sideways, with GPS, make, model and serial number
    product = product_create()
    data = heic(garment_photo((400, 300)), exif=exif_with_gps(orientation=6).tobytes())
    assert Image.open(io.BytesIO(data)).format == "HEIF"
    # when
    response = upload(staff_client, product.pk, data, "IMG_0042.HEIC")
    # then
    assert response.status_code == 201, response.content
    assert (response.json()["width"], response.json()["height"]) == (300, 400)  # turned upright
    stored = (media_root / ProductImage.objects.get(pk=response.json()["id"]).file.name).read_bytes()
    image = assert_no_metadata(stored)
    assert image.size == (300, 400)
    assert image.getpixel((150, 200))[0] > 150  # the red garment, in the middle


def test_a_jpeg_with_gps_is_stored_without_any_exif_and_turned_upright(staff_client, media_root):
    # given
    product = product_create()
    data = encoded(garment_photo((400, 300)), "JPEG", quality=95, exif=exif_with_gps(orientation=6))
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the GPS is really there
    # when
    response = upload(staff_client, product.pk, data, "photo.jpg")
    # then
    assert response.status_code == 201, response.content
    stored = (media_root / ProductImage.objects.get(pk=response.json()["id"]).file.name).read_bytes()
    assert assert_no_metadata(stored).size == (300, 400)


def test_the_same_heic_twice_is_a_duplicate(staff_client, media_root):
    product = product_create()
    data = heic()
    assert upload(staff_client, product.pk, data, "a.heic").status_code == 201
    assert_error(upload(staff_client, product.pk, data, "b.heic"), 409)
    assert ProductImage.objects.filter(product=product).count() == 1


@pytest.mark.parametrize(
    ("limit", "value", "code"),
    [
        ("FASHIONREC_MAX_IMAGE_PIXELS", 100_000, "too_many_pixels"),
        ("FASHIONREC_MAX_DECODED_BYTES", 200_000, "decoded_too_large"),
        ("FASHIONREC_MAX_UPLOAD_BYTES", 1_000, "too_large"),
    ],
)
def test_a_heic_over_the_limits_is_refused_like_any_format(staff_client, media_root, settings, limit, value, code):
    # given: 400 × 300 = 120,000 pixels (480,000 decoded bytes), with noise so the file is not tiny
    image = Image.effect_noise((400, 300), 60).convert("RGB")
    data = heic(image)
    assert len(data) > 1_000
    setattr(settings, limit, value)
    product = product_create()
    # when
    response = upload(staff_client, product.pk, data, "big.heic")
    # then
    assert response.status_code in (400, 413), response.content
    assert_error(response, response.status_code, code)
    assert not ProductImage.objects.exists()
    assert not [path for path in media_root.rglob("*") if path.is_file()]


@pytest.mark.parametrize("size", [(300, 400), (30, 20)])
def test_a_cut_off_heic_is_a_400_truncated(staff_client, media_root, size):
    data = heic(garment_photo(size))
    response = upload(staff_client, product_create().pk, data[: len(data) // 2], "broken.heic")
    assert_error(response, 400, "truncated")
    assert not ProductImage.objects.exists()


def test_a_heic_query_photo_gets_recommendations_and_nothing_is_stored(media_root):
    # given: an indexed catalog, and a HEIC query photo with GPS
    version = get_pipeline().encoder_version
    EncoderVersion.objects.create(name=version, is_active=True)
    for n in range(4):
        garment_create(product_create(), seed=n, version=version)
    data = heic(exif=exif_with_gps().tobytes())
    images_before = ProductImage.objects.count()
    # when
    response = APIClient().post(
        "/api/v1/recommendations/",
        {"image": SimpleUploadedFile("IMG_0001.HEIC", data, content_type="image/heic"), "k": 3},
        format="multipart",
    )
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["image"] == {"width": 300, "height": 400}
    assert len(body["results"]) == 3
    assert ProductImage.objects.count() == images_before
    assert not [path for path in media_root.rglob("*") if path.is_file()]  # the query photo left no file
