from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from recommender.vision.detector import Detection, GarmentDetector
from recommender.vision.taxonomy import GARMENT_CLASSES

# A held-out CCP photo (never trained on) of a person in several garments, and a flat-lay
# photo from the catalog's validation split (never trained on either).
PERSON_PHOTO = Path(settings.FASHIONREC_CCP_DATASET) / "photos" / "0007.jpg"
FLAT_PHOTO = Path(settings.FASHIONREC_DATASET) / "validation" / "pants" / "7e4b6429-1db3-42d2-a114-18020dffded7.jpg"


@pytest.fixture(scope="module")
def detector():
    # 0.12: where mean F1 peaks on the held-out CCP photos for the shipped weights (models/detector/metrics.json)
    return GarmentDetector(settings.FASHIONREC_DETECTOR_WEIGHTS, confidence=0.12, imgsz=320)


def _inside(detection: Detection, image: Image.Image) -> bool:
    x1, y1, x2, y2 = detection.box
    return 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height


def test_shipped_weights_find_several_garments_on_a_person(detector):
    # given a street photo of a person
    image = Image.open(PERSON_PHOTO).convert("RGB")

    # when
    (detections,) = detector.detect([image])

    # then several garments of different kinds are boxed, inside the photo, most confident first
    labels = {d.label for d in detections}
    assert len(labels) >= 2, detections
    assert labels <= set(GARMENT_CLASSES)
    assert all(_inside(d, image) for d in detections)
    assert [d.confidence for d in detections] == sorted((d.confidence for d in detections), reverse=True)


def test_shipped_weights_box_the_single_garment_of_a_flat_lay_photo(detector):
    # given a catalog photo of trousers laid flat
    image = Image.open(FLAT_PHOTO).convert("RGB")

    # when
    (detections,) = detector.detect([image])

    # then the most confident box is the trousers and covers a large part of the photo
    assert detections, "no garment detected"
    best = detections[0]
    assert best.label == "trousers"
    x1, y1, x2, y2 = best.box
    assert (x2 - x1) * (y2 - y1) > 0.2 * image.width * image.height


def test_detection_is_batched_and_deterministic(detector):
    # given the two photos, detected alone and as one batch
    person = Image.open(PERSON_PHOTO).convert("RGB")
    flat = Image.open(FLAT_PHOTO).convert("RGB")

    # when
    alone = detector.detect([person]) + detector.detect([flat])
    batched = detector.detect([person, flat])

    # then one result list per image, the same whichever way they were run (batched convolutions
    # may differ in the last float bits), and exactly the same when run again
    assert len(batched) == 2
    for one, other in zip(alone, batched, strict=True):
        one, other = (sorted(ds, key=lambda d: (d.label, d.box)) for ds in (one, other))
        assert [d.label for d in one] == [d.label for d in other]
        for a, b in zip(one, other, strict=True):
            assert max(abs(p - q) for p, q in zip(a.box, b.box, strict=True)) <= 1
            assert abs(a.confidence - b.confidence) < 1e-3
    assert detector.detect([person, flat]) == batched
    assert detector.detect([]) == []
