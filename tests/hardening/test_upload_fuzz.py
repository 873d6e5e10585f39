"""Hostile image uploads to both entry points that take a file.

``POST /api/v1/products/{id}/images/`` (staff, stores the file) and ``POST /api/v1/recommendations/``
(anyone, decodes and forgets it) get: random bytes, randomly mutated real images, a crafted
corpus (zero bytes, truncated and corrupt JPEG/PNG/WebP, decompression bombs, huge declared
dimensions, documents and SVG with scripts, HTML named .jpg, a JPEG sent as text/html) and
path-traversal file names. Each answer is a clear 4xx in the error format (nothing stored: no
row, no file) or, for a usable image, a 201/200; a stored file always has a generated name.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from catalog.models import ProductImage
from catalog.services.images import image_validate
from recommender.models import EncoderVersion, Garment
from tests.hardening.conftest import (
    FUZZ_EXAMPLES,
    assert_error_format,
    client_for,
    count_case,
    database_fingerprint,
    image_bytes,
    media_files,
)

pytestmark = pytest.mark.django_db

EXAMPLES = FUZZ_EXAMPLES
IMAGES_ENDPOINT = "POST /api/v1/products/{product_id}/images/"
RECOMMEND_ENDPOINT = "POST /api/v1/recommendations/"
GENERATED_NAME = re.compile(r"^products/\d+/[0-9a-f]{32}\.img$")


# --- the crafted corpus ---------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int, *, bit_depth: int = 1, colour_type: int = 0, rows: int = 1) -> bytes:
    """A well-formed PNG whose header announces ``width``×``height``; ``rows`` of zero pixels follow.

    With ``rows == height`` it is a real decompression bomb: a few kB that inflate to
    width×height pixels.
    """
    row = b"\x00" + b"\x00" * ((width * bit_depth + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 marker is rewritten to announce ``width``×``height``."""
    data = bytearray(image_bytes("JPEG", (16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    data = bytearray(image_bytes("GIF", (8, 8)))
    data[6:10] = struct.pack("<HH", width, height)  # logical screen
    frame = data.index(b"\x2c")  # image descriptor
    data[frame + 5 : frame + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def corrupt_png_crc() -> bytes:
    data = bytearray(image_bytes("PNG"))
    data[29] ^= 0xFF  # inside the IHDR CRC
    return bytes(data)


def webp_with_garbage_frame() -> bytes:
    data = bytearray(image_bytes("WEBP"))
    data[20:] = b"\xa5" * (len(data) - 20)
    return bytes(data)


@functools.cache
def bomb() -> bytes:
    # 20000×20000 1-bit pixels (400 Mpx, 10x the limit) in about 60 kB.
    return png_declaring(20_000, 20_000, rows=20_000)


SVG_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)">'
    b"<script>fetch('/api/v1/me/preferences/')</script></svg>"
)
HTML = b"<!doctype html><html><body><script>alert(document.domain)</script></body></html>"

# name -> (bytes, client file name, client content type, acceptable statuses)
CORPUS: dict[str, tuple] = {
    "zero bytes": (lambda: b"", "photo.jpg", "image/jpeg", {400}),
    "one byte": (lambda: b"\xff", "photo.jpg", "image/jpeg", {415}),
    "jpeg truncated in half": (lambda: image_bytes("JPEG", (96, 96))[:300], "p.jpg", "image/jpeg", {400}),
    "jpeg header only": (lambda: image_bytes("JPEG")[:24], "p.jpg", "image/jpeg", {400, 415}),
    "png truncated": (lambda: image_bytes("PNG", (96, 96))[:60], "p.png", "image/png", {400}),
    "png bad ihdr crc": (corrupt_png_crc, "p.png", "image/png", {400, 415}),
    "webp truncated": (lambda: image_bytes("WEBP", (96, 96))[:40], "p.webp", "image/webp", {400, 415}),
    "webp garbage frame": (webp_with_garbage_frame, "p.webp", "image/webp", {400, 415}),
    "png bomb 400 Mpx": (bomb, "bomb.png", "image/png", {413}),
    "png declares 100000x100000": (lambda: png_declaring(100_000, 100_000), "big.png", "image/png", {413}),
    "png declares 2^31-1 wide": (lambda: png_declaring(2**31 - 1, 1), "wide.png", "image/png", {400, 413}),
    "jpeg declares 65500x65500": (lambda: jpeg_declaring(65_500, 65_500), "big.jpg", "image/jpeg", {413}),
    "gif declares 65535x65535": (lambda: gif_declaring(65_535, 65_535), "big.gif", "image/gif", {413}),
    "png declares 0x0": (lambda: png_declaring(0, 0), "empty.png", "image/png", {400, 415}),
    "svg with script": (lambda: SVG_SCRIPT, "x.svg", "image/svg+xml", {415}),
    "svg named jpg": (lambda: SVG_SCRIPT, "x.jpg", "image/jpeg", {415}),
    "html named jpg": (lambda: HTML, "photo.jpg", "image/jpeg", {415}),
    "pdf": (lambda: b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF", "doc.jpg", "image/jpeg", {415}),
    "gif header then script": (lambda: b"GIF89a" + HTML, "x.gif", "image/gif", {400, 415}),
    "ico (not accepted)": (lambda: image_bytes("ICO", (16, 16)), "x.ico", "image/x-icon", {415}),
}
# Usable images, whatever the client says about them: accepted, stored under a generated name.
USABLE: dict[str, tuple] = {
    "jpeg sent as text/html": (lambda: image_bytes("JPEG"), "page.html", "text/html", {201}),
    "jpeg with html appended": (lambda: image_bytes("JPEG") + HTML, "photo.jpg", "image/jpeg", {201}),
    "png named ../../etc/passwd.jpg": (lambda: image_bytes("PNG"), "../../etc/passwd.jpg", "image/png", {201}),
    "webp named /etc/cron.d/x": (lambda: image_bytes("WEBP"), "/etc/cron.d/x", "image/webp", {201}),
    "gif named ..\\..\\boot.ini": (lambda: image_bytes("GIF"), "..\\..\\boot.ini", "image/gif", {201}),
    "jpeg named x.php.jpg": (lambda: image_bytes("JPEG", colour="red"), "x.php.jpg", "image/jpeg", {201}),
    "jpeg named 300 characters": (lambda: image_bytes("JPEG", colour="teal"), "a" * 300 + ".jpg", "image/jpeg", {201}),
    "jpeg named with unicode": (lambda: image_bytes("JPEG", colour="olive"), "жакет 👗.jpg", "image/jpeg", {201}),
}


def upload_file(data: bytes, name: str, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- product images (staff, stored) ---------------------------------------------------------


@pytest.fixture
def staff(users, media_root, shop):
    return {"client": client_for("staff", users), "product": shop["products"][0], "media": media_root}


def post_product_image(staff, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return staff["client"].post(
        f"/api/v1/products/{staff['product'].pk}/images/",
        {"image": upload_file(data, name, content_type)},
        format="multipart",
    )


def assert_rejected_and_nothing_stored(response, statuses: set[int], before: dict, files: set[str], media) -> None:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert_error_format(response)
    assert database_fingerprint() == before
    assert media_files(media) == files


def assert_stored_under_a_generated_name(response, data: bytes, media) -> ProductImage:
    assert response.status_code == 201, response.content[:300]
    image = ProductImage.objects.get(pk=response.json()["id"])
    assert GENERATED_NAME.match(image.file.name), image.file.name
    stored = media / image.file.name
    assert stored.resolve().is_relative_to(media.resolve())
    # the photo as decoded and re-encoded without metadata, never the client's bytes
    assert stored.read_bytes() == image_validate(data).data
    return image


@pytest.mark.parametrize("case", list(CORPUS))
def test_product_image_corpus_is_refused_and_nothing_is_stored(staff, case):
    make, name, content_type, statuses = CORPUS[case]
    before, files = database_fingerprint(), media_files(staff["media"])
    response = post_product_image(staff, make(), name, content_type)
    count_case(IMAGES_ENDPOINT, "crafted corpus", response.status_code)
    assert_rejected_and_nothing_stored(response, statuses, before, files, staff["media"])


@pytest.mark.parametrize("case", list(USABLE))
def test_usable_images_are_stored_under_generated_names_whatever_the_client_says(staff, case):
    make, name, content_type, _ = USABLE[case]
    data = make()
    response = post_product_image(staff, data, name, content_type)
    count_case(IMAGES_ENDPOINT, "crafted corpus", response.status_code)
    image = assert_stored_under_a_generated_name(response, data, staff["media"])
    assert media_files(staff["media"]) == {image.file.name}  # nothing else was written anywhere


def test_a_file_over_the_byte_limit_is_413_and_not_stored(staff, settings):
    data = image_bytes("PNG", (200, 200))
    settings.FASHIONREC_MAX_UPLOAD_BYTES = len(data) - 1
    before = database_fingerprint()
    response = post_product_image(staff, data, "p.png", "image/png")
    count_case(IMAGES_ENDPOINT, "crafted corpus", response.status_code)
    assert_rejected_and_nothing_stored(response, {413}, before, set(), staff["media"])


@pytest.mark.parametrize(
    "payload",
    [{"image": "not a file"}, {"image": ""}, {}, {"photo": "x"}],
    ids=["text", "empty", "missing", "other field"],
)
def test_a_form_without_a_file_is_400(staff, payload):
    before = database_fingerprint()
    response = staff["client"].post(f"/api/v1/products/{staff['product'].pk}/images/", payload, format="multipart")
    count_case(IMAGES_ENDPOINT, "crafted corpus", response.status_code)
    assert_rejected_and_nothing_stored(response, {400}, before, set(), staff["media"])


def test_a_raw_body_instead_of_multipart_is_415(staff):
    before = database_fingerprint()
    response = staff["client"].post(
        f"/api/v1/products/{staff['product'].pk}/images/", image_bytes("JPEG"), content_type="image/jpeg"
    )
    count_case(IMAGES_ENDPOINT, "crafted corpus", response.status_code)
    assert_rejected_and_nothing_stored(response, {415}, before, set(), staff["media"])


def mutated(data: bytes, draw) -> bytes:
    """Flip, drop, insert or cut bytes of a real image: mostly broken, sometimes still decodable."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if action == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[position : position + draw(st.integers(1, 64))]
    return bytes(data)


@st.composite
def hostile_bytes(draw) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=4096))
    fmt = draw(st.sampled_from(["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"]))
    size = (draw(st.integers(1, 48)), draw(st.integers(1, 48)))
    return mutated(image_bytes(fmt, size, colour=draw(st.sampled_from(["red", "navy", "white"]))), draw)


UPLOAD_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@UPLOAD_SETTINGS
@given(data=hostile_bytes())
def test_random_and_mutated_bytes_as_a_product_image(staff, data):
    before, files = database_fingerprint(), media_files(staff["media"])
    response = post_product_image(staff, data)
    count_case(IMAGES_ENDPOINT, "hypothesis bytes", response.status_code)
    if response.status_code == 201:
        image = assert_stored_under_a_generated_name(response, data, staff["media"])
        assert media_files(staff["media"]) == files | {image.file.name}
        Image.open(io.BytesIO(data)).load()  # accepted only what really decodes
    elif response.status_code == 409:  # the same bytes twice: the existing image is named
        assert assert_error_format(response)["code"] == "duplicate_image"
        assert database_fingerprint() == before
    else:
        assert_rejected_and_nothing_stored(response, {400, 413, 415}, before, files, staff["media"])


# --- recommendations (anyone; the image is decoded, never stored) ---------------------------


@pytest.fixture
def photo_query(users, media_root, shop):
    """A shopper client and an index built by the real pipeline's encoder version."""
    from recommender.vision.pipeline import get_pipeline

    version = get_pipeline().encoder_version
    EncoderVersion.objects.all().delete()
    EncoderVersion.objects.create(name=version, is_active=True)
    Garment.objects.update(encoder_version=version)
    # a shopper: the anonymous budget (60/min) is tested in test_security, not exhausted here
    return {"client": client_for("shopper", users), "media": media_root}


def post_recommendation(photo_query, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return photo_query["client"].post(
        "/api/v1/recommendations/", {"image": upload_file(data, name, content_type), "k": 3}, format="multipart"
    )


@pytest.mark.parametrize("case", list(CORPUS))
def test_recommendation_corpus_is_refused_in_the_error_format(photo_query, case):
    make, name, content_type, statuses = CORPUS[case]
    before = database_fingerprint()
    response = post_recommendation(photo_query, make(), name, content_type)
    count_case(RECOMMEND_ENDPOINT, "crafted corpus", response.status_code)
    assert_rejected_and_nothing_stored(response, statuses, before, set(), photo_query["media"])


@pytest.mark.parametrize("case", ["jpeg sent as text/html", "png named ../../etc/passwd.jpg"])
def test_recommendation_for_a_usable_image_whatever_its_name_or_type(photo_query, case):
    make, name, content_type, _ = USABLE[case]
    response = post_recommendation(photo_query, make(), name, content_type)
    count_case(RECOMMEND_ENDPOINT, "crafted corpus", response.status_code)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["query"]["kind"] == "image"
    assert media_files(photo_query["media"]) == set()  # a query photo is never kept


@UPLOAD_SETTINGS
@given(data=hostile_bytes())
def test_random_and_mutated_bytes_as_a_query_photo(photo_query, data):
    before = database_fingerprint()
    response = post_recommendation(photo_query, data)
    count_case(RECOMMEND_ENDPOINT, "hypothesis bytes", response.status_code)
    assert response.status_code in (200, 400, 413, 415), (response.status_code, response.content[:300])
    if response.status_code != 200:
        assert_error_format(response)
    assert database_fingerprint() == before
    assert media_files(photo_query["media"]) == set()
