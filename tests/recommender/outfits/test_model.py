"""The outfit model on small hand-made street outfits: what each part learns and how it scores."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pytest

from recommender.outfits.model import OutfitModel, OutfitWeights

BINS = ("black", "white", "red")
KINDS = ("top", "trousers", "skirt", "dress", "shoes")


@dataclass
class G:
    kind: str
    colours: np.ndarray
    embedding: np.ndarray | None = None
    pixels: np.ndarray | None = None


RGB = {"black": (15, 15, 20), "white": (240, 240, 235), "red": (200, 20, 25)}


def name_pixels(rgb: np.ndarray) -> np.ndarray:
    """A toy colour namer (the catalog's is catalog_import.colour_names): the nearest of RGB."""
    centres = np.array([RGB[name] for name in BINS]) / 255.0
    return np.array(BINS)[np.argmin(((rgb[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)]


def painted(kind: str, name: str, embedding=None, seed: int = 0) -> G:
    """A street garment whose pixels are ``name``'s colour, a little noisy."""
    noise = np.random.default_rng(seed).integers(-8, 9, size=(50, 3))
    pixels = np.clip(np.array(RGB[name]) + noise, 0, 255).astype(np.uint8)
    return G(kind, colour(name), embedding, pixels)


def colour(name: str) -> np.ndarray:
    return np.eye(len(BINS))[BINS.index(name)]


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=16)
    return (v / np.linalg.norm(v)).astype(np.float32)


def street() -> list[list[G]]:
    """Tops with trousers or skirts (never dresses); a black top always meets white bottoms; each
    top style (seed 1 or 2) is worn with its own trousers style (seed 11 or 12)."""
    outfits = []
    for i in range(40):
        style = 1 + i % 2
        outfits.append(
            [
                G("top", colour("black"), unit(style)),
                G("trousers" if i % 4 < 2 else "skirt", colour("white"), unit(10 + style)),
                G("shoes", colour("red"), unit(20)),
            ]
        )
    for _ in range(10):
        outfits.append([G("dress", colour("red"), unit(30)), G("shoes", colour("black"), unit(21))])
    return outfits


@pytest.fixture
def model() -> OutfitModel:
    return OutfitModel.fit(street(), kinds=KINDS, colour_bins=BINS, encoder_version="enc-1")


def test_complementary_kinds_are_the_kinds_worn_with_it_and_never_its_own(model):
    assert model.complementary_kinds("top") == ["shoes", "trousers", "skirt"]
    assert "top" not in model.complementary_kinds("top")
    assert "skirt" not in model.complementary_kinds("dress")
    assert model.complementary_kinds("top", include_own=True)[0] in ("top", "shoes")
    assert "top" in model.complementary_kinds("top", include_own=True)


def test_kind_pmi_is_high_for_kinds_worn_together_and_low_for_exclusive_ones(model):
    assert model.kind_pmi("top", "trousers") > 0 > model.kind_pmi("dress", "skirt")


def test_colour_harmony_prefers_the_combinations_seen_in_the_street(model):
    black_top = G("top", colour("black"))
    assert (
        model.pair_features(black_top, G("trousers", colour("white")))[1]
        > model.pair_features(black_top, G("trousers", colour("black")))[1]
    )
    assert model.colour_terms(black_top, "trousers")["white"] > model.colour_terms(black_top, "trousers")["black"]


def test_partner_vector_points_at_what_people_with_a_similar_garment_wore(model):
    model.weights = OutfitWeights(neighbours=5, temperature=0.05)
    query = unit(1) + 0.1 * unit(99)
    partners = model.partner_vector(query / np.linalg.norm(query), "top", "trousers")
    assert partners @ unit(11) > 0.95
    assert partners @ unit(11) > partners @ unit(12) + 0.3
    assert model.partner_vector(unit(1), "top", "hat") is None


def test_pair_and_set_scores_are_probabilities_and_rank_the_worn_pair_first(model):
    top = G("top", colour("black"), unit(1))
    worn = G("trousers", colour("white"), unit(11))
    other = G("trousers", colour("black"), unit(12))
    assert 0.0 <= model.pair_score(top, other) < model.pair_score(top, worn) <= 1.0
    score, pairs = model.set_score([top, worn, G("shoes", colour("red"), unit(20))])
    assert 0.0 <= score <= 1.0
    assert [(a, b) for a, b, _ in pairs] == [(0, 1), (0, 2), (1, 2)]
    assert score == pytest.approx(np.mean([s for _, _, s in pairs]))
    with pytest.raises(ValueError):
        model.set_score([top])


def test_a_saved_model_loads_with_the_same_scores(model, tmp_path):
    model.calibration = (2.0, -0.5)
    model.save(tmp_path / "v009")
    loaded = OutfitModel.load(tmp_path / "v009")
    top, worn = G("top", colour("black"), unit(1)), G("trousers", colour("white"), unit(11))
    assert loaded.encoder_version == "enc-1"
    assert loaded.pair_score(top, worn) == pytest.approx(model.pair_score(top, worn), abs=1e-3)
    assert loaded.complementary_kinds("top") == model.complementary_kinds("top")


def test_loading_something_else_is_refused(tmp_path):
    (tmp_path / "model.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError):
        OutfitModel.load(tmp_path)


def palette_street() -> list[list[G]]:
    """Black tops with white trousers; red tops with black trousers (pixels, no names needed)."""
    outfits = []
    for i in range(40):
        top, bottom = ("black", "white") if i % 2 else ("red", "black")
        outfits.append([painted("top", top, seed=i), painted("trousers", bottom, seed=100 + i)])
    return outfits


@pytest.fixture
def palette_model() -> OutfitModel:
    return OutfitModel.fit(
        palette_street(), kinds=KINDS, colour_bins=BINS, encoder_version="enc-1", palette_size=3, namer=name_pixels
    )


def test_the_palette_harmony_learns_from_pixels_and_ranks_the_worn_bottom_first(palette_model):
    # given a black top and a red top from the street (pixels, not names)
    black_top, red_top = painted("top", "black", seed=7), painted("top", "red", seed=8)
    white, black = painted("trousers", "white", seed=9), painted("trousers", "black", seed=10)
    # then each prefers the bottom it was worn with
    assert palette_model.colour_score(black_top, white) > palette_model.colour_score(black_top, black)
    assert palette_model.colour_score(red_top, black) > palette_model.colour_score(red_top, white)
    histogram = palette_model.palette_histogram(black_top)
    assert histogram.shape == (3,) and histogram.sum() == pytest.approx(1.0) and histogram.max() == 1.0


def test_a_product_without_pixels_gets_its_colour_names_palette_row(palette_model):
    # a catalog product: only its colour name
    product = G("trousers", colour("white"))
    street_white = painted("trousers", "white", seed=3)
    assert palette_model.palette_histogram(product) == pytest.approx(palette_model.palette_histogram(street_white))
    # the SQL's colour term per colour name is the Python colour score against such a product
    top = painted("top", "black", seed=4)
    terms = palette_model.colour_terms(top, "trousers")
    for name in BINS:
        assert terms[name] == pytest.approx(palette_model.colour_score(top, G("trousers", colour(name))))
    # and the same from the other side (the query garment of the later kind)
    assert palette_model.colour_terms(street_white, "top")["black"] == pytest.approx(
        palette_model.colour_score(G("top", colour("black")), street_white)
    )


def test_a_palette_needs_the_namer():
    with pytest.raises(ValueError):
        OutfitModel.fit(palette_street(), kinds=KINDS, colour_bins=BINS, encoder_version="e", palette_size=3)


def test_a_saved_palette_model_and_a_format_1_model_load(palette_model, tmp_path):
    palette_model.save(tmp_path / "v002")
    loaded = OutfitModel.load(tmp_path / "v002")
    top, white = painted("top", "black", seed=1), painted("trousers", "white", seed=2)
    assert loaded.palette is not None
    assert loaded.colour_score(top, white) == pytest.approx(palette_model.colour_score(top, white))
    # v001's files (format 1, no palette): the harmony stays over the colour names
    names_model = OutfitModel.fit(street(), kinds=KINDS, colour_bins=BINS, encoder_version="enc-1")
    names_model.save(tmp_path / "v001")
    meta = json.loads((tmp_path / "v001" / "model.json").read_text())
    (tmp_path / "v001" / "model.json").write_text(json.dumps({**meta, "format": "fashionrec-outfits/1"}))
    old = OutfitModel.load(tmp_path / "v001")
    assert old.palette is None
    assert old.colour_score(G("top", colour("black")), G("trousers", colour("white"))) == pytest.approx(
        names_model.colour_score(G("top", colour("black")), G("trousers", colour("white")))
    )


# --- the hub correction (centring) ------------------------------------------------------------

STYLES = 4


def basis(dim: int = 16) -> np.ndarray:
    """Orthonormal rows: tops styles 0..3, trousers styles 4..7."""
    q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(dim, dim)))
    return q.T.astype(np.float32)


def hub_street() -> list[list[G]]:
    """Four top styles, each worn with its own trousers style, ten outfits each."""
    e = basis()
    return [
        [G("top", colour("black"), e[i % STYLES]), G("trousers", colour("white"), e[STYLES + i % STYLES])]
        for i in range(10 * STYLES)
    ]


@pytest.fixture
def hub_model() -> OutfitModel:
    # wide, warm neighbourhoods: each top's partner vector blends every style, its own a little more
    model = OutfitModel.fit(hub_street(), kinds=KINDS, colour_bins=BINS, encoder_version="enc-1")
    model.weights = OutfitWeights(kind=0.5, colour=1.0, partners=5.0, neighbours=40, temperature=2.0)
    model.fit_partner_centres()
    return model


def partners_ranking(model: OutfitModel, query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    return np.argsort(-(candidates @ model.partner_vector(query, "top", "trousers")), kind="stable")


def test_without_the_correction_a_garment_near_every_partner_tops_every_look(hub_model):
    # given the four trousers styles and a hub: the middle of them, a little like every style
    e = basis()
    trousers = e[STYLES : 2 * STYLES]
    hub = trousers.sum(axis=0) / np.linalg.norm(trousers.sum(axis=0))
    candidates = np.vstack([trousers, hub])
    # then without centring the hub is every top's best trousers, its own style second
    for style in range(STYLES):
        assert partners_ranking(hub_model, e[style], candidates)[:2].tolist() == [STYLES, style]
    # and with it each top gets the trousers its style was worn with, the hub never first
    hub_model.weights = replace(hub_model.weights, centring=1.0)
    for style in range(STYLES):
        assert partners_ranking(hub_model, e[style], candidates)[0] == style


def test_the_centres_are_the_mean_over_the_kinds_street_garments(hub_model):
    # the partner centre: the mean partner vector of the street tops, each left out of its neighbours
    top, trousers = KINDS.index("top"), KINDS.index("trousers")
    centre = hub_model.partner_centres[top, trousers]
    assert np.linalg.norm(centre) > 0
    e = basis()
    assert centre @ e[STYLES] == pytest.approx(centre @ e[STYLES + 1], abs=1e-4)  # no style favoured
    assert not hub_model.partner_centres[top, KINDS.index("shoes")].any()  # nobody wore shoes here
    # the colour centre: the kind's mean root histogram (every street top is black)
    assert hub_model.colour_centres[top] == pytest.approx(colour("black"))


def test_with_full_centring_every_colours_mean_term_over_the_street_tops_is_zero(model):
    # given the street's tops (black); the colour term a trousers product of each colour gets
    tops = [g for outfit in street() for g in outfit if g.kind == "top"]
    model.weights = replace(model.weights, centring=1.0)
    terms = np.array([[t[name] for name in BINS] for t in (model.colour_terms(g, "trousers") for g in tops)])
    # then no colour scores above the others on average: what is left is how a query differs
    assert terms.mean(axis=0) == pytest.approx(np.zeros(len(BINS)), abs=1e-12)
    model.weights = replace(model.weights, centring=0.0)
    assert np.ptp(np.array([model.colour_terms(tops[0], "trousers")[n] for n in BINS])) > 0


def test_a_centred_pair_score_is_the_mean_of_its_two_directions(model):
    model.weights = replace(model.weights, centring=1.0)
    top, white = G("top", colour("red")), G("trousers", colour("white"))
    assert model.colour_score(top, white) == pytest.approx(
        0.5 * (model.colour_terms(top, "trousers")["white"] + model.colour_terms(white, "top")["red"])
    )
    assert model.colour_score(top, white) == pytest.approx(model.colour_score(white, top))


def test_centring_zero_scores_as_before_and_the_centres_survive_a_save(hub_model, tmp_path):
    e = basis()
    top, bottom = G("top", colour("black"), e[0]), G("trousers", colour("white"), e[STYLES])
    plain = hub_model.pair_score(top, bottom)
    raw = hub_model.partner_vector(e[0], "top", "trousers", centred=False)
    assert hub_model.partner_vector(e[0], "top", "trousers") == pytest.approx(raw)  # centring 0: off
    hub_model.weights = replace(hub_model.weights, centring=1.0)
    assert hub_model.pair_score(top, bottom) != pytest.approx(plain)
    hub_model.save(tmp_path / "v003")
    loaded = OutfitModel.load(tmp_path / "v003")
    assert loaded.weights.centring == 1.0
    assert loaded.pair_score(top, bottom) == pytest.approx(hub_model.pair_score(top, bottom), abs=1e-3)
    # a v002 folder (format 2: no centres, no centring weight) loads without the correction
    meta = json.loads((tmp_path / "v003" / "model.json").read_text())
    meta["weights"].pop("centring")
    (tmp_path / "v003" / "model.json").write_text(json.dumps({**meta, "format": "fashionrec-outfits/2"}))
    assert OutfitModel.load(tmp_path / "v003").weights.centring == 0.0


@pytest.mark.filterwarnings("error")
def test_a_garment_with_no_neighbour_but_itself_leaves_a_zero_partner_centre():
    # one top worn with trousers: left out of its own neighbours, it has none
    lone = [[G("top", colour("black"), unit(1)), G("trousers", colour("white"), unit(2))]]
    model = OutfitModel.fit(lone, kinds=KINDS, colour_bins=BINS, encoder_version="enc-1")
    assert not model.partner_centres.any()
