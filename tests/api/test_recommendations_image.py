"""POST /api/v1/recommendations/ with a photo, through the shipped detector and encoder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image, ImageDraw

from recommender.models import EncoderVersion, Garment
from recommender.vision.main_garment import MAIN_KINDS
from recommender.vision.pipeline import get_pipeline
from tests.api.conftest import assert_error
from tests.factories import garment_create, product_create

pytestmark = pytest.mark.django_db


def photo(fmt: str = "JPEG", size: tuple[int, int] = (300, 400)) -> io.BytesIO:
    """A red garment-like shape on a light background (real bytes through the real decoder)."""
    image = Image.new("RGB", size, (235, 235, 230))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((w * 0.25, h * 0.2, w * 0.75, h * 0.8), fill=(180, 30, 40))
    draw.polygon([(w * 0.25, h * 0.2), (w * 0.1, h * 0.45), (w * 0.25, h * 0.45)], fill=(180, 30, 40))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    buffer.seek(0)
    buffer.name = f"shirt.{fmt.lower()}"
    return buffer


@pytest.fixture
def indexed_catalog(db):
    """Products indexed with the shipped encoder's version (random vectors: order is not the point)."""
    version = get_pipeline().encoder_version
    EncoderVersion.objects.create(name=version, is_active=True)
    products = [product_create() for _ in range(6)]
    for n, product in enumerate(products):
        garment_create(product, seed=n, version=version)
    return products


def test_a_photo_gives_garments_and_recommendations(client, indexed_catalog):
    # when
    response = client.post("/api/v1/recommendations/", {"image": photo(), "k": 4}, format="multipart")
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"]["kind"] == "image" and body["query"]["product_id"] is None and body["query"]["k"] == 4
    assert body["query"]["plan"] == "exact"  # 6 garments: far below the exact-scan threshold
    assert body["image"] == {"width": 300, "height": 400}
    assert body["garments"] and body["garment"] == 0
    first = body["garments"][0]
    assert set(first) == {"index", "box", "label", "confidence", "is_whole_image", "is_main"}
    x1, y1, x2, y2 = first["box"]
    assert 0 <= x1 < x2 <= 300 and 0 <= y1 < y2 <= 400
    assert len(body["results"]) == 4
    assert {"decode", "detect", "encode", "query", "hydrate", "total"} <= set(body["timings_ms"])


def test_the_results_are_those_nearest_to_the_chosen_garments_embedding(client, indexed_catalog):
    # given: one product indexed with exactly the photo's embedding
    analysis = get_pipeline().analyse(photo().getvalue())
    twin = product_create(title="Twin")
    garment = garment_create(twin, version=get_pipeline().encoder_version)
    Garment.objects.filter(pk=garment.pk).update(embedding=analysis.garments[0].embedding.tolist())
    # when
    body = client.post("/api/v1/recommendations/", {"image": photo()}, format="multipart").json()
    # then
    assert body["results"][0]["product"]["id"] == twin.pk
    assert body["results"][0]["similarity"] == pytest.approx(1.0, abs=1e-4)


def test_a_garment_index_beyond_the_detections_is_400(client, indexed_catalog):
    error = assert_error(
        client.post("/api/v1/recommendations/", {"image": photo(), "garment": 999}, format="multipart"), 400
    )
    assert "garment" in error["details"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"", 400, "empty"),
        (b"this is not an image at all" * 10, 415, "not_an_image"),
        (b"%PDF-1.4 fake document" * 10, 415, None),
        (photo().getvalue()[:400], 400, "truncated"),
    ],
    ids=["empty", "text", "pdf", "truncated"],
)
def test_bad_images_are_4xx_in_the_error_format(client, indexed_catalog, payload, status, code):
    upload = io.BytesIO(payload)
    upload.name = "upload.jpg"
    response = client.post("/api/v1/recommendations/", {"image": upload}, format="multipart")
    assert_error(response, status, code)


def test_an_oversize_upload_is_413(client, indexed_catalog, settings):
    settings.FASHIONREC_MAX_UPLOAD_BYTES = 1000
    assert_error(client.post("/api/v1/recommendations/", {"image": photo()}, format="multipart"), 413, "too_large")


def test_image_and_product_id_together_are_400(client, indexed_catalog):
    response = client.post(
        "/api/v1/recommendations/", {"image": photo(), "product_id": indexed_catalog[0].pk}, format="multipart"
    )
    assert_error(response, 400, "invalid")


def test_an_index_of_another_encoder_version_is_503_not_noise(client, db):
    # given: the active index was built by an encoder other than the one loaded
    EncoderVersion.objects.create(name="some-older-encoder", is_active=True)
    garment_create(product_create(), version="some-older-encoder")
    # when
    response = client.post("/api/v1/recommendations/", {"image": photo()}, format="multipart")
    # then
    assert_error(response, 503, "encoder_mismatch")


def test_the_photo_embedding_is_unit_length(indexed_catalog):
    analysis = get_pipeline().analyse(photo("PNG").getvalue())
    assert np.linalg.norm(analysis.garments[0].embedding) == pytest.approx(1.0, abs=1e-4)


def test_image_query_count_is_fixed(client, indexed_catalog, django_assert_num_queries):
    get_pipeline()  # models loaded outside the count
    # 1 context (active encoder, filter ids); 2 EXPLAIN estimate; 3 the recommend statement;
    # 4 product cards
    with django_assert_num_queries(4):
        response = client.post("/api/v1/recommendations/", {"image": photo(), "k": 3}, format="multipart")
    assert response.status_code == 200


def test_the_default_garment_of_a_street_photo_is_its_main_garment_not_the_surest_shoe(client, indexed_catalog):
    # given a held-out street photo (CCP 0049, never trained on) where the shipped detector is surer
    # of a shoe than of the top
    street = (Path(settings.FASHIONREC_CCP_DATASET) / "photos" / "0049.jpg").read_bytes()

    # when it is sent without a garment index
    response = client.post("/api/v1/recommendations/", {"image": io.BytesIO(street)}, format="multipart")

    # then the recommendations are for a garment a shopper searches for, listed first
    assert response.status_code == 200, response.content
    body = response.json()
    labels = [g["label"] for g in body["garments"]]
    assert set(labels) & MAIN_KINDS, labels
    assert body["garment"] == 0 and labels[0] in MAIN_KINDS, labels
    surest = max(body["garments"], key=lambda garment: garment["confidence"])
    assert surest["label"] not in MAIN_KINDS, body["garments"]  # the case this test is about
