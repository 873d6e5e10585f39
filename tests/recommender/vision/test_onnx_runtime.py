"""The ONNX Runtime copies of the served weights give the .pt's results; they are derived files, cached
under the .pt's digest, exported at load when missing, and PyTorch serves whenever no copy can be had."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from fashionrec.imaging import load_image
from recommender.vision import onnx_export
from recommender.vision.detector import GarmentDetector
from recommender.vision.encoder import load_encoder
from recommender.vision.onnx_runtime import SOURCE_DIGEST_KEY, cached_onnx_path, file_sha256, load_onnx_copy
from recommender.vision.pipeline import build_pipeline_from_settings

DETECTOR = Path(settings.FASHIONREC_DETECTOR_WEIGHTS)
ENCODER = Path(settings.FASHIONREC_ENCODER_WEIGHTS)
CONFIDENCE = 0.25  # the served threshold (FASHIONREC_DETECTOR_CONFIDENCE)


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """An ONNX cache of this module's own, empty at its start (exports are a few seconds each)."""
    with override_settings(FASHIONREC_ONNX_CACHE_DIR=tmp_path_factory.mktemp("onnx-cache")):
        yield Path(settings.FASHIONREC_ONNX_CACHE_DIR)


@pytest.fixture
def cache(tmp_path):
    """An empty ONNX cache for one test."""
    with override_settings(FASHIONREC_ONNX_CACHE_DIR=tmp_path / "cache" / "onnx"):
        yield Path(settings.FASHIONREC_ONNX_CACHE_DIR)


@pytest.fixture(scope="module")
def photos():
    """Held-out street photos (CCP, people in several garments) and catalog photos (flat lays)."""
    street = sorted((Path(settings.FASHIONREC_CCP_DATASET) / "photos").glob("*.jpg"))[7::90]
    catalog = sorted((Path(settings.FASHIONREC_DATASET) / "validation").glob("*/*.jpg"))[::70]
    return [load_image(path) for path in street + catalog]


@pytest.fixture(scope="module")
def detectors(module_cache):
    return (
        GarmentDetector(DETECTOR, confidence=CONFIDENCE, imgsz=320),
        GarmentDetector(DETECTOR, confidence=CONFIDENCE, imgsz=320, onnx_threads=1),
    )


def _same_detections(expected, actual, *, box_px: int, confidence: float) -> None:
    assert [d.label for d in actual] == [d.label for d in expected]
    for a, b in zip(expected, actual, strict=True):
        assert max(abs(p - q) for p, q in zip(a.box, b.box, strict=True)) <= box_px, (a, b)
        assert abs(a.confidence - b.confidence) <= confidence, (a, b)


def _metadata_digest(path: Path) -> str:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}[SOURCE_DIGEST_KEY]


def test_the_pipeline_exports_the_copies_once_then_serves_them_from_the_cache(cache, caplog):
    # given an empty cache and the shipped weights (no ONNX file is committed)
    assert not list(DETECTOR.parent.glob("*.onnx")) and not list(ENCODER.parent.glob("*.onnx"))

    # when the pipeline is built from the settings (runtime "onnx" by default) twice, and with "torch"
    with caplog.at_level(logging.INFO, logger="recommender.vision.onnx_runtime"):
        pipeline = build_pipeline_from_settings()
        exported = sorted(cache.iterdir())
        written = {path: path.stat().st_mtime_ns for path in exported}
        again = build_pipeline_from_settings()
    with override_settings(FASHIONREC_VISION_RUNTIME="torch"):
        torch_pipeline = build_pipeline_from_settings()

    # then the first build exported one copy per model (two of the segmenting detector: with its
    # mask prototypes and without), named by the .pt's digest and the export parameters and
    # recording the whole digest; the second used them as they were
    detector_digest, encoder_digest = file_sha256(DETECTOR), file_sha256(ENCODER)
    assert exported == sorted(
        [
            cached_onnx_path(DETECTOR, digest=detector_digest, imgsz=320),
            cached_onnx_path(DETECTOR, digest=detector_digest, imgsz=320, variant="boxes"),
            cached_onnx_path(ENCODER, digest=encoder_digest),
        ]
    )
    assert exported[0].name == f"detector-{detector_digest[:16]}-boxes-imgsz320-opset17.onnx"
    assert exported[1].name == f"detector-{detector_digest[:16]}-imgsz320-opset17.onnx"
    assert [_metadata_digest(path) for path in exported] == [detector_digest, detector_digest, encoder_digest]
    assert sum("exported" in r.getMessage() for r in caplog.records) == 3
    assert {path: path.stat().st_mtime_ns for path in cache.iterdir()} == written
    for built in (pipeline, again):
        assert (built.detector.runtime, built.encoder.runtime) == ("onnx", "onnx")
    assert (torch_pipeline.detector.runtime, torch_pipeline.encoder.runtime) == ("torch", "torch")
    assert not any(path.suffix == ".tmp" for path in cache.iterdir())


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


def test_onnx_detector_gives_the_masks_of_the_pt(detectors, photos):
    # given the shipped detector (a segmenting model, served with its mask head) in both runtimes
    torch_detector, onnx_detector = detectors
    assert torch_detector.has_masks and onnx_detector.has_masks

    # when both detect the same photos
    for one, other in zip(torch_detector.detect(photos), onnx_detector.detect(photos), strict=True):
        # then every detection has a mask over its box, and both runtimes agree on nearly every pixel
        for a, b in zip(one, other, strict=True):
            assert a.mask.shape == (a.box[3] - a.box[1], a.box[2] - a.box[0])
            if a.box == b.box:
                assert (a.mask != b.mask).mean() < 0.01


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_detector_masks_are_ultralytics_predict_masks_for_its_letterboxed_input(detectors, photos):
    # given ultralytics' own segmentation predictor on the same weights and settings
    import cv2
    from ultralytics import YOLO

    _, onnx_detector = detectors
    yolo = YOLO(str(DETECTOR), task="segment")
    compared = 0
    for image, ours in zip(photos, onnx_detector.detect(photos), strict=True):
        canvas, scale, (left, top) = onnx_detector._letterbox(image)

        # when YOLO.predict sees the letterboxed photo (BGR, as it expects)
        result = yolo.predict(canvas[:, :, ::-1], imgsz=320, conf=CONFIDENCE, iou=0.5, max_det=20, verbose=False)[0]
        if result.masks is None:
            assert not ours
            continue
        # its masks cover the letterbox: the photo's part of it, brought to the photo's size
        new_w, new_h = round(image.width * scale), round(image.height * scale)
        theirs = {}
        for cls, conf, mask in zip(
            result.boxes.cls.tolist(), result.boxes.conf.tolist(), result.masks.data.numpy(), strict=True
        ):
            region = mask[top : top + new_h, left : left + new_w].astype(np.uint8)
            theirs[(onnx_detector.labels[int(cls)], round(conf, 2))] = cv2.resize(
                region, (image.width, image.height), interpolation=cv2.INTER_NEAREST
            ).astype(bool)

        # then each of our masks is theirs inside our box (edges differ by their mask's coarser resize)
        for detection in ours:
            match = theirs.get((detection.label, round(detection.confidence, 2)))
            if match is None:  # a score on the edge of a rounding step
                continue
            x1, y1, x2, y2 = detection.box
            assert _iou(detection.mask, match[y1:y2, x1:x2]) > 0.8, detection  # 0.87 to 1.0 on these photos
            compared += 1
    assert compared >= len(photos)


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


def test_onnx_encoder_gives_the_embeddings_of_the_pt(module_cache, photos):
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


def test_weights_of_another_digest_get_a_copy_of_their_own(cache, photos):
    # given the shipped encoder served from the cache, and another .pt file (one byte more, same network)
    shipped = load_encoder(ENCODER, onnx_threads=1)
    other = cache.parent / "user" / "encoder.pt"
    other.parent.mkdir()
    other.write_bytes(ENCODER.read_bytes() + b"\0")

    # when the other weights are loaded
    encoder = load_encoder(other, onnx_threads=1)

    # then they are served from a copy of their own, beside the first, exported from them
    assert (shipped.runtime, encoder.runtime) == ("onnx", "onnx")
    assert encoder.onnx.path != shipped.onnx.path
    assert len(list(cache.glob("encoder-*.onnx"))) == 2
    assert _metadata_digest(encoder.onnx.path) == file_sha256(other) != file_sha256(ENCODER)
    cosines = np.sum(encoder.encode(photos[:4]) * load_encoder(other).encode(photos[:4]), axis=1)
    assert np.min(cosines) >= 1 - 1e-4


def test_a_truncated_or_foreign_cached_file_is_exported_again(cache, photos):
    # given cached files under the encoder's name: half of a real copy, then another .pt's copy
    path = load_encoder(ENCODER, onnx_threads=1).onnx.path
    whole = path.read_bytes()
    foreign = cache.parent / "foreign" / "encoder.pt"
    foreign.parent.mkdir()
    foreign.write_bytes(ENCODER.read_bytes() + b"\0")
    foreign_copy = load_encoder(foreign, onnx_threads=1).onnx.path

    for damaged in (whole[: len(whole) // 2], foreign_copy.read_bytes()):
        path.write_bytes(damaged)

        # when the encoder is loaded
        encoder = load_encoder(ENCODER, onnx_threads=1)

        # then the copy was rebuilt from the .pt and serves it
        assert encoder.runtime == "onnx"
        assert _metadata_digest(path) == file_sha256(ENCODER)
        cosines = np.sum(encoder.encode(photos[:4]) * load_encoder(ENCODER).encode(photos[:4]), axis=1)
        assert np.min(cosines) >= 1 - 1e-4


def test_without_a_usable_copy_pytorch_serves(cache, monkeypatch, caplog):
    # given a truncated cached copy, and exports that fail (no onnx package, an unwritable cache...)
    path = load_encoder(ENCODER, onnx_threads=1).onnx.path
    path.write_bytes(path.read_bytes()[:1000])

    def failing_export(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'onnx'")

    monkeypatch.setattr(onnx_export, "export_onnx_copy", failing_export)

    # when the models are loaded for ONNX Runtime serving
    with caplog.at_level(logging.WARNING, logger="recommender.vision.onnx_runtime"):
        encoder = load_encoder(ENCODER, onnx_threads=1)
        detector = GarmentDetector(DETECTOR, onnx_threads=1)

    # then PyTorch serves both, with a warning, and they still work
    assert (encoder.runtime, detector.runtime) == ("torch", "torch")
    assert any("could not export" in r.getMessage() for r in caplog.records)
    assert encoder.encode(
        [load_image(sorted((Path(settings.FASHIONREC_DATASET) / "validation").glob("*/*.jpg"))[0])]
    ).shape == (1, 128)

    # and without onnxruntime at all, likewise
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    assert load_onnx_copy(ENCODER, kind="encoder", threads=1) is None


def test_an_interrupted_export_leaves_no_file_to_load(cache, monkeypatch):
    # given an export whose write stops half-way (a full disk, a killed process)
    import onnx

    def half_save(model, path):
        Path(path).write_bytes(model.SerializeToString()[:1000])
        raise OSError("No space left on device")

    monkeypatch.setattr(onnx, "save", half_save)

    # when the encoder is exported into the cache
    target = cached_onnx_path(ENCODER, digest=file_sha256(ENCODER))
    with pytest.raises(OSError):
        onnx_export.export_onnx_copy("encoder", ENCODER)

    # then nothing is left under the cached name, nor any temporary file
    assert not target.exists()
    assert not cache.exists() or not list(cache.iterdir())


def test_export_command_builds_the_cache_that_serving_uses(cache, photos):
    # given weights of their own (as a deployment may mount)
    detector_pt, encoder_pt = cache.parent / "detector.pt", cache.parent / "encoder.pt"
    cache.parent.mkdir(parents=True)
    shutil.copy(DETECTOR, detector_pt)
    shutil.copy(ENCODER, encoder_pt)

    # when the cache is built, then built again
    call_command("export_onnx", "--detector", str(detector_pt), "--encoder", str(encoder_pt))
    built = {path: path.stat().st_mtime_ns for path in cache.iterdir()}
    call_command("export_onnx", "--detector", str(detector_pt), "--encoder", str(encoder_pt))

    # then the copies serving uses (the segmenting detector's two), kept by the second run, which
    # serving then uses and which match the .pt
    assert sorted(built) == sorted(
        [
            cached_onnx_path(detector_pt, digest=file_sha256(detector_pt), imgsz=320),
            cached_onnx_path(detector_pt, digest=file_sha256(detector_pt), imgsz=320, variant="boxes"),
            cached_onnx_path(encoder_pt, digest=file_sha256(encoder_pt)),
        ]
    )
    assert {path: path.stat().st_mtime_ns for path in cache.iterdir()} == built
    exported = GarmentDetector(detector_pt, confidence=CONFIDENCE, onnx_threads=1)
    assert exported.runtime == "onnx" and {exported._onnx.path, exported._onnx_boxes.path} < set(built)
    reference = GarmentDetector(detector_pt, confidence=CONFIDENCE)
    for masks in (True, False):
        expected, actual = reference.detect(photos[:4], masks=masks), exported.detect(photos[:4], masks=masks)
        for one, other in zip(expected, actual, strict=True):
            _same_detections(one, other, box_px=1, confidence=1e-3)
            assert all((d.mask is not None) == masks for d in other)
    encoder = load_encoder(encoder_pt, onnx_threads=1)
    assert encoder.runtime == "onnx" and encoder.onnx.path in built
    assert {path: path.stat().st_mtime_ns for path in cache.iterdir()} == built
