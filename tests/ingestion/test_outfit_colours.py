"""Catalog garments' colours as the outfit model reads them: written by ingest and by
``manage.py outfit_colours``, with the shipped models."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.services.images import product_image_create
from fashionrec.imaging import load_image
from recommender.models import Garment
from recommender.outfits import colour_read
from recommender.outfits.catalog import get_outfit_model, reset_outfit_model
from recommender.services import ingest
from recommender.services.corrections import garment_correction_create
from recommender.services.outfit_colours import image_limits
from recommender.vision.detector import GarmentDetector
from tests.factories import category_create, product_create
from tests.ingestion.conftest import dataset_photos, small_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    return [small_jpeg(path, width=160) for path in dataset_photos("shoes", 2, start=3)]


def ingested(photos: list[bytes]):
    images = [
        product_image_create(product=product_create(category=category_create("women/shoes")), file=photo, enqueue=False)
        for photo in photos
    ]
    result = ingest.product_images_ingest(image_ids=[image.pk for image in images])
    assert sorted(result.ready) == sorted(image.pk for image in images)
    return images


@pytest.fixture(scope="module")
def reference_detector() -> GarmentDetector:
    """The shipped detector loaded apart from the pipeline, in the same runtime (its ONNX copy)."""
    return GarmentDetector(
        settings.FASHIONREC_DETECTOR_WEIGHTS, confidence=settings.FASHIONREC_DETECTOR_CONFIDENCE, onnx_threads=1
    )


def photo_and_box(image, garment: Garment):
    with image.file.open("rb") as handle:
        decoded = load_image(handle.read(), **image_limits())
    return decoded, (garment.box_x1, garment.box_y1, garment.box_x2, garment.box_y2)


def expected_colour(image, garment: Garment, detector: GarmentDetector) -> np.ndarray:
    """The colour read independently from the stored file: decode, detect, the masks of the
    garment's kind in its box (GrabCut without any), the model's histogram."""
    decoded, box = photo_and_box(image, garment)
    detections = detector.detect([decoded])[0]
    pixels = colour_read.garment_pixels(np.asarray(decoded), box, detections=detections, kind=garment.label)
    return get_outfit_model().catalog_colour(pixels)


def test_ingest_stores_each_garments_colour_read_by_the_loaded_model(media_root, photos, reference_detector):
    images = ingested(photos)
    model = get_outfit_model()
    garments = list(Garment.objects.filter(image__in=images))
    assert garments
    for garment in garments:
        assert garment.outfit_colour_model == model.colour_key
        root = np.asarray(garment.outfit_colour)
        assert root.shape == (len(model.palette),)
        assert (root**2).sum() == pytest.approx(1.0, abs=1e-4)  # a root histogram
        image = next(i for i in images if i.pk == garment.image_id)
        assert root == pytest.approx(expected_colour(image, garment, reference_detector), abs=1e-6)


def test_a_detected_garment_is_read_through_the_detectors_masks_not_grabcut(media_root, photos, reference_detector):
    images = ingested(photos)
    model = get_outfit_model()
    through_masks = 0
    for garment in Garment.objects.filter(image__in=images, is_whole_image=False):
        image = next(i for i in images if i.pk == garment.image_id)
        decoded, box = photo_and_box(image, garment)
        pixels = np.asarray(decoded)
        masked = colour_read.mask_pixels(pixels, reference_detector.detect([decoded])[0], box, garment.label)
        if masked is None:
            continue
        through_masks += 1
        stored = np.asarray(garment.outfit_colour)
        assert stored == pytest.approx(model.catalog_colour(colour_read.pixel_sample(masked)), abs=1e-6)
        assert not np.allclose(stored, model.catalog_colour(colour_read.garment_pixels(pixels, box)), atol=1e-3)
    assert through_masks >= 1  # the shipped detector masks the shoes it finds


def test_without_an_outfit_model_ingest_still_stores_the_garments_without_colours(
    media_root, photos, settings, tmp_path
):
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "missing")
    reset_outfit_model()
    try:
        images = ingested(photos[:1])
    finally:
        reset_outfit_model()
    garments = list(Garment.objects.filter(image__in=images))
    assert garments and all(g.outfit_colour is None and g.outfit_colour_model == "" for g in garments)


def test_the_command_reads_the_colours_of_garments_without_one_and_skips_unreadable_files(
    media_root, photos, reference_detector
):
    images = ingested(photos)
    first, second = images
    Garment.objects.filter(image=first).update(outfit_colour=None, outfit_colour_model="")
    Garment.objects.filter(image=second).update(outfit_colour_model="v-older")
    output = io.StringIO()
    call_command("outfit_colours", stdout=output)
    model = get_outfit_model()
    for image in images:
        for garment in Garment.objects.filter(image=image):
            assert garment.outfit_colour_model == model.colour_key
            expected = expected_colour(image, garment, reference_detector)
            assert np.asarray(garment.outfit_colour) == pytest.approx(expected, abs=1e-6)
    assert f"of model {model.version}" in output.getvalue()
    # up to date: nothing to read again unless --force
    output = io.StringIO()
    call_command("outfit_colours", stdout=output)
    assert ": 0 garments of 0 images" in output.getvalue()
    # a file gone missing: its garments keep what they had, the others are read
    Garment.objects.update(outfit_colour_model="v-older")
    first.file.storage.delete(first.file.name)
    errors = io.StringIO()
    call_command("outfit_colours", "--force", stdout=io.StringIO(), stderr=errors)
    assert "1 image could not be read" in errors.getvalue() and str(first.pk) in errors.getvalue()
    assert set(Garment.objects.filter(image=first).values_list("outfit_colour_model", flat=True)) == {"v-older"}
    assert set(Garment.objects.filter(image=second).values_list("outfit_colour_model", flat=True)) == {model.colour_key}


def test_the_command_refuses_to_run_without_a_model(settings, tmp_path):
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "missing")
    reset_outfit_model()
    try:
        with pytest.raises(CommandError, match="no outfit model"):
            call_command("outfit_colours", stdout=io.StringIO())
        with pytest.raises(CommandError, match="batch-size"):
            call_command("outfit_colours", "--batch-size", "0", stdout=io.StringIO())
    finally:
        reset_outfit_model()


def test_a_box_corrected_by_staff_gets_the_colour_of_its_new_box(media_root, photos, reference_detector):
    (image,) = ingested(photos[:1])
    image.refresh_from_db()
    garment = Garment.objects.filter(image=image).order_by("-is_main").first()
    old_colour = np.asarray(garment.outfit_colour)
    # when: staff redraw the box over the photo's top-left quarter
    box = (0, 0, image.width // 2, image.height // 2)
    garment_correction_create(image=image, box=box, label=garment.label, user=None, garment=garment)
    # then: the stored colour is the new box's, read as ingest reads it
    garment.refresh_from_db()
    assert garment.outfit_colour_model == get_outfit_model().colour_key
    assert np.asarray(garment.outfit_colour) == pytest.approx(
        expected_colour(image, garment, reference_detector), abs=1e-6
    )
    assert not np.allclose(np.asarray(garment.outfit_colour), old_colour)


def test_a_colour_read_that_breaks_never_fails_the_image(media_root, photos, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the colour read")

    monkeypatch.setattr(ingest, "catalog_colours", broken)
    images = ingested(photos[:1])  # asserts every image is ready
    garments = list(Garment.objects.filter(image__in=images))
    assert garments and all(g.outfit_colour is None and g.outfit_colour_model == "" for g in garments)
