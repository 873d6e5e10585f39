"""Ingest stores a catalog photo's own garments only (``ingest.garment_is_products_own``), with the shipped models.

The expected rows are derived from the pipeline's own analysis of the stored file, so the tests
state the rule, not what today's detector happens to box; each checks first that the photo has
the garments its case needs.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from catalog.models import Category, ProductImage
from catalog.services.images import product_image_create
from recommender.models import Garment
from recommender.services import ingest
from recommender.services.corrections import garment_correction_create
from recommender.vision.pipeline import WHOLE_IMAGE_LABEL, get_pipeline
from tests.factories import product_create
from tests.ingestion.conftest import dataset_photos, small_jpeg
from tests.ingestion.test_ingest_service import renamed_pipeline


def test_the_rule_keeps_the_main_the_whole_image_and_the_categorys_kind():
    def own(position: int, label: str, kind: str, *, whole: bool = False) -> bool:
        return ingest.garment_is_products_own(position=position, label=label, is_whole_image=whole, category_kind=kind)

    assert own(0, "trousers", "top")  # the main garment, even mislabelled
    assert own(2, "shoes", "shoes")  # the other shoe of a pair
    assert own(1, WHOLE_IMAGE_LABEL, "top", whole=True)
    assert not own(1, "trousers", "top")  # the trousers of a shirt's model photo
    assert not own(3, "bag", "dress")
    assert own(1, "trousers", "none")  # no kind: nothing says which garment is the product


@pytest.fixture(scope="module")
def crowded_photo() -> bytes:
    """A t-shirt photo in which the detector also boxes a skirt and a dress (three labels)."""
    return small_jpeg(dataset_photos("t-shirt", 1, start=5)[0], width=160)


def kinded_category(slug: str, kind: str) -> Category:
    return Category.objects.create(name=slug.title(), slug=slug, garment_kind=kind)


def stored_image(photo: bytes, category: Category) -> ProductImage:
    return product_image_create(product=product_create(category=category), file=photo, enqueue=False)


def analysed(image: ProductImage):
    """What the pipeline finds in the stored file (the bytes ingest reads, not the upload's)."""
    with image.file.open("rb") as handle:
        return get_pipeline().analyse_batch([handle.read()])[0]


def rows(image: ProductImage) -> list[tuple[str, bool, bool]]:
    return list(
        Garment.objects.filter(image=image).order_by("-is_main", "pk").values_list("label", "is_main", "is_whole_image")
    )


@pytest.mark.django_db
def test_only_the_main_garment_and_those_of_the_categorys_kind_are_stored(media_root, crowded_photo):
    # given: the same photo filed as a skirt (a label of a garment after the main one) and as a top
    skirt_image = stored_image(crowded_photo, kinded_category("skirts", "skirt"))
    top_image = stored_image(crowded_photo, kinded_category("tops", "top"))
    found = [(garment.label, garment.is_whole_image) for garment in analysed(skirt_image).garments]
    labels = [label for label, _ in found]
    assert labels[0] == "top" and "skirt" in labels[1:] and set(labels[1:]) - {"top", "skirt"}, found
    # when
    result = ingest.product_images_ingest(image_ids=[skirt_image.pk, top_image.pk])
    # then: the skirt product keeps its main garment and its skirts, not the other boxes
    assert sorted(result.ready) == sorted([skirt_image.pk, top_image.pk])
    assert rows(skirt_image) == [("top", True, False)] + [("skirt", False, False)] * labels.count("skirt")
    # and the top product keeps its main garment only (no other box is labelled top)
    assert rows(top_image) == [("top", True, False)] + [("top", False, False)] * labels[1:].count("top")


@pytest.mark.django_db
def test_a_category_without_a_kind_keeps_every_garment(media_root, crowded_photo):
    # given
    image = stored_image(crowded_photo, kinded_category("clothing", ""))
    assert image.product.category.effective_garment_kind == "none"
    found = analysed(image).garments
    # when
    ingest.product_images_ingest(image_ids=[image.pk])
    # then
    assert [label for label, _, _ in rows(image)] == [garment.label for garment in found]


@pytest.mark.django_db
def test_the_whole_image_fallback_is_stored(media_root):
    # given: a plain grey banner the detector finds no garment in, filed as shoes
    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), (128, 128, 128)).save(buffer, format="JPEG")
    image = stored_image(buffer.getvalue(), kinded_category("shoes", "shoes"))
    assert [garment.is_whole_image for garment in analysed(image).garments] == [True]
    # when
    ingest.product_images_ingest(image_ids=[image.pk])
    # then
    assert rows(image) == [(WHOLE_IMAGE_LABEL, True, True)]


@pytest.mark.django_db
def test_reindex_applies_the_rule_with_the_categorys_kind_at_that_time(media_root, crowded_photo):
    # given: a photo filed as a top, embedded by an older encoder; then its category is re-filed as skirts
    category = kinded_category("tops", "top")
    image = stored_image(crowded_photo, category)
    ingest.product_images_ingest(image_ids=[image.pk], pipeline=renamed_pipeline("old-v0"))
    old_labels = set(Garment.objects.filter(image=image).values_list("label", flat=True))
    assert old_labels == {"top"}
    category.garment_kind = "skirt"
    category.save()
    # when
    call_command("reindex", "--sync", "--no-progress", stdout=io.StringIO())
    # then: the new encoder's rows are the skirt product's own garments
    current = get_pipeline().encoder_version
    stored = Garment.objects.filter(image=image, encoder_version=current)
    assert set(stored.values_list("label", flat=True)) == {"top", "skirt"}
    assert stored.filter(is_main=True).get().label == "top"


@pytest.mark.django_db
def test_a_box_drawn_by_staff_is_kept_whatever_its_label(media_root, crowded_photo):
    # given: an ingested top whose skirt box was not stored
    image = stored_image(crowded_photo, kinded_category("tops", "top"))
    ingest.product_images_ingest(image_ids=[image.pk])
    image.refresh_from_db()
    assert not Garment.objects.filter(image=image, label="skirt").exists()
    before = Garment.objects.filter(image=image).count()
    # when: staff add a garment of another kind
    box = (0, image.height // 3, image.width, image.height)
    garment_correction_create(image=image, box=box, label="skirt", user=None)
    # then
    assert Garment.objects.filter(image=image).count() == before + 1
    assert Garment.objects.filter(image=image, label="skirt", confidence=1.0).exists()


@pytest.mark.django_db
def test_ingest_asks_the_database_no_more_for_more_images(media_root):
    # given: a kinded catalog whose encoder version is already registered and active
    category = kinded_category("tees", "top")
    photos = [small_jpeg(path, width=160) for path in dataset_photos("t-shirt", 5)]
    images = [stored_image(photo, category) for photo in photos]
    ingest.product_images_ingest(image_ids=[images[0].pk])

    def queries(batch: list[ProductImage]) -> int:
        with CaptureQueriesContext(connection) as captured:
            result = ingest.product_images_ingest(image_ids=[image.pk for image in batch])
        assert sorted(result.ready) == sorted(image.pk for image in batch)
        return len(captured)

    # when / then: the category's kind comes with the images, not one query per image
    assert queries(images[1:2]) == queries(images[2:5])
