import numpy as np
from PIL import Image, ImageDraw

from recommender.vision.detector_data import GarmentBox, boxes_from_label_map, flat_lay_box, is_ccp_holdout

NAMES = ["null", "skin", "shirt", "jacket", "shoes", "sneakers", "pants", "bag", "sunglasses"]


def _label_map() -> np.ndarray:
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
    return labels


def test_boxes_merge_fragments_of_one_garment_and_split_paired_shoes():
    # given a synthetic label map of a person
    labels = _label_map()

    # when boxes are derived
    boxes = boxes_from_label_map(labels, NAMES)

    # then each worn garment is one box, each shoe its own, specks and dropped classes are gone
    assert sorted(boxes, key=lambda b: (b.garment, b.box)) == [
        GarmentBox("outerwear", (40, 60, 160, 160)),
        GarmentBox("shoes", (50, 350, 90, 380)),
        GarmentBox("shoes", (110, 350, 150, 380)),
        GarmentBox("top", (50, 60, 150, 160)),
        GarmentBox("trousers", (60, 170, 140, 340)),
    ]


def test_touching_shoes_are_one_box_and_stray_fragments_do_not_stretch_a_box():
    # given shoes 1 px apart (bridged) and a few stray shirt pixels far from the shirt
    labels = np.zeros((400, 200), np.uint8)
    labels[350:380, 50:99] = NAMES.index("shoes")
    labels[350:380, 100:150] = NAMES.index("shoes")
    labels[60:160, 50:150] = NAMES.index("shirt")
    labels[300:312, 10:22] = NAMES.index("shirt")  # 144 px: above the speck size, under 10% of the shirt

    # when
    boxes = boxes_from_label_map(labels, NAMES)

    # then
    assert GarmentBox("shoes", (50, 350, 150, 380)) in boxes
    assert GarmentBox("top", (50, 60, 150, 160)) in boxes
    assert len(boxes) == 2


def test_holdout_split_is_the_documented_fixed_rule():
    assert [n for n in range(1, 30) if is_ccp_holdout(n)] == [7, 14, 21, 28]


def test_flat_lay_box_finds_a_garment_on_a_plain_floor():
    # given a dark garment-shaped blob on a light, slightly textured floor
    rng = np.random.default_rng(0)
    floor = (200 + rng.integers(-12, 12, (533, 400, 3))).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(floor)
    ImageDraw.Draw(image).polygon([(120, 100), (280, 100), (300, 420), (100, 420)], fill=(30, 40, 120))

    # when
    x1, y1, x2, y2 = flat_lay_box(image)

    # then the weak box hugs the garment (within a few pixels), not the photo
    assert abs(x1 - 100) <= 8 and abs(y1 - 100) <= 8 and abs(x2 - 300) <= 8 and abs(y2 - 420) <= 8
    assert flat_lay_box(image) == (x1, y1, x2, y2)


def test_boxes_corrected_by_staff_become_training_labels(tmp_path, settings):
    from pathlib import Path

    from recommender.vision.detector_data import build_yolo_dataset
    from recommender.vision.taxonomy import GARMENT_CLASSES

    # given a stored catalog photo whose skirt box staff corrected in admin
    photo = tmp_path / "upload.img"
    Image.new("RGB", (400, 500), (220, 220, 220)).save(photo, format="JPEG")
    staff = {str(photo): [("skirt", (100, 150, 300, 450))]}

    # when the detector's dataset is built (one photo per source: a tiny build)
    data_yaml = build_yolo_dataset(
        tmp_path / "cache",
        ccp_dir=Path(settings.FASHIONREC_CCP_DATASET),
        catalog_dir=Path(settings.FASHIONREC_DATASET),
        limit=1,
        staff_labels=staff,
    )

    # then the photo is in the training split with the staff box as its only label
    labels = list((data_yaml.parent / "labels" / "train").glob("staff_*.txt"))
    assert len(labels) == 1
    class_index, cx, cy, w, h = labels[0].read_text().split()
    assert GARMENT_CLASSES[int(class_index)] == "skirt"
    # (normalised centre and size; the cache shrinks photos, so allow its rounding)
    assert np.allclose([float(cx), float(cy), float(w), float(h)], [0.5, 0.6, 0.5, 0.6], atol=0.005)
    assert not list((data_yaml.parent / "labels" / "val").glob("staff_*"))
    # and a build without staff labels is another dataset (never a stale cache)
    assert (
        build_yolo_dataset(
            tmp_path / "cache",
            ccp_dir=Path(settings.FASHIONREC_CCP_DATASET),
            catalog_dir=Path(settings.FASHIONREC_DATASET),
            limit=1,
        )
        != data_yaml
    )
