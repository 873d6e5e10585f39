"""Recommendation answers come from the response serializers, and the OpenAPI example is rendered by
the same serializers, so the documented shape and the real one cannot drift apart."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from catalog.api.products import ProductCardSerializer
from recommender.api.serializers import RecommendationsSerializer
from tests.api.test_recommendations import indexed
from tests.factories import category_create, product_create, unit_vector

pytestmark = pytest.mark.django_db


def shape(value):
    """The keys of every object, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


@pytest.fixture
def example() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/recommendations/"]["post"]
    return operation["responses"]["200"]["content"]["application/json"]["examples"]["ProductQuery"]["value"]


def test_the_documented_card_has_every_field_of_the_card_serializer(example):
    # given the OpenAPI example of the recommend answer
    card = example["results"][0]["product"]

    # then its product card has exactly the serializer's fields, in its order
    assert list(card) == list(ProductCardSerializer().fields)
    assert list(example) == list(RecommendationsSerializer().fields)


def test_a_real_answer_has_the_documented_shape(client, encoder, season_summer, example):
    # given two indexed products, the one recommended in size M and a season as in the example
    tops = category_create("women/tops")
    query = indexed(product_create(category=tops), unit_vector(0))
    indexed(product_create(category=tops, sizes={"M": 3}, seasons=[season_summer]), unit_vector(1))

    # when recommendations are asked for one
    response = client.post("/api/v1/recommendations/", {"product_id": query.pk}, content_type="application/json")

    # then the answer has the example's shape, key for key and in the same order
    assert response.status_code == 200
    body = response.json()
    assert shape(body) == shape(example)
    assert list(body["results"][0]["product"]) == list(example["results"][0]["product"])
