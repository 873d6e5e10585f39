"""A catalog garment's colour read from its box (the detector's masks of its kind, GrabCut, the
middle half as the fallback), and
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
from recommender.vision.detector import Detection
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


def detection(label: str, box: tuple[int, int, int, int], inside) -> Detection:
    """A segmenting detector's detection whose mask is ``inside`` (a (H, W) bool of the photo) in its box."""
    x1, y1, x2, y2 = box
    return Detection(box=box, label=label, confidence=0.9, mask=inside[y1:y2, x1:x2].copy())


def red_shirt_over_blue_trousers():
    """The red shirt photo with blue trousers below the shirt, overlapping its box's lower part."""
    image, box = photo_of_a_red_shirt_on_green()
    shirt = np.all(np.abs(image.astype(int) - RED) <= 12, axis=2)
    trousers = np.zeros(shirt.shape, bool)
    trousers[80:120, 60:100] = True
    image[trousers] = BLUE
    shirt &= ~trousers
    return image, box, shirt, trousers


def test_a_detected_garment_is_read_through_the_masks_of_its_kind_only():
    # given a shirt whose box also holds the floor and the top of the trousers, both detected with masks
    image, box, shirt, trousers = red_shirt_over_blue_trousers()
    found = [detection("trousers", (60, 80, 100, 120), trousers), detection("top", box, shirt)]

    # when the shirt is read through the detections
    read = colour_read.garment_pixels(image, box, detections=found, kind="top")

    # then only the shirt's pixels are read, neither the floor nor the trousers inside its box
    assert red_share(read) == 1.0
    assert len(read) == min(1000, int(shirt[25:96, 40:121].sum()))
    # while GrabCut on the box keeps some of the trousers' blue
    assert red_share(colour_read.garment_pixels(image, box)) < 1.0


def test_a_garment_of_no_known_kind_is_read_through_every_mask_in_its_box():
    image, box, shirt, trousers = red_shirt_over_blue_trousers()
    found = [detection("trousers", (60, 80, 100, 120), trousers), detection("top", box, shirt)]
    read = colour_read.mask_pixels(image, found, box, "garment")  # a whole-photo garment's label
    assert len(read) == int((shirt | trousers)[25:96, 40:121].sum())
    assert 0 < red_share(read) < 1.0


def test_both_shoes_of_a_pair_are_read_through_their_two_masks():
    image = np.full((60, 100, 3), GREEN, np.uint8)
    left, right = np.zeros((60, 100), bool), np.zeros((60, 100), bool)
    left[40:55, 10:30], right[40:55, 60:80] = True, True
    image[left], image[right] = RED, BLUE
    found = [detection("shoes", (10, 40, 30, 55), left), detection("shoes", (60, 40, 80, 55), right)]
    read = colour_read.mask_pixels(image, found, (5, 35, 85, 58), "shoes")  # one box for the pair
    assert len(read) == 2 * 15 * 20 and red_share(read) == 0.5


def test_without_a_mask_of_its_kind_or_with_too_little_of_one_grabcut_reads_the_box():
    image, box, shirt, trousers = red_shirt_over_blue_trousers()
    grabcut = colour_read.garment_pixels(image, box)
    only_trousers = [detection("trousers", (60, 80, 100, 120), trousers)]
    assert colour_read.garment_pixels(image, box, detections=only_trousers, kind="top").tolist() == grabcut.tolist()
    speck = np.zeros(shirt.shape, bool)
    speck[60, 80 : 80 + colour_read.MIN_MASK_PIXELS - 1] = True
    tiny = [detection("top", box, speck)]
    assert colour_read.mask_pixels(image, tiny, box, "top") is None
    assert colour_read.garment_pixels(image, box, detections=tiny, kind="top").tolist() == grabcut.tolist()
    # a box detector without masks (a boxes-only export) reads as before
    boxes_only = [Detection(box=box, label="top", confidence=0.9)]
    assert colour_read.garment_pixels(image, box, detections=boxes_only, kind="top").tolist() == grabcut.tolist()


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
