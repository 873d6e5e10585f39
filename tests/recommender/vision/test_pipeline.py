import io
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from fashionrec.imaging import ImageRejected, load_image
from recommender.vision import pipeline as pipeline_module
from recommender.vision.detector import Detection, GarmentDetector
from recommender.vision.encoder import load_encoder
from recommender.vision.encoder_eval import list_split
from recommender.vision.main_garment import main_garment_index
from recommender.vision.pipeline import (
    CROP_PADDING,
    WHOLE_IMAGE_LABEL,
    ImageAnalysis,
    VisionPipeline,
    get_pipeline,
    reset_pipeline,
)
from recommender.vision.taxonomy import GARMENT_CLASSES


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(settings.FASHIONREC_ENCODER_WEIGHTS)


@pytest.fixture(scope="module")
def untrained_detector_weights(tmp_path_factory):
    """A real YOLOv8n built from its YAML and never trained: it finds nothing in any photo."""
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("detector") / "untrained.pt"
    YOLO("yolov8n.yaml", task="detect").save(str(path))
    return path


@pytest.fixture(scope="module")
def photo_bytes():
    paths, _, _ = list_split(settings.FASHIONREC_DATASET, "validation")
    return [paths[0].read_bytes(), paths[len(paths) // 2].read_bytes(), paths[-1].read_bytes()]


def test_when_nothing_is_detected_the_whole_image_is_used_and_flagged(encoder, untrained_detector_weights, photo_bytes):
    # given
    pipeline = VisionPipeline(encoder, GarmentDetector(untrained_detector_weights, imgsz=320))
    image = load_image(photo_bytes[0])

    # when
    analysis = pipeline.analyse(photo_bytes[0])

    # then
    assert (analysis.width, analysis.height) == image.size
    assert len(analysis.garments) == 1
    garment = analysis.garments[0]
    assert garment.is_whole_image
    assert garment.box == (0, 0, image.width, image.height)
    assert garment.embedding.shape == (128,)
    assert garment.embedding.dtype == np.float32
    assert np.linalg.norm(garment.embedding) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(garment.embedding, encoder.encode([image])[0], atol=1e-6)
    assert set(analysis.timings_ms) == {"decode", "detect", "encode"}
    assert all(value >= 0 for value in analysis.timings_ms.values())


def test_a_rejected_upload_raises_image_rejected(encoder):
    pipeline = VisionPipeline(encoder, max_bytes=1000)
    with pytest.raises(ImageRejected) as rejected:
        pipeline.analyse(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000)
    assert rejected.value.code == "too_large"


def test_analyse_batch_matches_analyse_and_keeps_rejections_in_place(encoder, photo_bytes):
    # given
    pipeline = VisionPipeline(encoder)
    items = [photo_bytes[0], b"", photo_bytes[1], b"not an image at all", photo_bytes[2]]

    # when
    results = pipeline.analyse_batch(items)

    # then
    assert [type(r).__name__ for r in results] == [
        "ImageAnalysis",
        "ImageRejected",
        "ImageAnalysis",
        "ImageRejected",
        "ImageAnalysis",
    ]
    assert results[1].code == "empty"
    assert results[3].code == "not_an_image"
    for position in (0, 2, 4):
        single = pipeline.analyse(items[position])
        batched = results[position]
        assert isinstance(batched, ImageAnalysis)
        assert (batched.width, batched.height) == (single.width, single.height)
        assert [g.box for g in batched.garments] == [g.box for g in single.garments]
        assert np.allclose(batched.garments[0].embedding, single.garments[0].embedding, atol=1e-5)


def test_embed_box_encodes_exactly_that_crop(encoder, photo_bytes):
    # given
    pipeline = VisionPipeline(encoder, crop_padding=0.0)
    image = load_image(photo_bytes[0])
    box = (40, 60, 300, 420)

    # when
    vector = pipeline.embed_box(photo_bytes[0], box)

    # then
    assert vector.shape == (128,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(vector, encoder.encode([image.crop(box)])[0])


def test_a_box_grows_by_the_crop_padding_before_it_is_encoded(encoder, photo_bytes):
    # given: the default pipeline (10 % of the box added on each side, clamped to the photo)
    pipeline = VisionPipeline(encoder)
    image = load_image(photo_bytes[0])
    box = (40, 60, 300, 420)  # 260 x 360: 26 px and 36 px more on each side
    assert CROP_PADDING == 0.1

    # when
    vector = pipeline.embed_box(photo_bytes[0], box)

    # then
    assert np.array_equal(vector, encoder.encode([image.crop((14, 24, 326, 456))])[0])
    assert not np.array_equal(vector, encoder.encode([image.crop(box)])[0])
    assert not np.allclose(vector, encoder.encode([image])[0], atol=1e-3)


def test_embed_box_clamps_a_box_outside_the_image(encoder, photo_bytes):
    pipeline = VisionPipeline(encoder)
    image = load_image(photo_bytes[0])
    vector = pipeline.embed_box(photo_bytes[0], (-50, -50, image.width + 80, image.height + 80))
    assert np.allclose(vector, encoder.encode([image])[0], atol=1e-6)


def test_exif_rotation_is_applied_before_boxes_and_sizes(encoder):
    # given: a 60×30 photo stored sideways with EXIF orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.new("RGB", (60, 30), (200, 30, 30)).save(buffer, "JPEG", exif=exif)

    # when
    analysis = VisionPipeline(encoder).analyse(buffer.getvalue())

    # then
    assert (analysis.width, analysis.height) == (30, 60)
    assert analysis.garments[0].box == (0, 0, 30, 60)


def test_get_pipeline_builds_once_from_settings(settings, encoder, untrained_detector_weights, tmp_path):
    # given (throwaway weights: their ONNX copy goes to a throwaway cache, not the checkout's var/)
    settings.FASHIONREC_DETECTOR_WEIGHTS = str(untrained_detector_weights)
    settings.FASHIONREC_ONNX_CACHE_DIR = tmp_path / "onnx"
    reset_pipeline()
    try:
        # when
        first = get_pipeline()
        second = get_pipeline()

        # then
        assert first is second
        assert first.encoder_version == encoder.version
        assert isinstance(first.detector, GarmentDetector)
        assert first.max_bytes == settings.FASHIONREC_MAX_UPLOAD_BYTES
        assert first.max_pixels == settings.FASHIONREC_MAX_IMAGE_PIXELS
        assert first.max_decoded_bytes == settings.FASHIONREC_MAX_DECODED_BYTES
    finally:
        reset_pipeline()
    assert pipeline_module._pipeline is None


def test_the_shipped_models_return_garments_with_boxes_and_unit_vectors():
    # given: the default weights (models/detector, models/encoder), a street photo of a person
    # and a flat-lay catalog photo
    street = sorted((Path(settings.FASHIONREC_CCP_DATASET) / "photos").iterdir())[0].read_bytes()
    flat = list_split(settings.FASHIONREC_DATASET, "validation")[0][0].read_bytes()
    reset_pipeline()
    try:
        pipeline = get_pipeline()

        # when
        analyses = pipeline.analyse_batch([street, flat])
    finally:
        reset_pipeline()

    # then
    assert pipeline.detector is not None
    for analysis in analyses:
        assert isinstance(analysis, ImageAnalysis)
        assert 1 <= len(analysis.garments) <= 6
        # the main garment first, the others most confident first
        kept = [(g.box, g.label, g.confidence) for g in analysis.garments]
        assert main_garment_index(kept, analysis.width, analysis.height) == 0
        confidences = [g.confidence for g in analysis.garments[1:]]
        assert confidences == sorted(confidences, reverse=True)
        for garment in analysis.garments:
            x1, y1, x2, y2 = garment.box
            assert 0 <= x1 < x2 <= analysis.width and 0 <= y1 < y2 <= analysis.height
            assert garment.embedding.shape == (128,)
            assert np.linalg.norm(garment.embedding) == pytest.approx(1.0, abs=1e-5)
            assert garment.is_whole_image or garment.label in GARMENT_CLASSES


# --- a query encodes only the garments it needs ----------------------------------------------

# A held-out street photo (CCP 0014) in which the shipped detector finds several garments.
STREET = Path(settings.FASHIONREC_CCP_DATASET) / "photos" / "0014.jpg"


class CountingEncoder:
    """The real encoder, with the number of crops of each ``encode`` call written down."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.version = encoder.version
        self.dim = encoder.dim
        self.crops: list[int] = []

    def encode(self, crops):
        self.crops.append(len(crops))
        return self.encoder.encode(crops)


@pytest.fixture(scope="module")
def shipped_detector():
    return GarmentDetector(
        settings.FASHIONREC_DETECTOR_WEIGHTS, confidence=settings.FASHIONREC_DETECTOR_CONFIDENCE, imgsz=320
    )


@pytest.fixture(scope="module")
def street_analysis(encoder, shipped_detector):
    """The street photo with every garment encoded, as catalog ingest does it."""
    analysis = VisionPipeline(encoder, shipped_detector).analyse(STREET.read_bytes(), encode="all")
    assert len(analysis.garments) >= 3 and not analysis.garments[0].is_whole_image, analysis.garments
    return analysis


@pytest.fixture
def counting(encoder, shipped_detector):
    return VisionPipeline(CountingEncoder(encoder), shipped_detector)


def test_a_query_encodes_only_the_main_garment_of_a_multi_garment_photo(counting, street_analysis):
    # when
    analysis = counting.analyse(STREET.read_bytes())

    # then: every box is there, only the main garment's crop went through the encoder
    assert counting.encoder.crops == [1]
    assert [g.box for g in analysis.garments] == [g.box for g in street_analysis.garments]
    assert [g.label for g in analysis.garments] == [g.label for g in street_analysis.garments]
    assert np.allclose(analysis.garments[0].embedding, street_analysis.garments[0].embedding, atol=1e-6)
    assert all(garment.embedding is None for garment in analysis.garments[1:])
    assert set(analysis.timings_ms) == {"decode", "detect", "encode"}


def test_a_picked_garment_encoded_from_the_same_bytes_is_the_one_full_analysis_gives(counting, street_analysis):
    # given a query that encoded the main garment
    data = STREET.read_bytes()
    analysis = counting.analyse(data)
    encode_ms = analysis.timings_ms["encode"]

    # when the shopper picks the second garment, then asks for it again
    first = counting.encode_garments(data, analysis, (1,))
    again = counting.encode_garments(data, analysis, (0, 1))

    # then it was encoded once, alone, to the embedding every-garment analysis gives its box
    assert (first, again) == ([1], [])
    assert counting.encoder.crops == [1, 1]
    assert np.allclose(analysis.garments[1].embedding, street_analysis.garments[1].embedding, atol=1e-6)
    assert np.linalg.norm(analysis.garments[1].embedding) == pytest.approx(1.0, abs=1e-5)
    assert all(garment.embedding is None for garment in analysis.garments[2:])
    assert analysis.timings_ms["encode"] > encode_ms


def test_a_query_for_a_picked_garment_encodes_that_one_only(counting, street_analysis):
    analysis = counting.analyse(STREET.read_bytes(), encode=(2,))
    assert counting.encoder.crops == [1]
    assert [n for n, g in enumerate(analysis.garments) if g.embedding is not None] == [2]
    assert np.allclose(analysis.garments[2].embedding, street_analysis.garments[2].embedding, atol=1e-6)


def test_an_index_past_the_last_garment_encodes_nothing(counting, street_analysis):
    analysis = counting.analyse(STREET.read_bytes(), encode=(len(street_analysis.garments),))
    assert counting.encoder.crops == []
    assert all(garment.embedding is None for garment in analysis.garments)
    assert counting.encode_garments(STREET.read_bytes(), analysis, (99,)) == []


def test_every_garment_is_encoded_in_one_pass_when_asked(counting, street_analysis):
    analysis = counting.analyse(STREET.read_bytes(), encode="all")
    assert counting.encoder.crops == [len(street_analysis.garments)]
    for lazy, full in zip(analysis.garments, street_analysis.garments, strict=True):
        assert np.allclose(lazy.embedding, full.embedding, atol=1e-6)


# --- boxes too small to be a garment ---------------------------------------------------------


def test_a_box_under_the_minimum_side_is_dropped_before_the_main_garment_is_chosen(encoder):
    # given a 400×600 photo: a dress, a surer 6 px sliver in the centre (it would be the main
    # garment), a 7 px high strip, and a bag just wide enough (8 px)
    image = Image.new("RGB", (400, 600))
    detections = [
        Detection((100, 100, 300, 500), "dress", 0.5),
        Detection((197, 150, 203, 450), "top", 0.9),
        Detection((50, 300, 350, 307), "trousers", 0.8),
        Detection((10, 10, 18, 60), "bag", 0.4),
    ]

    # when
    boxes = VisionPipeline(encoder)._boxes(image, detections)

    # then
    assert [(box, label) for box, label, _, _ in boxes] == [((100, 100, 300, 500), "dress"), ((10, 10, 18, 60), "bag")]


def test_on_a_large_photo_the_minimum_side_is_a_share_of_it(encoder):
    # given a 3000×2000 photo: 1 % of its shorter side is 20 px
    image = Image.new("RGB", (3000, 2000))
    detections = [Detection((1000, 500, 1019, 1500), "top", 0.9), Detection((1000, 500, 1020, 1500), "top", 0.8)]

    # when
    boxes = VisionPipeline(encoder)._boxes(image, detections)

    # then
    assert [box for box, _, _, _ in boxes] == [(1000, 500, 1020, 1500)]


def test_when_every_box_is_too_small_the_whole_image_is_used(encoder):
    image = Image.new("RGB", (400, 600))
    boxes = VisionPipeline(encoder)._boxes(image, [Detection((10, 10, 13, 400), "top", 0.9)])
    assert boxes == [((0, 0, 400, 600), WHOLE_IMAGE_LABEL, 0.0, True)]


def test_ingest_gets_each_detection_with_its_mask_and_a_query_boxes_only(encoder, shipped_detector):
    # given the shipped (segmenting) detector in a pipeline
    pipeline = VisionPipeline(encoder, shipped_detector)
    assert shipped_detector.has_masks

    # when the street photo is analysed as ingest does (a batch) and as a query does (one photo)
    (batched,) = pipeline.analyse_batch([STREET.read_bytes()])
    query = pipeline.analyse(STREET.read_bytes())

    # then ingest's analysis keeps every detection with its mask over its box, for the colour read
    assert batched.detections and all(
        d.mask is not None and d.mask.shape == (d.box[3] - d.box[1], d.box[2] - d.box[0]) and d.mask.any()
        for d in batched.detections
    )
    # and a query's has the same detections without masks (they would cost it time for nothing)
    assert [(d.label, d.box) for d in query.detections] == [(d.label, d.box) for d in batched.detections]
    assert all(d.mask is None for d in query.detections)
