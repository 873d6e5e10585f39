from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from recommender.vision.detector_seg_dataset import build_seg_dataset, cache_long_side, ccp_split
from recommender.vision.taxonomy import GARMENT_CLASSES


def test_ccp_splits_are_the_documented_fixed_rules():
    assert [n for n in range(1, 40) if ccp_split(n) == "report"] == [7, 14, 21, 28, 35]
    assert [n for n in range(1, 40) if ccp_split(n) == "selection"] == [3, 13, 23, 33]
    # a number divisible by 7 and ending in 3 is in the report split, never used for choices
    assert ccp_split(63) == "report"
    assert ccp_split(1) == ccp_split(2) == "train"


def test_cache_long_side_leaves_room_for_scale_jitter():
    assert cache_long_side(320) == 448
    assert cache_long_side(64) == 96


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    ccp, catalog = Path(settings.FASHIONREC_CCP_DATASET), Path(settings.FASHIONREC_DATASET)
    if not (ccp / "photos").is_dir() or not (catalog / "train").is_dir():
        pytest.fail(f"datasets missing: {ccp}, {catalog}")
    return build_seg_dataset(tmp_path_factory.mktemp("seg"), ccp_dir=ccp, catalog_dir=catalog, imgsz=64, limit=2)


def test_seg_dataset_trains_on_train_photos_selects_on_selection_and_never_sees_the_report_split(tiny_dataset):
    # given the dataset built from 2 photos per source and split
    root = tiny_dataset.parent

    # then data.yaml validates on the selection split
    text = tiny_dataset.read_text()
    assert "train: images/train" in text and "val: images/selection" in text
    assert all(f"{i}: {name}" in text for i, name in enumerate(GARMENT_CLASSES))

    # and no photo of the report split is anywhere in it
    stems = [p.stem for p in root.glob("images/*/*.jpg")]
    numbers = {int(s.split("_")[1]) for s in stems if s.startswith("ccp_")}
    assert numbers and not any(n % 7 == 0 for n in numbers)
    assert {p.stem for p in (root / "images" / "selection").glob("*.jpg")} == {"ccp_0003", "ccp_0013"}
    assert sum(1 for s in stems if s.startswith("flat_")) == 2

    # and every label line is a class index and a polygon of normalised points
    lines = [line for p in root.glob("labels/*/*.txt") for line in p.read_text().splitlines()]
    assert lines
    for line in lines:
        fields = line.split()
        assert 0 <= int(fields[0]) < len(GARMENT_CLASSES)
        points = np.array(fields[1:], float)
        assert len(points) >= 6 and len(points) % 2 == 0
        assert points.min() >= 0 and points.max() <= 1


def test_seg_dataset_is_reused_when_nothing_changed(tiny_dataset, tmp_path):
    # when the same build is asked for again
    messages = []
    again = build_seg_dataset(
        tiny_dataset.parent.parent,
        ccp_dir=Path(settings.FASHIONREC_CCP_DATASET),
        catalog_dir=Path(settings.FASHIONREC_DATASET),
        imgsz=64,
        limit=2,
        progress=messages.append,
    )

    # then
    assert again == tiny_dataset
    assert messages == [f"reusing dataset {tiny_dataset.parent}"]
