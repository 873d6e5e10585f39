"""The admin's drawn garments are readable at any photo size: labels numbered, never on each other,
the main garment first, and a legend that says what each number is (issue 15)."""

from __future__ import annotations

import itertools
import re

import pytest
from django.urls import reverse

from catalog.services.images import product_image_create
from recommender.models import Garment
from recommender.services.corrections import image_main_garment_mark
from tests.admin.conftest import two_garment_photo
from tests.factories import garment_create, product_create

pytestmark = pytest.mark.django_db

LABEL = re.compile(
    r'<g class="box-label"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]*></rect>'
    r"<text[^>]*>([^<]*)</text></g>"
)


@pytest.fixture
def outfit():
    """A 200 × 300 photo with four garments whose boxes share their top-left corner."""
    image = product_image_create(product=product_create(), file=two_garment_photo(), is_primary=True, enqueue=False)
    for seed, (label, box, confidence) in enumerate(
        [
            ("shoes", (20, 20, 60, 60), 0.95),
            ("dress", (20, 20, 180, 280), 0.40),
            ("bag", (22, 21, 90, 120), 0.80),
            ("hat", (21, 22, 70, 50), 0.70),
        ]
    ):
        garment = garment_create(image.product, image=image, seed=seed)
        Garment.objects.filter(pk=garment.pk).update(
            label=label, confidence=confidence, box_x1=box[0], box_y1=box[1], box_x2=box[2], box_y2=box[3]
        )
    image_main_garment_mark(image=image, encoder_version="test-v1")
    return image


def labels(html: str) -> list[tuple[tuple[float, float, float, float], str]]:
    return [
        ((float(x), float(y), float(x) + float(w), float(y) + float(h)), text)
        for x, y, w, h, text in LABEL.findall(html)
    ]


def apart(a, b) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_the_image_page_numbers_the_garments_main_first_with_labels_apart(client_for, outfit):
    # when staff open the image's page
    html = client_for("staff").get(reverse("admin:catalog_productimage_change", args=[outfit.pk])).content.decode()

    # then the four labels are drawn, numbered, the main garment (the dress) first at its corner
    drawn = labels(html)
    assert [text for _, text in drawn] == ["1 dress", "2 shoes", "3 bag", "4 hat"]
    assert drawn[0][0][:2] == (20.0, 20.0)
    # ... no two overlap, and all are inside the photo
    assert all(apart(a, b) for (a, _), (b, _) in itertools.combinations(drawn, 2))
    assert all(r[0] >= 0 and r[1] >= 0 and r[2] <= 200 and r[3] <= 300 for r, _ in drawn)
    # ... and the legend under the photo says what each number is
    legend = re.search(r'<ol class="garment-legend"[^>]*>(.*?)</ol>', html, re.S).group(1)
    items = re.findall(r"<li>.*?</span> ([^<]*)</li>", legend)
    assert [item.split()[1] for item in items] == ["dress", "shoes", "bag", "hat"]
    assert "main garment" in items[0]


def test_the_list_thumbnail_shows_numbers_only(client_for, outfit):
    # when the image list is opened (120 px thumbnails)
    html = client_for("staff").get(reverse("admin:catalog_productimage_changelist")).content.decode()

    # then each label is the box's number alone, still apart
    drawn = labels(html)
    assert [text for _, text in drawn] == ["1", "2", "3", "4"]
    assert all(apart(a, b) for (a, _), (b, _) in itertools.combinations(drawn, 2))
