"""The exact plan reads a 16-bit copy of the embeddings from its covering indexes (issue 19, item 7),
and still answers at full precision: it re-scores the copy's nearest rows from the 32-bit vectors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection, transaction

from catalog.filters import ProductFilters
from recommender import queries
from recommender.models import EncoderVersion, Garment
from tests.factories import garment_create, product_create, unit_vector

pytestmark = pytest.mark.django_db

VERSION = "test-v1"
COVERING_INDEXES = ("garment_category_price_idx", "garment_version_price_idx", "garment_brand_price_idx")


@pytest.fixture
def encoder(db):
    return EncoderVersion.objects.create(name=VERSION, is_active=True)


def included_columns(index: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.attname
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, position) ON true
            JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
            WHERE i.relname = %s AND k.position > x.indnkeyatts
            ORDER BY k.position
            """,
            [index],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("index", COVERING_INDEXES)
def test_the_covering_indexes_carry_the_16_bit_copy_and_not_the_32_bit_vector(index):
    columns = included_columns(index)
    assert "embedding_half" in columns
    assert "embedding" not in columns


def test_the_16_bit_copy_follows_every_write_of_the_embedding(encoder):
    # given
    garment = garment_create(product_create(), seed=1)
    # when: an update as reindexing does it (a bulk UPDATE, no model save)
    Garment.objects.filter(pk=garment.pk).update(embedding=unit_vector(2))
    # then
    with connection.cursor() as cursor:
        cursor.execute("SELECT embedding_half::text FROM recommender_garment WHERE id = %s", [garment.pk])
        (half,) = cursor.fetchone()
    stored = np.array([float(x) for x in half.strip("[]").split(",")])
    assert np.abs(stored - np.asarray(unit_vector(2))).max() < 1e-3
    assert np.abs(stored - np.asarray(unit_vector(1))).max() > 1e-2


def test_rows_the_16_bit_copy_cannot_tell_apart_are_ranked_at_full_precision(encoder):
    # given: 31 products whose vectors round to the same 16-bit vector; only the last one
    # created (the highest id, last in the copy's tie order) is really the nearest to the query,
    # by 5e-5 on one component. The pool (20 for k = 1) ranked by the copy alone would hold
    # only the 20 lowest ids.
    base = np.asarray(unit_vector(7), dtype=np.float16).astype(np.float64)  # exactly 16-bit
    axis = int(np.argmax(np.abs(base)))
    assert abs(base[axis]) >= 0.125  # where 5e-5 is under half a 16-bit step (6.1e-5 or more)
    sign = np.sign(base[axis])
    nearest = base.copy()
    nearest[axis] += sign * 5e-5
    query = base.copy()
    query[axis] += sign * 0.5
    products = [product_create() for _ in range(31)]
    for product in products[:-1]:
        Garment.objects.filter(pk=garment_create(product).pk).update(embedding=base.tolist())
    Garment.objects.filter(pk=garment_create(products[-1]).pk).update(embedding=nearest.tolist())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT embedding_half::text) FROM recommender_garment")
        assert cursor.fetchone()[0] == 1
    # when
    with transaction.atomic():
        rows = queries.recommend(
            vector=queries.vector_literal(query.tolist()),
            version=VERSION,
            filters=ProductFilters(),
            k=1,
            plan="exact",
            today=dt.date(2026, 3, 15),
        )
    # then: the nearest at full precision, with its full-precision similarity
    assert [row.product_id for row in rows] == [products[-1].pk]
    expected = query @ nearest / (np.linalg.norm(query) * np.linalg.norm(nearest))
    assert rows[0].similarity == pytest.approx(expected, abs=1e-6)


def test_the_exact_form_never_walks_the_hnsw_graph_even_when_sorting_is_made_dear(encoder):
    # given: a few products, and a planner told to avoid sorts, which makes an HNSW index scan
    # (rows come out in distance order) the cheapest way to order any level by the distance.
    # An exact form that let the re-scoring level be planned that way answered with the graph's
    # approximate (here: empty) walk in the full test suite.
    products = [product_create() for _ in range(5)]
    for i, product in enumerate(products):
        garment_create(product, seed=10 + i)
    query = queries.vector_literal(unit_vector(12))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_sort = off")
        # when
        explained = queries.explain_recommend(
            vector=query, version=VERSION, filters=ProductFilters(), k=3, plan="exact", today=dt.date(2026, 3, 15)
        )
        rows = queries.recommend(
            vector=query, version=VERSION, filters=ProductFilters(), k=3, plan="exact", today=dt.date(2026, 3, 15)
        )
    # then
    assert "garment_embedding_hnsw" not in explained, explained
    assert rows[0].product_id == products[2].pk
    assert len(rows) == 3
