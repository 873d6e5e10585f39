"""The benchmark's independent recall reference (``bench/independent_reference.py``) on a tiny real catalog.

It must give the production statement's exact answer whenever the production filters, triggers and
scoring are right, and it must disagree when they are not: a garment row whose denormalised price
went stale (a trigger bug) and a wrongly written filter are both caught.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.conf import settings
from django.db import connection, transaction

from bench.independent_reference import IndependentReference, Ranked, agrees, tolerant_recall, top_ids
from catalog.filters import ProductFilters
from catalog.models import SeasonalRule
from catalog.selectors import category_subtree_paths
from recommender import queries
from recommender.models import EncoderVersion, Garment
from tests.factories import brand_create, category_create, garment_create, image_create, product_create

pytestmark = pytest.mark.django_db

VERSION = "test-v1"
TODAY = dt.date(2026, 7, 1)  # inside the summer season
K = 5


@pytest.fixture
def catalog(season_summer):
    """40 products (1-3 garments each) with varied attributes, one seasonal rule that reorders."""
    EncoderVersion.objects.create(name=VERSION, is_active=True)
    rng = np.random.default_rng(3)
    leaves = [
        category_create(path)
        for path in ("women/tops/t-shirts", "women/tops/shirts", "women/dresses", "men/shoes", "men/tops")
    ]
    brands = [brand_create("Acme"), brand_create("Nord"), brand_create("Sud")]
    products = []
    for i in range(40):
        product = product_create(
            category=leaves[i % len(leaves)],
            brand=brands[i % 3] if i % 7 else None,
            price=f"{10 + 3.5 * i:.2f}",
            sizes={"S": int(rng.integers(0, 3)), "M": int(rng.integers(0, 3)), "L": int(rng.integers(0, 12))},
            seasons=[season_summer] if i % 4 == 0 else [],
            colour=["red", "blue", "black", "white"][i % 4],
            department="men" if leaves[i % len(leaves)].path.startswith("men/") else "women",
            is_active=i % 13 != 5,
        )
        image = image_create(product)
        for g in range(1 + i % 3):
            garment_create(product, image=image, seed=1000 * i + g)
        products.append(product)
    # Real-looking neighbourhoods: every embedding is a mix of one of 4 anchors and noise.
    anchors = rng.normal(size=(4, 128))
    for n, garment in enumerate(Garment.objects.order_by("id")):
        vector = anchors[n % 4] + rng.normal(size=128) * 0.8
        Garment.objects.filter(pk=garment.pk).update(embedding=(vector / np.linalg.norm(vector)).tolist())
    SeasonalRule.objects.create(
        name="summer blues", season=season_summer, target_colour="blue", weight=0.3, priority=2, is_active=True
    )
    SeasonalRule.objects.create(
        name="shoe week", starts_on=TODAY, ends_on=TODAY, target_category=leaves[3], weight=0.1, priority=1
    )
    return {"products": products, "leaves": leaves, "brands": brands, "anchors": anchors, "season": season_summer}


def reference() -> IndependentReference:
    with connection.cursor() as cursor:
        return IndependentReference(
            cursor,
            version=VERSION,
            weights=settings.FASHIONREC_RECOMMEND_WEIGHTS,
            pool_min=settings.FASHIONREC_RECOMMEND_POOL_MIN,
            pool_per_result=settings.FASHIONREC_RECOMMEND_POOL_PER_RESULT,
            cap=settings.FASHIONREC_RECOMMEND_INVENTORY_CAP,
        )


def sql_exact(vector, params: dict, exclude: tuple[int, ...] = ()) -> list[int]:
    """The production statement, exact form, for the same API parameters."""
    filters = ProductFilters(
        category_paths=category_subtree_paths(params["category"]) if "category" in params else (),
        brand_id=params.get("brand"),
        department=params.get("department"),
        colour=params.get("colour"),
        price_min=Decimal(params["price_min"]) if "price_min" in params else None,
        price_max=Decimal(params["price_max"]) if "price_max" in params else None,
        in_stock=params.get("in_stock", False),
        sizes=tuple(params.get("sizes", ())),
        season_id=params.get("season"),
        exclude=exclude,
    )
    with transaction.atomic():
        rows = queries.recommend(
            vector=queries.vector_literal(vector), version=VERSION, filters=filters, k=K, plan="exact", today=TODAY
        )
    return [row.product_id for row in rows]


def filter_cases(catalog) -> list[dict]:
    women, tops = catalog["leaves"][0].parent.parent, catalog["leaves"][0].parent
    return [
        {},
        {"category": women.pk},
        {"category": tops.pk, "price_min": "20.00", "price_max": "120.00"},
        {"brand": catalog["brands"][1].pk},
        {"department": "men", "in_stock": True},
        {"colour": "blue"},
        {"sizes": ["S", "M"]},
        {"season": catalog["season"].pk, "price_max": "80.50"},
        {"price_min": "45.00", "price_max": "45.00"},  # one product, inclusive bounds
    ]


def test_the_reference_gives_the_exact_answer_for_every_filter(catalog):
    # given the reference, read from the raw tables
    ref = reference()
    exclude = (catalog["products"][0].pk,)
    compared = 0
    for params in filter_cases(catalog):
        for anchor in catalog["anchors"]:
            # when both answer the same request
            ranked = ref.rank(anchor, params, k=K, exclude=exclude, today=TODAY)
            found = sql_exact(anchor, params, exclude)
            # then they agree (up to score ties)
            assert agrees(found, ranked, K), (params, found, top_ids(ranked, K))
            compared += bool(found)
    assert compared >= 30  # most requests had an answer to compare


def test_the_seasonal_boost_is_reproduced_not_ignored(catalog):
    # given the blue-summer rule, which moves blue products up
    ref = reference()
    anchor = catalog["anchors"][1]
    # when
    ranked = ref.rank(anchor, {}, k=K, today=TODAY)
    out_of_season = ref.rank(anchor, {}, k=K, today=dt.date(2026, 1, 15))
    # then the reference ranks differently in and out of the season, and in season as SQL does
    assert top_ids(ranked, K) != top_ids(out_of_season, K)
    assert agrees(sql_exact(anchor, {}), ranked, K)


def test_a_stale_denormalised_column_is_caught(catalog):
    # given a garment row whose price copy went stale (as a broken trigger would leave it)
    target = catalog["products"][10]  # 45.00
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # no trigger repairs it
        cursor.execute("UPDATE recommender_garment SET price = 1000 WHERE product_id = %s", [target.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    params = {"price_min": "40.00", "price_max": "50.00"}
    anchor = catalog["anchors"][0]
    # when
    ranked = reference().rank(anchor, params, k=K, today=TODAY)
    found = sql_exact(anchor, params)
    # then the reference, which reads the product's own price, disagrees with the statement
    assert target.pk in top_ids(ranked, K)
    assert target.pk not in found
    assert not agrees(found, ranked, K)


def test_a_wrongly_written_filter_is_caught(catalog, monkeypatch):
    # given a reference whose category filter forgets the sub-categories
    ref = reference()
    monkeypatch.setattr(ref, "subtree", lambda category_id: {category_id})
    params = {"category": catalog["leaves"][0].parent.pk}  # women/tops: only its children hold products
    anchor = catalog["anchors"][2]
    # when
    ranked = ref.rank(anchor, params, k=K, today=TODAY)
    found = sql_exact(anchor, params)
    # then the comparison fails
    assert found and not ranked
    assert not agrees(found, ranked, K)


def test_recall_counts_a_product_tied_with_the_kth_as_right():
    # given a reference whose 2nd and 3rd products tie
    ranked = [Ranked(1, 0.9, 0.9), Ranked(2, 0.8, 0.8), Ranked(3, 0.8 - 1e-7, 0.8), Ranked(4, 0.5, 0.5)]
    # then
    assert tolerant_recall([1, 3], ranked, 2) == 1.0
    assert tolerant_recall([1, 4], ranked, 2) == 0.5
    assert agrees([1, 3], ranked, 2) and not agrees([1], ranked, 2)
