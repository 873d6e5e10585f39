"""Turn a training checkpoint into the weights the pipeline serves: half precision, no optimizer.

A segmenting detector (`*-seg.yaml`) learns from garment outlines. Its Segment head is a Detect
head (same box and class branches, same parameter names) plus a mask-coefficient branch and a
mask-prototype network. The served copy keeps the masks by default: ingest reads a catalog
garment's colour through them (`recommender/outfits/colour_read.py`; docs/outfits.md, "Catalog
colours from the detector's own masks"), for about 10 ms more detector time a photo on one
core. ``masks=False`` keeps the Detect part alone. The boxes are identical either way (same
weights, same outputs for the box and class channels); `test_detector_training` checks it.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from pathlib import Path

from recommender.vision import detector as _detector  # noqa: F401  (sets YOLO_OFFLINE before ultralytics loads)


def export_detector(checkpoint: Path, output: Path, *, masks: bool = True) -> Path:
    """Write `output`: the checkpoint's (EMA) model in half precision, optimizer-free; a segmenting
    model keeps its mask head unless ``masks`` is False (then a detection model)."""
    import torch
    from ultralytics.nn.tasks import DetectionModel, load_checkpoint

    model, ckpt = load_checkpoint(str(checkpoint), device="cpu")
    model = model.float().eval()
    head = model.yaml["head"][-1]
    if head[2] == "Segment" and not masks:
        definition = deepcopy(model.yaml)
        definition["head"][-1] = [head[0], head[1], "Detect", ["nc"]]
        served = DetectionModel(definition, ch=3, nc=model.yaml["nc"], verbose=False)
        missing, unexpected = served.load_state_dict(model.state_dict(), strict=False)
        if missing:
            raise ValueError(f"{checkpoint}: the detection head lacks weights for {missing[:5]}")
        dropped = {key.split(".")[2] for key in unexpected}
        if not dropped <= {"cv4", "proto"}:
            raise ValueError(f"{checkpoint}: unexpected weights outside the mask branch: {sorted(dropped)}")
        # ultralytics picks its validator/predictor from the task recorded in the model's args
        served.names, served.stride = model.names, model.stride
        served.args = {**dict(getattr(model, "args", {}) or {}), "task": "detect"}
        served.task = "detect"
        model = served
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "model": deepcopy(model).half(),
            "ema": None,
            "optimizer": None,
            "epoch": -1,
            "train_args": {**(ckpt or {}).get("train_args", {}), "task": getattr(model, "task", "detect")},
            "train_metrics": (ckpt or {}).get("train_metrics", {}),
            "date": datetime.now().astimezone().isoformat(),
            "exported_from": str(checkpoint),
        },
        output,
    )
    return output
