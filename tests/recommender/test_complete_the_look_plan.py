"""The look statement's plans (EXPLAIN on the 6,000-garment catalog of test_queries_plan)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.filters import ProductFilters
from recommender import queries
from tests.factories import unit_vector
from tests.recommender.test_queries_plan import VERSION, big_catalog  # noqa: F401  (the module's catalog)

pytestmark = pytest.mark.django_db


def look_plan(plan: str) -> str:
    kinds = [
        queries.LookKind(
            kind=kind,
            vector=queries.vector_literal(unit_vector(seed)),
            norm=1.0,
            kind_term=0.0,
            colour_terms=(0.0,),
            colour_default=0.0,
        )
        for seed, kind in enumerate(("top", "shoes"))
    ]
    scoring = queries.LookScoring(colour_names=("black",), calibration=(1.0, 0.0))
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        queries.complete_the_look(
            kinds=kinds,
            scoring=scoring,
            version=VERSION,
            filters=ProductFilters(),
            k=5,
            plan=plan,
            today=dt.date(2026, 3, 1),
        )
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + captured.captured_queries[-1]["sql"])
            return "\n".join(row[0] for row in cursor.fetchall())


def test_ann_walks_the_hnsw_index_once_per_kind(big_catalog):  # noqa: F811
    plan = look_plan("ann")
    assert "Function Scan on w" in plan
    assert "Index Scan using garment_embedding_hnsw" in plan
    assert "Order By: (embedding <=> (w.vector)::vector)" in plan


def test_ann_walks_the_halfvec_graph_under_halfvec_storage(big_catalog, settings):  # noqa: F811
    settings.FASHIONREC_EMBEDDING_STORAGE = "halfvec"
    plan = look_plan("ann")
    assert "Index Scan using garment_embedding_hnsw_halfvec on recommender_garment" in plan, plan
    assert "Order By: ((embedding)::halfvec(128) <=> (w.vector)::halfvec(128))" in plan, plan


def test_exact_never_uses_the_hnsw_index(big_catalog):  # noqa: F811
    assert "garment_embedding_hnsw" not in look_plan("exact")
