"""Street outfits: one mask-cut garment per catalog kind, colours from the garment's own pixels."""

from __future__ import annotations

import numpy as np

from recommender.outfits.street import (
    CATALOG_KINDS,
    NEUTRAL_GREY,
    PIXEL_SAMPLE,
    colour_histogram,
    kind_label_ids,
    lighting_of,
    mask_cut,
    outfit_garments,
    pixel_sample,
)

LABELS = ["null", "skin", "t-shirt", "jeans", "sneakers", "bag", "belt"]


def photo() -> tuple[np.ndarray, np.ndarray]:
    """A 100×60 photo: a red t-shirt, blue jeans, two sneakers apart, a bag and a belt."""
    labels = np.zeros((100, 60), dtype=np.uint8)
    image = np.full((100, 60, 3), 30, dtype=np.uint8)
    labels[10:40, 15:45] = 2
    image[10:40, 15:45] = (200, 20, 20)
    labels[40:85, 18:42] = 3
    image[40:85, 18:42] = (20, 40, 160)
    labels[90:96, 12:22] = 4
    labels[90:96, 38:48] = 4
    labels[30:50, 48:58] = 5
    labels[40:42, 18:42] = 6
    return image, labels


def test_catalog_kinds_are_the_sold_kinds_in_detector_order():
    assert CATALOG_KINDS == ("top", "outerwear", "dress", "trousers", "skirt", "shorts", "shoes", "hat")


def test_label_ids_come_from_the_taxonomy():
    ids = kind_label_ids(LABELS)
    assert ids["top"] == [2] and ids["trousers"] == [3] and ids["shoes"] == [4]
    assert "bag" not in ids  # detected, but not a catalog kind


def test_one_garment_per_kind_and_both_shoes_are_one_garment():
    image, labels = photo()
    garments = outfit_garments(1, image, labels, LABELS, kind_label_ids(LABELS))
    assert [kind for kind, _, _ in garments] == ["top", "trousers", "shoes"]
    shoes_box = garments[2][1]
    assert shoes_box == (12, 90, 48, 96)
    # the belt row inside the jeans' box is not part of the jeans' mask
    trousers_mask = garments[1][2]
    assert not trousers_mask[40, 30] and trousers_mask[50, 30]


def test_a_mask_cut_crop_keeps_only_the_garment_on_neutral_grey():
    image, labels = photo()
    _, box, mask = outfit_garments(1, image, labels, LABELS, kind_label_ids(LABELS))[2]
    crop = np.asarray(mask_cut(image, mask, box))
    assert crop.shape == (6, 36, 3)
    assert tuple(crop[0, 20]) == NEUTRAL_GREY  # the gap between the shoes
    assert tuple(crop[0, 0]) == (30, 30, 30)  # a shoe pixel keeps its colour


def test_colour_histogram_and_lighting_come_from_the_pixels():
    red = np.tile(np.array([[200, 20, 20]], dtype=np.uint8), (50, 1))

    def namer(rgb):
        return np.where(rgb[:, 0] > 0.5, "red", "black")

    assert colour_histogram(red, namer, ("black", "red")).tolist() == [0.0, 1.0]
    assert colour_histogram(red[:0], namer, ("black", "red")).tolist() == [0.5, 0.5]
    luminance, red_green, blue_green = lighting_of(red)
    assert red_green > 0 and abs(blue_green) < 1e-9 and 0 < luminance < 1


def test_the_pixel_sample_is_an_even_bounded_stride_of_the_garments_pixels():
    many = np.arange(3 * 5 * PIXEL_SAMPLE, dtype=np.int64).reshape(-1, 3) % 256
    sample = pixel_sample(many)
    assert sample.shape == (PIXEL_SAMPLE, 3) and sample.dtype == np.uint8
    assert (sample[1] == many[5]).all()  # every 5th pixel
    few = np.full((7, 3), 9, dtype=np.uint8)
    assert pixel_sample(few).shape == (7, 3)
    assert pixel_sample(few[:0]).shape == (0, 3)
