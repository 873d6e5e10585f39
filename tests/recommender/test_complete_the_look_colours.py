"""Complete the look reads a catalog garment's stored colour (``Garment.outfit_colour``) when the
loaded outfit model read it, and the product's colour name otherwise."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from catalog.filters import ProductFilters
from recommender import outfit_selectors as looks
from recommender import queries
from recommender.models import EncoderVersion, Garment
from recommender.outfits.catalog import reset_outfit_model
from recommender.outfits.evaluation import look_score
from tests.factories import (
    PAINT,
    category_create,
    garment_create,
    outfit_palette_model_create,
    painted_pixels,
    product_create,
    unit_vector,
)

pytestmark = pytest.mark.django_db
VERSION = "test-v1"


@pytest.fixture
def palette_model(settings, tmp_path):
    model = outfit_palette_model_create(tmp_path / "v009", encoder_version=VERSION)
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "v009")
    reset_outfit_model()
    yield model
    reset_outfit_model()


def stored(garment: Garment, model, paint: str, *, version: str | None = None) -> None:
    root = model.catalog_colour(painted_pixels(PAINT[paint], seed=garment.pk))
    Garment.objects.filter(pk=garment.pk).update(
        outfit_colour=root.astype(np.float32).tolist(), outfit_colour_model=version or model.colour_key
    )


def kinded(path: str, colour: str, label: str, seed: int):
    product = product_create(category=category_create(path), colour=colour)
    garment = garment_create(product, seed=seed, version=VERSION)
    Garment.objects.filter(pk=garment.pk).update(label=label)
    return product, garment


@pytest.fixture
def shop(palette_model):
    """A black top; two trousers named grey, of one embedding, one white and one black in their photos."""
    EncoderVersion.objects.create(name=VERSION, is_active=True)
    query, query_garment = kinded("women/tops", "black", "top", seed=1)
    stored(query_garment, palette_model, "black")
    white, white_garment = kinded("women/trousers", "grey", "trousers", seed=5)
    black, black_garment = kinded("women/trousers", "grey", "trousers", seed=5)
    stored(white_garment, palette_model, "white")
    stored(black_garment, palette_model, "black")
    return query, white, black


def compatibilities(query) -> dict[int, float]:
    result = looks.look_for_product(product_id=query.pk, request=looks.LookRequest(k=4, kinds=("trousers",)))
    return {item.row.product_id: item.row.compatibility for item in result.groups[0].results}


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_candidates_are_scored_by_the_colour_their_photo_shows_not_their_name(shop, palette_model):
    query, white, black = shop
    scores = compatibilities(query)
    # both are named grey and share an embedding: only their stored colours tell them apart
    assert scores[white.pk] > scores[black.pk]
    # by exactly the model's colour term: calibration a x colour weight x colour vector · (r_white - r_black)
    row = queries.look_garments(product_ids=[query.pk], version=VERSION)[query.pk]
    garment = looks._garment_of(row, palette_model)
    vector = palette_model.colour_vector(garment, "trousers")
    roots = dict(Garment.objects.filter(product__in=[white, black]).values_list("product_id", "outfit_colour"))
    expected = (
        palette_model.calibration[0]
        * palette_model.weights.colour
        * float(vector @ (np.asarray(roots[white.pk]) - np.asarray(roots[black.pk])))
    )
    assert logit(scores[white.pk]) - logit(scores[black.pk]) == pytest.approx(expected, abs=1e-4)
    # and each is the benchmark's look score (recommender.outfits.evaluation), calibrated
    for product in (white, black):
        candidate = looks.QueryGarment(
            kind="trousers",
            embedding=np.asarray(unit_vector(5), dtype=np.float32),
            colours=palette_model.one_hot("grey"),
            palette_root=np.asarray(roots[product.pk]),
        )
        raw = look_score(palette_model, garment, candidate)
        assert scores[product.pk] == pytest.approx(float(palette_model.probability(raw)), abs=1e-5)


def test_a_colour_read_by_another_model_is_not_used(shop, palette_model):
    query, white, black = shop
    Garment.objects.filter(product__in=[white, black]).update(outfit_colour_model="v-older")
    scores = compatibilities(query)
    # both fall back to their colour name, grey: the same score
    assert scores[white.pk] == pytest.approx(scores[black.pk])


def test_the_product_pages_query_garment_takes_its_stored_colour(shop, palette_model):
    query, _, _ = shop
    row = queries.look_garments(product_ids=[query.pk], version=VERSION)[query.pk]
    garment = looks._garment_of(row, palette_model)
    assert garment.palette_root is not None
    assert palette_model.palette_histogram(garment) == pytest.approx(
        palette_model.palette_histogram(
            looks.QueryGarment("top", garment.embedding, garment.colours, pixels=painted_pixels(PAINT["black"]))
        )
    )
    # read by another model: the product's colour name instead
    Garment.objects.filter(product=query).update(outfit_colour_model="v-older")
    row = queries.look_garments(product_ids=[query.pk], version=VERSION)[query.pk]
    assert looks._garment_of(row, palette_model).palette_root is None


def test_a_model_of_the_same_name_with_another_palette_does_not_read_the_stored_colours(
    shop, palette_model, settings, tmp_path
):
    query, white, black = shop
    # given: a model of the same version name, whose palette has another size (the inner product would fail)
    other = outfit_palette_model_create(tmp_path / "other" / "v009", encoder_version=VERSION, palette_size=3)
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "other" / "v009")
    reset_outfit_model()
    assert other.version == palette_model.version
    assert other.colour_key != Garment.objects.get(product=white).outfit_colour_model
    # then: the look is answered from the colour names (both grey: one score), not an error
    scores = compatibilities(query)
    assert scores[white.pk] == pytest.approx(scores[black.pk])


@pytest.mark.parametrize("plan", ["ann", "exact"])
def test_both_plans_read_the_stored_colours_alike(shop, palette_model, plan):
    query, white, black = shop
    row = queries.look_garments(product_ids=[query.pk], version=VERSION)[query.pk]
    wanted, scoring = looks.look_parameters(palette_model, looks._garment_of(row, palette_model), ["trousers"])
    rows = queries.complete_the_look(
        kinds=wanted,
        scoring=scoring,
        version=VERSION,
        filters=ProductFilters(),
        k=4,
        plan=plan,
        today=dt.date(2026, 3, 15),
    )
    scores = {r.product_id: r.compatibility for r in rows}
    assert scores == pytest.approx(compatibilities(query), abs=1e-5)
    assert scores[white.pk] > scores[black.pk]
