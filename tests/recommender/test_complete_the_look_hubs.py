"""The hub correction in complete the look: a product that goes with everything no longer tops every row.

A tiny street of four top styles, each worn with its own trousers style, read through wide, warm
neighbourhoods (every top's partner vector blends all styles, its own a little more), and a
catalog of those styles' trousers plus a *hub*: trousers in the middle of every style. Without
the correction (centring 0, as v002) the hub is the best trousers of every top; with it
(centring 1, as v003) each top gets its own style's trousers, through the same single statement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from recommender.models import EMBEDDING_DIM, EncoderVersion, Garment
from recommender.outfits.catalog import COLOUR_BINS, reset_outfit_model
from recommender.outfits.model import OutfitModel, OutfitWeights
from tests.factories import category_create, garment_create, product_create

pytestmark = pytest.mark.django_db
VERSION = "test-hubs"
STYLES = 4


@dataclass
class StreetGarment:
    kind: str
    colours: np.ndarray
    embedding: np.ndarray


def basis() -> np.ndarray:
    """Orthonormal rows: top styles 0..3, trousers styles 4..7."""
    q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(EMBEDDING_DIM, EMBEDDING_DIM)))
    return q.T.astype(np.float32)


def hist(name: str) -> np.ndarray:
    return np.eye(len(COLOUR_BINS))[COLOUR_BINS.index(name)]


@pytest.fixture
def hub_models(tmp_path) -> dict[float, str]:
    """The same street model saved twice: without (0.0) and with (1.0) the hub correction."""
    e = basis()
    street = [
        [
            StreetGarment("top", hist("black"), e[i % STYLES]),
            StreetGarment("trousers", hist("white"), e[STYLES + i % STYLES]),
        ]
        for i in range(10 * STYLES)
    ]
    model = OutfitModel.fit(
        street, kinds=("top", "trousers", "shoes", "hat"), colour_bins=COLOUR_BINS, encoder_version=VERSION
    )
    model.weights = OutfitWeights(kind=0.5, colour=1.0, partners=5.0, neighbours=40, temperature=2.0)
    model.fit_partner_centres()
    folders = {}
    for centring in (0.0, 1.0):
        model.weights = replace(model.weights, centring=centring)
        folders[centring] = str(tmp_path / f"centring-{centring}")
        model.save(tmp_path / f"centring-{centring}")
    yield folders
    reset_outfit_model()


def indexed(product, vector: np.ndarray, label: str) -> None:
    garment = garment_create(product, version=VERSION)
    Garment.objects.filter(pk=garment.pk).update(label=label, embedding=vector.tolist())


@pytest.fixture
def hub_shop(hub_models):
    """A top of each style (the queries), each style's trousers, and the hub trousers."""
    EncoderVersion.objects.create(name=VERSION, is_active=True)
    e = basis()
    tops, trousers = [], []
    for style in range(STYLES):
        top = product_create(category=category_create("women/tops"), colour="black")
        indexed(top, e[style], "top")
        tops.append(top)
        bottom = product_create(category=category_create("women/trousers"), colour="white")
        indexed(bottom, e[STYLES + style], "trousers")
        trousers.append(bottom)
    middle = e[STYLES : 2 * STYLES].sum(axis=0)
    hub = product_create(category=category_create("women/trousers"), colour="white")
    indexed(hub, middle / np.linalg.norm(middle), "trousers")
    return tops, trousers, hub


def best_trousers(client, top) -> list[dict]:
    answer = client.get(f"/api/v1/products/{top.pk}/complete-the-look/", {"k": 5})
    assert answer.status_code == 200
    [row] = answer.json()["looks"]
    assert row["kind"] == "trousers"
    return row["results"]


def use(settings, folder: str) -> None:
    settings.FASHIONREC_OUTFIT_MODEL = folder
    reset_outfit_model()


def test_without_the_correction_the_hub_tops_every_row(client, settings, hub_models, hub_shop):
    tops, _, hub = hub_shop
    use(settings, hub_models[0.0])
    assert [best_trousers(client, top)[0]["product"]["id"] for top in tops] == [hub.pk] * STYLES


def test_with_it_each_top_gets_its_styles_trousers_and_the_hub_no_row(client, settings, hub_models, hub_shop):
    tops, trousers, hub = hub_shop
    use(settings, hub_models[1.0])
    for top, own in zip(tops, trousers, strict=True):
        results = best_trousers(client, top)
        assert results[0]["product"]["id"] == own.pk
        assert hub.pk in [r["product"]["id"] for r in results]  # still offered, lower down
        for r in results:  # the breakdown still adds up to the score
            assert r["score"] == pytest.approx(sum(r["score_breakdown"].values()), abs=1e-6)
            assert 0.0 < r["compatibility"] < 1.0


def test_the_correction_asks_the_database_no_more(client, settings, hub_models, hub_shop, django_assert_num_queries):
    tops, _, _ = hub_shop
    use(settings, hub_models[1.0])
    # context, query garment, planner estimate, the look statement (all kinds), product cards
    with django_assert_num_queries(5):
        assert client.get(f"/api/v1/products/{tops[0].pk}/complete-the-look/").status_code == 200


def test_the_statements_compatibility_is_the_models_centred_score(client, settings, hub_models, hub_shop):
    # given the corrected model and a top with its own style's trousers
    tops, trousers, _ = hub_shop
    use(settings, hub_models[1.0])
    model = OutfitModel.load(hub_models[1.0])
    e = basis()
    # when the look is asked
    first = best_trousers(client, tops[0])[0]
    # then its compatibility is the model's query -> candidate score, each part less the
    # candidate's mean over the street tops: kind + colour (centred) + partners (centred)
    w = model.weights
    query = StreetGarment("top", hist("black"), e[0])
    raw = (
        w.kind * model.kind_pmi("top", "trousers")
        + w.colour * model.colour_terms(query, "trousers")["white"]
        + w.partners * float(e[STYLES] @ model.partner_vector(e[0], "top", "trousers"))
    )
    assert first["product"]["id"] == trousers[0].pk
    assert first["compatibility"] == pytest.approx(float(model.probability(raw)), abs=1e-4)
    # and the centred partners term is not the plain one (the correction reached the statement)
    plain = w.partners * float(e[STYLES] @ model.partner_vector(e[0], "top", "trousers", centred=False))
    assert abs(plain - w.partners * float(e[STYLES] @ model.partner_vector(e[0], "top", "trousers"))) > 0.1
