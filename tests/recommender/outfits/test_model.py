"""The outfit model on small hand-made street outfits: what each part learns and how it scores."""

from __future__ import annotations

from dataclasses import dataclass

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
    assert (
        model.colour_terms(colour("black"), "top", "trousers")["white"]
        > model.colour_terms(colour("black"), "top", "trousers")["black"]
    )


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
