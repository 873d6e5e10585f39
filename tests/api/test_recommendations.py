"""POST /api/v1/recommendations/ (product path) and GET /api/v1/products/{id}/similar/."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import time_machine
from rest_framework.authtoken.models import Token

from catalog.models import SeasonalRule
from recommender.models import Garment
from tests.api.conftest import assert_error
from tests.factories import brand_create, category_create, garment_create, product_create, unit_vector

pytestmark = pytest.mark.django_db


def near(seed: int, noise: float) -> list[float]:
    """Cosine similarity to unit_vector(0) is exactly 1/sqrt(1 + noise**2)."""
    anchor, direction = np.asarray(unit_vector(0)), np.asarray(unit_vector(seed))
    direction -= direction.dot(anchor) * anchor
    vector = anchor + noise * direction / np.linalg.norm(direction)
    return (vector / np.linalg.norm(vector)).tolist()


def indexed(product, vector):
    garment = garment_create(product)
    Garment.objects.filter(pk=garment.pk).update(embedding=vector)
    return product


@pytest.fixture
def shop(encoder, season_summer):
    """A query product (exactly unit_vector(0)) and 9 others at growing distance."""
    tops, shoes = category_create("women/tops"), category_create("men/shoes")
    acme = brand_create("Acme")
    query = indexed(product_create(category=tops, brand=acme, title="Query"), unit_vector(0))
    others = [
        indexed(
            product_create(
                category=[tops, shoes][i % 2],
                brand=acme if i % 3 == 0 else None,
                price=str(10 + 10 * i),
                sizes={"M": i % 3, "L": 1},
                seasons=[season_summer] if i % 2 else [],
                colour=["red", "blue"][i % 2],
            ),
            near(10 + i, 0.2 + 0.1 * i),
        )
        for i in range(9)
    ]
    return query, others


def result_ids(response) -> list[int]:
    return [item["product"]["id"] for item in response.json()["results"]]


def test_similar_returns_the_nearest_products_in_the_contract_shape(client, shop):
    # given
    query, others = shop
    # when
    response = client.get(f"/api/v1/products/{query.pk}/similar/", {"k": 3})
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"]["kind"] == "product"
    assert body["query"]["product_id"] == query.pk
    assert body["image"] is None and body["garments"] == [] and body["garment"] is None
    assert result_ids(response) == [p.pk for p in others[:3]]
    first = body["results"][0]
    assert set(first) == {"product", "similarity", "match", "score", "score_breakdown"}
    assert set(first["product"]) >= {
        "id",
        "sku",
        "title",
        "brand",
        "category",
        "price",
        "currency",
        "primary_image_url",
        "stock_by_size",
        "seasons",
        "url",
    }
    assert first["product"]["category"] == "women › tops"
    assert first["product"]["stock_by_size"] == {"L": 1, "M": 0}
    assert first["product"]["primary_image_url"].startswith("/media/products/")
    assert first["similarity"] == pytest.approx(1 / np.sqrt(1 + 0.2**2), abs=1e-5)
    parts = first["score_breakdown"]
    assert set(parts) == {"similarity", "match", "seasonal", "preference", "taste", "dislike", "inventory"}
    assert parts["similarity"] == first["similarity"]  # the raw cosine, not a part of the score
    assert first["score"] == pytest.approx(sum(v for k, v in parts.items() if k != "similarity"), abs=1e-5)
    assert 0 <= first["match"] <= 1 and parts["match"] == pytest.approx(first["match"], abs=1e-4)
    assert {"lookup", "query", "hydrate", "total"} <= set(body["timings_ms"])


def test_post_with_a_product_id_gives_the_same_answer_as_similar(client, shop):
    query, _ = shop
    posted = client.post("/api/v1/recommendations/", {"product_id": query.pk, "k": 5}, format="json")
    similar = client.get(f"/api/v1/products/{query.pk}/similar/", {"k": 5})
    assert posted.status_code == 200, posted.content
    assert result_ids(posted) == result_ids(similar)
    assert posted.json()["results"] == similar.json()["results"]


def test_the_same_request_gives_the_same_answer(client, shop):
    query, _ = shop
    answers = [
        client.get(f"/api/v1/products/{query.pk}/similar/", {"k": 6, "in_stock": "true"}).json()["results"]
        for _ in range(3)
    ]
    assert answers[0] == answers[1] == answers[2]


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"price_min": "30", "price_max": "70"}, lambda p: 30 <= float(p["price"]) <= 70),
        ({"sizes": "M"}, lambda p: p["stock_by_size"].get("M", 0) > 0),
        ({"in_stock": "true", "sizes": ["M", "XL"]}, lambda p: p["stock_by_size"].get("M", 0) > 0),
        ({"colour": "blue"}, lambda p: p["colour"] == "blue"),
        ({"brand": "acme"}, lambda p: p["brand"] == "Acme"),
    ],
)
def test_filters_are_never_violated_through_the_api(client, shop, params, check):
    # given
    query, _others = shop
    if params.get("brand") == "acme":
        params = {**params, "brand": query.brand_id}
    # when
    response = client.get(f"/api/v1/products/{query.pk}/similar/", {**params, "k": 50})
    # then
    assert response.status_code == 200, response.content
    products = [item["product"] for item in response.json()["results"]]
    assert products, "the filter should match something in this catalog"
    assert all(check(p) for p in products)


def test_category_filter_includes_sub_categories_and_nothing_else(client, shop):
    query, _others = shop
    women = category_create("women")
    response = client.get(f"/api/v1/products/{query.pk}/similar/", {"category": women.pk, "k": 50})
    categories = {item["product"]["category"] for item in response.json()["results"]}
    assert categories == {"women › tops"}
    assert len(result_ids(response)) == 5  # others 0, 2, 4, 6, 8 (the query itself is excluded)


def test_season_and_exclude_filters(client, shop, season_summer):
    query, others = shop
    response = client.get(
        f"/api/v1/products/{query.pk}/similar/",
        {"season": season_summer.pk, "exclude": f"{others[1].pk},{others[3].pk}", "k": 50},
    )
    assert result_ids(response) == [others[5].pk, others[7].pk]
    for item in response.json()["results"]:
        assert item["product"]["seasons"] == [{"id": season_summer.pk, "name": "Summer"}]


def test_k_is_capped(client, encoder):
    # given: 60 indexed products
    query = indexed(product_create(), unit_vector(0))
    for i in range(60):
        indexed(product_create(), near(i + 1, 0.5))
    # when
    response = client.get(f"/api/v1/products/{query.pk}/similar/", {"k": 500})
    # then
    assert response.status_code == 200
    assert response.json()["query"]["k"] == 50
    assert len(result_ids(response)) == 50


@time_machine.travel(dt.datetime(2026, 7, 10, 9, tzinfo=dt.UTC), tick=False)
def test_a_seasonal_rule_reorders_results_inside_its_window_only(client, shop, season_summer):
    # given: a summer rule boosting the 4th nearest (others[3], men › shoes)
    query, others = shop
    SeasonalRule.objects.create(
        name="Summer shoes", season=season_summer, target_category=others[3].category, weight=0.5, priority=1
    )
    url = f"/api/v1/products/{query.pk}/similar/"
    # when / then: inside the window the rule lifts men's shoes above the women's tops
    in_summer = client.get(url, {"k": 4}).json()["results"]
    assert in_summer[0]["product"]["id"] == others[1].pk
    assert in_summer[0]["score_breakdown"]["seasonal"] == 0.5
    with time_machine.travel(dt.datetime(2026, 10, 10, 9, tzinfo=dt.UTC), tick=False):
        in_autumn = client.get(url, {"k": 4}).json()["results"]
    assert [r["product"]["id"] for r in in_autumn] == [p.pk for p in others[:4]]
    assert all(r["score_breakdown"]["seasonal"] == 0 for r in in_autumn)


def test_preferences_and_interactions_change_the_order_for_that_user_only(client, shopper_client, shop):
    # given
    query, others = shop
    url = f"/api/v1/products/{query.pk}/similar/"
    before = result_ids(client.get(url, {"k": 5}))
    # when: the shopper prefers men's shoes in blue and dislikes the nearest product
    shoes = category_create("men/shoes")
    assert (
        shopper_client.put(
            "/api/v1/me/preferences/", {"categories": [shoes.pk], "colours": ["blue"]}, format="json"
        ).status_code
        == 200
    )
    assert (
        shopper_client.post(
            "/api/v1/me/interactions/", {"product_id": others[0].pk, "kind": "dislike"}, format="json"
        ).status_code
        == 201
    )
    mine = shopper_client.get(url, {"k": 5}).json()["results"]
    # then
    assert mine[0]["product"]["id"] == others[1].pk
    assert mine[0]["score_breakdown"]["preference"] == pytest.approx(0.08)
    disliked = next(r for r in mine if r["product"]["id"] == others[0].pk)
    assert disliked["score_breakdown"]["dislike"] == pytest.approx(-0.2, abs=1e-4)
    assert [r["product"]["id"] for r in mine] != before
    assert result_ids(client.get(url, {"k": 5})) == before  # anonymous: unchanged


def test_similar_query_count_is_fixed(client, shop, django_assert_num_queries):
    query, _ = shop
    url = f"/api/v1/products/{query.pk}/similar/"
    # 1 context: active encoder, the product's query vector, filter ids
    # 2 EXPLAIN: the planner's estimate of the filtered subset (plan rule)
    # 3 the recommend statement (the HNSW search settings come with the connection)
    # 4 the product cards, built as JSON by PostgreSQL (brand, category, image, stock, seasons)
    for params in ({"k": 3}, {"k": 50, "in_stock": "true", "sizes": "M,L", "category": query.category_id}):
        with django_assert_num_queries(4):
            assert client.get(url, params).status_code == 200


def test_post_query_count_is_fixed_for_a_token_user(shop, shopper, django_assert_num_queries):
    # given
    from rest_framework.test import APIClient

    query, _ = shop
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=shopper).key}")
    # 1 token and its user; then the 4 queries of the product path (see above)
    with django_assert_num_queries(5):
        response = api.post("/api/v1/recommendations/", {"product_id": query.pk}, format="json")
    assert response.status_code == 200


def test_a_product_without_embeddings_is_409(client, encoder):
    product = product_create()
    assert_error(client.get(f"/api/v1/products/{product.pk}/similar/"), 409, "not_indexed")


def test_no_active_encoder_is_503(client, db):
    product = product_create()
    garment_create(product)
    assert_error(client.get(f"/api/v1/products/{product.pk}/similar/"), 503, "no_active_encoder")


def test_anonymous_recommendations_are_throttled(client, shop, settings):
    # given: a tiny anonymous budget
    from recommender.api.throttles import AnonRecommendationsThrottle

    query, _ = shop
    AnonRecommendationsThrottle.THROTTLE_RATES = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    AnonRecommendationsThrottle.THROTTLE_RATES["anon_recommendations"] = "2/min"
    try:
        url = f"/api/v1/products/{query.pk}/similar/"
        assert client.get(url).status_code == 200
        assert client.post("/api/v1/recommendations/", {"product_id": query.pk}, format="json").status_code == 200
        # when
        response = client.get(url)
    finally:
        del AnonRecommendationsThrottle.THROTTLE_RATES
    # then
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
