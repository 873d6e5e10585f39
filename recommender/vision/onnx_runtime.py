"""ONNX Runtime copies of the served models: the same outputs, about 1.5-3× less CPU time.

The ``.pt`` weights are the source of truth and the only committed file; an ONNX copy is a derived
file, cached in ``FASHIONREC_ONNX_CACHE_DIR`` (``<data dir>/cache/onnx`` by default). Its name
carries the SHA-256 prefix of the ``.pt`` it was exported from and the export parameters, so a
retrained or user-supplied ``.pt`` gets a copy of its own and never a stale one; the file also
records the full digest, checked when it is opened. A missing copy is exported at load (a few
seconds; ``manage.py export_onnx`` builds them beforehand) and written under a temporary name then
renamed, so two processes starting together never open a half-written file. When onnxruntime or
the export is unavailable, or a cached file is unreadable and cannot be rebuilt, PyTorch serves
the weights (with a warning).

Sessions run with ``threads`` intra-op threads and spinning off: on cores shared with other
processes, threads that spin-wait for a busy core made PyTorch's 2-thread inference 10-15× slower
than its 1-thread inference (docs/vision.md, "Query speed"); ONNX Runtime's threads sleep instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Metadata key of the exported file: SHA-256 of the .pt it was exported from.
SOURCE_DIGEST_KEY = "fashionrec_source_sha256"
INPUT_NAME = "images"
# ONNX operator set: supported by the exporter of torch 2.x and by every onnxruntime since 1.12.
OPSET = 17
# Hex digits of the .pt's SHA-256 in the cached file's name (64 bits: no accidental collision).
_NAME_DIGEST_CHARS = 16


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def onnx_cache_dir() -> Path:
    from django.conf import settings

    return Path(settings.FASHIONREC_ONNX_CACHE_DIR)


def cached_onnx_path(weights: str | os.PathLike, *, digest: str, imgsz: int | None = None, variant: str = "") -> Path:
    """Where the copy of ``weights`` (whose SHA-256 is ``digest``) exported with these parameters is
    cached (``variant``: another graph of the same weights, e.g. a segmenting detector's boxes alone)."""
    size = f"-imgsz{imgsz}" if imgsz else ""
    part = f"-{variant}" if variant else ""
    return onnx_cache_dir() / f"{Path(weights).stem}-{digest[:_NAME_DIGEST_CHARS]}{part}{size}-opset{OPSET}.onnx"


# the ONNX copy of each kind of served model; "detector_boxes": a segmenting detector without its
# mask prototypes (a query needs boxes only; the prototypes cost about 10 ms of a photo's 50 on one core)
VARIANTS = {"detector": "", "detector_boxes": "boxes", "encoder": ""}


class OnnxModel:
    """One float32 image batch in (N, 3, H, W), the model's first output out, as numpy
    (``outputs``: all of them, e.g. a segmenting detector's mask prototypes second)."""

    def __init__(self, session, path: Path) -> None:
        self._session = session
        self.path = path

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.outputs(batch)[0]

    def outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        return self._session.run(None, {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)})


def load_onnx_copy(
    weights: str | os.PathLike, *, kind: str, threads: int, imgsz: int | None = None
) -> OnnxModel | None:
    """The ONNX Runtime copy of ``weights`` (``kind``: one of ``VARIANTS``), exported into the
    cache first when it is not there yet; None when PyTorch must serve them."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        logger.warning("onnxruntime is not installed: serving %s with PyTorch", weights)
        return None
    digest = file_sha256(weights)
    path = cached_onnx_path(weights, digest=digest, imgsz=imgsz, variant=VARIANTS[kind])
    if path.is_file():
        model = _open(path, digest, threads)
        if model is not None:
            return model
        logger.warning("cached ONNX copy %s is unreadable or not %s's: exporting it again", path, weights)
    try:
        from recommender.vision.onnx_export import export_onnx_copy

        started = time.perf_counter()
        export_onnx_copy(kind, weights, path, imgsz=imgsz)
        logger.info("exported %s to %s in %.1f s", weights, path, time.perf_counter() - started)
    except Exception:
        # no onnx package, an unwritable cache, weights the exporter cannot trace: still serve
        logger.warning("could not export %s to ONNX: serving it with PyTorch", weights, exc_info=True)
        return None
    model = _open(path, digest, threads)
    if model is None:
        logger.warning("the ONNX copy %s just exported does not load: serving %s with PyTorch", path, weights)
    return model


def _open(path: Path, digest: str, threads: int) -> OnnxModel | None:
    """A session on ``path`` when it loads and was exported from the .pt whose SHA-256 is ``digest``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime raises its own types for truncated or invalid files
        return None
    if session.get_modelmeta().custom_metadata_map.get(SOURCE_DIGEST_KEY) != digest:
        return None
    return OnnxModel(session, path)
