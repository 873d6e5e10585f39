"""Complete-the-look and outfit-score reads: the outfit model's parameters in, the look SQL out.

Round trips for a product's look: 1 context (active encoder, filter ids; ``recommend_context``),
1 query garment (``look_garments``), 1 planner estimate, 1 look statement (every kind at once),
1 product cards. For an uploaded photo the same without the garment lookup. An outfit score
asks the database only for the products it names (1 context + 1 garments), none for photos.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.utils import timezone

from catalog.errors import ProductNotFound
from catalog.filters import ProductFilters
from catalog.garment_kinds import NONE
from catalog.selectors import product_cards
from recommender import queries
from recommender.errors import (
    EncoderSwitching,
    NoActiveEncoder,
    NotIndexed,
    OutfitModelMismatch,
    OutfitModelUnavailable,
)
from recommender.outfits.catalog import get_outfit_model
from recommender.outfits.model import OutfitModel
from recommender.selectors import _check_ids

DEFAULT_K_PER_KIND = 4
MIN_OUTFIT, MAX_OUTFIT = 2, 6


@dataclass(frozen=True)
class QueryGarment:
    """A garment the outfit model can score (``recommender.outfits.model.GarmentLike``)."""

    kind: str
    embedding: np.ndarray
    colours: np.ndarray
    product_id: int | None = None
    # a photo garment's own pixels (street.pixel_sample) for the model's Lab palette; None for a
    # product (the model takes its colour name's palette row)
    pixels: np.ndarray | None = None
    # the whole photo's mean R, G, B (0..1), for the model's lighting normalisation
    # (``recommender.outfits.photo_lighting``); None for a product
    photo_mean: np.ndarray | None = None
    # a product's stored colour (``Garment.outfit_colour``) when the loaded model read it
    palette_root: np.ndarray | None = None


@dataclass(frozen=True)
class LookRequest:
    k: int = DEFAULT_K_PER_KIND  # per kind
    filters: ProductFilters = field(default_factory=ProductFilters)
    kinds: tuple[str, ...] = ()  # () = the model's complementary kinds of the query garment


@dataclass
class LookItem:
    row: queries.LookRow
    card: dict


@dataclass
class LookGroup:
    kind: str
    results: list[LookItem]


@dataclass
class LookResult:
    query_kind: str
    groups: list[LookGroup]
    plan: queries.Plan
    estimated_rows: float
    k: int
    model_version: str
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class OutfitScore:
    score: float
    pairs: list[tuple[int, int, float]]
    garments: list[QueryGarment]
    model_version: str
    encoder_version: str


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def outfit_model(active_version: str | None) -> OutfitModel:
    """The loaded model, checked against the active encoder (domain errors, not file errors)."""
    try:
        model = get_outfit_model()
    except (FileNotFoundError, OSError, ValueError, KeyError):
        raise OutfitModelUnavailable() from None
    if active_version is not None and model.encoder_version != active_version:
        raise OutfitModelMismatch(model.encoder_version, active_version)
    return model


def look_parameters(
    model: OutfitModel, garment: QueryGarment, kinds: Sequence[str]
) -> tuple[list[queries.LookKind], queries.LookScoring]:
    """What the look statement needs from the model: per kind a query vector and kind term, per colour a term."""
    weights = model.weights
    query = np.asarray(garment.embedding, dtype=np.float32)
    names = model.colour_bins
    wanted = []
    for kind in kinds:
        vector = weights.direct * query
        partners = model.partner_vector(query, garment.kind, kind)
        if partners is not None:
            vector = vector + weights.partners * partners
        norm = float(np.linalg.norm(vector))
        unit = vector / norm if norm > 0 else query
        kind_term = weights.kind * model.kind_pmi(garment.kind, kind) if garment.kind in model.kinds else 0.0
        terms = model.colour_terms(garment, kind)
        colour_terms = tuple(weights.colour * terms[name] for name in names)
        # a candidate with a stored colour of this model scores colour_vector · its root histogram
        colour_vector = weights.colour * model.colour_vector(garment, kind) if model.palette is not None else None
        wanted.append(
            queries.LookKind(
                kind=kind,
                vector=queries.vector_literal(unit),
                norm=norm,
                kind_term=kind_term,
                colour_terms=colour_terms,
                colour_default=float(np.mean(colour_terms)),
                colour_vector=None if colour_vector is None else queries.vector_literal(colour_vector),
            )
        )
    scoring = queries.LookScoring(
        colour_names=tuple(names),
        calibration=model.calibration,
        colour_model=model.colour_key,
    )
    return wanted, scoring


def _kinds(model: OutfitModel, query_kind: str, asked: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(asked)) if asked else model.complementary_kinds(query_kind)


def _run(
    *,
    model: OutfitModel,
    garment: QueryGarment,
    version: str,
    request: LookRequest,
    context: queries.QueryContext,
    exclude: tuple[int, ...],
    user_id: int | None,
    today: dt.date | None,
    timings: dict[str, float],
) -> LookResult:
    k = min(request.k, settings.FASHIONREC_RECOMMEND_K_MAX)
    filters = dataclasses.replace(
        request.filters,
        category_paths=context.category_paths if request.filters.category_id is not None else (),
        exclude=exclude,
    )
    kinds = _kinds(model, garment.kind, request.kinds)
    wanted, scoring = look_parameters(model, garment, kinds)
    start = time.perf_counter()
    estimate = queries.estimate_rows(version=version, filters=filters)
    plan = queries.choose_plan(estimate)
    rows = queries.complete_the_look(
        kinds=wanted,
        scoring=scoring,
        version=version,
        filters=filters,
        k=k,
        plan=plan,
        today=today or timezone.localdate(),
        user_id=user_id,
    )
    timings["query"] = _ms(start)
    start = time.perf_counter()
    cards = product_cards(row.product_id for row in rows)
    timings["hydrate"] = _ms(start)
    groups = [
        LookGroup(
            kind=kind,
            results=[
                LookItem(row=r, card=cards[r.product_id]) for r in rows if r.kind == kind and r.product_id in cards
            ],
        )
        for kind in kinds
    ]
    return LookResult(
        query_kind=garment.kind,
        groups=groups,
        plan=plan,
        estimated_rows=estimate.filtered_rows,
        k=k,
        model_version=model.version,
        timings_ms=timings,
    )


def garment_kind(row: dict) -> str:
    """The kind of a product's query garment (a ``look_garments`` row): the product's category
    kind, as the look statement counts its candidates (``queries._LOOK_FILLS_KIND``), so a flat-lay
    photo the detector found nothing in (a whole-image garment, label "garment") is a top when
    sold as one, and so is a shirt the detector called outerwear (22 % of the demo catalog's main
    garments carry another label than their category's kind). The detector's label only for a
    product whose category has no garment kind."""
    if row["category_kind"] != NONE:
        return row["category_kind"]
    return row["label"]


def _garment_of(row: dict, model: OutfitModel) -> QueryGarment:
    return QueryGarment(
        kind=garment_kind(row),
        embedding=np.asarray(json.loads(row["vector"]), dtype=np.float32),  # pgvector text is a JSON list
        colours=model.one_hot(row["colour"]),
        product_id=row["product_id"],
        palette_root=stored_colour(row, model),
    )


def stored_colour(row: dict, model: OutfitModel) -> np.ndarray | None:
    """A catalog garment's stored root palette histogram, if this model read it (else None: the
    model takes the product's colour name)."""
    if row.get("outfit_colour") is None or row.get("outfit_colour_model") != model.colour_key:
        return None
    return np.asarray(json.loads(row["outfit_colour"]), dtype=np.float64)


def look_for_product(
    *, product_id: int, request: LookRequest, user_id: int | None = None, today: dt.date | None = None
) -> LookResult:
    """Products that complete the look of a catalog product's main garment (the product excluded)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    context = queries.recommend_context(
        product_id=product_id,
        category_id=request.filters.category_id,
        brand_id=request.filters.brand_id,
        season_id=request.filters.season_id,
    )
    if not context.product_found or not context.product_active:
        raise ProductNotFound(product_id)
    _check_ids(context, request.filters)
    if context.encoder_version is None:
        raise NoActiveEncoder()
    model = outfit_model(context.encoder_version)
    found = queries.look_garments(product_ids=[product_id], version=context.encoder_version)
    if product_id not in found:
        raise NotIndexed(product_id)
    timings["lookup"] = _ms(start)
    return _run(
        model=model,
        garment=_garment_of(found[product_id], model),
        version=context.encoder_version,
        request=request,
        context=context,
        exclude=tuple(sorted({product_id, *request.filters.exclude})),
        user_id=user_id,
        today=today,
        timings=timings,
    )


def look_for_garment(
    *,
    garment: QueryGarment,
    encoder_version: str,
    request: LookRequest,
    user_id: int | None = None,
    today: dt.date | None = None,
    timings: dict[str, float] | None = None,
) -> LookResult:
    """Products that complete the look of a garment from an uploaded photo."""
    timings = dict(timings or {})
    start = time.perf_counter()
    context = queries.recommend_context(
        category_id=request.filters.category_id,
        brand_id=request.filters.brand_id,
        season_id=request.filters.season_id,
    )
    timings["lookup"] = _ms(start)
    _check_ids(context, request.filters)
    if context.encoder_version is None:
        raise NoActiveEncoder()
    if context.encoder_version != encoder_version:
        raise EncoderSwitching(encoder_version, context.encoder_version)
    return _run(
        model=outfit_model(encoder_version),
        garment=garment,
        version=encoder_version,
        request=request,
        context=context,
        exclude=tuple(sorted(set(request.filters.exclude))),
        user_id=user_id,
        today=today,
        timings=timings,
    )


def product_garments(product_ids: Sequence[int]) -> tuple[list[QueryGarment], str]:
    """The main garments of catalog products, in the order asked, and the active encoder version."""
    context = queries.recommend_context()
    if context.encoder_version is None:
        raise NoActiveEncoder()
    model = outfit_model(context.encoder_version)
    if not product_ids:
        return [], context.encoder_version
    found = queries.look_garments(product_ids=list(product_ids), version=context.encoder_version)
    garments = []
    for product_id in product_ids:
        if product_id not in found:
            # distinguish "no such (active) product" from "not indexed yet" only when it matters
            from catalog.models import Product

            if not Product.objects.filter(pk=product_id, is_active=True).exists():
                raise ProductNotFound(product_id)
            raise NotIndexed(product_id)
        garments.append(_garment_of(found[product_id], model))
    return garments, context.encoder_version


def score_outfit(garments: Sequence[QueryGarment], encoder_version: str) -> OutfitScore:
    """The set's compatibility (mean of its pairs) and every pair's, each in [0, 1]."""
    if not MIN_OUTFIT <= len(garments) <= MAX_OUTFIT:
        raise ValueError(f"an outfit has {MIN_OUTFIT} to {MAX_OUTFIT} garments")
    model = outfit_model(encoder_version)
    score, pairs = model.set_score(list(garments))
    return OutfitScore(
        score=score,
        pairs=pairs,
        garments=list(garments),
        model_version=model.version,
        encoder_version=encoder_version,
    )
