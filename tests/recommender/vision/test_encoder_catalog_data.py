"""Labels, class merging and by-product splits of a training set drawn from a catalog."""

from pathlib import Path

import pytest

from recommender.vision.encoder_catalog_data import (
    REPORT,
    SELECTION,
    TRAIN,
    CatalogPhoto,
    catalog_training_set,
    label_at_level,
    merge_small_classes,
    split_products,
)


def photos(category: str, products: int, per_product: int = 1, prefix: str = "") -> list[CatalogPhoto]:
    prefix = prefix or category
    return [
        CatalogPhoto(Path(f"/media/{prefix}-{p}-{i}.jpg"), f"{prefix}-{p}", category)
        for p in range(products)
        for i in range(per_product)
    ]


def test_label_at_level_cuts_the_path_and_keeps_shallower_categories():
    assert label_at_level("clothing/tops/tees", None) == "clothing/tops/tees"
    assert label_at_level("clothing/tops/tees", 1) == "clothing"
    assert label_at_level("clothing/tops/tees", 2) == "clothing/tops"
    assert label_at_level("clothing", 3) == "clothing"
    with pytest.raises(ValueError):
        label_at_level("clothing", 0)


def test_thin_siblings_are_merged_into_their_parent_which_then_stands():
    # given: two thin leaves under "tops" (whose own products are few too), one big leaf
    counts = {"c/tops/tees": 3, "c/tops/vests": 2, "c/tops": 1, "c/coats": 9}
    # when
    mapping, dropped = merge_small_classes(counts, 5)
    # then: 3 + 2 + 1 = 6 photos make "c/tops" a class; "c/coats" stays as it is
    assert mapping == {"c/tops/tees": "c/tops", "c/tops/vests": "c/tops", "c/tops": "c/tops", "c/coats": "c/coats"}
    assert dropped == {}


def test_merging_climbs_several_levels_and_a_root_still_too_small_is_dropped():
    counts = {"a/b/c": 2, "a/b": 1, "big/x": 7, "tiny/y/z": 1}
    mapping, dropped = merge_small_classes(counts, 5)
    # "a/b/c" -> "a/b" (3) -> "a" (3): still too few at the root, dropped with everything under it
    assert mapping == {"big/x": "big/x"}
    assert dropped == {"a": 3, "tiny": 1}


def test_the_split_is_by_product_seeded_and_gives_every_class_a_report_and_selection_product():
    # given: products with several photos each, in two classes
    catalog = photos("c/tees", 10, per_product=3) + photos("c/coats", 4, per_product=2)
    # when
    first = catalog_training_set(catalog, min_per_class=5, seed=3)
    again = catalog_training_set(catalog, min_per_class=5, seed=3)
    other = catalog_training_set(catalog, min_per_class=5, seed=4)
    # then: no product straddles two splits
    split_of: dict[str, set[str]] = {}
    for photo in first.photos:
        split_of.setdefault(photo.product, set()).add(photo.split)
    assert all(len(splits) == 1 for splits in split_of.values())
    # shares per class: 20% report (at least 1), 10% selection (at least 1), by product
    counts = first.counts()
    assert counts["c/tees"] == {TRAIN: 7 * 3, SELECTION: 1 * 3, REPORT: 2 * 3}
    assert counts["c/coats"] == {TRAIN: 2 * 2, SELECTION: 1 * 2, REPORT: 1 * 2}
    # seeded: the same seed draws the same split, another seed another one
    assert [p.split for p in again.photos] == [p.split for p in first.photos]
    assert [p.split for p in other.photos] != [p.split for p in first.photos]
    assert first.digest() == again.digest() != other.digest()


def test_a_class_with_too_few_products_trains_on_all_of_them():
    assert set(split_products({"c/hats": {"h1", "h2"}}, seed=0).values()) == {TRAIN}


def test_the_training_set_reports_merges_and_drops_and_labels_at_the_chosen_level():
    catalog = (
        photos("shop/tops/tees", 6) + photos("shop/tops/vests", 2) + photos("shop/tops", 1) + photos("gifts/cards", 1)
    )
    lines: list[str] = []
    levelled = catalog_training_set(catalog, level=2, min_per_class=3, log=lines.append)
    assert levelled.class_names == ["shop/tops"]
    full = catalog_training_set(catalog, min_per_class=3, log=lines.append)
    assert full.class_names == ["shop/tops", "shop/tops/tees"]
    assert full.merged == {"shop/tops/vests": "shop/tops"}
    assert full.dropped == {"gifts": 1}
    assert "class 'shop/tops/vests' has fewer than 3 photos: merged into 'shop/tops'" in lines
    assert any("'gifts' has 1 photo(s)" in line and "left out" in line for line in lines)
    assert {p.product for p in full.photos if p.label == "shop/tops"} == {
        "shop/tops/vests-0",
        "shop/tops/vests-1",
        "shop/tops-0",
    }
