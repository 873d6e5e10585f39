"""The SQL-built product cards of recommendation results equal the serializer's cards."""

from __future__ import annotations

import pytest

from catalog.api.products import ProductCardSerializer
from catalog.models import ProductVariant
from catalog.selectors import product_cards, product_get
from tests.factories import brand_create, category_create, image_create, product_create

pytestmark = pytest.mark.django_db


def serializer_cards(ids: list[int]) -> dict[int, dict]:
    return {pk: dict(ProductCardSerializer(product_get(pk, include_inactive=True)).data) for pk in ids}


def test_cards_match_the_serializer_on_every_field(season_summer, season_winter):
    shoes = category_create("men/shoes/boots")
    with_everything = product_create(
        category=shoes,
        brand=brand_create("Acme"),
        price="120.50",
        sizes={"44": 0, "38": 2, "40": 5},
        seasons=[season_winter, season_summer],
        colour="black",
        department="men",
    )
    # a second variant of the same size (another colour) adds to that size's stock
    ProductVariant.objects.create(product=with_everything, sku="extra-40", size="40", colour="red", stock=1)
    image_create(with_everything, is_primary=False)
    primary = image_create(with_everything, is_primary=True)
    bare = product_create(price="5.00")  # no brand, no image, no variant, no season
    bare.variants.all().delete()

    cards = product_cards([with_everything.pk, bare.pk])

    assert cards == serializer_cards([with_everything.pk, bare.pk])
    card = cards[with_everything.pk]
    assert card["stock_by_size"] == {"38": 2, "40": 6, "44": 0}
    assert list(card["stock_by_size"]) == ["38", "40", "44"]
    assert [s["name"] for s in card["seasons"]] == ["Summer", "Winter"]
    assert card["primary_image_url"].endswith(primary.file.name)
    assert card["category"] == "men › shoes › boots"
    assert card["price"] == "120.50"
    assert cards[bare.pk]["brand"] is None
    assert cards[bare.pk]["primary_image_url"] is None
    assert cards[bare.pk]["stock_by_size"] == {}
    assert cards[bare.pk]["seasons"] == []


def test_cards_of_no_ids_or_unknown_ids_are_empty(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert product_cards([]) == {}
    assert product_cards([987654321]) == {}


def test_cards_for_many_products_take_one_query(django_assert_num_queries):
    ids = [product_create(sizes={"S": 1, "M": 2}).pk for _ in range(12)]
    with django_assert_num_queries(1):
        cards = product_cards(ids)
    assert sorted(cards) == sorted(ids)
