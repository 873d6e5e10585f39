"""Which kind a product is in complete the look: its category's garment kind, then its garment's label.

Flat-lay catalog photos (the detector finds nothing: one whole-image garment, label "garment")
are products of their category's kind, as query and as candidate; a product is grouped under
its category's kind, never under the label of another garment in its photo; a query product
is of its category's kind whatever the detector called its garment.
"""

from __future__ import annotations

import pytest

from catalog.models import Category
from recommender.models import Garment
from tests.factories import category_create, garment_create, image_create, product_create
from tests.recommender.test_complete_the_look import VERSION, labelled, look, outfit_model, shop  # noqa: F401

pytestmark = pytest.mark.django_db


def kinded(path: str, kind: str) -> Category:
    category = category_create(path)
    category.garment_kind = kind
    category.save()
    return category


def flat_lay(product, seed: int) -> Garment:
    """The pipeline's whole-image fallback: label "garment", confidence 0, the image's main garment."""
    garment = garment_create(product, seed=seed, version=VERSION)
    Garment.objects.filter(pk=garment.pk).update(label="garment", is_whole_image=True, is_main=True, confidence=0.0)
    return garment


def test_a_flat_lay_query_takes_its_category_kind(shop):  # noqa: F811
    # given a black top sold as a flat-lay photo (a whole-image garment) in a category of tops,
    # and the same photo labelled "top" by the detector
    query, _ = shop
    flat = product_create(category=kinded("shop/shirts", "top"), colour="black")
    flat_lay(flat, seed=1)

    # when both looks are asked for
    from_flat, from_detected = look(flat, k=10), look(query, k=10)

    # then the flat lay is a top: a top's complementary kinds, and the same compatibilities
    assert from_flat.query_kind == "top"
    assert [g.kind for g in from_flat.groups] == [g.kind for g in from_detected.groups] == ["trousers", "shoes"]
    for flat_group, detected_group in zip(from_flat.groups, from_detected.groups, strict=True):
        detected = {
            i.row.product_id: i.row.compatibility for i in detected_group.results if i.row.product_id != flat.pk
        }
        flat_values = {
            i.row.product_id: i.row.compatibility for i in flat_group.results if i.row.product_id != query.pk
        }
        assert flat_values == pytest.approx(detected)


def test_a_detected_query_garment_takes_its_category_kind_too(shop):  # noqa: F811
    # given a shirt whose (only, main) garment the detector called outerwear
    shirt = product_create(category=kinded("shop/shirts", "top"), colour="black")
    garment = labelled(shirt, "outerwear", seed=1)
    Garment.objects.filter(pk=garment.pk).update(is_main=True)

    # then its look is a top's: a top's complementary kinds, never tops
    result = look(shirt, k=2)
    assert result.query_kind == "top"
    assert [g.kind for g in result.groups] == ["trousers", "shoes"]


def test_a_flat_lay_query_without_a_category_kind_keeps_the_label(shop):  # noqa: F811
    flat = product_create(category=category_create("shop/misc"))
    flat_lay(flat, seed=1)
    assert look(flat, k=2).query_kind == "garment"


def test_flat_lay_candidates_fill_their_category_kind(shop):  # noqa: F811
    # given flat-lay shoes (whole-image garments) in a category of shoes, and a flat lay in a
    # category without a kind
    query, products = shop
    shoes = [product_create(category=kinded("shop/sneakers", "shoes"), colour="red") for _ in range(2)]
    for n, product in enumerate(shoes):
        flat_lay(product, seed=40 + n)
    unknown = product_create(category=category_create("shop/misc"), colour="red")
    flat_lay(unknown, seed=50)

    # when the top's look is asked for
    groups = {g.kind: {i.row.product_id for i in g.results} for g in look(query, k=20).groups}

    # then the flat-lay shoes are in the shoes row; the kindless flat lay fills no kind
    assert {p.pk for p in shoes} <= groups["shoes"]
    assert groups["shoes"] == {p.pk for p in products["shoes"]} | {p.pk for p in shoes}
    assert unknown.pk not in set().union(*groups.values())


def test_a_product_is_grouped_by_its_category_kind_not_by_another_garment_in_its_photo(shop):  # noqa: F811
    # given a shirt photographed on a model: its top, and trousers and shoes the detector also found
    query, products = shop
    shirt = product_create(category=kinded("shop/shirts", "top"), colour="white")
    photo = image_create(shirt)
    image_garments = [garment_create(shirt, image=photo, seed=60 + n, version=VERSION) for n in range(3)]
    for garment, label in zip(image_garments, ("top", "trousers", "shoes"), strict=True):
        Garment.objects.filter(pk=garment.pk).update(label=label, is_main=label == "top")

    # when the top's look fills trousers, shoes and (asked) tops
    groups = {g.kind: [i.row for i in g.results] for g in look(query, k=20, kinds=("trousers", "shoes", "top")).groups}

    # then the shirt is only in the tops row, through its own top garment
    assert shirt.pk not in {r.product_id for r in groups["trousers"] + groups["shoes"]}
    assert [r.garment_id for r in groups["top"] if r.product_id == shirt.pk] == [image_garments[0].pk]
    # and products of kindless categories still go by their garments' labels
    assert {r.product_id for r in groups["shoes"]} == {p.pk for p in products["shoes"]}


def test_a_mislabelled_main_garment_fills_its_category_kind(shop):  # noqa: F811
    # given trousers whose only (main) garment the detector called a hat
    query, _ = shop
    trousers = product_create(category=kinded("shop/jeans", "trousers"))
    garment = labelled(trousers, "hat", seed=70)
    Garment.objects.filter(pk=garment.pk).update(is_main=True)

    groups = {
        g.kind: {i.row.product_id for i in g.results} for g in look(query, k=20, kinds=("trousers", "hat")).groups
    }

    assert trousers.pk in groups["trousers"] and trousers.pk not in groups["hat"]


def test_the_outfit_score_takes_a_flat_lay_products_category_kind(client, shop):  # noqa: F811
    query, _ = shop
    flat = product_create(category=kinded("shop/sneakers", "shoes"))
    flat_lay(flat, seed=20)
    response = client.post("/api/v1/outfits/score/", {"product_ids": [query.pk, flat.pk]}, format="json")
    assert response.status_code == 200, response.content
    assert [g["kind"] for g in response.json()["garments"]] == ["top", "shoes"]
