"""Complete the look (queries.complete_the_look through outfit_selectors) and its endpoints."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from catalog.filters import ProductFilters
from catalog.models import Product, SeasonalRule
from recommender import outfit_selectors as looks
from recommender import queries
from recommender.models import EncoderVersion, Garment
from recommender.outfits.catalog import reset_outfit_model
from tests.api.conftest import assert_error
from tests.factories import category_create, garment_create, outfit_model_create, product_create

pytestmark = pytest.mark.django_db
VERSION = "test-v1"


@pytest.fixture
def outfit_model(settings, tmp_path):
    """A real (tiny) outfit model: tops are worn with trousers and shoes, never with another top."""
    model = outfit_model_create(tmp_path / "v001", encoder_version=VERSION)
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "v001")
    reset_outfit_model()
    yield model
    reset_outfit_model()


def labelled(product, label: str, seed: int) -> Garment:
    garment = garment_create(product, seed=seed, version=VERSION)
    Garment.objects.filter(pk=garment.pk).update(label=label)
    return garment


@pytest.fixture
def shop(outfit_model, season_summer):
    """A black top to complete; trousers, shoes and other tops with varied attributes."""
    EncoderVersion.objects.create(name=VERSION, is_active=True)
    query = product_create(category=category_create("women/tops"), colour="black")
    labelled(query, "top", seed=1)
    products = {"top": [], "trousers": [], "shoes": []}
    for i in range(12):
        kind = ("trousers", "shoes", "top")[i % 3]
        product = product_create(
            category=category_create(f"women/{kind}"),
            colour=["white", "black", "red", "blue"][i % 4],
            price=str(20 + 10 * i),
            sizes={"S": i % 2, "M": 0 if i % 5 == 0 else 2},
            seasons=[season_summer] if i % 2 == 0 else [],
            department=["women", "men"][i % 2],
        )
        labelled(product, kind, seed=10 + i)
        products[kind].append(product)
    return query, products


def look(query, today=None, **request):
    return looks.look_for_product(product_id=query.pk, request=looks.LookRequest(**request), today=today)


def test_complementary_kinds_only_never_the_query_or_its_own_kind(shop):
    query, products = shop
    result = look(query, k=10)
    assert [g.kind for g in result.groups] == ["trousers", "shoes"]
    for group in result.groups:
        ids = [item.row.product_id for item in group.results]
        assert ids and query.pk not in ids
        assert set(ids) <= {p.pk for p in products[group.kind]}
        assert all(0.0 <= item.row.compatibility <= 1.0 for item in group.results)
        scores = [item.row.score for item in group.results]
        assert scores == sorted(scores, reverse=True)
        assert all(item.row.score == pytest.approx(sum(item.row.breakdown.values())) for item in group.results)


def test_the_own_kind_only_when_asked(shop):
    query, products = shop
    result = look(query, k=10, kinds=("top",))
    assert [g.kind for g in result.groups] == ["top"]
    assert {i.row.product_id for i in result.groups[0].results} == {p.pk for p in products["top"]}


def test_k_is_per_kind(shop):
    query, _ = shop
    assert [len(g.results) for g in look(query, k=2).groups] == [2, 2]


@pytest.mark.parametrize("plan", ["ann", "exact"])
@pytest.mark.parametrize(
    ("filters", "check"),
    [
        (ProductFilters(price_min=Decimal("50"), price_max=Decimal("100")), lambda p: 50 <= p.price <= 100),
        (ProductFilters(in_stock=True), lambda p: any(v.stock > 0 for v in p.variants.all())),
        (ProductFilters(sizes=("S",)), lambda p: any(v.size == "S" and v.stock for v in p.variants.all())),
        (ProductFilters(department="men"), lambda p: p.department == "men"),
        (ProductFilters(colour="white"), lambda p: p.colour == "white"),
    ],
)
def test_filters_are_never_violated(shop, outfit_model, plan, filters, check):
    query, products = shop
    garment = looks._garment_of(queries.look_garments(product_ids=[query.pk], version=VERSION)[query.pk], outfit_model)
    wanted, scoring = looks.look_parameters(outfit_model, garment, ["trousers", "shoes"])
    rows = queries.complete_the_look(
        kinds=wanted,
        scoring=scoring,
        version=VERSION,
        filters=filters,
        k=12,
        plan=plan,
        today=dt.date(2026, 3, 15),
    )
    expected = {p.pk for kind in ("trousers", "shoes") for p in products[kind] if check(Product.objects.get(pk=p.pk))}
    assert {r.product_id for r in rows} == expected


def test_a_seasonal_rule_moves_items_only_inside_its_window(shop, season_summer):
    query, _ = shop
    before = look(query, k=10, kinds=("trousers",), today=dt.date(2026, 3, 15))
    order = [i.row.product_id for i in before.groups[0].results]
    last = Product.objects.get(pk=order[-1])
    SeasonalRule.objects.create(name="Summer", season=season_summer, target_colour=last.colour, weight=0.5)
    outside = look(query, k=10, kinds=("trousers",), today=dt.date(2026, 3, 15))
    assert [i.row.product_id for i in outside.groups[0].results] == order
    inside = look(query, k=10, kinds=("trousers",), today=dt.date(2026, 7, 1)).groups[0].results
    moved = [i.row.product_id for i in inside]
    boosted = next(i for i in inside if i.row.product_id == last.pk)
    assert boosted.row.breakdown["seasonal"] == pytest.approx(0.5)
    assert moved.index(last.pk) < order.index(last.pk)
    others = [p for p in order if Product.objects.get(pk=p).colour != last.colour]
    assert [p for p in moved if p in others] == others  # the rule moves only what it targets


# --- endpoints --------------------------------------------------------------------------------


def test_product_endpoint_answers_one_group_per_kind(client, shop):
    query, _ = shop
    response = client.get(f"/api/v1/products/{query.pk}/complete-the-look/", {"k": 3})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"]["garment_kind"] == "top" and body["query"]["model_version"] == "v001"
    assert [g["kind"] for g in body["looks"]] == ["trousers", "shoes"]
    item = body["looks"][0]["results"][0]
    assert set(item) == {"product", "compatibility", "score", "score_breakdown"}
    assert set(item["score_breakdown"]) == set(queries.LOOK_PARTS)


def test_kinds_as_a_comma_separated_parameter(client, shop):
    query, _ = shop
    response = client.get(f"/api/v1/products/{query.pk}/complete-the-look/", {"kinds": "shoes,top"})
    assert [g["kind"] for g in response.json()["looks"]] == ["shoes", "top"]
    assert_error(client.get(f"/api/v1/products/{query.pk}/complete-the-look/", {"kinds": "cape"}), 400)


def test_post_with_a_product_id_gives_the_same_answer(client, shop):
    query, _ = shop
    got = client.get(f"/api/v1/products/{query.pk}/complete-the-look/").json()
    posted = client.post("/api/v1/complete-the-look/", {"product_id": query.pk}, format="json").json()
    assert got["looks"] == posted["looks"]


def test_look_query_count_is_fixed(client, shop, django_assert_num_queries):
    query, _ = shop
    url = f"/api/v1/products/{query.pk}/complete-the-look/"
    # context, query garment, planner estimate, the look statement (all kinds), product cards
    for params in ({"k": 2}, {"k": 10, "in_stock": "true", "kinds": "trousers,shoes,hat"}):
        with django_assert_num_queries(5):
            assert client.get(url, params).status_code == 200


def test_unknown_or_unindexed_products_and_bad_input(client, shop):
    assert_error(client.get("/api/v1/products/999999/complete-the-look/"), 404)
    assert_error(client.get("/api/v1/products/abc/complete-the-look/"), 404)
    bare = product_create()
    assert_error(client.get(f"/api/v1/products/{bare.pk}/complete-the-look/"), 409, "not_indexed")
    assert_error(client.post("/api/v1/complete-the-look/", {}, format="json"), 400)
    query, _ = shop
    assert_error(client.get(f"/api/v1/products/{query.pk}/complete-the-look/", {"k": 0}), 400)


def test_a_missing_or_stale_outfit_model_is_503(client, shop, settings, tmp_path):
    query, _ = shop
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "nothing")
    reset_outfit_model()
    assert_error(client.get(f"/api/v1/products/{query.pk}/complete-the-look/"), 503, "outfit_model_unavailable")
    EncoderVersion.objects.update(is_active=False)
    EncoderVersion.objects.create(name="other", is_active=True)
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "v001")
    reset_outfit_model()
    assert_error(client.get(f"/api/v1/products/{query.pk}/complete-the-look/"), 503, "outfit_model_mismatch")


def test_outfit_score_of_products(client, shop, django_assert_num_queries):
    query, products = shop
    ids = [query.pk, products["trousers"][0].pk, products["shoes"][0].pk]
    # context (active encoder) and the garments of the products
    with django_assert_num_queries(2):
        response = client.post("/api/v1/outfits/score/", {"product_ids": ids}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert 0.0 <= body["score"] <= 1.0
    assert [(p["a"], p["b"]) for p in body["pairs"]] == [(0, 1), (0, 2), (1, 2)]
    assert all(0.0 <= p["score"] <= 1.0 for p in body["pairs"])
    assert body["score"] == pytest.approx(np.mean([p["score"] for p in body["pairs"]]), abs=1e-5)
    assert [g["kind"] for g in body["garments"]] == ["top", "trousers", "shoes"]
    assert body["model_version"] == "v001" and body["encoder_version"] == VERSION


@pytest.mark.parametrize("count", [0, 1, 7])
def test_outfit_score_needs_two_to_six_garments(client, shop, count):
    query, products = shop
    ids = ([query.pk] + [p.pk for kind in products.values() for p in kind])[:count]
    error = assert_error(client.post("/api/v1/outfits/score/", {"product_ids": ids}, format="json"), 400)
    assert "2 to 6 garments" in error["message"] or "2 to 6 garments" in str(error["details"])


def test_outfit_score_of_an_unknown_product_is_404(client, shop):
    query, _ = shop
    assert_error(client.post("/api/v1/outfits/score/", {"product_ids": [query.pk, 999999]}, format="json"), 404)


# --- photos through the shipped detector and encoder -------------------------------------------


@pytest.fixture
def photo_shop(settings, tmp_path):
    from recommender.vision.pipeline import get_pipeline

    version = get_pipeline().encoder_version
    EncoderVersion.objects.create(name=version, is_active=True)
    outfit_model_create(tmp_path / "photo-model", encoder_version=version)
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "photo-model")
    products = []
    for n, kind in enumerate(("trousers", "shoes", "top", "trousers")):
        product = product_create()
        garment = garment_create(product, seed=n, version=version)
        Garment.objects.filter(pk=garment.pk).update(label=kind)
        products.append(product)
    return products


def test_a_photo_gets_its_garments_and_a_look_for_the_chosen_one(client, photo_shop):
    from tests.api.test_recommendations_image import photo

    response = client.post("/api/v1/complete-the-look/", {"image": photo(), "k": 2}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"]["kind"] == "image" and body["garment"] == 0 and body["garments"]
    own = body["query"]["garment_kind"]
    assert own not in [g["kind"] for g in body["looks"]]
    shown = {r["product"]["id"] for g in body["looks"] for r in g["results"]}
    assert shown <= {p.pk for p in photo_shop}
    assert_error(client.post("/api/v1/complete-the-look/", {"image": photo(), "garment": 99}, format="multipart"), 400)


def test_outfit_score_of_a_photo_and_a_product(client, photo_shop):
    from tests.api.test_recommendations_image import photo

    response = client.post(
        "/api/v1/outfits/score/", {"images": [photo()], "product_ids": [photo_shop[0].pk]}, format="multipart"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [g["source"] for g in body["garments"]] == ["image", "product"]
    assert len(body["pairs"]) == 1 and 0.0 <= body["score"] <= 1.0
    assert body["score"] == pytest.approx(body["pairs"][0]["score"])
