"""Train the garment detector from a YOLO model definition (no pretrained weights) and evaluate it.

Used by `manage.py train_detector` and the GPU entry point (`gpu_train.py`); pure library code
so it runs and is tested without Django. Each run gets a versioned folder `<output>/vNNN/` holding
ultralytics' own files (args.yaml, results.csv, weights/last.pt for `--resume`) plus `detector.pt`
(the best epoch, optimizer stripped) and `metrics.json` / `metrics.md` (per-class mAP@0.5 on the
photos ultralytics validated on, and label accuracy on the flat-lay photos of the catalog's
validation split).

Two recipes:
- a box detector (`yolov8-narrow`, `yolov8n.yaml`) on `detector_data`'s boxes, validated on the
  held-out CCP photos (how v001 was made);
- a segmenting detector (any `*-seg.yaml`, e.g. `yolov8n-seg.yaml`) on `detector_seg_dataset`'s
  outlines, validated on the CCP *selection* split; the report split never enters the dataset.
  Masks are a training signal only: at inference the pipeline uses its boxes (see detector.py).

`minutes` bounds one invocation: training stops at the first epoch boundary where another epoch
would not fit, leaving weights/last.pt with its optimizer state so `resume` continues the same
fixed schedule (epochs, learning-rate decay) in a later session or on another device.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from recommender.vision import detector as _detector  # noqa: F401  (sets YOLO_OFFLINE before ultralytics loads)
from recommender.vision.detector import GarmentDetector, configure_ultralytics_offline
from recommender.vision.detector_data import build_yolo_dataset
from recommender.vision.detector_export import export_detector
from recommender.vision.detector_render import render_detections, sample_photos
from recommender.vision.detector_seg_dataset import PHOTO_SUFFIXES, build_seg_dataset
from recommender.vision.taxonomy import GARMENT_CLASSES, flat_lay_garments

Progress = Callable[[str], None]

# YOLOv8 at half the width of YOLOv8n (0.9 M parameters instead of 3.0 M). On 2 shared cores
# the training budget is ~1 hour, and a narrower network gets through several times more epochs
# in it; it also leaves more of the ingest time budget to the encoder.
NARROW_MODEL = "yolov8-narrow"
_NARROW_SCALE = [0.33, 0.125, 1024]  # depth, width, max channels (yolov8n: 0.33, 0.25, 1024)


def is_segment_model(name: str) -> bool:
    """Whether a model definition has a segmentation head (ultralytics' `-seg` naming)."""
    return Path(str(name)).stem.endswith("-seg")


# Augmentation of the segmenting recipe, for ~1,700 photos from scratch: ultralytics' defaults
# (mosaic, HSV, horizontal flip, translate 0.1) plus stronger scale jitter (a garment seen from
# 0.4× to 1.6× its size: street photos frame people at every distance) and copy-paste of mirrored
# instances from the masks (more garments per photo, on new backgrounds). copy_paste_mode "flip"
# pastes an image's own garments, so a pasted top stays on a photo with its own lighting; the
# pasted copy must not overlap existing garments (ultralytics checks), so outfits stay plausible.
# The street-photo recipe (issue 15), declared once: `pack_detector_gpu` packs it and the model
# card's command spells it out for `train_detector`. Optimizer and learning rate are what
# ultralytics' "auto" picked in the probe that worked (AdamW, lr 0.002 × 5 / (4 + 9 classes)),
# pinned so the choice does not flip with the schedule's length; a first run with SGD lr 0.01 at
# an optimizer step every 16 images lost all validation recall after its warm-up epoch. Gradients
# accumulate to ultralytics' nominal batch of 64, so a GPU run at batch 64 takes the same steps as
# a CPU run at batch 16.
SEGMENT_RECIPE = {
    "model_yaml": "yolov8n-seg.yaml",
    "epochs": 150,
    "imgsz": 320,
    "batch": 16,
    "nominal_batch": 64,
    "warmup_epochs": 3.0,
    "optimizer": "AdamW",
    "lr0": 0.000769,
    "close_mosaic": 10,
    "seed": 0,
}

SEGMENT_AUGMENTATION = {"scale": 0.6, "copy_paste": 0.3, "copy_paste_mode": "flip", "mixup": 0.05}


def model_definition(name: str, run_dir: Path) -> str:
    """The model YAML to build: ultralytics' own (e.g. yolov8n.yaml) or the narrow variant, written to the run."""
    if name != NARROW_MODEL:
        return name
    import yaml
    from ultralytics.nn.tasks import yaml_model_load

    definition = {k: v for k, v in yaml_model_load("yolov8n.yaml").items() if k not in {"scale", "yaml_file"}}
    definition["scales"] = {"narrow": _NARROW_SCALE}
    path = run_dir / f"{NARROW_MODEL}.yaml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return str(path)


@dataclass
class TrainConfig:
    output_dir: Path
    ccp_dir: Path
    catalog_dir: Path
    cache_dir: Path
    model_yaml: str = NARROW_MODEL
    epochs: int = 12
    imgsz: int = 320
    batch: int = 16
    seed: int = 0
    flat_per_folder: int = 100
    limit: int | None = None
    # {image path: [(garment, (x1, y1, x2, y2))]}: boxes staff corrected in admin, added to training
    staff_labels: dict | None = None
    # {clothing dataset folder: garment class}: the flat-lay photos' classes from the catalog's
    # category kinds (`taxonomy.flat_lay_garments`); None: the built-in folder table
    folder_garments: dict | None = None
    # 0: no early stopping, the schedule is fixed (epochs and learning-rate decay are the recipe)
    patience: int = 0
    close_mosaic: int = 3
    evaluate_flat: bool = True
    # decoded, resized images kept in RAM (~0.3 GB for the full set): saves 4 JPEG decodes per
    # mosaic sample every epoch on 2 shared cores
    cache_images: bool = True
    # ultralytics accumulates gradients up to a nominal batch of 64 by default: only ~28 optimizer
    # steps per epoch here. A short CPU budget learns more from 4x as many smaller steps.
    nominal_batch: int = 16
    warmup_epochs: float = 1.0
    # Wall-clock budget in hours (None: exactly `epochs`). ultralytics then re-plans the number of
    # epochs and the learning-rate schedule after every epoch, so a run on shared cores still ends
    # annealed and on time; the epochs it reached are recorded in metrics.json for reproduction.
    hours: float | None = None
    # Wall-clock budget of one invocation in minutes (None: unbounded): stops at an epoch boundary
    # with a resumable last.pt; unlike `hours` it never changes the schedule.
    minutes: float | None = None
    device: str = "cpu"
    # dataloader processes: 0 on the shared 2 cores (the main process decodes); a GPU machine's
    # many cores keep the GPU fed with several
    workers: int = 0
    # None: what ultralytics' "auto" picks for the schedule (it depends on epochs and batch size);
    # the segmenting recipe pins both (see SEGMENT_RECIPE).
    optimizer: str | None = None
    lr0: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def segment(self) -> bool:
        return is_segment_model(self.model_yaml)


def _offline_ultralytics() -> None:
    """ultralytics checks for a plotting font when it reads a dataset and downloads it when missing.

    Nothing is plotted here (`plots=False`), so the font is not needed; replacing the check keeps
    a training run from ever trying the network (it would block or fail on this machine).
    """
    configure_ultralytics_offline()
    import ultralytics.data.utils as data_utils

    data_utils.check_font = lambda *args, **kwargs: None


def next_version_dir(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in output_dir.iterdir() if (m := re.fullmatch(r"v(\d{3,})", p.name))]
    return output_dir / f"v{max(numbers, default=0) + 1:03d}"


def latest_unfinished_run(output_dir: Path) -> Path | None:
    runs = sorted(
        (p for p in output_dir.glob("v[0-9][0-9][0-9]*") if (p / "weights" / "last.pt").exists()),
        key=lambda p: int(p.name[1:]),
    )
    unfinished = [p for p in runs if not (p / "metrics.json").exists()]
    return unfinished[-1] if unfinished else None


def _progress_callbacks(progress: Progress, started: float) -> dict[str, Callable]:
    logged: set[int] = set()

    def on_fit_epoch_end(trainer) -> None:
        # ultralytics fires this once more after its final validation; log each epoch once
        if trainer.epoch in logged or trainer.epoch >= trainer.epochs:
            return
        logged.add(trainer.epoch)
        metrics = trainer.metrics or {}
        losses = trainer.label_loss_items(trainer.tloss, prefix="train") if trainer.tloss is not None else {}
        progress(
            f"epoch {trainer.epoch + 1}/{trainer.epochs}: "
            f"box_loss {losses.get('train/box_loss', float('nan')):.3f} "
            f"cls_loss {losses.get('train/cls_loss', float('nan')):.3f} "
            f"val mAP@0.5 {metrics.get('metrics/mAP50(B)', float('nan')):.3f} "
            f"({(time.monotonic() - started) / 60:.1f} min)"
        )

    def on_train_batch_end(trainer) -> None:
        # ultralytics' own progress bar is off (YOLO_VERBOSE=False); a line every 25 batches instead
        batches = len(trainer.train_loader)
        done = getattr(trainer, "_fashionrec_batches", 0) + 1
        trainer._fashionrec_batches = done
        index = (done - 1) % batches + 1
        if index % 25 == 0 or index == batches:
            progress(
                f"epoch {trainer.epoch + 1}/{trainer.epochs} batch {index}/{batches} "
                f"({(time.monotonic() - started) / 60:.1f} min)"
            )

    return {"on_fit_epoch_end": on_fit_epoch_end, "on_train_batch_end": on_train_batch_end}


def _budget_callbacks(minutes: float | None, started: float, paused: dict, progress: Progress) -> dict[str, Callable]:
    """Stop at the first epoch boundary where one more epoch would overrun `minutes`.

    Runs after ultralytics saved last.pt for the epoch. Its `final_eval` would strip the optimizer
    from last.pt (and mark it finished), so it is skipped on a budget stop: last.pt stays resumable.
    """

    def on_fit_epoch_end(trainer) -> None:
        if minutes is None or trainer.epoch + 1 >= trainer.epochs or trainer.stop:
            return
        elapsed = time.monotonic() - started
        if elapsed + 1.1 * trainer.epoch_time > minutes * 60:
            trainer.stop = True
            trainer.final_eval = lambda: None
            paused.update(epoch=trainer.epoch + 1, epochs=trainer.epochs)
            progress(
                f"budget of {minutes:g} min reached after epoch {trainer.epoch + 1}/{trainer.epochs} "
                f"({elapsed / 60:.1f} min): stopping with a resumable weights/last.pt"
            )

    return {"on_fit_epoch_end": on_fit_epoch_end}


def build_dataset(config: TrainConfig, progress: Progress = print) -> Path:
    """The data.yaml of the config's recipe (built once, then reused from the cache)."""
    if config.segment:
        return build_seg_dataset(
            config.cache_dir,
            ccp_dir=config.ccp_dir,
            catalog_dir=config.catalog_dir,
            imgsz=config.imgsz,
            flat_per_folder=config.flat_per_folder,
            limit=config.limit,
            staff_labels=config.staff_labels,
            folder_garments=config.folder_garments,
            progress=progress,
        )
    return build_yolo_dataset(
        config.cache_dir,
        ccp_dir=config.ccp_dir,
        catalog_dir=config.catalog_dir,
        flat_per_folder=config.flat_per_folder,
        limit=config.limit,
        staff_labels=config.staff_labels,
        folder_garments=config.folder_garments,
        progress=progress,
    )


def train_detector(
    config: TrainConfig,
    *,
    resume: Path | None = None,
    data_yaml: Path | None = None,
    progress: Progress = print,
    finalise: bool = True,
) -> Path:
    """Train (or resume) one versioned run and return its folder.

    `data_yaml` trains on a dataset built elsewhere (an unpacked GPU pack) instead of building one.
    On resume, `config` supplies this invocation's `device` and `minutes`; everything else comes from
    the run. A run stopped by `minutes` is not finalised (no detector.pt/metrics.json yet); a run
    that reached its last epoch is, unless `finalise` is False.
    """
    _offline_ultralytics()
    from ultralytics import YOLO

    started = time.monotonic()
    paused: dict = {}
    callbacks = {**_progress_callbacks(progress, started)}
    budget = _budget_callbacks(config.minutes, started, paused, progress)
    if resume is not None:
        run_dir = resume
        here = config  # this machine's data and cache folders
        recorded = json.loads((run_dir / "run.json").read_text())
        progress(f"resuming {run_dir} on {config.device}")
        machine = {"device": config.device, "minutes": config.minutes, "workers": config.workers}
        config = TrainConfig(
            **{
                **{k: v for k, v in recorded["config"].items() if k in TrainConfig.__dataclass_fields__},
                "output_dir": run_dir.parent,
                **machine,
            }
        )
        if data_yaml is None and not Path(recorded["data"]).exists():
            # A run committed by another session or machine: its dataset cache is not here. The
            # dataset is a pure function of the recipe and the photos, so build it again from this
            # machine's copies of them.
            progress(f"{recorded['data']} is not here: building the run's dataset again")
            data_yaml = build_dataset(
                replace(config, ccp_dir=here.ccp_dir, catalog_dir=here.catalog_dir, cache_dir=here.cache_dir),
                progress,
            )
        data_yaml = Path(data_yaml or recorded["data"])
        model = YOLO(str(run_dir / "weights" / "last.pt"))
        _add_callbacks(model, callbacks, budget)
        # `data` may point at the same dataset in another place (a GPU machine's unpacked copy)
        model.train(
            resume=True,
            data=str(data_yaml),
            device=config.device,
            save_dir=str(run_dir.resolve()),
            plots=False,
            amp=False,
            workers=config.workers,
        )
    else:
        data_yaml = Path(data_yaml) if data_yaml else build_dataset(config, progress)
        run_dir = next_version_dir(config.output_dir)
        run_dir.mkdir(parents=True)
        serialisable = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
        (run_dir / "run.json").write_text(json.dumps({"config": serialisable, "data": str(data_yaml)}, indent=2))
        progress(
            f"training {config.model_yaml} from scratch into {run_dir} "
            f"({config.epochs} epochs, imgsz {config.imgsz}, {config.device})"
        )
        # Built from the YAML: random initial weights, nothing downloaded.
        task = "segment" if config.segment else "detect"
        model = YOLO(model_definition(config.model_yaml, run_dir), task=task)
        _add_callbacks(model, callbacks, budget)
        recipe = dict(SEGMENT_AUGMENTATION) if config.segment else {}
        if config.optimizer:
            recipe["optimizer"] = config.optimizer
        if config.lr0 is not None:
            recipe["lr0"] = config.lr0
        model.train(
            data=str(data_yaml),
            epochs=config.epochs,
            imgsz=config.imgsz,
            batch=config.batch,
            device=config.device,
            workers=config.workers,
            seed=config.seed,
            deterministic=True,
            pretrained=False,
            amp=False,
            plots=False,
            project=str(run_dir.parent),
            name=run_dir.name,
            exist_ok=True,
            patience=config.patience,
            close_mosaic=config.close_mosaic,
            cache="ram" if config.cache_images else False,
            nbs=config.nominal_batch,
            warmup_epochs=config.warmup_epochs,
            time=config.hours,
            verbose=False,
            **{**recipe, **config.extra},
        )
    minutes = (time.monotonic() - started) / 60
    if paused:
        progress(
            f"paused after epoch {paused['epoch']}/{paused['epochs']} in {minutes:.1f} min; "
            f"continue with --resume {run_dir}"
        )
        return run_dir
    progress(f"training finished in {minutes:.1f} min")
    if finalise:
        finalise_run(run_dir, data_yaml, config, progress=progress, train_minutes=minutes)
    return run_dir


def _add_callbacks(model, *groups: dict[str, Callable]) -> None:
    for group in groups:
        for event, callback in group.items():
            model.add_callback(event, callback)


def is_paused(run_dir: Path) -> bool:
    """Whether a run stopped by its budget can be resumed (last.pt still holds its optimizer, moments or not)."""
    import torch

    last = Path(run_dir) / "weights" / "last.pt"
    if not last.exists():
        return False
    checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    return checkpoint.get("optimizer") is not None and checkpoint.get("epoch", -1) >= 0


def finalise_run(
    run_dir: Path, data_yaml: Path, config: TrainConfig, *, progress: Progress, train_minutes: float
) -> None:
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import strip_optimizer

    weights = run_dir / "weights"
    best = weights / "best.pt" if (weights / "best.pt").exists() else weights / "last.pt"
    final = run_dir / "detector.pt"
    if config.segment:
        # served with its mask head: ingest reads catalog colours through it (see detector_export)
        export_detector(best, final)
    else:
        shutil.copyfile(best, final)
        strip_optimizer(final)
    split_key = "selection_ccp" if config.segment else "heldout_ccp"
    progress(f"evaluating {final} ({final.stat().st_size / 1e6:.1f} MB) on {split_key}")
    validation = YOLO(str(final)).val(
        data=str(data_yaml),
        split="val",
        imgsz=config.imgsz,
        batch=config.batch,
        device=config.device,
        workers=config.workers,
        plots=False,
        verbose=False,
        project=str(run_dir),
        name="val",
        exist_ok=True,
    )
    val_folder = "selection" if config.segment else "val"
    instances = _label_counts(data_yaml.parent / "labels" / val_folder)
    per_class = {name: None for name in GARMENT_CLASSES}
    for index, ap50 in zip(validation.box.ap_class_index.tolist(), validation.box.ap50.tolist(), strict=True):
        per_class[GARMENT_CLASSES[int(index)]] = round(float(ap50), 4)
    # The confidence where the mean F1 over classes peaks on the validated photos: the threshold
    # that keeps most true garments while dropping most false boxes for these weights.
    f1_curve = np.asarray(validation.box.f1_curve)
    best_confidence = float(np.asarray(validation.box.px)[f1_curve.mean(0).argmax()]) if f1_curve.size else 0.25
    metrics = {
        "weights": final.name,
        "weights_bytes": final.stat().st_size,
        "train_minutes": round(train_minutes, 1),
        "epochs_trained": _epochs_trained(run_dir),
        split_key: {
            "images": sum(
                p.suffix.lower() in PHOTO_SUFFIXES for p in (data_yaml.parent / "images" / val_folder).iterdir()
            ),
            "map50": round(float(validation.box.map50), 4),
            "map50_95": round(float(validation.box.map), 4),
            "best_f1_confidence": round(best_confidence, 3),
            "precision_at_best_f1": round(float(validation.box.mp), 4),
            "recall_at_best_f1": round(float(validation.box.mr), 4),
            "per_class_map50": per_class,
            "instances": instances,
        },
    }
    if config.evaluate_flat and Path(config.catalog_dir).is_dir():
        metrics["flat_lay_validation"] = flat_lay_label_accuracy(
            GarmentDetector(final, imgsz=config.imgsz, confidence=best_confidence),
            config.catalog_dir,
            limit=config.limit,
            folder_garments=config.folder_garments,
        )
        metrics["flat_lay_validation"]["confidence"] = round(best_confidence, 3)
    if Path(config.ccp_dir).is_dir() and Path(config.catalog_dir).is_dir():  # not on a GPU machine
        render_detections(
            GarmentDetector(final, imgsz=config.imgsz, confidence=best_confidence),
            sample_photos(config.ccp_dir, config.catalog_dir),
            run_dir / "detections.png",
        )
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (run_dir / "metrics.md").write_text(metrics_markdown(metrics))
    progress(metrics_markdown(metrics))


def _epochs_trained(run_dir: Path) -> int:
    results = run_dir / "results.csv"
    return max(0, len(results.read_text().strip().splitlines()) - 1) if results.exists() else 0


def _label_counts(labels_dir: Path) -> dict[str, int]:
    counts = dict.fromkeys(GARMENT_CLASSES, 0)
    for path in labels_dir.glob("*.txt"):
        for line in path.read_text().splitlines():
            if line.strip():
                counts[GARMENT_CLASSES[int(line.split()[0])]] += 1
    return counts


def flat_lay_label_accuracy(
    detector: GarmentDetector,
    catalog_dir: Path,
    *,
    limit: int | None = None,
    folder_garments: dict[str, str] | None = None,
) -> dict:
    """How often the most confident detection on a catalog validation photo has its folder's class.

    A folder's class comes from the catalog's kinds when given (`folder_garments`, see
    `taxonomy.flat_lay_garments`), else from the built-in folder table.

    These photos have no boxes, so this measures labels, not localisation; the validation split is
    never used for training (see detector_data), so it is an honest held-out check of flat-lay photos.
    """
    from PIL import Image

    per_folder: dict[str, dict[str, float]] = {}
    total = correct = missed = 0
    for folder, garment in sorted(flat_lay_garments(folder_garments).items()):
        files = sorted((Path(catalog_dir) / "validation" / folder).glob("*.jpg"))[:limit]
        hits = none = 0
        for start in range(0, len(files), 16):
            images = []
            for path in files[start : start + 16]:
                with Image.open(path) as image:
                    images.append(image.convert("RGB"))
            for detections in detector.detect(images):
                if not detections:
                    none += 1
                elif detections[0].label == garment:
                    hits += 1
        per_folder[folder] = {"images": len(files), "top1_label_accuracy": round(hits / max(1, len(files)), 3)}
        total, correct, missed = total + len(files), correct + hits, missed + none
    return {
        "images": total,
        "top1_label_accuracy": round(correct / max(1, total), 3),
        "no_detection_rate": round(missed / max(1, total), 3),
        "per_folder": per_folder,
    }


def metrics_markdown(metrics: dict) -> str:
    split_key = "selection_ccp" if "selection_ccp" in metrics else "heldout_ccp"
    held = metrics[split_key]
    described = {
        "heldout_ccp": "Held-out CCP photos: {n} (photo number divisible by 7)",
        "selection_ccp": "CCP selection photos: {n} (number ending in 3, not divisible by 7; never trained on)",
    }[split_key].format(n=held["images"])
    lines = [
        f"{described}, "
        f"mAP@0.5 {held['map50']:.3f}, mAP@0.5:0.95 {held['map50_95']:.3f}; mean F1 peaks at confidence "
        f"{held['best_f1_confidence']:.3f} (precision {held['precision_at_best_f1']:.3f}, "
        f"recall {held['recall_at_best_f1']:.3f})",
        "",
        "| class | boxes | mAP@0.5 |",
        "|---|---:|---:|",
    ]
    for name in GARMENT_CLASSES:
        ap = held["per_class_map50"].get(name)
        lines.append(f"| {name} | {held['instances'].get(name, 0)} | {'–' if ap is None else f'{ap:.3f}'} |")
    flat = metrics.get("flat_lay_validation")
    if flat:
        lines += [
            "",
            f"Flat-lay photos (clothing-small validation, {flat['images']} images, never trained on), at confidence "
            f"{flat['confidence']:.3f}: the most confident detection has the folder's class in "
            f"{flat['top1_label_accuracy']:.1%}, no detection in {flat['no_detection_rate']:.1%}.",
            "",
            "| folder | images | top-1 label accuracy |",
            "|---|---:|---:|",
        ]
        lines += [f"| {k} | {v['images']} | {v['top1_label_accuracy']:.3f} |" for k, v in flat["per_folder"].items()]
    return "\n".join(lines) + "\n"


def install_run(run_dir: Path, target_dir: Path) -> Path:
    """Copy a finished run's weights and metrics to the shipped location (`models/detector/`)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "detector.pt", target_dir / "detector.pt")
    for name in ("metrics.json", "metrics.md", "detections.png"):
        shutil.copyfile(run_dir / name, target_dir / name)
    return target_dir / "detector.pt"
