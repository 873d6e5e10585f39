"""The taxonomy takes the catalog's category kinds as data: names, flat-lay folders, detector labels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from catalog.models import Category
from catalog.selectors import category_garment_kinds, clothing_folder_kinds
from recommender.vision.detector_data import Sample, flat_samples, sample_boxes
from recommender.vision.taxonomy import CATALOG_FOLDER_TO_GARMENT, flat_lay_garments, garment_for_name
from tests.factories import category_create

ROOT = Path(__file__).resolve().parents[3]


def test_the_catalogs_kinds_win_over_the_built_in_tables():
    kinds = {"shop/knitwear": "outerwear", "shop/gift-cards": "none", "shirt": "dress"}
    assert garment_for_name("shop/knitwear", kinds) == "outerwear"
    assert garment_for_name("shop/gift-cards", kinds) is None
    assert garment_for_name("shirt", kinds) == "dress"
    assert garment_for_name("shirt") == "top"  # without kinds: the built-in table, as before
    assert garment_for_name("Jeans", kinds) == "trousers"


def test_flat_lay_folders_follow_their_categories_kinds():
    table = flat_lay_garments({"longsleeve": "outerwear", "hat": "none", "unknown-folder": "bag"})
    assert table["longsleeve"] == "outerwear"
    assert "hat" not in table
    assert table["unknown-folder"] == "bag"
    assert flat_lay_garments(None) == CATALOG_FOLDER_TO_GARMENT
    assert flat_lay_garments({}) == CATALOG_FOLDER_TO_GARMENT


def test_the_detectors_flat_lay_samples_and_boxes_use_the_given_classes(tmp_path):
    # given: the dataset's hat and t-shirt folders, the t-shirts' category re-filed as outerwear
    garments = flat_lay_garments({"t-shirt": "outerwear", "hat": "none"})
    # when
    samples = flat_samples(Path(settings.FASHIONREC_DATASET), 2, garments)
    # then: no hat is sampled, and a t-shirt photo is boxed as outerwear
    folders = {sample.source.parent.name for sample in samples}
    assert "hat" not in folders and "t-shirt" in folders
    t_shirt = next(s for s in samples if s.source.parent.name == "t-shirt")
    with Image.open(t_shirt.source) as image:
        boxes = sample_boxes(t_shirt, image.convert("RGB"), [], garments)
        default = sample_boxes(Sample(t_shirt.name, t_shirt.source, "train", "flat"), image.convert("RGB"), [])
    assert [box.garment for box in boxes] == ["outerwear"]
    assert [box.garment for box in default] == ["top"]


@pytest.mark.django_db
def test_the_catalog_selectors_read_the_kinds_in_one_query(django_assert_num_queries):
    # given: the demo's categories for two folders, one of them re-filed in admin
    category_create("clothing/tops/t-shirts")
    category_create("clothing/accessories/hats")
    Category.objects.filter(path="clothing/tops").update(garment_kind="top")
    Category.objects.filter(path="clothing/accessories/hats").update(garment_kind="bag")
    # when
    with django_assert_num_queries(1):
        folders = clothing_folder_kinds()
    with django_assert_num_queries(1):
        paths = category_garment_kinds()
    # then
    assert folders == {"t-shirt": "top", "hat": "bag"}
    assert paths["clothing/tops/t-shirts"] == "top"
    assert garment_for_name("clothing/accessories/hats", paths) == "bag"


def test_the_vision_taxonomy_imports_no_django():
    code = "import sys, recommender.vision.taxonomy; print(any(m.startswith('django') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
