"""Bytes in, garments with embeddings out: decode → detect → crop → encode.

The one code path for catalog ingest (``analyse_batch``) and shopper queries (``analyse``), so
a query photo and a catalog photo are always treated alike. Ingest encodes every garment (each
becomes a row); a query encodes only the garments it asks for (by default the main one: the
others are boxes the shopper may pick next, encoded then by ``encode_garments`` from the same
bytes). Pure library: settings are read only in ``get_pipeline``, which builds the process-wide
instance once (the models take a second to load and ~10 MB of memory; every request and task
reuses them).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from fashionrec.imaging import ImageRejected, load_image
from recommender.vision.encoder import Encoder, load_encoder
from recommender.vision.garment_choice import MAIN_GARMENT, GarmentIndices, chosen_indices
from recommender.vision.main_garment import main_first
from recommender.vision.preprocess import clamp_box

logger = logging.getLogger(__name__)

# Label and confidence of the whole-image fallback (no detection passed the threshold).
WHOLE_IMAGE_LABEL = "garment"
# Detector batches are chunked: YOLO activations at 320 px are ~30 MB per image.
DETECT_CHUNK = 16
# Detections whose clamped box has a side under max(8 px, 1 % of the photo's shorter side) are
# dropped: such a sliver carries nothing the encoder can use (upscaled to its 112 px input it is a
# blur) and, at the detector's 320 px input, it is under one stride-8 cell of a 550×832 photo. No
# real garment comes near it: the smallest side of a CCP ground-truth box (every 8th photo, 504
# boxes) is 19 px of 550, 3.5 % of the shorter side; the fraction scales it for large photos.
MIN_BOX_SIDE_PX = 8
MIN_BOX_SIDE_FRACTION = 0.01
# Each side of a detector box grows by this share of the box before it is encoded: a tight box
# cuts off a shoe's toe or a hem, and encoder v2 saw boxes jittered by up to 12 % in training.
# Chosen on the selection splits only (2026-12-06, encoder st128-…-a616f87a, detector v004;
# catalog = clothing-small train minus its selection split): 0 → 0.1 raised catalog photo →
# same category p@10 from 0.752 to 0.776 (311 selection photos) and worn garment → same kind
# from 0.561 to 0.643 (287 garments of the CCP selection photos). Part of what an embedding
# means, like the encoder: changing it needs a re-embedding (``reindex --force``).
CROP_PADDING = 0.1


@dataclass(frozen=True)
class GarmentCrop:
    box: tuple[int, int, int, int]  # pixels of the oriented image
    label: str
    confidence: float
    is_whole_image: bool  # nothing passed the threshold: whole image used, flagged
    # float32 (128,), unit norm; None for a garment a query did not ask to encode (``encode_garments``)
    embedding: np.ndarray | None = field(repr=False)


@dataclass
class ImageAnalysis:
    width: int
    height: int
    # the main garment first (`main_garment` rule: the default a shopper means), then the others
    # most confident first; never empty
    garments: list[GarmentCrop]
    timings_ms: dict[str, float]  # "decode", "detect", "encode"
    # every detection of the photo (``detector.Detection``); from ``analyse_images`` / ``analyse_batch``
    # (ingest) with its mask where the detector is a segmenting one: ingest reads catalog colours
    # through them (``colour_read``); not cached
    detections: list = field(default_factory=list, repr=False)

    def missing(self, indices: GarmentIndices) -> list[int]:
        """Those of ``indices`` (in range) whose garment has no embedding yet, in order."""
        return [i for i in chosen_indices(indices, len(self.garments)) if self.garments[i].embedding is None]


class Detector(Protocol):
    def detect(self, images: list[Image.Image], *, masks: bool = True) -> list[list]:  # list[list[detector.Detection]]
        ...


class VisionPipeline:
    """Decode, detect and encode. ``detector=None`` encodes whole images only (flagged as such)."""

    def __init__(
        self,
        encoder: Encoder,
        detector: Detector | None = None,
        *,
        max_bytes: int | None = None,
        max_pixels: int | None = None,
        max_decoded_bytes: int | None = None,
        max_garments: int = 6,
        crop_padding: float = CROP_PADDING,
    ) -> None:
        self.encoder = encoder
        self.encoder_version: str = encoder.version
        self.detector = detector
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.max_decoded_bytes = max_decoded_bytes
        # A catalog photo rarely shows more than a full outfit; more boxes are mostly duplicates
        # and would each cost an embedding row.
        self.max_garments = max_garments
        self.crop_padding = crop_padding

    @property
    def match_calibration(self) -> dict | None:
        """The encoder's match calibration (``MatchCalibration.to_dict()``), None when uncalibrated."""
        calibration = getattr(self.encoder, "calibration", None)
        return calibration.to_dict() if calibration is not None else None

    # --- public API -------------------------------------------------------------------------

    def _load(self, data: bytes) -> Image.Image:
        return load_image(
            data, max_bytes=self.max_bytes, max_pixels=self.max_pixels, max_decoded_bytes=self.max_decoded_bytes
        )

    def analyse(self, data: bytes, *, encode: GarmentIndices = MAIN_GARMENT) -> ImageAnalysis:
        """Analyse one image: every garment detected, those in ``encode`` encoded (the others'
        ``embedding`` is None). Raises ``ImageRejected`` for anything that is not a usable photo.
        """
        started = time.perf_counter()
        image = self._load(data)
        decoded = time.perf_counter()
        # a query needs boxes only: the masks are for ingest's colour read (``analyse_images``)
        detections = self._detect([image], masks=False)[0]
        detected = time.perf_counter()
        boxes = self._boxes(image, detections)
        analysis = ImageAnalysis(
            width=image.width,
            height=image.height,
            garments=_garments(boxes, [None] * len(boxes)),
            timings_ms={"decode": _ms(decoded - started), "detect": _ms(detected - decoded)},
            detections=detections,
        )
        self._encode_into(image, analysis, analysis.missing(encode))
        analysis.timings_ms["encode"] = _ms(time.perf_counter() - detected)
        return analysis

    def encode_garments(self, data: bytes, analysis: ImageAnalysis, indices: GarmentIndices) -> list[int]:
        """Encode those of ``indices`` not encoded yet in ``analysis`` of these same bytes (decoded
        again: the same pixels, so the same embedding ``analyse`` would have given the box).

        Returns the indices it encoded; their decode and encode time is added to ``timings_ms``.
        """
        missing = analysis.missing(indices)
        if not missing:
            return []
        started = time.perf_counter()
        image = self._load(data)
        decoded = time.perf_counter()
        self._encode_into(image, analysis, missing)
        timings = analysis.timings_ms
        timings["decode"] = round(timings.get("decode", 0.0) + _ms(decoded - started), 2)
        timings["encode"] = round(timings.get("encode", 0.0) + _ms(time.perf_counter() - decoded), 2)
        return missing

    def analyse_batch(self, items: Sequence[bytes]) -> list[ImageAnalysis | ImageRejected]:
        """Analyse many images with one detector pass and one encoder pass (ingest throughput).

        A bad image does not fail the batch: its slot holds the ``ImageRejected``. Detect and
        encode timings are the batch's time shared equally among its images.
        """
        results: list[ImageAnalysis | ImageRejected | None] = [None] * len(items)
        images: list[tuple[int, Image.Image, float]] = []
        for position, data in enumerate(items):
            started = time.perf_counter()
            try:
                image = self._load(data)
            except ImageRejected as rejected:
                results[position] = rejected
                continue
            images.append((position, image, _ms(time.perf_counter() - started)))
        for (position, _, decode_ms), analysis in zip(
            images, self.analyse_images([image for _, image, _ in images]), strict=True
        ):
            analysis.timings_ms["decode"] = decode_ms
            results[position] = analysis
        return results  # type: ignore[return-value]

    def analyse_images(self, images: Sequence[Image.Image]) -> list[ImageAnalysis]:
        """``analyse_batch`` for images already decoded by ``load_image`` (benchmarks, training)."""
        if not images:
            return []
        started = time.perf_counter()
        detections = self._detect(list(images), masks=True)
        detect_ms = _ms(time.perf_counter() - started) / len(images)

        started = time.perf_counter()
        per_image = [self._boxes(image, found) for image, found in zip(images, detections, strict=True)]
        crops = [self._crop(image, box[0]) for image, boxes in zip(images, per_image, strict=True) for box in boxes]
        embeddings = self.encoder.encode(crops)
        encode_ms = _ms(time.perf_counter() - started) / len(images)

        analyses = []
        offset = 0
        for image, boxes, found in zip(images, per_image, detections, strict=True):
            analyses.append(
                ImageAnalysis(
                    width=image.width,
                    height=image.height,
                    garments=_garments(boxes, embeddings[offset : offset + len(boxes)]),
                    timings_ms={"decode": 0.0, "detect": round(detect_ms, 2), "encode": round(encode_ms, 2)},
                    detections=found,
                )
            )
            offset += len(boxes)
        return analyses

    def embed_box(self, data: bytes, box: Sequence[float]) -> np.ndarray:
        """Re-encode one (e.g. staff-corrected) box of an image: float32 (dim,), unit norm."""
        image = self._load(data)
        clamped = clamp_box(tuple(box), image.width, image.height)  # type: ignore[arg-type]
        return self.encoder.encode([self._crop(image, clamped)])[0]

    # --- steps ------------------------------------------------------------------------------

    def _encode_into(self, image: Image.Image, analysis: ImageAnalysis, indices: list[int]) -> None:
        """Fill in the embeddings of garments ``indices`` (one encoder pass)."""
        if not indices:
            return
        garments = analysis.garments
        embeddings = self.encoder.encode([self._crop(image, garments[i].box) for i in indices])
        for i, embedding in zip(indices, embeddings, strict=True):
            garments[i] = replace(garments[i], embedding=_vector(embedding))

    def _detect(self, images: list[Image.Image], *, masks: bool) -> list[list]:
        if self.detector is None:
            return [[] for _ in images]
        found: list[list] = []
        for start in range(0, len(images), DETECT_CHUNK):
            found += self.detector.detect(images[start : start + DETECT_CHUNK], masks=masks)
        return found

    def _boxes(self, image: Image.Image, detections: list) -> list[tuple[tuple[int, int, int, int], str, float, bool]]:
        """(box, label, confidence, is_whole_image) per garment large enough to be one (``MIN_BOX_SIDE_PX``):
        the main garment, then by confidence."""
        found = [(clamp_box(d.box, image.width, image.height), d.label, float(d.confidence), False) for d in detections]
        min_side = max(MIN_BOX_SIDE_PX, MIN_BOX_SIDE_FRACTION * min(image.width, image.height))
        found = [item for item in found if min(item[0][2] - item[0][0], item[0][3] - item[0][1]) >= min_side]
        boxes = main_first(found, image.width, image.height, self.max_garments)
        if not boxes:
            boxes.append(((0, 0, image.width, image.height), WHOLE_IMAGE_LABEL, 0.0, True))
        return boxes

    def _crop(self, image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
        if box == (0, 0, image.width, image.height):
            return image
        x1, y1, x2, y2 = box
        if self.crop_padding:
            pad_x, pad_y = (x2 - x1) * self.crop_padding, (y2 - y1) * self.crop_padding
            x1, y1, x2, y2 = clamp_box((x1 - pad_x, y1 - pad_y, x2 + pad_x, y2 + pad_y), image.width, image.height)
        return image.crop((x1, y1, x2, y2))


def _garments(boxes, embeddings) -> list[GarmentCrop]:
    return [
        GarmentCrop(
            box=box,
            label=label,
            confidence=round(confidence, 4),
            is_whole_image=whole,
            embedding=None if embedding is None else _vector(embedding),
        )
        for (box, label, confidence, whole), embedding in zip(boxes, embeddings, strict=True)
    ]


def _vector(embedding) -> np.ndarray:
    return np.ascontiguousarray(embedding, dtype=np.float32)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


# --- process-wide instance --------------------------------------------------------------------

_pipeline: VisionPipeline | None = None
_lock = threading.Lock()


def build_pipeline_from_settings() -> VisionPipeline:
    """A new pipeline configured from Django settings (``get_pipeline`` caches one)."""
    import torch
    from django.conf import settings

    # The web and worker processes share 2 cores: intra-op threads beyond the core count only
    # add contention (torch may also start with 1 here, which halves encoder throughput).
    threads = int(getattr(settings, "FASHIONREC_TORCH_THREADS", 0) or min(2, os.cpu_count() or 1))
    torch.set_num_threads(threads)
    # ONNX Runtime copies of the .pt (cached, exported at first load): the same outputs for less CPU.
    onnx_threads = threads if getattr(settings, "FASHIONREC_VISION_RUNTIME", "onnx") == "onnx" else None

    encoder = load_encoder(settings.FASHIONREC_ENCODER_WEIGHTS, onnx_threads=onnx_threads)
    detector = None
    weights = Path(settings.FASHIONREC_DETECTOR_WEIGHTS)
    if weights.is_file():
        from recommender.vision.detector import GarmentDetector

        detector = GarmentDetector(
            weights,
            confidence=settings.FASHIONREC_DETECTOR_CONFIDENCE,
            imgsz=int(getattr(settings, "FASHIONREC_DETECTOR_IMGSZ", 320)),
            onnx_threads=onnx_threads,
        )
    else:
        # Keep serving (whole-image embeddings, flagged is_whole_image) rather than fail every
        # upload; the warning names the missing file.
        logger.warning("detector weights %s not found: encoding whole images only", weights)
    if getattr(encoder, "runtime", "torch") == "onnx" and getattr(detector, "runtime", "onnx") == "onnx":
        # ONNX Runtime runs both networks on its own threads; what is left to torch (input
        # normalisation, NMS) is small, and its OpenMP threads spin-wait for a busy core: at load
        # 9 on 2 cores those two steps took 25 ms (median) of a query with 2 threads, 2.5 with 1.
        torch.set_num_threads(1)
    return VisionPipeline(
        encoder,
        detector,
        max_bytes=settings.FASHIONREC_MAX_UPLOAD_BYTES,
        max_pixels=settings.FASHIONREC_MAX_IMAGE_PIXELS,
        max_decoded_bytes=settings.FASHIONREC_MAX_DECODED_BYTES,
    )


def get_pipeline() -> VisionPipeline:
    """The process-wide pipeline, built on first use from settings (thread-safe)."""
    global _pipeline
    if _pipeline is None:
        with _lock:
            if _pipeline is None:
                _pipeline = build_pipeline_from_settings()
    return _pipeline


def reset_pipeline() -> None:
    """Forget the process-wide pipeline (tests that change weights settings)."""
    global _pipeline
    with _lock:
        _pipeline = None
