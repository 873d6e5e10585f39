"""A shopper's photo is analysed once: similar items, then complete the look of the same upload
(what the demo sends) run detection and encoding once (recommender/analysis_cache.py).

The shipped detector and encoder run for real; only their calls are counted.
"""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from django.core.cache import cache

from recommender.analysis_cache import image_analysis
from recommender.vision.pipeline import get_pipeline
from tests.api.test_complete_the_look_image import every_kind  # noqa: F401 (fixture)
from tests.api.test_recommendations_garments_all import street
from tests.api.test_recommendations_image import photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(monkeypatch):
    """Detector and encoder passes of the real process-wide pipeline."""
    pipeline = get_pipeline()
    counted = Counter()
    detect, encode = pipeline._detect, pipeline.encoder.encode

    def counting_detect(images, **options):
        counted["detect"] += 1
        return detect(images, **options)

    def counting_encode(crops):
        counted["encode"] += 1
        counted["crops"] += len(crops)
        return encode(crops)

    monkeypatch.setattr(pipeline, "_detect", counting_detect)
    monkeypatch.setattr(pipeline.encoder, "encode", counting_encode)
    return counted


def similar_then_look(client, upload: bytes, **look) -> tuple[dict, dict]:
    similar = client.post("/api/v1/recommendations/", {"image": io.BytesIO(upload), "k": 3}, format="multipart")
    completed = client.post(
        "/api/v1/complete-the-look/", {"image": io.BytesIO(upload), "k": 2, **look}, format="multipart"
    )
    assert similar.status_code == 200, similar.content
    assert completed.status_code == 200, completed.content
    return similar.json(), completed.json()


def test_the_demos_two_requests_for_one_upload_analyse_it_once(client, every_kind, calls):  # noqa: F811
    # given the street photo a shopper uploaded
    upload = street().read()

    # when the demo asks for similar items, then for the look, then the look of another garment
    similar, completed = similar_then_look(client, upload)
    other = client.post(
        "/api/v1/complete-the-look/", {"image": io.BytesIO(upload), "garment": 1, "k": 2}, format="multipart"
    )

    # then the photo was detected once, each garment asked for encoded once (the main garment, then
    # the picked one alone), and the later answers say they came from the cache
    assert calls == {"detect": 1, "encode": 2, "crops": 2}
    assert other.status_code == 200, other.content
    assert "analysis_cache" not in similar["timings_ms"]
    for body in (completed, other.json()):
        assert body["timings_ms"]["analysis_cache"] >= 0
        assert body["timings_ms"]["detect"] == 0
        assert body["garments"] == similar["garments"]
    assert completed["timings_ms"]["encode"] == 0
    assert other.json()["timings_ms"]["encode"] > 0


def test_a_cached_analysis_gives_the_same_look_as_a_fresh_one(client, every_kind, calls):  # noqa: F811
    upload = street().read()
    _, cached = similar_then_look(client, upload)
    cache.clear()
    fresh = client.post("/api/v1/complete-the-look/", {"image": io.BytesIO(upload), "k": 2}, format="multipart")
    assert calls == {"detect": 2, "encode": 2, "crops": 2}
    assert fresh.json()["looks"] == cached["looks"]
    assert fresh.json()["query"] == cached["query"]


def test_a_different_photo_is_analysed(client, every_kind, calls):  # noqa: F811
    similar_then_look(client, street().read())
    similar_then_look(client, photo().read())
    assert calls == {"detect": 2, "encode": 2, "crops": 2}


def test_off_when_its_lifetime_is_zero(client, every_kind, calls, settings):  # noqa: F811
    settings.FASHIONREC_ANALYSIS_CACHE_SECONDS = 0
    similar_then_look(client, street().read())
    assert calls == {"detect": 2, "encode": 2, "crops": 2}


def test_a_cache_that_is_down_costs_an_analysis_not_the_request(client, every_kind, calls, monkeypatch):  # noqa: F811
    class Down:
        def get(self, *args, **kwargs):
            raise ConnectionError("cache server down")

        set = get

    monkeypatch.setattr("recommender.analysis_cache.cache", Down())
    similar_then_look(client, street().read())
    assert calls == {"detect": 2, "encode": 2, "crops": 2}


def test_another_detector_threshold_is_not_served_from_the_cache(client, every_kind, calls, monkeypatch):  # noqa: F811
    # given a photo analysed with the served detector threshold
    upload = street().read()
    similar_then_look(client, upload)
    assert calls == {"detect": 1, "encode": 1, "crops": 1}

    # when the detector's threshold changes (a new setting or a new detector file)
    monkeypatch.setattr(get_pipeline().detector, "confidence", 0.9)
    response = client.post("/api/v1/recommendations/", {"image": io.BytesIO(upload), "k": 3}, format="multipart")

    # then the photo is analysed again, not answered with the other threshold's boxes
    assert response.status_code == 200, response.content
    assert calls == {"detect": 2, "encode": 2, "crops": 2}
    assert "analysis_cache" not in response.json()["timings_ms"]


def test_a_picked_garment_is_encoded_once_and_kept_with_the_analysis(client, every_kind, calls):  # noqa: F811
    # given the street photo queried for its main garment
    upload = street().read()
    post = client.post
    first = post("/api/v1/recommendations/", {"image": io.BytesIO(upload), "k": 3}, format="multipart")
    assert first.status_code == 200, first.content
    assert calls == {"detect": 1, "encode": 1, "crops": 1}

    # when the shopper picks the second garment, for similar items and then for its look
    picked = post("/api/v1/recommendations/", {"image": io.BytesIO(upload), "garment": 1}, format="multipart")
    look = post("/api/v1/complete-the-look/", {"image": io.BytesIO(upload), "garment": 1}, format="multipart")

    # then the second garment was encoded once, alone, and the look read it from the cache
    assert picked.status_code == 200 and look.status_code == 200, (picked.content, look.content)
    assert calls == {"detect": 1, "encode": 2, "crops": 2}
    assert picked.json()["timings_ms"]["encode"] > 0 and look.json()["timings_ms"]["encode"] == 0

    # and its embedding is the one an analysis encoding every garment gives
    pipeline = get_pipeline()
    cached = image_analysis(pipeline, upload, encode=())
    full = pipeline.analyse(upload, encode="all")
    assert [g.embedding is not None for g in cached.garments] == [n < 2 for n in range(len(cached.garments))]
    for n in (0, 1):
        assert np.allclose(cached.garments[n].embedding, full.garments[n].embedding, atol=1e-6)


def test_every_garment_asked_for_at_once_is_encoded_in_one_pass_and_cached(client, every_kind, calls):  # noqa: F811
    upload = street().read()
    every = client.post(
        "/api/v1/recommendations/", {"image": io.BytesIO(upload), "garments": "all", "k": 2}, format="multipart"
    )
    assert every.status_code == 200, every.content
    count = len(every.json()["garments"])
    assert count >= 2 and calls == {"detect": 1, "encode": 1, "crops": count}

    # a later request for any garment of the photo encodes nothing
    picked = client.post(
        "/api/v1/complete-the-look/", {"image": io.BytesIO(upload), "garment": count - 1}, format="multipart"
    )
    assert picked.status_code == 200, picked.content
    assert calls == {"detect": 1, "encode": 1, "crops": count}
