"""ONNX Runtime copies of the served models: the same outputs, about 1.5-3× less CPU time.

A weights file ``X.pt`` may have an exported copy ``X.onnx`` beside it (``manage.py export_onnx``).
The ``.pt`` stays the source of truth: the copy records the SHA-256 of the ``.pt`` it was exported
from, and it is used only while that digest matches, so retrained or user-supplied ``.pt`` weights
without a fresh export are served by PyTorch as before (a warning names a stale copy).

Sessions run with ``threads`` intra-op threads and spinning off: on cores shared with other
processes, threads that spin-wait for a busy core made PyTorch's 2-thread inference 10-15× slower
than its 1-thread inference (docs/vision.md, "Query speed"); ONNX Runtime's threads sleep instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Metadata key of the exported file: SHA-256 of the .pt it was exported from.
SOURCE_DIGEST_KEY = "fashionrec_source_sha256"
INPUT_NAME = "images"


def onnx_path_for(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".onnx")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OnnxModel:
    """One float32 image batch in (N, 3, H, W), the model's first output out, as numpy."""

    def __init__(self, session, path: Path) -> None:
        self._session = session
        self.path = path

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)})[0]


def load_onnx_copy(weights: str | os.PathLike, *, threads: int) -> OnnxModel | None:
    """The ONNX Runtime copy of ``weights`` when one is there and current, else None (use PyTorch)."""
    path = onnx_path_for(weights)
    if not path.is_file():
        return None
    try:
        import onnxruntime
    except ImportError:
        logger.warning("%s found but onnxruntime is not installed: serving %s with PyTorch", path, weights)
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    recorded = session.get_modelmeta().custom_metadata_map.get(SOURCE_DIGEST_KEY)
    if recorded != file_sha256(weights):
        logger.warning("%s was not exported from the current %s: serving it with PyTorch", path, weights)
        return None
    return OnnxModel(session, path)
