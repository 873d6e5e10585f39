"""``import_catalog``'s ``garment_kind`` column and the kinds of the categories an import creates."""

from __future__ import annotations

import io
import shutil

import pytest
from django.core.management import call_command

from catalog.models import Category, Product
from tests.factories import category_create
from tests.ingestion.conftest import dataset_photos

pytestmark = pytest.mark.django_db


def run_import(*args) -> str:
    out = io.StringIO()
    call_command("import_catalog", *map(str, args), "--no-progress", "--no-process", stdout=out)
    return out.getvalue()


def kinds() -> dict[str, tuple[str, str]]:
    return {c.path: (c.garment_kind, c.effective_garment_kind) for c in Category.objects.all()}


def test_a_csv_sets_guesses_and_checks_the_kinds_of_its_categories(tmp_path, media_root):
    # given: a shop's own names; one kind set by the column, one guessed, one unknown, one contradiction
    photos = dataset_photos("t-shirt", 5)
    for path in photos:
        shutil.copy(path, tmp_path / path.name)
    category_create("shop/knits")
    Category.objects.filter(path="shop").update(name="Shop", garment_kind="none")
    header = "sku,title,category,price,image,garment_kind\n"
    rows = [
        f"K-1,Cable knit,Shop/Knits,49.90,{photos[0].name},top",
        f"K-2,Denim,Shop/Denim fits,59.90,{photos[1].name},",
        f"K-3,Knit vest,Shop/Knits,39.90,{photos[2].name},jumper",
        f"K-4,Knit dress,Shop/Knits,69.90,{photos[3].name},Dress",
        f"K-5,Polo,Shop/Knits,29.90,{photos[4].name},TOP",
    ]
    csv_path = tmp_path / "catalog.csv"
    csv_path.write_text(header + "\n".join(rows) + "\n")
    # when
    first = run_import(csv_path)
    # then
    assert "created 3, skipped 0, failed 2" in first
    assert "failed line 4: garment_kind 'jumper' is not one of top, outerwear, dress" in first
    assert "failed line 5: garment_kind 'dress' contradicts category “shop › knits”, which is 'top'" in first
    assert kinds() == {
        "shop": ("none", "none"),
        "shop/knits": ("top", "top"),  # it had none of its own: the column set it
        "shop/denim-fits": ("", "none"),  # "Denim fits" is not in the list: inherits the shop's none
    }
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["K-1", "K-2", "K-5"]

    # when: the rows are fixed and the import runs again
    csv_path.write_text(header + "\n".join(rows).replace(",jumper", ",top").replace(",Dress", ",top") + "\n")
    second = run_import(csv_path)
    # then: only the failed rows are imported, nothing is lost or doubled
    assert "created 2, skipped 3, failed 0" in second
    assert Product.objects.count() == 5


def test_a_new_category_without_a_kind_column_gets_the_guess(tmp_path, media_root):
    photo = dataset_photos("pants", 1)[0]
    shutil.copy(photo, tmp_path / photo.name)
    csv_path = tmp_path / "catalog.csv"
    csv_path.write_text(f"sku,category,price,image\nJ-1,Men › Bottoms › Slim jeans,49.90,{photo.name}\n")
    assert "created 1" in run_import(csv_path)
    assert kinds() == {
        "men": ("", "none"),
        "men/bottoms": ("", "none"),
        "men/bottoms/slim-jeans": ("trousers", "trousers"),
    }


def test_a_folder_import_gives_the_demo_categories_their_kinds(tmp_path, media_root):
    root = tmp_path / "train"
    for folder in ("t-shirt", "outwear", "hat"):
        (root / folder).mkdir(parents=True)
        shutil.copy(dataset_photos(folder, 1)[0], root / folder)
    run_import(root)
    effective = {path: kind for path, (_, kind) in kinds().items()}
    assert effective == {
        "clothing": "none",
        "clothing/accessories": "none",
        "clothing/accessories/hats": "hat",
        "clothing/outerwear": "outerwear",
        "clothing/tops": "top",
        "clothing/tops/t-shirts": "top",
    }
