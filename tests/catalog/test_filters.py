"""The product filters are declared once (catalog.filters); the input serializers, the OpenAPI
parameters, the ORM filter of the product list and the SQL of the recommend query all agree on
every one of them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.db import connection
from drf_spectacular.generators import SchemaGenerator

from catalog import selectors
from catalog.api.products import ProductFilterInputSerializer
from catalog.filters import FILTERS, filters_from
from recommender import queries
from recommender.api.views import RecommendationsInputSerializer, RecommendFilterInputSerializer
from recommender.models import EncoderVersion
from tests.factories import brand_create, category_create, garment_create, product_create

pytestmark = pytest.mark.django_db

VERSION = "test-v1"
FILTER_NAMES = [f.name for f in FILTERS]


@pytest.fixture
def shop(season_summer):
    """Nine products that differ in every filtered attribute, each with a garment."""
    EncoderVersion.objects.create(name=VERSION, is_active=True)
    categories = [
        category_create("women/tops/t-shirts"),
        category_create("women/dresses"),
        category_create("men/shoes"),
    ]
    brands = [brand_create("Acme"), brand_create("Nord")]
    products = []
    for i in range(9):
        product = product_create(
            category=categories[i % 3],
            brand=brands[i % 2],
            price=str(20 + 10 * i),
            sizes={"S": i % 2, "M": 0 if i % 4 == 0 else 2},
            seasons=[season_summer] if i % 3 == 0 else [],
            colour=["red", "blue", "black"][i % 3],
            department=["women", "women", "men"][i % 3],
        )
        garment_create(product)
        products.append(product)
    return products


def sample_request(name: str, shop, season_summer) -> dict:
    """A query-string value of each filter that keeps some products of ``shop`` and drops others."""
    return {
        "category": str(category_create("women").pk),
        "brand": str(brand_create("Nord").pk),
        "department": "men",
        "colour": "red",
        "price_min": "50",
        "price_max": "50",
        "in_stock": "true",
        "sizes": "S",
        "season": str(season_summer.pk),
        "exclude": f"{shop[0].pk},{shop[1].pk}",
    }[name]


def orm_product_ids(filters) -> set[int]:
    return set(selectors.product_list(filters).values_list("pk", flat=True))


def sql_product_ids(filters) -> set[int]:
    params: dict = {"version": VERSION}
    where = queries.filter_sql(filters, params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT g.product_id FROM recommender_garment g WHERE {where}", params)
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_the_orm_and_the_sql_keep_the_same_products(shop, season_summer, name):
    # given one filter's value as a client sends it, parsed by the recommend input serializer
    serializer = RecommendFilterInputSerializer(data={name: sample_request(name, shop, season_summer)})
    assert serializer.is_valid(), serializer.errors
    filters = filters_from(serializer.validated_data)
    if filters.category_id is not None:
        filters = replace(filters, category_paths=selectors.category_subtree_paths(filters.category_id))

    # when the product list (ORM) and the recommend query (SQL) filter the same catalog
    orm, sql = orm_product_ids(filters), sql_product_ids(filters)

    # then they keep the same products, and the filter did keep some and drop some
    assert orm == sql
    assert 0 < len(orm) < len(shop)


def test_every_filter_is_an_input_field_and_an_openapi_parameter():
    # given the generated OpenAPI schema
    schema = SchemaGenerator().get_schema(request=None, public=True)
    list_parameters = {p["name"] for p in schema["paths"]["/api/v1/products/"]["get"]["parameters"]}
    similar_parameters = {
        p["name"] for p in schema["paths"]["/api/v1/products/{product_id}/similar/"]["get"]["parameters"]
    }
    body = schema["components"]["schemas"]["RecommendationsInput"]["properties"]

    # then every filter is there, in the serializers and the schema, once declared
    for f in FILTERS:
        assert f.name in RecommendFilterInputSerializer().fields
        assert f.name in RecommendationsInputSerializer().fields
        assert f.name in similar_parameters
        assert f.name in body
        assert (f.name in ProductFilterInputSerializer().fields) == (not f.recommend_only)
        assert (f.name in list_parameters) == (not f.recommend_only)


def test_an_unset_filter_adds_no_condition(db):
    # given no filter at all
    filters = filters_from({})

    # when both forms are built
    params: dict = {}
    where = queries.filter_sql(filters, params)

    # then only the version conditions remain, and the ORM condition is empty
    assert where == "g.encoder_version = %(version)s AND g.is_active"
    assert params == {}
    assert str(selectors.product_list(filters).query).count("EXISTS") == 0
