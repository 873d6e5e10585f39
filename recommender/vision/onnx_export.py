"""Write the ONNX copies of served weights into the ONNX cache (``onnx_runtime``).

Called by ``onnx_runtime.load_onnx_copy`` when a model is loaded without a cached copy, and by
``manage.py export_onnx`` to build the cache beforehand. The copy holds the network only (the
pipeline keeps doing the letterbox, NMS, crops, resizing and normalisation), with a dynamic batch,
and records the SHA-256 of the ``.pt`` it came from. torch's exporter needs the ``onnx`` package,
so production installs it (requirements.txt).
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from copy import deepcopy
from pathlib import Path

import torch
from torch import nn

from recommender.vision.detector import load_detection_model
from recommender.vision.encoder import encoder_from_checkpoint
from recommender.vision.onnx_runtime import (
    INPUT_NAME,
    OPSET,
    SOURCE_DIGEST_KEY,
    VARIANTS,
    cached_onnx_path,
    file_sha256,
)


class _Boxes(nn.Module):
    """A YOLO model in export mode: its decoded predictions (N, 4 + classes, anchors) alone."""

    def __init__(self, model: nn.Module, classes: int) -> None:
        super().__init__()
        self.model = model
        self.channels = 4 + classes

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        prediction = self.model(images)
        while isinstance(prediction, (list, tuple)):
            prediction = prediction[0]
        return prediction[:, : self.channels]


class _BoxesAndPrototypes(nn.Module):
    """A segmenting YOLO model in export mode: its predictions (N, 4 + classes + 32 mask
    coefficients, anchors), then its mask prototypes (N, 32, H/4, W/4)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        prediction, prototypes = self.model(images)
        return prediction, prototypes


class _Embedding(nn.Module):
    """An encoder's network: normalised image batch in, unnormalised embeddings out."""

    def __init__(self, encoder) -> None:
        super().__init__()
        self.encoder = encoder
        # registered so that the exporter sees the weights as parameters, not captured constants
        self.network = encoder.model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder._embed_tensor(images)


def export_onnx_copy(
    kind: str, weights: str | os.PathLike, output: Path | None = None, *, imgsz: int | None = None
) -> Path:
    """Export ``weights`` of a ``kind`` ("detector" or "encoder") to ``output`` (default: its cache path)."""
    weights = Path(weights)
    if kind in ("detector", "detector_boxes"):
        imgsz = imgsz or 320
        variant = VARIANTS[kind]
        output = output or cached_onnx_path(weights, digest=file_sha256(weights), imgsz=imgsz, variant=variant)
        return export_detector_onnx(weights, output, imgsz=imgsz, masks=kind == "detector")
    if kind == "encoder":
        return export_encoder_onnx(weights, output or cached_onnx_path(weights, digest=file_sha256(weights)))
    raise ValueError(f"unknown model kind {kind!r}")


def export_detector_onnx(weights: Path, output: Path, *, imgsz: int = 320, masks: bool = True) -> Path:
    """``weights`` (ultralytics .pt) → ONNX, dynamic batch and image size; a segmenting model's
    mask prototypes as a second output unless ``masks`` is False (then its boxes alone, without
    the mask branches' cost)."""
    model = deepcopy(load_detection_model(weights))
    head = model.model[-1]
    # export mode: the head returns its decoded predictions alone and recomputes the anchors
    # from the input's shape (traced as operations, not frozen for the example's size)
    head.export, head.dynamic, head.format = True, True, "onnx"
    example = torch.zeros(1, 3, imgsz, imgsz)
    axes = {0: "batch", 2: "height", 3: "width"}
    if type(head).__name__ == "Segment":
        if masks:
            return _export(_BoxesAndPrototypes(model), example, weights, output, axes, names=("output", "prototypes"))
        from ultralytics.nn.modules.head import Detect

        # the head run as the Detect head it extends (the same box and class branches): neither
        # the mask coefficients nor the prototypes are computed
        head.__class__ = Detect
    return _export(_Boxes(model, int(head.nc)), example, weights, output, axes)


def export_encoder_onnx(weights: Path, output: Path) -> Path:
    """An encoder checkpoint (``load_encoder``'s) → ONNX, dynamic batch."""
    encoder = encoder_from_checkpoint(torch.load(weights, map_location="cpu", weights_only=True))
    example = torch.zeros(2, 3, encoder.input_size, encoder.input_size)
    return _export(_Embedding(encoder), example, weights, output, {0: "batch"})


def _export(
    module: nn.Module, example: torch.Tensor, weights: Path, output: Path, axes: dict, names: tuple = ("output",)
) -> Path:
    import onnx

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        # torch announces the TorchScript-based exporter's deprecation; it is the one that
        # needs no extra packages and exports these plain convolutional networks exactly
        warnings.simplefilter("ignore")
        traced = Path(folder) / "model.onnx"
        torch.onnx.export(
            module.eval(),
            (example,),
            str(traced),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=list(names),
            dynamic_axes={INPUT_NAME: axes, **{name: {0: "batch"} for name in names}},
        )
        model = onnx.load(str(traced))
    entry = model.metadata_props.add()
    entry.key, entry.value = SOURCE_DIGEST_KEY, file_sha256(weights)
    # written under a name of its own then renamed: a process loading the same weights meanwhile
    # sees either no file or a whole one (two exporting together write the same bytes)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        onnx.save(model, str(partial))
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return output
