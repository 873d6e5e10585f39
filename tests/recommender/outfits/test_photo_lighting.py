"""Photo lighting: the gains of each method, and a model that reads its garments' pixels through one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recommender.outfits import photo_lighting
from recommender.outfits.model import OutfitModel, garment_pixels, rgb_to_lab
from tests.recommender.outfits.test_model import BINS, KINDS, G, colour, name_pixels

BLUE_CAST = np.array([0.8, 0.9, 1.2])  # a shade on a sunny day: blue up, red down


def test_grey_world_takes_every_channel_mean_to_the_target():
    mean = np.array([0.6, 0.5, 0.3])
    assert mean * photo_lighting.gains(mean, photo_lighting.GREY_WORLD) == pytest.approx([0.45] * 3)


def test_white_balance_evens_the_channels_and_keeps_the_brightness():
    mean = np.array([0.6, 0.5, 0.4])
    balanced = mean * photo_lighting.gains(mean, photo_lighting.WHITE_BALANCE)
    assert balanced == pytest.approx([0.5] * 3)
    # a bright studio photo stays bright (grey world would darken it to 0.45)
    white = np.array([0.9, 0.9, 0.9])
    assert photo_lighting.gains(white, photo_lighting.WHITE_BALANCE) == pytest.approx([1.0] * 3)
    assert white * photo_lighting.gains(white, photo_lighting.GREY_WORLD) == pytest.approx([0.45] * 3)


def test_the_clamped_method_limits_each_gain():
    # a photo that one red garment fills: unclamped, its red would be cut by more than half
    mean = np.array([0.7, 0.15, 0.15])
    assert photo_lighting.gains(mean, photo_lighting.WHITE_BALANCE)[0] < 0.5
    clamped = photo_lighting.gains(mean, photo_lighting.WHITE_BALANCE_CLAMPED)
    assert clamped.min() == pytest.approx(0.8) and clamped.max() == pytest.approx(1.25)


def test_none_or_an_unknown_photo_leaves_the_pixels_as_they_are_and_bright_ones_are_clipped():
    pixels = np.array([[10, 200, 250], [0, 0, 0]], dtype=np.uint8)
    assert photo_lighting.normalise(pixels, np.array([0.2, 0.5, 0.8]), photo_lighting.NONE) is pixels
    assert photo_lighting.normalise(pixels, None, photo_lighting.WHITE_BALANCE) is pixels
    normalised = photo_lighting.normalise(pixels, np.array([0.4, 0.5, 0.8]), photo_lighting.GREY_WORLD)
    assert normalised.dtype == np.uint8
    assert normalised[0].tolist() == [11, 180, 141] and normalised[1].tolist() == [0, 0, 0]
    assert photo_lighting.normalise(np.array([[250, 10, 10]], np.uint8), np.full(3, 0.2), "grey_world")[0, 0] == 255


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown lighting method"):
        photo_lighting.gains(np.full(3, 0.5), "sepia")


def test_a_photo_mean_reads_the_whole_photo():
    image = np.zeros((10, 20, 3), dtype=np.uint8)
    image[:, :10] = (255, 0, 0)
    assert photo_lighting.photo_mean(image) == pytest.approx([0.5, 0.0, 0.0])
    assert photo_lighting.photo_mean(np.zeros((0, 3), np.uint8)) == pytest.approx([0.5] * 3)


def cast(kind: str, rgb: tuple[int, int, int], seed: int) -> G:
    """A garment photographed under ``BLUE_CAST``, its photo's mean the cast on mid grey."""
    noise = np.random.default_rng(seed).integers(-4, 5, size=(60, 3))
    pixels = np.clip((np.array(rgb) + noise) * BLUE_CAST, 0, 255).astype(np.uint8)
    garment = G(kind, colour("white"), None, pixels)
    garment.photo_mean = 0.5 * BLUE_CAST
    return garment


def blue_day_street() -> list[list[G]]:
    """Light grey tops with dark grey trousers, every photo under the same blue cast."""
    return [[cast("top", (180, 180, 180), i), cast("trousers", (60, 60, 60), 100 + i)] for i in range(30)]


def fit(lighting: str) -> OutfitModel:
    return OutfitModel.fit(
        blue_day_street(),
        kinds=KINDS,
        colour_bins=BINS,
        encoder_version="enc-1",
        palette_size=2,
        namer=name_pixels,
        lighting=lighting,
    )


def test_a_model_with_a_lighting_method_learns_its_palette_from_normalised_pixels():
    # as photographed, the light grey tops are blue (Lab b clearly negative)
    raw = fit(photo_lighting.NONE)
    light_raw = raw.palette[np.argmax(raw.palette[:, 0])]
    assert light_raw[2] < -10
    # white balanced, the same tops are grey again
    balanced = fit(photo_lighting.WHITE_BALANCE)
    light = balanced.palette[np.argmax(balanced.palette[:, 0])]
    assert abs(light[1]) < 3 and abs(light[2]) < 3
    assert balanced.lighting == photo_lighting.WHITE_BALANCE


def test_the_model_reads_a_garment_through_its_method_and_an_unknown_photo_as_it_is():
    model = fit(photo_lighting.WHITE_BALANCE)
    garment = cast("top", (180, 180, 180), seed=5)
    expected = photo_lighting.normalise(garment.pixels, garment.photo_mean, photo_lighting.WHITE_BALANCE)
    assert garment_pixels(garment, model.lighting).tolist() == expected.tolist()
    nearest = np.argmin(((rgb_to_lab(expected)[:, None] - model.palette[None]) ** 2).sum(axis=2), axis=1)
    assert model.palette_histogram(garment) == pytest.approx(np.bincount(nearest, minlength=2) / len(nearest))
    # a garment without its photo's mean (pixels from elsewhere) is read as it is
    unknown = G("top", colour("white"), None, garment.pixels)
    assert garment_pixels(unknown, model.lighting) is garment.pixels


def test_the_method_survives_a_save_and_older_or_foreign_files_are_handled(tmp_path):
    model = fit(photo_lighting.WHITE_BALANCE_CLAMPED)
    model.save(tmp_path / "v005")
    loaded = OutfitModel.load(tmp_path / "v005")
    top, trousers = cast("top", (180, 180, 180), 1), cast("trousers", (60, 60, 60), 2)
    assert loaded.lighting == photo_lighting.WHITE_BALANCE_CLAMPED
    assert loaded.colour_score(top, trousers) == pytest.approx(model.colour_score(top, trousers))
    # a format-3 file (v003, v004) has no method: it reads pixels as photographed
    meta = json.loads((tmp_path / "v005" / "model.json").read_text())
    del meta["lighting"]
    (tmp_path / "v005" / "model.json").write_text(json.dumps({**meta, "format": "fashionrec-outfits/3"}))
    assert OutfitModel.load(tmp_path / "v005").lighting == photo_lighting.NONE
    # an unknown method is refused rather than read wrongly
    (tmp_path / "v005" / "model.json").write_text(json.dumps({**meta, "lighting": "sepia"}))
    with pytest.raises(ValueError, match="unknown lighting method"):
        OutfitModel.load(tmp_path / "v005")
    with pytest.raises(ValueError, match="unknown lighting method"):
        fit("sepia")
