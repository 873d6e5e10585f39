"""The match score: calibrated by the shipped encoder's calibration, so a wrong result reads low."""

from __future__ import annotations

import pytest
from django.conf import settings

from fashionrec.imaging import load_image
from recommender.models import EncoderVersion, Garment
from recommender.services.ingest import encoder_version_ensure
from recommender.vision.encoder_eval import list_split
from recommender.vision.pipeline import get_pipeline
from tests.factories import garment_create, product_create

pytestmark = pytest.mark.django_db


def validation_photos(category: str, count: int) -> list:
    paths, labels, names = list_split(settings.FASHIONREC_DATASET, "validation")
    return [p for p, label in zip(paths, labels, strict=True) if names[label] == category][:count]


@pytest.fixture
def real_catalog(db):
    """Trousers and t-shirts indexed with the shipped encoder's embeddings of real photos."""
    pipeline = get_pipeline()
    version = encoder_version_ensure(name=pipeline.encoder_version, calibration=pipeline.match_calibration)
    photos = {"pants": validation_photos("pants", 2), "t-shirt": validation_photos("t-shirt", 4)}
    products = {}
    for category, paths in photos.items():
        vectors = pipeline.encoder.encode([load_image(path) for path in paths])
        for path, vector in zip(paths, vectors, strict=True):
            product = product_create(title=f"{category} {path.stem[:8]}")
            garment = garment_create(product, version=version.name)
            Garment.objects.filter(pk=garment.pk).update(embedding=vector.tolist())
            products.setdefault(category, []).append(product)
    return products


def test_the_shipped_encoder_is_calibrated_and_registers_its_calibration(real_catalog):
    pipeline = get_pipeline()
    assert pipeline.match_calibration is not None
    assert EncoderVersion.objects.get(name=pipeline.encoder_version).calibration == pipeline.match_calibration


def test_a_right_and_a_wrong_result_do_not_both_read_a_high_match(client, real_catalog):
    # given: a pair of trousers as the query
    query = real_catalog["pants"][0]
    # when
    response = client.get(f"/api/v1/products/{query.pk}/similar/", {"k": 5})
    # then: the other trousers first, with a match far above every t-shirt's
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0]["product"]["id"] == real_catalog["pants"][1].pk
    t_shirts = [r for r in results if r["product"]["id"] != real_catalog["pants"][1].pk]
    assert len(t_shirts) == 4
    assert results[0]["match"] - max(r["match"] for r in t_shirts) >= 0.3
    # and the raw cosine is still reported, in the same order (calibration never reorders)
    assert results[0]["similarity"] > max(r["similarity"] for r in t_shirts)
    assert all(0 <= r["match"] <= 1 for r in results)
    assert [r["match"] for r in results] == sorted((r["match"] for r in results), reverse=True)
