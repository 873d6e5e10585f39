"""POST /api/v1/complete-the-look/ with a photo: the shipped detector, encoder and outfit model
(the demo's "Complete the look" section sends exactly this request)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recommender.api.outfits import _photo_garment
from recommender.models import EncoderVersion, Garment
from recommender.outfits.catalog import get_outfit_model
from recommender.outfits.street import CATALOG_KINDS, PIXEL_SAMPLE
from recommender.vision.pipeline import get_pipeline
from tests.api.test_recommendations_garments_all import street, street_garments  # noqa: F401 (fixture)
from tests.factories import category_create, garment_create, product_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/complete-the-look/"


@pytest.fixture
def every_kind(db):
    """Two indexed products of every catalog kind, for the shipped encoder (the outfit model's)."""
    version = get_pipeline().encoder_version
    EncoderVersion.objects.create(name=version, is_active=True)
    for n, kind in enumerate(CATALOG_KINDS):
        for m in range(2):
            product = product_create(category=category_create(f"look/{kind}"))
            garment = garment_create(product, seed=10 * n + m, version=version)
            Garment.objects.filter(pk=garment.pk).update(label=kind)


def test_a_photo_gets_the_look_of_its_chosen_garment(client, every_kind, street_garments):  # noqa: F811
    # when the outfit photo is sent without a garment, then with the second one chosen
    first = client.post(URL, {"image": street(), "k": 2}, format="multipart")
    second = client.post(URL, {"image": street(), "garment": 1, "k": 2}, format="multipart")

    # then each answer is the look of its garment: its kind is the query's, never a group's
    for response, index in ((first, 0), (second, 1)):
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["garment"] == index
        assert [g["label"] for g in body["garments"]] == [crop.label for crop in street_garments]
        assert [g["is_main"] for g in body["garments"]] == [n == 0 for n in range(len(street_garments))]
        assert body["query"]["kind"] == "image"
        assert body["query"]["garment_kind"] == street_garments[index].label
        kinds = [group["kind"] for group in body["looks"]]
        assert kinds and street_garments[index].label not in kinds
        for group in body["looks"]:
            assert 1 <= len(group["results"]) <= 2
            assert all(0 <= result["compatibility"] <= 1 for result in group["results"])


def test_a_garment_the_photo_does_not_have_is_a_clear_400(client, every_kind, street_garments):  # noqa: F811
    response = client.post(URL, {"image": street(), "garment": len(street_garments)}, format="multipart")
    assert response.status_code == 400, response.content
    assert "garment" in response.json()["error"]["message"].lower()


def test_a_photo_garment_brings_its_pixels_to_the_shipped_models_palette(db, street_garments):  # noqa: F811
    # when the first garment of the outfit photo becomes a query garment
    _, garment, _ = _photo_garment(street().read())

    # then it carries a bounded sample of its own pixels, which the shipped model (a Lab palette)
    # reads instead of the coarser colour names
    assert garment.pixels.dtype.name == "uint8" and 0 < len(garment.pixels) <= PIXEL_SAMPLE
    model = get_outfit_model()
    assert model.palette is not None
    from_pixels = model.palette_histogram(garment)
    from_names = model.palette_histogram(dataclasses.replace(garment, pixels=None))
    assert from_pixels.sum() == pytest.approx(1.0) and from_names.sum() == pytest.approx(1.0)
    assert not np.allclose(from_pixels, from_names)
