"""A shopper's photo analysed once: the pipeline's answer cached by the photo's bytes for a few minutes.

The demo sends the same upload twice in a row: to ``POST /recommendations/`` (similar items), then
to ``POST /complete-the-look/`` (and a shopper may pick another garment of it). Decode, detect and
encode are nearly all of such a request's time, and their answer depends only on the bytes and
the models, so it is kept in Django's default cache (Redis with ``REDIS_CACHE_URL``, shared by
every web process; per process otherwise) under the SHA-256 of the bytes, the encoder version and
the detector's identity (weights file, its size and modification time, confidence, input size,
box cap), for ``FASHIONREC_ANALYSIS_CACHE_SECONDS`` (600 s): an entry made with other models or
another threshold is never read.

A query encodes only the garments it needs (the main one, or the one picked; every one with
``garments=all``): the entry keeps every box, and the embeddings computed so far. A later request
for another garment of the same photo decodes the bytes again and encodes just that garment, and
the entry is written back with it, so no garment of a photo is encoded twice while the entry lives
(two requests racing for different garments may each write back their own: the loser's embedding
is encoded again if asked for, never wrong).

Only successful analyses are kept (a rejected image raises before anything is stored). A cache
that is down costs the analysis, never the request. An entry
is plain data (boxes, labels, confidences, flags, float32 embeddings as bytes or None when not
encoded yet), about 600 bytes an encoded garment, so a cache that cannot read it back (another
release's layout) is simply a miss.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.core.cache import cache

from recommender.vision.garment_choice import MAIN_GARMENT, GarmentIndices

if TYPE_CHECKING:
    from recommender.vision.pipeline import ImageAnalysis

logger = logging.getLogger(__name__)

# v2: garments not encoded yet are stored with a None embedding (v1 entries had every one, and
# a v1 reader would take such an entry for unreadable and analyse the photo again).
KEY_PREFIX = "fashionrec:analysis:v2"


def analysis_key(data: bytes, encoder_version: str, detector_identity: str = "none") -> str:
    return f"{KEY_PREFIX}:{encoder_version}:{detector_identity}:{hashlib.sha256(data).hexdigest()}"


def detector_identity(pipeline) -> str:
    """A short digest of what decides the boxes: the detector's weights file (path, size, mtime:
    no hashing of megabytes per request), its confidence and input size, and the pipeline's cap and crop padding."""
    detector = getattr(pipeline, "detector", None)
    if detector is None:
        return "none"
    path = getattr(detector, "weights_path", None)
    try:
        stat = Path(path).stat() if path is not None else None
    except OSError:
        stat = None
    parts = (
        str(path),
        stat.st_size if stat else "",
        stat.st_mtime_ns if stat else "",
        getattr(detector, "confidence", ""),
        getattr(detector, "imgsz", ""),
        getattr(pipeline, "max_garments", ""),
        getattr(pipeline, "crop_padding", ""),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def image_analysis(pipeline, data: bytes, *, encode: GarmentIndices = MAIN_GARMENT) -> ImageAnalysis:
    """``pipeline.analyse(data, encode=encode)``, or the answer it gave for the same bytes a few
    minutes ago, with the garments of ``encode`` that it had not encoded encoded now.

    On a hit ``timings_ms`` says so: detect is 0, decode and encode are 0 unless a garment had to
    be encoded, and ``analysis_cache`` is the time the cache took to answer.
    """
    seconds = settings.FASHIONREC_ANALYSIS_CACHE_SECONDS
    if seconds <= 0:
        return pipeline.analyse(data, encode=encode)
    started = time.perf_counter()
    key = analysis_key(data, pipeline.encoder_version, detector_identity(pipeline))
    stored = _cache_call(cache.get, key)
    if stored is not None:
        try:
            analysis = _from_plain(stored)
        except (KeyError, TypeError, ValueError):
            logger.warning("unreadable analysis cache entry %s: analysing again", key)
        else:
            analysis.timings_ms = {
                "decode": 0.0,
                "detect": 0.0,
                "encode": 0.0,
                "analysis_cache": round((time.perf_counter() - started) * 1000, 2),
            }
            if pipeline.encode_garments(data, analysis, encode):
                _cache_call(cache.set, key, _to_plain(analysis), seconds)
            return analysis
    analysis = pipeline.analyse(data, encode=encode)
    _cache_call(cache.set, key, _to_plain(analysis), seconds)
    return analysis


def _cache_call(operation, *args):
    """A cache read or write that cannot fail the request: the cache only saves work, so a cache
    server that is down (Redis restarting) costs an analysis, never a 500."""
    try:
        return operation(*args)
    except Exception as error:  # the backends raise their own client's errors (redis.ConnectionError, …)
        logger.warning("analysis cache unavailable (%s): analysing without it", error)
        return None


def _to_plain(analysis: ImageAnalysis) -> dict:
    return {
        "width": analysis.width,
        "height": analysis.height,
        "garments": [
            {
                "box": list(crop.box),
                "label": crop.label,
                "confidence": crop.confidence,
                "is_whole_image": crop.is_whole_image,
                "embedding": None if crop.embedding is None else np.asarray(crop.embedding, np.float32).tobytes(),
            }
            for crop in analysis.garments
        ],
    }


def _from_plain(stored: dict) -> ImageAnalysis:
    # Imported here, as recommender.api.views imports the pipeline: it brings torch, which a web
    # process loads with its first photo, not at start (the caller already holds a pipeline).
    from recommender.vision.pipeline import GarmentCrop, ImageAnalysis

    garments = [
        GarmentCrop(
            box=tuple(int(v) for v in item["box"]),
            label=str(item["label"]),
            confidence=float(item["confidence"]),
            is_whole_image=bool(item["is_whole_image"]),
            embedding=None if item["embedding"] is None else np.frombuffer(item["embedding"], np.float32).copy(),
        )
        for item in stored["garments"]
    ]
    if not garments:
        raise ValueError("an analysis always has a garment")
    return ImageAnalysis(width=int(stored["width"]), height=int(stored["height"]), garments=garments, timings_ms={})
