"""The garment rows carry copies of catalog attributes; triggers must keep them right."""

from decimal import Decimal

import pytest

from catalog.models import Product, ProductVariant
from recommender.models import Garment
from tests.factories import brand_create, category_create, garment_create, product_create

pytestmark = pytest.mark.django_db


def reload(garment: Garment) -> Garment:
    return Garment.objects.get(pk=garment.pk)


def test_a_new_garment_copies_its_product_attributes(season_summer):
    # given
    product = product_create(
        category=category_create("women/dresses"),
        brand=brand_create("Nordwind"),
        price="79.00",
        sizes={"S": 0, "M": 2, "L": 5},
        seasons=[season_summer],
        colour="red",
        department="women",
        tags=["linen"],
    )
    # when
    garment = reload(garment_create(product))
    # then
    assert garment.category_id == product.category_id
    assert garment.category_path == "women/dresses"
    assert garment.brand_id == product.brand_id
    assert garment.price == Decimal("79.00")
    assert (garment.colour, garment.department, garment.tags) == ("red", "women", ["linen"])
    assert garment.in_stock is True
    assert garment.stock_total == 7
    assert garment.sizes_in_stock == ["L", "M"]
    assert garment.season_ids == [season_summer.pk]


def test_price_category_and_active_flag_follow_the_product_even_through_bulk_update():
    product = product_create(price="10.00")
    garment = garment_create(product)
    shoes = category_create("men/shoes")

    Product.objects.filter(pk=product.pk).update(price=Decimal("12.50"), category=shoes, is_active=False)

    garment = reload(garment)
    assert garment.price == Decimal("12.50")
    assert garment.category_id == shoes.pk
    assert garment.category_path == "men/shoes"
    assert garment.is_active is False


def test_stock_follows_the_variants():
    product = product_create(sizes={"M": 1})
    garment = garment_create(product)
    variant = ProductVariant.objects.get(product=product)

    variant.stock = 0
    variant.save()
    assert (reload(garment).in_stock, reload(garment).sizes_in_stock) == (False, [])

    ProductVariant.objects.create(product=product, sku="X-L", size="L", stock=4)
    assert (reload(garment).in_stock, reload(garment).sizes_in_stock, reload(garment).stock_total) == (True, ["L"], 4)

    ProductVariant.objects.filter(product=product, size="L").delete()
    assert reload(garment).in_stock is False


def test_seasons_follow_the_product(season_summer, season_winter):
    product = product_create(seasons=[season_summer])
    garment = garment_create(product)

    product.seasons.add(season_winter)
    assert sorted(reload(garment).season_ids) == sorted([season_summer.pk, season_winter.pk])

    product.seasons.remove(season_summer)
    assert reload(garment).season_ids == [season_winter.pk]


def test_renaming_a_category_updates_the_path_on_garments():
    category = category_create("women/knitwear")
    garment = garment_create(product_create(category=category))

    category.slug = "jumpers"
    category.save()

    assert reload(garment).category_path == "women/jumpers"


def test_other_products_garments_are_untouched():
    product, other = product_create(price="10.00"), product_create(price="20.00")
    other_garment = garment_create(other)

    Product.objects.filter(pk=product.pk).update(price=Decimal("99.00"))

    assert reload(other_garment).price == Decimal("20.00")
