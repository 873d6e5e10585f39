import pytest
from django.db import IntegrityError, transaction

from catalog.models import Product, ProductVariant
from tests.factories import category_create, image_create, product_create

pytestmark = pytest.mark.django_db


def test_sku_is_unique():
    # given
    product_create(sku="DUP-1")
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(sku="DUP-1", title="again", category=category_create("men/shoes"), price="1.00")


def test_stock_can_never_be_negative_even_through_bulk_update():
    # given
    product = product_create(sizes={"S": 1})
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductVariant.objects.filter(product=product).update(stock=-1)


def test_negative_price_is_rejected_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        product_create(price="-0.01")


def test_one_primary_image_per_product():
    # given
    product = product_create()
    image_create(product, is_primary=True)
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        image_create(product, is_primary=True)


def test_the_same_file_twice_on_one_product_is_a_duplicate():
    product = product_create()
    image_create(product, checksum="a" * 64, is_primary=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        image_create(product, checksum="a" * 64, is_primary=False)


def test_category_path_follows_the_tree():
    leaf = category_create("women/tops/t-shirts")
    assert leaf.path == "women/tops/t-shirts"
    assert str(leaf) == "women › tops › t-shirts"
