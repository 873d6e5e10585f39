"""The recommend selectors raise domain errors named for what happened, never HTTP errors."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.errors import PriceRangeCrossed, ProductNotFound, UnknownFilterValue
from catalog.filters import ProductFilters
from fashionrec.api.errors import ApiError
from recommender.errors import EncoderSwitching, NoActiveEncoder, NotIndexed
from recommender.models import EncoderVersion
from recommender.selectors import (
    RecommendRequest,
    recommend_similar_rows,
    recommendations_for_product,
    recommendations_for_vector,
)
from tests.factories import category_create, product_create, unit_vector

pytestmark = pytest.mark.django_db

VECTOR = "[" + ",".join(str(x) for x in unit_vector(0)) + "]"


@pytest.fixture
def product(db):
    return product_create(category=category_create("women/tops"))


def test_an_unknown_product_is_product_not_found(db):
    # given no product 999999
    # when recommendations are asked for it
    with pytest.raises(ProductNotFound) as raised:
        recommendations_for_product(product_id=999_999, request=RecommendRequest())

    # then the error is a domain error, not an HTTP one
    assert not isinstance(raised.value, ApiError)
    assert raised.value.message == "Product 999999 does not exist."


def test_nothing_indexed_is_no_active_encoder(product):
    # given a product and no encoder version at all
    # when recommendations are asked for it
    # then
    with pytest.raises(NoActiveEncoder):
        recommendations_for_product(product_id=product.pk, request=RecommendRequest())


def test_a_product_without_garments_is_not_indexed(product):
    # given an active encoder but no garment of the product
    EncoderVersion.objects.create(name="v1", is_active=True)

    # when / then
    with pytest.raises(NotIndexed) as raised:
        recommendations_for_product(product_id=product.pk, request=RecommendRequest())
    assert raised.value.code == "not_indexed"


def test_a_vector_of_another_encoder_is_encoder_switching(db):
    # given the active version v1
    EncoderVersion.objects.create(name="v1", is_active=True)

    # when a vector of v2 is searched
    # then
    with pytest.raises(EncoderSwitching):
        recommendations_for_vector(vector=VECTOR, encoder_version="v2", request=RecommendRequest())


def test_unknown_filter_ids_and_crossed_prices_are_invalid_input(product):
    # given an active encoder
    EncoderVersion.objects.create(name="v1", is_active=True)

    # when a filter names a brand that does not exist, then every unknown id is in the details
    with pytest.raises(UnknownFilterValue) as raised:
        recommendations_for_vector(
            vector=VECTOR,
            encoder_version="v1",
            request=RecommendRequest(filters=ProductFilters(brand_id=999_999, season_id=999_998)),
        )
    assert raised.value.details == {"brand": ["Unknown brand 999999."], "season": ["Unknown season 999998."]}

    # when the price bounds cross
    with pytest.raises(PriceRangeCrossed):
        recommendations_for_vector(
            vector=VECTOR,
            encoder_version="v1",
            request=RecommendRequest(filters=ProductFilters(price_min=10, price_max=5)),
        )


def test_the_admin_panels_show_the_domain_errors_sentence(product):
    # given an active encoder and a product with no garment
    EncoderVersion.objects.create(name="v1", is_active=True)

    # when the admin asks for its similar rows
    rows, problem = recommend_similar_rows(product_id=product.pk, k=8, on=dt.date(2026, 6, 1))

    # then it gets the error's sentence instead of rows
    assert rows == []
    assert problem == str(NotIndexed(product.pk))
