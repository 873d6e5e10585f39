"""The export ``train_detector`` reads: staff-corrected boxes as (image path, box, label) rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from recommender.models import GarmentCorrection
from recommender.services.corrections import detector_training_labels
from tests.factories import image_create, product_create

pytestmark = pytest.mark.django_db


def correction(image, box, label, previous_box=None) -> GarmentCorrection:
    x1, y1, x2, y2 = box
    return GarmentCorrection.objects.create(
        image=image,
        box_x1=x1,
        box_y1=y1,
        box_x2=x2,
        box_y2=y2,
        label=label,
        previous_box=previous_box,
        previous_label="top" if previous_box else "",
        encoder_version="test-v1",
    )


def test_each_corrected_box_is_exported_once_with_its_latest_correction():
    # given: on one image, a box corrected twice (the second started from the first) and one
    # added garment; on another image a single correction
    first, second = image_create(product_create()), image_create(product_create())
    first.width, first.height = 400, 500
    first.save()
    correction(first, (10, 10, 100, 200), "top", previous_box=[0, 0, 120, 220])
    correction(first, (12, 14, 98, 190), "outerwear", previous_box=[10, 10, 100, 200])
    correction(first, (200, 300, 260, 480), "shoes")
    correction(second, (5, 5, 50, 50), "hat", previous_box=[0, 0, 60, 60])
    # when
    rows = list(detector_training_labels())
    # then
    assert [(r.image_id, r.box, r.label) for r in rows] == [
        (first.pk, (200, 300, 260, 480), "shoes"),
        (first.pk, (12, 14, 98, 190), "outerwear"),
        (second.pk, (5, 5, 50, 50), "hat"),
    ]
    assert rows[0].image_path == Path(settings.MEDIA_ROOT) / first.file.name
    assert (rows[0].width, rows[0].height) == (400, 500)


def test_nothing_to_export_without_corrections():
    image_create(product_create())
    assert list(detector_training_labels()) == []
