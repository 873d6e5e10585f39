"""The ONNX Runtime copies of the served weights give the .pt's results, and are used only while current."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from fashionrec.imaging import load_image
from recommender.vision.detector import GarmentDetector
from recommender.vision.encoder import load_encoder
from recommender.vision.onnx_runtime import SOURCE_DIGEST_KEY, file_sha256, load_onnx_copy, onnx_path_for
from recommender.vision.pipeline import build_pipeline_from_settings

DETECTOR = Path(settings.FASHIONREC_DETECTOR_WEIGHTS)
ENCODER = Path(settings.FASHIONREC_ENCODER_WEIGHTS)
CONFIDENCE = 0.25  # the served threshold (FASHIONREC_DETECTOR_CONFIDENCE)


@pytest.fixture(scope="module")
def photos():
    """Held-out street photos (CCP, people in several garments) and catalog photos (flat lays)."""
    street = sorted((Path(settings.FASHIONREC_CCP_DATASET) / "photos").glob("*.jpg"))[7::90]
    catalog = sorted((Path(settings.FASHIONREC_DATASET) / "validation").glob("*/*.jpg"))[::70]
    return [load_image(path) for path in street + catalog]


@pytest.fixture(scope="module")
def detectors():
    return (
        GarmentDetector(DETECTOR, confidence=CONFIDENCE, imgsz=320),
        GarmentDetector(DETECTOR, confidence=CONFIDENCE, imgsz=320, onnx_threads=1),
    )


def _same_detections(expected, actual, *, box_px: int, confidence: float) -> None:
    assert [d.label for d in actual] == [d.label for d in expected]
    for a, b in zip(expected, actual, strict=True):
        assert max(abs(p - q) for p, q in zip(a.box, b.box, strict=True)) <= box_px, (a, b)
        assert abs(a.confidence - b.confidence) <= confidence, (a, b)


def test_the_committed_copies_are_current_and_served_by_the_pipeline():
    # given the shipped weights and their committed .onnx copies
    for weights in (DETECTOR, ENCODER):
        assert onnx_path_for(weights).is_file()

    # when the pipeline is built from the settings (runtime "onnx" by default), and with "torch"
    pipeline = build_pipeline_from_settings()
    with override_settings(FASHIONREC_VISION_RUNTIME="torch"):
        torch_pipeline = build_pipeline_from_settings()

    # then the copies serve both models (they were exported from these very .pt files), unless told not to
    assert (pipeline.detector.runtime, pipeline.encoder.runtime) == ("onnx", "onnx")
    assert (torch_pipeline.detector.runtime, torch_pipeline.encoder.runtime) == ("torch", "torch")


def test_onnx_detector_finds_the_boxes_of_the_pt_on_real_photos(detectors, photos):
    # given the detector served by PyTorch and by ONNX Runtime
    torch_detector, onnx_detector = detectors
    assert (torch_detector.runtime, onnx_detector.runtime) == ("torch", "onnx")

    # when both detect the same photos, batched
    expected, actual = torch_detector.detect(photos), onnx_detector.detect(photos)

    # then the same garments, boxes to the pixel (float rounding may move one a pixel), scores to 1e-3
    assert sum(map(len, expected)) >= len(photos)  # the photos do show garments
    for one, other in zip(expected, actual, strict=True):
        _same_detections(one, other, box_px=1, confidence=1e-3)


def test_detector_gives_ultralytics_predict_results_for_its_letterboxed_input(detectors, photos):
    # given ultralytics' own predictor on the same weights and settings
    from ultralytics import YOLO

    _, onnx_detector = detectors
    yolo = YOLO(str(DETECTOR), task="detect")
    for image, ours in zip(photos, onnx_detector.detect(photos), strict=True):
        canvas, scale, (left, top) = onnx_detector._letterbox(image)

        # when YOLO.predict sees the letterboxed photo (its own letterbox then leaves it as it is; BGR, as it expects)
        result = yolo.predict(canvas[:, :, ::-1], imgsz=320, conf=CONFIDENCE, iou=0.5, max_det=20, verbose=False)[0]

        # then its boxes, mapped back to the photo, and scores are ours
        boxes = result.boxes
        found = zip(boxes.xyxy.tolist(), boxes.cls.tolist(), boxes.conf.tolist(), strict=True)
        theirs = sorted(
            ((round(s, 4), onnx_detector.labels[int(c)], tuple(b)) for b, c, s in found), key=lambda t: -t[0]
        )
        assert len(theirs) == len(ours)
        for (score, label, (x1, y1, x2, y2)), detection in zip(theirs, ours, strict=True):
            assert detection.label == label
            assert abs(detection.confidence - score) <= 1e-3
            # in photo pixels, clipped to the photo as ours are
            mapped = [
                min(max(v, 0), limit)
                for v, limit in zip(
                    ((x1 - left) / scale, (y1 - top) / scale, (x2 - left) / scale, (y2 - top) / scale),
                    (image.width, image.height) * 2,
                    strict=True,
                )
            ]
            assert max(abs(p - q) for p, q in zip(detection.box, mapped, strict=True)) <= 1.5, (detection, mapped)


def test_onnx_encoder_gives_the_embeddings_of_the_pt(photos):
    # given the encoder served by PyTorch and by ONNX Runtime, and real crops of several sizes
    torch_encoder, onnx_encoder = load_encoder(ENCODER), load_encoder(ENCODER, onnx_threads=1)
    crops = [image.crop((0, 0, image.width // (1 + n % 3), image.height)) for n, image in enumerate(photos)]

    # when both encode them in one batch
    expected, actual = torch_encoder.encode(crops), onnx_encoder.encode(crops)

    # then the same unit vectors, to 1e-4 in cosine
    assert onnx_encoder.runtime == "onnx"
    assert actual.shape == expected.shape == (len(crops), 128)
    assert np.min(np.sum(expected * actual, axis=1)) >= 1 - 1e-4
    assert np.allclose(np.linalg.norm(actual, axis=1), 1.0, atol=1e-5)


def test_a_stale_or_missing_copy_leaves_the_weights_to_pytorch(tmp_path, caplog):
    # given user weights without a copy, and weights whose copy came from another .pt
    bare = tmp_path / "bare" / "encoder.pt"
    bare.parent.mkdir()
    shutil.copy(ENCODER, bare)
    stale = tmp_path / "stale" / "detector.pt"
    stale.parent.mkdir()
    stale.write_bytes(DETECTOR.read_bytes() + b"\0")  # a different file, same model
    shutil.copy(onnx_path_for(DETECTOR), onnx_path_for(stale))

    # when they are loaded for ONNX Runtime serving
    with caplog.at_level(logging.WARNING, logger="recommender.vision.onnx_runtime"):
        encoder = load_encoder(bare, onnx_threads=1)
        detector = GarmentDetector(stale, onnx_threads=1)

    # then PyTorch serves both, and the stale copy is named in a warning
    assert (encoder.runtime, detector.runtime) == ("torch", "torch")
    assert load_onnx_copy(stale, threads=1) is None
    assert any("was not exported from the current" in r.getMessage() for r in caplog.records)


def test_export_command_writes_current_copies_that_match(tmp_path, photos):
    # given copies of the shipped weights in a folder of their own
    detector_pt, encoder_pt = tmp_path / "detector.pt", tmp_path / "encoder.pt"
    shutil.copy(DETECTOR, detector_pt)
    shutil.copy(ENCODER, encoder_pt)

    # when
    call_command("export_onnx", "--detector", str(detector_pt), "--encoder", str(encoder_pt))

    # then each .onnx records its .pt's digest and serves the same results as the .pt
    import onnx

    for weights in (detector_pt, encoder_pt):
        metadata = {p.key: p.value for p in onnx.load(str(onnx_path_for(weights))).metadata_props}
        assert metadata[SOURCE_DIGEST_KEY] == file_sha256(weights)
    exported = GarmentDetector(detector_pt, confidence=CONFIDENCE, onnx_threads=1)
    assert exported.runtime == "onnx"
    reference = GarmentDetector(detector_pt, confidence=CONFIDENCE)
    for one, other in zip(reference.detect(photos[:4]), exported.detect(photos[:4]), strict=True):
        _same_detections(one, other, box_px=1, confidence=1e-3)
    encoder = load_encoder(encoder_pt, onnx_threads=1)
    assert encoder.runtime == "onnx"
    cosines = np.sum(encoder.encode(photos) * load_encoder(encoder_pt).encode(photos), axis=1)
    assert np.min(cosines) >= 1 - 1e-4
