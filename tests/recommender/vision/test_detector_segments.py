import cv2
import numpy as np
from PIL import Image, ImageDraw

from recommender.vision.detector_data import boxes_from_label_map, flat_lay_box
from recommender.vision.detector_segments import (
    box_outline,
    flat_lay_outline,
    mask_outline,
    outlines_from_label_map,
    yolo_segment_line,
)

NAMES = ["null", "skin", "shirt", "jacket", "shoes", "sneakers", "pants", "bag", "sunglasses"]


def _person_label_map() -> np.ndarray:
    labels = np.zeros((400, 200), np.uint8)
    labels[60:160, 50:150] = NAMES.index("shirt")
    labels[100:110, 40:160] = NAMES.index("skin")  # an arm across the shirt splits it in two
    labels[60:160, 40:50] = NAMES.index("jacket")  # open jacket: two halves either side of the shirt
    labels[60:160, 150:160] = NAMES.index("jacket")
    labels[170:340, 60:140] = NAMES.index("pants")
    labels[200:340, 98:102] = 0  # gap between the legs
    labels[350:380, 50:90] = NAMES.index("shoes")
    labels[350:380, 110:150] = NAMES.index("sneakers")  # the other shoe, another CCP label, same class
    labels[10:13, 10:13] = NAMES.index("bag")  # a 9-pixel speck
    labels[20:30, 90:110] = NAMES.index("sunglasses")  # dropped class
    labels[300:312, 170:182] = NAMES.index("shirt")  # stray shirt pixels: under 10% of the shirt
    return labels


def _filled(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], 1)
    return canvas.astype(bool)


def test_outlines_group_garments_like_the_box_rule():
    # given a synthetic label map of a person
    labels = _person_label_map()

    # when outlines and boxes are derived
    outlines = outlines_from_label_map(labels, NAMES)
    boxes = boxes_from_label_map(labels, NAMES)

    # then there is one outline per box of the box rule, with the same extent
    assert sorted((o.garment, o.box) for o in outlines) == sorted((b.garment, b.box) for b in boxes)
    assert sorted(o.garment for o in outlines) == ["outerwear", "shoes", "shoes", "top", "trousers"]


def test_a_garment_split_in_fragments_is_one_polygon_covering_every_fragment():
    # given a top split in two by an arm, and the open jacket's two separate halves
    labels = _person_label_map()

    # when
    outlines = {o.garment: o for o in outlines_from_label_map(labels, NAMES) if o.garment != "shoes"}

    # then each garment's single polygon fills its pixels and not the gap between them
    for garment, source in (("top", "shirt"), ("outerwear", "jacket")):
        filled = _filled(outlines[garment].polygon, labels.shape)
        pixels = labels == NAMES.index(source)
        pixels[300:312, 170:182] = False  # the stray fragment is dropped, as by the box rule
        assert (filled & pixels).sum() / pixels.sum() > 0.95
    jacket = _filled(outlines["outerwear"].polygon, labels.shape)
    # the shirt between the jacket's halves is not jacket (but for the one-pixel line of the bridge)
    assert jacket[60:160, 55:145].mean() < 0.02


def test_mask_outline_of_disjoint_parts_keeps_their_union_extent():
    # given two squares far apart
    mask = np.zeros((100, 100), bool)
    mask[10:30, 10:30] = True
    mask[60:90, 50:95] = True

    # when
    polygon = mask_outline(mask)

    # then one polygon spans both and rasterises to both squares
    assert polygon.min(0).tolist() == [10, 10] and polygon.max(0).tolist() == [94, 89]
    filled = _filled(polygon, mask.shape)
    assert (filled & mask).sum() / mask.sum() > 0.95
    assert mask_outline(np.zeros((10, 10), bool)) is None


def test_yolo_segment_line_is_class_then_normalised_points():
    # given a rectangle outline of a skirt in a 200×100 image
    outline = box_outline("skirt", (20, 10, 120, 60))

    # when
    fields = yolo_segment_line(outline, 200, 100).split()

    # then
    assert fields[0] == "4"  # skirt's class index
    points = np.array(fields[1:], float).reshape(-1, 2)
    assert len(points) == 4
    assert points.min() >= 0 and points.max() <= 1
    assert np.allclose(points.min(0), [20.5 / 200, 10.5 / 100])
    assert np.allclose(points.max(0), [119.5 / 200, 59.5 / 100])


def test_flat_lay_outline_follows_the_garment_inside_the_flat_lay_box():
    # given a dark T-shaped garment on a light floor
    image = Image.new("RGB", (300, 300), (225, 220, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 240, 110), fill=(30, 40, 120))  # sleeves
    draw.rectangle((110, 60, 190, 260), fill=(30, 40, 120))  # body

    # when
    outline = flat_lay_outline(image, "top")

    # then its extent is the flat-lay box, and it leaves out the floor beside the body
    box = flat_lay_box(image)
    assert all(abs(a - b) <= 3 for a, b in zip(outline.box, box, strict=True))
    filled = _filled(outline.polygon, (300, 300))
    assert filled[150:250, 120:180].mean() > 0.9
    assert filled[150:250, 60:100].mean() < 0.1
