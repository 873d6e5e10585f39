from pathlib import Path

import numpy as np
from django.conf import settings

from recommender.vision.detector_data import ccp_label_names
from recommender.vision.encoder_data import (
    CCP_TO_CATEGORY,
    KINDS,
    WornGarment,
    build_encoder_data,
    is_selection,
    simple_foreground,
    worn_garments,
)
from recommender.vision.taxonomy import CCP_TO_GARMENT

NAMES = ["null", "skin", "t-shirt", "sweater", "top", "pants", "boots", "bag", "romper"]


def test_a_worn_top_takes_the_category_of_its_majority_label_and_keeps_its_own_pixels_as_mask():
    # given a sweater with a t-shirt hem showing below it, trousers, one boot and a bag
    labels = np.zeros((300, 200), np.uint8)
    labels[40:120, 50:150] = NAMES.index("sweater")
    labels[120:130, 60:140] = NAMES.index("t-shirt")
    labels[70:80, 40:160] = NAMES.index("skin")  # an arm across it
    labels[140:260, 60:140] = NAMES.index("pants")
    labels[265:290, 60:100] = NAMES.index("boots")
    labels[150:180, 150:190] = NAMES.index("bag")

    # when
    garments = {g.kind: g for g in worn_garments(labels, NAMES)}

    # then the bag (no catalog kind) is gone; the top is a longsleeve, boxed over both labels
    assert sorted(garments) == ["shoes", "top", "trousers"]
    top = garments["top"]
    assert (top.category, top.box) == ("longsleeve", (50, 40, 150, 130))
    assert top.mask.shape == (90, 100)
    assert not top.mask[30:40, 0:100].any()  # the arm is not garment
    assert top.mask[0:30].all()
    assert (garments["trousers"].category, garments["shoes"].category) == ("pants", "shoes")


def test_kinds_without_a_catalog_category_keep_only_their_kind():
    # given a tank top and a romper
    labels = np.zeros((300, 200), np.uint8)
    labels[40:120, 50:150] = NAMES.index("top")
    labels[150:250, 50:150] = NAMES.index("romper")

    # when
    garments = worn_garments(labels, NAMES)

    # then
    assert [(g.kind, g.category) for g in garments] == [("top", None), ("dress", None)]
    assert all(isinstance(g, WornGarment) for g in garments)


def test_every_ccp_label_with_a_catalog_kind_has_a_documented_category_decision():
    # given the real CCP label list
    names = ccp_label_names(Path(settings.FASHIONREC_CCP_DATASET))

    # then: a garment the detector boxes (a kind) is either mapped or explicitly kept kind-only
    with_kind = {n for n in names if CCP_TO_GARMENT.get(n) in KINDS}
    assert with_kind == set(CCP_TO_CATEGORY)
    assert {CCP_TO_CATEGORY[n] for n in ("sweater", "jumper", "hoodie", "sweatshirt")} == {"longsleeve"}
    assert {CCP_TO_CATEGORY[n] for n in ("coat", "jacket", "blazer")} == {"outwear"}
    assert {CCP_TO_CATEGORY[n] for n in ("jeans", "pants", "leggings")} == {"pants"}
    assert {CCP_TO_CATEGORY[n] for n in ("blouse", "shirt")} == {"shirt"}
    assert {CCP_TO_CATEGORY[n] for n in ("boots", "sneakers", "heels", "shoes")} == {"shoes"}


def test_simple_foreground_finds_a_garment_on_a_plain_floor_and_gives_up_on_busy_photos():
    # given a dark garment on a light floor, and a photo that is all texture
    photo = np.full((64, 64, 3), 220, np.uint8)
    photo[16:48, 20:44] = (30, 30, 120)
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)

    # when
    mask = simple_foreground(photo)
    busy = simple_foreground(noise)

    # then
    assert mask[16:48, 20:44].all()
    assert mask.sum() == 32 * 24
    assert busy.all()  # "everything is garment": that photo's background is never swapped


def test_the_selection_split_is_a_fixed_tenth_chosen_by_file_name():
    names = [f"{i:04d}.jpg" for i in range(1, 2001)]
    chosen = [n for n in names if is_selection(n)]

    assert 150 < len(chosen) < 250
    assert chosen == [n for n in names if is_selection(n)]
    assert is_selection("0001.jpg") == is_selection("0001.jpg")


def test_training_data_holds_catalog_train_photos_and_worn_garments_but_never_report_photos():
    # given the first 8 labelled CCP photos (0007 is a report photo) and 10 catalog photos
    catalog = Path(settings.FASHIONREC_DATASET)
    ccp = Path(settings.FASHIONREC_CCP_DATASET)

    # when
    data = build_encoder_data(catalog, ccp, aug_size=40, eval_size=32, limit=8)

    # then
    photos = {name.split("/")[1] for name in data.names if name.startswith("ccp/")}
    assert photos == {"0001", "0002", "0003", "0004", "0005", "0006", "0008", "0009"}
    assert all(name.startswith(("flat/", "ccp/")) for name in data.names)
    assert not any("validation" in name for name in data.names)
    assert (~data.worn).sum() == 8
    n = len(data.names)
    assert data.aug.shape == (n, 3, 40, 40) and data.eval.shape == (n, 3, 32, 32) and data.masks.shape == (n, 1, 40, 40)
    # worn boxes sit inside their cached context, flat-lay photos are their own box
    worn_boxes = data.inner[data.worn]
    assert (worn_boxes[:, :2] > -1.0 - 1e-6).all() and (worn_boxes[:, 2:] < 1.0 + 1e-6).all()
    assert (worn_boxes[:, 2:] > worn_boxes[:, :2]).all()
    assert np.allclose(data.inner[~data.worn], [-1, -1, 1, 1])
    assert data.categories[~data.worn].min() >= 0
    assert set(data.kinds.tolist()) <= set(range(len(KINDS)))
