"""The plan rule and the plans it leads to (EXPLAIN): HNSW for broad filters, exact for narrow ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction

from catalog.filters import ProductFilters
from catalog.models import Category
from catalog.selectors import category_subtree_paths
from recommender import embedding_storage, queries
from recommender.models import EncoderVersion
from recommender.queries import Estimate
from tests.factories import brand_create, category_create, image_create, product_create, unit_vector

pytestmark = pytest.mark.django_db


def subtree(path: str) -> tuple[str, ...]:
    return category_subtree_paths(Category.objects.get(path=path).pk)


VERSION = "test-v1"
GARMENTS = 6000


@pytest.fixture(scope="module")
def big_catalog(django_db_setup, django_db_blocker):
    """6,000 garments over 60 products: 3 categories, 30 brands (each brand 1/30 of the rows).

    Built once for the module and committed (EXPLAIN needs ANALYZE statistics; loading it per
    test would cost seconds each), then truncated: every other test starts from an empty
    database and rolls back, so nothing else is in these tables meanwhile.
    """
    with django_db_blocker.unblock():
        products = _load_big_catalog()
        yield products
        with connection.cursor() as cursor:
            cursor.execute(embedding_storage.drop_index_sql("halfvec"))
            cursor.execute(
                "TRUNCATE recommender_garment, catalog_productimage, catalog_productvariant, catalog_product_seasons,"
                " catalog_product, catalog_brand, catalog_category, recommender_encoderversion CASCADE"
            )


def _load_big_catalog() -> list[tuple[int, int]]:
    EncoderVersion.objects.create(name=VERSION, is_active=True)
    categories = [category_create(path) for path in ("women/tops", "women/dresses", "men/shoes")]
    products = []
    for i in range(60):
        product = product_create(
            category=categories[i % 3],
            brand=brand_create(f"Brand {i % 30}"),
            price=str(10 + i),
            sizes={"M": 0 if i % 10 == 0 else 2},
        )
        products.append((product.pk, image_create(product).pk))
    with transaction.atomic(), connection.cursor() as cursor:
        # 100 garments per product with random unit vectors, their filter columns filled by the
        # same function the triggers use. Triggers off and the HNSW index rebuilt afterwards:
        # a bulk build is several times faster than 6,000 incremental graph inserts.
        cursor.execute("DROP INDEX garment_embedding_hnsw")
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            """
            INSERT INTO recommender_garment (image_id, product_id, encoder_version, embedding, box_x1, box_y1,
                box_x2, box_y2, label, confidence, is_whole_image, created_at, category_id, category_path,
                brand_id, department, colour, price, is_active, stock_total, in_stock, sizes_in_stock,
                season_ids, tags)
            SELECT p.image_id, p.product_id, %s,
                   (SELECT array_agg(random() - 0.5) FROM generate_series(1, 128) d WHERE n > 0)::vector,
                   0, 0, 10, 10, 'top', 0.9, false, now(), a.category_id, a.category_path, a.brand_id,
                   a.department, a.colour, a.price, a.is_active, a.stock_total, a.in_stock, a.sizes_in_stock,
                   a.season_ids, a.tags
            FROM unnest(%s::bigint[], %s::bigint[]) AS p(product_id, image_id)
            CROSS JOIN LATERAL recommender_garment_attributes(p.product_id) AS a
            CROSS JOIN generate_series(1, %s) AS n
            """,
            [VERSION, [p for p, _ in products], [i for _, i in products], GARMENTS // len(products)],
        )
        # both graphs (recommender/embedding_storage.py): each test picks one with the setting
        cursor.execute(embedding_storage.create_index_sql("vector"))
        cursor.execute(embedding_storage.create_index_sql("halfvec"))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE recommender_garment")
    return products


@pytest.fixture(autouse=True)
def _db(db):
    """Every test here reads the module's committed catalog inside its own rolled-back transaction."""


def plan_for(filters: ProductFilters) -> tuple[str, str]:
    rule = queries.choose_plan(queries.estimate_rows(version=VERSION, filters=filters))
    explained = queries.explain_recommend(
        vector=queries.vector_literal(unit_vector(0)),
        version=VERSION,
        filters=filters,
        k=10,
        plan=rule,
        today=dt.date(2026, 6, 1),
    )
    return rule, explained


def test_the_estimate_follows_the_statistics(big_catalog):
    women = ProductFilters(category_paths=subtree("women"))
    estimate = queries.estimate_rows(version=VERSION, filters=women)
    assert estimate.version_rows == pytest.approx(GARMENTS, rel=0.05)
    assert estimate.fraction == pytest.approx(2 / 3, abs=0.1)


@pytest.mark.parametrize(
    "filters",
    [
        ProductFilters(),
        ProductFilters(in_stock=True),  # 90 % of rows
        # about 55 %
        ProductFilters(category_paths=("women", "women/dresses", "women/tops"), price_min=Decimal("20")),
        ProductFilters(sizes=("M",), exclude=(1, 2, 3)),
    ],
    ids=["unfiltered", "in-stock", "category-and-price", "size"],
)
@pytest.mark.parametrize("storage", embedding_storage.STORAGES)
def test_broad_filters_walk_the_hnsw_index(big_catalog, settings, filters, storage):
    # given: the absolute floor lowered so that this small table is judged by its fraction
    settings.FASHIONREC_RECOMMEND_EXACT_MAX_ROWS = 100
    settings.FASHIONREC_EMBEDDING_STORAGE = storage
    # when
    rule, explained = plan_for(filters)
    # then: the graph of the configured storage, and only that one
    assert rule == "ann"
    graph = embedding_storage.INDEX_NAMES[storage]
    assert f"Index Scan using {graph} on recommender_garment" in explained, explained
    assert explained.count("Index Scan using garment_embedding_hnsw") == 1, explained


@pytest.mark.parametrize(
    "filters",
    [
        ProductFilters(brand_id=-1),  # replaced by a real brand holding 1/30 of the rows
        ProductFilters(price_min=Decimal("10"), price_max=Decimal("10.50")),  # one product: 1.7 %
    ],
    ids=["brand", "price-window"],
)
@pytest.mark.parametrize("storage", embedding_storage.STORAGES)
def test_very_selective_filters_scan_the_subset_exactly(big_catalog, settings, filters, storage):
    # given: the exact form is the same whatever the graph's storage (full precision)
    settings.FASHIONREC_EMBEDDING_STORAGE = storage
    settings.FASHIONREC_RECOMMEND_EXACT_MAX_ROWS = 100
    settings.FASHIONREC_RECOMMEND_EXACT_FRACTION = 0.04
    if filters.brand_id == -1:
        filters = ProductFilters(brand_id=brand_create("Brand 7").pk)
    # when
    rule, explained = plan_for(filters)
    # then
    assert rule == "exact"
    assert "garment_embedding_hnsw" not in explained, explained
    assert "Sort" in explained
    # the covering indexes (migration 0007) answer it without reading the table
    assert "Index Only Scan using garment_" in explained, explained


def test_a_category_filter_is_one_index_range_per_path_of_its_subtree(big_catalog, settings):
    # given: men/shoes (a third of the rows) with a price window, under the exact threshold
    settings.FASHIONREC_RECOMMEND_EXACT_MAX_ROWS = 5000
    filters = ProductFilters(category_paths=subtree("men"), price_min=Decimal("10"), price_max=Decimal("69"))
    # when
    rule, explained = plan_for(filters)
    # then: the subtree's paths and the price bounds are conditions of the covering index, so
    # the scan reads the matching entries only (a prefix LIKE could not bound the price)
    assert rule == "exact"
    assert subtree("men") == ("men", "men/shoes")
    scan = next(line for line in explained.splitlines() if "Index Only Scan using" in line)
    assert "garment_category_price_idx" in scan, explained
    condition = explained.split(scan, 1)[1].splitlines()[1]
    assert "Index Cond" in condition
    assert "category_path = ANY ('{men,men/shoes}'" in condition and "price >=" in condition, condition


def test_the_exact_plan_finds_the_same_answer_as_a_scan_without_indexes(big_catalog, settings):
    # given: a narrow filter answered both ways
    from django.db import transaction

    filters = ProductFilters(brand_id=brand_create("Brand 3").pk)
    vector = queries.vector_literal(unit_vector(0))
    common = {"vector": vector, "version": VERSION, "filters": filters, "k": 10, "today": dt.date(2026, 6, 1)}
    # when
    with transaction.atomic():
        exact = queries.recommend(plan="exact", **common)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")
        reference = queries.recommend(plan="ann", **common)
    # then
    assert [r.product_id for r in exact] == [r.product_id for r in reference]
    assert len(exact) == 2  # brand 3 has products 3 and 33


@pytest.mark.parametrize(
    ("filtered", "total", "expected"),
    [
        (100_000, 100_000, "ann"),
        (30_000, 1_000_000, "ann"),  # 3 %
        (20_000, 1_000_000, "exact"),  # 2 %
        (4_000, 10_000, "exact"),  # under the absolute floor of 5,000 rows
        (6_000, 100_000, "ann"),
    ],
)
def test_the_documented_rule(filtered, total, expected, settings):
    settings.FASHIONREC_RECOMMEND_EXACT_MAX_ROWS = 5000
    settings.FASHIONREC_RECOMMEND_EXACT_FRACTION = 0.02
    assert queries.choose_plan(Estimate(filtered_rows=filtered, version_rows=total)) == expected
