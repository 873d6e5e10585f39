"""Recommendation reads: resolve the request, run the one recommend query, attach products.

Round trips for a product query (the image path makes the same): 1 context (active encoder, the
query product's vector, filter ids), 1 planner estimate, 1 recommend statement, 1 for the
product cards (built as JSON by PostgreSQL). The search settings come with the connection.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from catalog.errors import PriceRangeCrossed, ProductNotFound, UnknownFilterValue
from catalog.filters import ProductFilters
from catalog.selectors import product_cards
from fashionrec.errors import DomainError
from recommender import queries
from recommender.errors import EncoderSwitching, NoActiveEncoder, NotIndexed
from recommender.queries import Plan, RecommendRow


@dataclass(frozen=True)
class RecommendRequest:
    """Validated input (ids not yet checked against the database, the category not yet resolved)."""

    k: int = 12
    filters: ProductFilters = field(default_factory=ProductFilters)
    max_per_category: int | None = None


@dataclass
class Recommendation:
    row: RecommendRow
    card: dict  # the API's product object (catalog.selectors.product_cards)


@dataclass
class RecommendationResult:
    results: list[Recommendation]
    plan: Plan
    estimated_rows: float
    k: int
    timings_ms: dict[str, float] = field(default_factory=dict)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _check_ids(context: queries.QueryContext, filters: ProductFilters) -> None:
    unknown: dict[str, object] = {}
    if filters.category_id is not None and not context.category_found:
        unknown["category"] = filters.category_id
    if filters.brand_id is not None and not context.brand_found:
        unknown["brand"] = filters.brand_id
    if filters.season_id is not None and not context.season_found:
        unknown["season"] = filters.season_id
    if unknown:
        raise UnknownFilterValue(unknown)
    if filters.price_min is not None and filters.price_max is not None and filters.price_min > filters.price_max:
        raise PriceRangeCrossed()


def _run(
    *,
    vector: str,
    version: str,
    request: RecommendRequest,
    context: queries.QueryContext,
    exclude: tuple[int, ...],
    user_id: int | None,
    today: dt.date | None,
    timings: dict[str, float],
) -> RecommendationResult:
    k = min(request.k, settings.FASHIONREC_RECOMMEND_K_MAX)
    filters = dataclasses.replace(
        request.filters,
        category_paths=context.category_paths if request.filters.category_id is not None else (),
        exclude=exclude,
    )
    start = time.perf_counter()
    estimate = queries.estimate_rows(version=version, filters=filters)
    plan = queries.choose_plan(estimate)
    rows = queries.recommend(
        vector=vector,
        version=version,
        filters=filters,
        k=k,
        plan=plan,
        today=today or timezone.localdate(),
        user_id=user_id,
        calibration=context.match_calibration,
        max_per_category=(
            request.max_per_category
            if request.max_per_category is not None
            else settings.FASHIONREC_RECOMMEND_MAX_PER_CATEGORY
        ),
    )
    timings["query"] = _ms(start)
    start = time.perf_counter()
    cards = product_cards(row.product_id for row in rows)
    timings["hydrate"] = _ms(start)
    results = [Recommendation(row=row, card=cards[row.product_id]) for row in rows if row.product_id in cards]
    return RecommendationResult(
        results=results, plan=plan, estimated_rows=estimate.filtered_rows, k=k, timings_ms=timings
    )


def recommendations_for_product(
    *, product_id: int, request: RecommendRequest, user_id: int | None = None, today: dt.date | None = None
) -> RecommendationResult:
    """Products similar to a catalog product (the product itself is excluded)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    context = queries.recommend_context(
        product_id=product_id,
        category_id=request.filters.category_id,
        brand_id=request.filters.brand_id,
        season_id=request.filters.season_id,
    )
    timings["lookup"] = _ms(start)
    if not context.product_found or not context.product_active:
        raise ProductNotFound(product_id)
    _check_ids(context, request.filters)
    if context.encoder_version is None:
        raise NoActiveEncoder()
    if context.product_vector is None:
        raise NotIndexed(product_id)
    return _run(
        vector=context.product_vector,
        version=context.encoder_version,
        request=request,
        context=context,
        exclude=tuple(sorted({product_id, *request.filters.exclude})),
        user_id=user_id,
        today=today,
        timings=timings,
    )


def recommendations_for_vector(
    *,
    vector: str,
    encoder_version: str,
    request: RecommendRequest,
    user_id: int | None = None,
    today: dt.date | None = None,
    timings: dict[str, float] | None = None,
) -> RecommendationResult:
    """Products nearest to an embedding computed by ``encoder_version`` (an uploaded photo)."""
    (result,) = recommendations_for_vectors(
        vectors=[vector],
        encoder_version=encoder_version,
        request=request,
        user_id=user_id,
        today=today,
        timings=timings,
    )
    return result


def recommendations_for_vectors(
    *,
    vectors: list[str],
    encoder_version: str,
    request: RecommendRequest,
    user_id: int | None = None,
    today: dt.date | None = None,
    timings: dict[str, float] | None = None,
) -> list[RecommendationResult]:
    """``recommendations_for_vector`` for each of several embeddings (every garment of a photo).

    The filters are the same for all, so the context and the planner's estimate are read once;
    then one recommend statement per vector, and the product cards of all results in one
    query: 3 + len(vectors) round trips. Each result carries the shared timings, its own
    ``query`` time, and the shared ``hydrate`` time.
    """
    timings = dict(timings or {})
    start = time.perf_counter()
    context = queries.recommend_context(
        category_id=request.filters.category_id,
        brand_id=request.filters.brand_id,
        season_id=request.filters.season_id,
    )
    _check_ids(context, request.filters)
    if context.encoder_version is None:
        raise NoActiveEncoder()
    if context.encoder_version != encoder_version:
        # Vectors of two encoders live in different spaces: comparing them would return noise.
        raise EncoderSwitching(encoder_version, context.encoder_version)
    k = min(request.k, settings.FASHIONREC_RECOMMEND_K_MAX)
    filters = dataclasses.replace(
        request.filters,
        category_paths=context.category_paths if request.filters.category_id is not None else (),
        exclude=tuple(sorted(set(request.filters.exclude))),
    )
    estimate = queries.estimate_rows(version=encoder_version, filters=filters)
    plan = queries.choose_plan(estimate)
    timings["lookup"] = _ms(start)  # the context and the planner's estimate, shared by all vectors
    per_vector: list[tuple[list[RecommendRow], float]] = []
    for vector in vectors:
        start = time.perf_counter()
        rows = queries.recommend(
            vector=vector,
            version=encoder_version,
            filters=filters,
            k=k,
            plan=plan,
            today=today or timezone.localdate(),
            user_id=user_id,
            max_per_category=(
                request.max_per_category
                if request.max_per_category is not None
                else settings.FASHIONREC_RECOMMEND_MAX_PER_CATEGORY
            ),
            calibration=context.match_calibration,
        )
        per_vector.append((rows, _ms(start)))
    start = time.perf_counter()
    cards = product_cards(row.product_id for rows, _ in per_vector for row in rows)
    hydrate_ms = _ms(start)
    return [
        RecommendationResult(
            results=[Recommendation(row=row, card=cards[row.product_id]) for row in rows if row.product_id in cards],
            plan=plan,
            estimated_rows=estimate.filtered_rows,
            k=k,
            timings_ms={**timings, "query": query_ms, "hydrate": hydrate_ms},
        )
        for rows, query_ms in per_vector
    ]


def recommend_similar_rows(*, product_id: int, k: int, on: dt.date) -> tuple[list[RecommendRow], str]:
    """What ``GET /api/v1/products/{id}/similar/`` computes (no filters, no shopper), on day ``on``.

    Returns ``(rows, problem)``: rows best first, or an empty list and the sentence of the
    domain error the API would answer with (no active encoder, the product has no garment yet,
    the product is inactive). The admin "visually similar" panel and the rule preview both use
    it, so they show what shoppers get.
    """
    try:
        result = recommendations_for_product(product_id=product_id, request=RecommendRequest(k=k), today=on)
    except DomainError as error:
        return [], error.message
    return [recommendation.row for recommendation in result.results], ""


@dataclass(frozen=True)
class ProductEmbedding:
    encoder_version: str
    vector: str  # pgvector's text form


def product_query_embedding(*, product_id: int) -> ProductEmbedding | None:
    """The active encoder's vector of the product's query garment (the one the similar endpoint
    uses), or None while nothing is indexed for it. One query."""
    context = queries.recommend_context(product_id=product_id)
    if context.encoder_version is None or context.product_vector is None:
        return None
    return ProductEmbedding(encoder_version=context.encoder_version, vector=context.product_vector)
