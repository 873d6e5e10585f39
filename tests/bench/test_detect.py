"""The scoring of `make bench-detect`: one-to-one IoU matching and the measures built on it."""

import pytest

from bench.detect import PhotoResult, match, score


def test_matching_is_one_to_one_by_iou_whatever_the_labels():
    # given two shoes side by side and one wide detection over both, plus a mislabelled top
    truth = [("shoes", (0, 0, 10, 10)), ("shoes", (12, 0, 22, 10)), ("top", (0, 20, 40, 60))]
    found = [("shoes", (0, 0, 22, 10), 0.9), ("dress", (0, 22, 40, 60), 0.5), ("shoes", (12, 0, 21, 10), 0.4)]

    # when
    pairs = match(truth, found)

    # then the wide box (IoU 0.45 with each shoe) matches neither, the exact shoe and the top match
    assert sorted(pairs) == [(1, 2), (2, 1)]


def test_measures_count_main_garments_labels_and_the_default_garment():
    # given two photos: one whose default garment is the right dress, one whose default is a shoe
    first = PhotoResult(
        "a",
        truth=[("dress", (0, 0, 50, 100)), ("shoes", (0, 100, 10, 110))],
        found=[("dress", (0, 0, 50, 98), 0.4), ("shoes", (0, 100, 10, 110), 0.9)],
        pairs=[],
        detect_ms=10.0,
    )
    second = PhotoResult(
        "b",
        truth=[("top", (0, 0, 50, 50)), ("trousers", (0, 50, 50, 100))],
        found=[("shoes", (0, 90, 10, 100), 0.8), ("skirt", (0, 50, 50, 100), 0.3)],
        pairs=[],
        detect_ms=30.0,
    )
    for r in (first, second):
        r.pairs = match(r.truth, r.found)

    # when
    s = score([first, second])

    # then
    assert s["recall50"] == pytest.approx(3 / 4)
    assert s["main_recall50"] == pytest.approx(2 / 3)
    assert s["precision50"] == pytest.approx(3 / 4)
    assert s["label_acc"] == pytest.approx(2 / 3)  # the trousers were called a skirt
    assert s["main_garment"] == pytest.approx(1 / 2)
    assert s["per_class"] == {"dress": (1, 1), "shoes": (1, 1), "top": (0, 1), "trousers": (1, 1)}
    assert s["detect_p50_ms"] == 20.0
