"""Crop correction with the shipped models: a corrected box is re-encoded and kept as a training label."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from catalog.services.images import product_image_create
from recommender.models import Garment, GarmentCorrection
from recommender.services.corrections import detector_training_labels
from recommender.vision.pipeline import get_pipeline
from tests.admin.conftest import two_garment_photo
from tests.factories import garment_create, product_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo():
    data = two_garment_photo()
    image = product_image_create(product=product_create(), file=data, is_primary=True, enqueue=False)
    # The detector's answer, as ingestion would have stored it: one whole-image garment.
    garment = garment_create(image.product, image=image, seed=1)
    Garment.objects.filter(pk=garment.pk).update(box_x2=200, box_y2=300, label="garment", is_whole_image=True)
    garment.refresh_from_db()
    # The correction encodes the stored file: the photo re-encoded without metadata, not `data`.
    with image.file.open("rb") as stored:
        return {"image": image, "garment": garment, "data": stored.read()}


def correct(client, image, **fields):
    return client.post(reverse("admin:catalog_productimage_correct", args=[image.pk]), fields)


def test_adjusting_a_garment_re_encodes_it_and_keeps_a_training_label(client_for, users, photo):
    # given
    image, garment, data = photo["image"], photo["garment"], photo["data"]
    client = client_for("staff")
    # when
    response = correct(client, image, garment=garment.pk, label="top", x1=40, y1=20, x2=160, y2=140)
    # then: back on the image page; the garment has the new box, label and embedding
    assert response.status_code == 302
    garment.refresh_from_db()
    pipeline = get_pipeline()
    assert (garment.box_x1, garment.box_y1, garment.box_x2, garment.box_y2) == (40, 20, 160, 140)
    assert (garment.label, garment.confidence, garment.is_whole_image) == ("top", 1.0, False)
    assert garment.encoder_version == pipeline.encoder_version
    expected = pipeline.embed_box(data, (40, 20, 160, 140))
    assert np.allclose(np.asarray(garment.embedding), expected, atol=1e-5)
    assert np.linalg.norm(np.asarray(garment.embedding)) == pytest.approx(1.0, abs=1e-4)
    whole = pipeline.embed_box(data, (0, 0, 200, 300))
    assert not np.allclose(expected, whole, atol=1e-3)  # the crop, not the whole photo
    # and the correction is recorded as a training label
    correction = GarmentCorrection.objects.get()
    assert (correction.garment, correction.label, correction.corrected_by) == (garment, "top", users["staff"])
    assert (correction.previous_box, correction.previous_label) == ([0, 0, 200, 300], "garment")
    assert [(r.image_id, r.box, r.label) for r in detector_training_labels()] == [(image.pk, (40, 20, 160, 140), "top")]


def test_adding_a_missed_garment_creates_a_new_embedding(client_for, photo):
    # given
    image = photo["image"]
    client = client_for("superuser")
    # when
    response = correct(client, image, garment="", label="trousers", x1=50, y1=150, x2=150, y2=290)
    # then
    assert response.status_code == 302
    added = Garment.objects.exclude(pk=photo["garment"].pk).get()
    assert (added.image, added.product_id, added.label) == (image, image.product_id, "trousers")
    assert added.category_path == image.product.category.path  # the triggers filled the filter columns
    assert np.allclose(np.asarray(added.embedding), get_pipeline().embed_box(photo["data"], (50, 150, 150, 290)))
    assert GarmentCorrection.objects.get().previous_box is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"x1": 10, "y1": 10, "x2": 400, "y2": 100}, "leaves the image (200 × 300 px)"),
        ({"x1": 50, "y1": 10, "x2": 52, "y2": 100}, "at least 8 px wide"),
        ({"x1": 10, "y1": 10, "x2": 100, "y2": 100, "label": "scarf"}, "Select a valid choice"),
    ],
)
def test_an_invalid_correction_is_explained_and_changes_nothing(client_for, photo, fields, message):
    # given
    client = client_for("staff")
    before = np.asarray(Garment.objects.get().embedding)
    # when
    response = correct(client, photo["image"], **{"garment": photo["garment"].pk, "label": "top", **fields})
    # then: the image page again, with the message next to the form
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not GarmentCorrection.objects.exists()
    assert np.array_equal(np.asarray(Garment.objects.get().embedding), before)


def test_the_image_page_draws_the_garments_and_offers_the_correction_form(client_for, photo):
    html = (
        client_for("staff").get(reverse("admin:catalog_productimage_change", args=[photo["image"].pk])).content.decode()
    )
    assert 'viewBox="0 0 200 300"' in html
    assert '<rect x="0" y="0" width="200" height="300"' in html
    assert 'id="correction-form"' in html
    merchandiser_html = (
        client_for("merchandiser")
        .get(reverse("admin:catalog_productimage_change", args=[photo["image"].pk]))
        .content.decode()
    )
    assert 'id="correction-form"' not in merchandiser_html
