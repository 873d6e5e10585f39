"""A catalog garment's colour read from its box (GrabCut, the middle half as the fallback), and
the model's stored-colour scoring that the look SQL reproduces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from recommender.outfits import colour_read
from recommender.outfits.model import OutfitModel
from recommender.outfits.street import pixel_sample
from tests.recommender.outfits.test_model import BINS, KINDS, G, colour, name_pixels, painted, palette_street

RED, GREEN, BLUE = (200, 30, 30), (40, 160, 60), (30, 40, 200)


def photo_of_a_red_shirt_on_green() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A red garment (an ellipse, as a shirt is not its box) on a green floor; its box."""
    rng = np.random.default_rng(0)
    image = np.clip(np.array(GREEN) + rng.integers(-10, 11, size=(120, 160, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:120, :160]
    inside = ((xx - 80) / 40) ** 2 + ((yy - 60) / 35) ** 2 <= 1
    image[inside] = np.clip(np.array(RED) + rng.integers(-10, 11, size=(int(inside.sum()), 3)), 0, 255)
    return image, (40, 25, 121, 96)


def red_share(pixels: np.ndarray) -> float:
    return float(np.mean((pixels[:, 0] > 150) & (pixels[:, 1] < 90)))


def test_grabcut_keeps_the_garment_and_leaves_the_floor_the_box_holds():
    image, box = photo_of_a_red_shirt_on_green()
    x1, y1, x2, y2 = box
    whole_box = image[y1:y2, x1:x2].reshape(-1, 3)
    assert red_share(whole_box) < 0.85  # the ellipse leaves the box's corners to the floor
    read = colour_read.garment_pixels(image, box)
    assert red_share(read) > 0.95 and red_share(read) > red_share(whole_box) + 0.1  # edges blend a little
    assert read.dtype == np.uint8 and read.shape[1] == 3 and 0 < len(read) <= 1000


def test_a_box_that_is_the_whole_photo_is_read_from_its_middle_half():
    image, _ = photo_of_a_red_shirt_on_green()
    box = (0, 0, image.shape[1], image.shape[0])
    assert colour_read.grabcut_pixels(image, box) is None  # no surroundings to learn a background from
    read = colour_read.garment_pixels(image, box)
    assert read.tolist() == pixel_sample(colour_read.centre_pixels(image, box)).tolist()
    assert red_share(read) > red_share(image.reshape(-1, 3)) + 0.3  # the middle half is mostly the shirt


def test_a_tiny_box_still_gives_pixels():
    image, _ = photo_of_a_red_shirt_on_green()
    assert len(colour_read.garment_pixels(image, (10, 10, 11, 11))) >= 1


@pytest.fixture
def palette_model() -> OutfitModel:
    return OutfitModel.fit(
        palette_street(), kinds=KINDS, colour_bins=BINS, encoder_version="enc-1", palette_size=3, namer=name_pixels
    )


def test_a_stored_colour_scores_as_the_pixels_it_was_read_from(palette_model):
    top = painted("top", "black", seed=1)
    white = painted("trousers", "white", seed=2)
    stored = palette_model.catalog_colour(white.pixels)
    assert (stored**2).sum() == pytest.approx(1.0)
    product = G("trousers", colour("black"))  # its colour name says black; its stored colour is white
    product.palette_root = stored
    assert palette_model.palette_histogram(product) == pytest.approx(palette_model.palette_histogram(white))
    # the look SQL's term: the stored root histogram against the query's colour vector
    vector = palette_model.colour_vector(top, "trousers")
    terms = palette_model.colour_terms(top, "trousers")
    assert float(stored @ vector) == pytest.approx(terms["white"], abs=0.05)
    assert float(stored @ vector) > terms["black"]
    # and without a palette there is nothing to store
    names_model = OutfitModel.fit(palette_street(), kinds=KINDS, colour_bins=BINS, encoder_version="enc-1")
    assert names_model.catalog_colour(white.pixels) is None


def test_a_read_does_not_depend_on_what_ran_before_it():
    import cv2

    # a real photo: its colours leave k-means's seeding something to decide
    path = sorted((Path(settings.FASHIONREC_DATASET) / "train" / "shoes").glob("*.jpg"))[5]
    with Image.open(path) as photo:
        photo.thumbnail((200, 200))
        image = np.asarray(photo.convert("RGB"))
    height, width = image.shape[:2]
    box = (width // 5, height // 5, 4 * width // 5, 4 * height // 5)
    cv2.setRNGSeed(1)  # another caller left OpenCV's generator here ...
    first = colour_read.garment_pixels(image, box)
    cv2.setRNGSeed(12345)  # ... and another one there (without the reseed, this photo reads otherwise)
    assert colour_read.garment_pixels(image, box).tolist() == first.tolist()
