"""Fit and store the match calibration of any encoder weights (``manage.py calibrate_encoder``).

Encoder v2 weights get their calibration when training exports them; this module gives one to
any weights file ``load_encoder`` reads, the shipped v1 included, with the same held-out pairs:
the selection split of the training data (``encoder_data.is_selection``: 10% of clothing-small
``train/`` and of the CCP training photos), each held-out query against the training catalog
photos (``encoder_street_training.calibration_from_selection``). ``validation/`` and the CCP
report photos are never read.

The knots are stored inside the weights file (key ``calibration``), as encoder v2 does, not in a
sidecar: a calibration belongs to exactly one embedding space, and one file cannot drift from
its weights. Adding the key leaves the weights, their digest and the version name unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from recommender.vision.calibration import MatchCalibration
from recommender.vision.encoder import encoder_from_checkpoint
from recommender.vision.encoder_data import EncoderData
from recommender.vision.encoder_street_training import (
    StreetTrainSettings,
    calibration_from_selection,
    load_data,
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CalibrationFit:
    version: str
    calibration: MatchCalibration
    previous: MatchCalibration | None  # what the file held before, if anything
    queries: int  # held-out queries (selection split)
    index: int  # training catalog photos they were compared with


def embed_selection(encoder, data: EncoderData, batch: int = 256) -> np.ndarray:
    """Embeddings of the rows the calibration reads (training catalog photos and the selection
    split) through the encoder's own ``encode``, so any implementation works; other rows stay 0."""
    needed = np.flatnonzero(~data.worn | data.selection)
    embeddings = np.zeros((len(data.names), encoder.dim), np.float32)
    for start in range(0, len(needed), batch):
        rows = needed[start : start + batch]
        images = [Image.fromarray(np.ascontiguousarray(data.eval[i].transpose(1, 2, 0))) for i in rows]
        embeddings[rows] = encoder.encode(images)
    return embeddings


def fit_weights_calibration(
    weights_path: Path,
    *,
    dataset: Path,
    ccp: Path | None,
    cache_dir: Path | None = None,
    limit: int | None = None,
    progress: Progress = print,
) -> CalibrationFit:
    """The match calibration of ``weights_path`` on the selection split (nothing is written)."""
    checkpoint = torch.load(Path(weights_path), map_location="cpu", weights_only=True)
    encoder = encoder_from_checkpoint(checkpoint)
    size = int(encoder.input_size)
    settings = StreetTrainSettings(
        dataset=Path(dataset), ccp=ccp, output=Path("."), image_size=size, limit=limit, cache_dir=cache_dir
    )
    data = load_data(settings, round(size * 8 / 7), progress)
    progress(f"embedding {int((~data.worn | data.selection).sum())} photos with {encoder.version}")
    embeddings = embed_selection(encoder, data)
    calibration = calibration_from_selection(embeddings, data)
    previous = checkpoint.get("calibration")
    return CalibrationFit(
        version=encoder.version,
        calibration=calibration,
        previous=MatchCalibration.from_dict(previous) if previous else None,
        queries=int(data.selection.sum()),
        index=int((~data.worn & ~data.selection).sum()),
    )


def write_calibration(weights_path: Path, calibration: MatchCalibration) -> None:
    """Store ``calibration`` in the weights file (atomically; everything else is kept as it is)."""
    checkpoint = torch.load(Path(weights_path), map_location="cpu", weights_only=True)
    checkpoint["calibration"] = calibration.to_dict()
    partial = Path(weights_path).with_name(Path(weights_path).name + ".partial")
    torch.save(checkpoint, partial)
    partial.replace(weights_path)  # a reader, or a crash, never sees half a file
