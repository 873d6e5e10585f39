"""Garment detection with an ultralytics YOLO model loaded from a local weights file.

Any ultralytics detection weights work (the project's own `models/detector/detector.pt`, or a
user's model trained on DeepFashion2, ModaNet…): their class names are mapped onto the garment
taxonomy when `taxonomy.garment_for_name` knows them, and kept as they are otherwise.

Inference runs the model directly (letterbox → forward → NMS) instead of `YOLO.predict`: one
batched forward pass for the whole list, no per-call predictor setup, no file or network access,
and the same pixels in always give the same boxes out. Given the same letterboxed input, the boxes
and confidences are those of `YOLO.predict` (`test_detector` compares them on real photos). The
letterbox is square (`imgsz`²) with `INTER_AREA` when shrinking, as the served weights were
evaluated and their confidence chosen (models/detector/metrics.json); `YOLO.predict`'s own (a
stride-multiple rectangle, `INTER_LINEAR`) feeds a 550×832 photo as 224×320, 30 % fewer pixels,
but moved recall50 on the CCP selection split from 0.577 to 0.555 and label accuracy from 0.852 to
0.824 (precision 0.702 → 0.721): a change of results, left for a re-evaluated threshold.

The forward pass runs in ONNX Runtime when the caller asks for it (`onnx_threads`): the copy of the
weights is taken from the ONNX cache, or exported into it at load (`onnx_runtime`); in PyTorch
otherwise, or when no copy can be had: the same outputs to within float rounding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from recommender.vision.onnx_runtime import load_onnx_copy
from recommender.vision.taxonomy import display_label

# ultralytics reads these when it is first imported: never reach the network (update checks,
# font/asset downloads, telemetry) and keep its logging quiet inside a web or worker process.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")

# Letterbox padding grey used by ultralytics in training; the model has learnt to ignore it.
_PAD_VALUE = 114


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 pixels of the input image
    label: str
    confidence: float
    # a segmenting detector's: (box height, box width) bool, the instance's own pixels in its box
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)


def configure_ultralytics_offline() -> None:
    """Turn off ultralytics' telemetry and online checks for this user (idempotent).

    `YOLO_OFFLINE` already makes ultralytics treat the machine as offline; `sync=False` also
    stops it from queueing usage events, so nothing is attempted even when a network exists.
    """
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", True):
        SETTINGS.update({"sync": False})


def load_detection_model(weights_path: str | os.PathLike):
    """The float, fused, frozen PyTorch module of an ultralytics weights file (no network access)."""
    import torch
    from ultralytics import YOLO

    path = Path(weights_path)
    if not path.is_file():
        # Checked here: ultralytics would otherwise treat an unknown name as a model to download.
        raise FileNotFoundError(f"detector weights not found: {path}")
    configure_ultralytics_offline()
    model = YOLO(str(path), task="detect").model
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{path} is not a PyTorch YOLO checkpoint")
    model = model.float().eval()
    if hasattr(model, "fuse"):
        model = model.fuse(verbose=False)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


class GarmentDetector:
    """Detects garments in batches of PIL images.

    `confidence` is the minimum class score kept; `imgsz` the square letterbox side the model
    sees (a multiple of the model's stride, 32 for YOLOv8). Detections of one image overlapping
    by more than `iou` within one class are merged by NMS. `onnx_threads`: run the
    forward pass in ONNX Runtime with that many threads, from the cached (or newly exported)
    ONNX copy of the weights (None: always PyTorch).
    """

    def __init__(
        self,
        weights_path: str | os.PathLike,
        *,
        confidence: float = 0.25,
        imgsz: int = 320,
        iou: float = 0.5,
        max_detections: int = 20,
        onnx_threads: int | None = None,
    ) -> None:
        import torch

        path = Path(weights_path)
        model = load_detection_model(path)
        stride = int(max(model.stride)) if hasattr(model, "stride") else 32
        if imgsz % stride:
            raise ValueError(f"imgsz {imgsz} must be a multiple of the model stride {stride}")
        self._torch = torch
        self._model = model
        self._head = model.model[-1] if hasattr(model, "model") else None
        # weights with their mask head (a segmenting run's, exported with masks) give each
        # detection its mask when asked (ingest's colour read); a query asks for boxes only, and
        # in ONNX Runtime runs a copy without the mask prototypes (about 10 ms of a photo's 50 on one core)
        self.has_masks = type(self._head).__name__ == "Segment"
        self._onnx = load_onnx_copy(path, kind="detector", threads=onnx_threads, imgsz=imgsz) if onnx_threads else None
        self._onnx_boxes = None
        if self._onnx is not None and self.has_masks:
            self._onnx_boxes = load_onnx_copy(path, kind="detector_boxes", threads=onnx_threads, imgsz=imgsz)
        self.weights_path = path
        self.runtime = "onnx" if self._onnx is not None else "torch"
        self.confidence = confidence
        self.imgsz = imgsz
        self.iou = iou
        self.max_detections = max_detections
        names = model.names if isinstance(model.names, dict) else dict(enumerate(model.names))
        self.source_names: dict[int, str] = {int(k): str(v) for k, v in names.items()}
        self.labels: dict[int, str] = {k: display_label(v) for k, v in self.source_names.items()}

    def _letterbox(self, image: Image.Image) -> tuple[np.ndarray, float, tuple[int, int]]:
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
        height, width = rgb.shape[:2]
        scale = self.imgsz / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA)
        canvas = np.full((self.imgsz, self.imgsz, 3), _PAD_VALUE, np.uint8)
        left, top = (self.imgsz - new_w) // 2, (self.imgsz - new_h) // 2
        canvas[top : top + new_h, left : left + new_w] = resized
        return canvas, scale, (left, top)

    def _forward(self, letterboxed: list[np.ndarray], masks: bool):
        """Raw predictions (N, 4 + classes [+ mask coefficients], anchors) of letterboxed images,
        and, with ``masks``, a segmenting model's mask prototypes (N, 32, imgsz/4, imgsz/4) as
        numpy (else None)."""
        torch = self._torch
        batch = np.ascontiguousarray(np.stack(letterboxed).transpose(0, 3, 1, 2), dtype=np.float32)
        batch /= np.float32(255.0)
        masks = masks and self.has_masks
        if self._onnx is not None:
            if not masks and self._onnx_boxes is not None:
                return torch.from_numpy(self._onnx_boxes(batch)), None
            outputs = self._onnx.outputs(batch)
            return torch.from_numpy(outputs[0]), outputs[1] if masks else None
        prediction = self._model(torch.from_numpy(batch))
        # a segmenting model returns ((boxes, mask prototypes), raw head outputs)
        prototypes = prediction[0][1].numpy() if masks else None
        while isinstance(prediction, (list, tuple)):
            prediction = prediction[0]
        return prediction, prototypes

    def detect(self, images: list[Image.Image], *, masks: bool = True) -> list[list[Detection]]:
        """Detections for each image, most confident first (an empty list when nothing passes);
        with ``masks``, a segmenting detector's each with its mask (``Detection.mask``)."""
        if not images:
            return []
        from ultralytics.utils.nms import non_max_suppression

        torch = self._torch
        boxed = [self._letterbox(image) for image in images]
        with torch.inference_mode():
            prediction, prototypes = self._forward([canvas for canvas, _, _ in boxed], masks)
            kept = non_max_suppression(
                prediction,
                conf_thres=self.confidence,
                iou_thres=self.iou,
                max_det=self.max_detections,
                nc=len(self.source_names),
                end2end=bool(getattr(self._head, "end2end", False)),
            )
        return [
            self._detections(image, rows, scale, offset, None if prototypes is None else prototypes[index])
            for index, (image, (_, scale, offset), rows) in enumerate(zip(images, boxed, kept, strict=True))
        ]

    def _detections(
        self, image: Image.Image, rows, scale: float, offset: tuple[int, int], prototypes: np.ndarray | None
    ) -> list[Detection]:
        left, top = offset
        detections = []
        coefficients = rows[:, 6:].numpy() if prototypes is not None else None
        for index, (x1, y1, x2, y2, score, cls) in enumerate(rows[:, :6].tolist()):
            box = (
                int(np.clip(round((x1 - left) / scale), 0, image.width - 1)),
                int(np.clip(round((y1 - top) / scale), 0, image.height - 1)),
                int(np.clip(round((x2 - left) / scale), 1, image.width)),
                int(np.clip(round((y2 - top) / scale), 1, image.height)),
            )
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            label = self.labels.get(int(cls), str(int(cls)))
            mask = None
            if coefficients is not None:
                mask = instance_mask(prototypes, coefficients[index], box, scale=scale, offset=offset, imgsz=self.imgsz)
            detections.append(Detection(box=box, label=label, confidence=round(float(score), 4), mask=mask))
        detections.sort(key=lambda d: (-d.confidence, d.box))
        return detections


def instance_mask(
    prototypes: np.ndarray,
    coefficients: np.ndarray,
    box: tuple[int, int, int, int],
    *,
    scale: float,
    offset: tuple[int, int],
    imgsz: int,
) -> np.ndarray:
    """(box height, box width) bool: the instance's pixels inside its ``box`` (pixels of the photo).

    YOLOv8-seg's mask is the sigmoid of the instance's coefficients times the prototypes, which
    cover the letterbox at a quarter of its side. Only the cells under the box are combined, and
    their logits (not the thresholded mask, so edges stay smooth) are mapped onto the box's pixels
    in the photo; a pixel is the instance's where the logit is over 0 (sigmoid over 0.5)."""
    channels, proto_h, proto_w = prototypes.shape
    left, top = offset
    factor = proto_w / imgsz
    # the box's edges in prototype cells
    px1, py1 = (box[0] * scale + left) * factor, (box[1] * scale + top) * factor
    px2, py2 = (box[2] * scale + left) * factor, (box[3] * scale + top) * factor
    cx1, cy1 = max(0, int(np.floor(px1))), max(0, int(np.floor(py1)))
    cx2, cy2 = min(proto_w, max(cx1 + 1, int(np.ceil(px2)))), min(proto_h, max(cy1 + 1, int(np.ceil(py2))))
    cells = prototypes[:, cy1:cy2, cx1:cx2].reshape(channels, -1)
    logits = np.ascontiguousarray((coefficients @ cells).reshape(cy2 - cy1, cx2 - cx1), dtype=np.float32)
    width, height = box[2] - box[0], box[3] - box[1]
    # affine map from cell (column, row), centres at +0.5, to the box's pixel (x, y), centres at +0.5
    sx, sy = width / max(px2 - px1, 1e-6), height / max(py2 - py1, 1e-6)
    matrix = np.float32([[sx, 0, (cx1 + 0.5 - px1) * sx - 0.5], [0, sy, (cy1 + 0.5 - py1) * sy - 0.5]])
    local = cv2.warpAffine(logits, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return local > 0
