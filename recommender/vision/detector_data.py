"""Build the detector's training data: YOLO boxes from CCP label maps plus weak boxes on flat-lay photos.

Two sources, written as one ultralytics dataset (images/, labels/, data.yaml) into a cache folder:

1. **CCP** street-fashion photos of people (Apache-2.0): every pixel carries one of 59 labels.
   Boxes come from the connected regions of each garment class (see `boxes_from_label_map`).
   Photos whose number is a multiple of 7 (`is_ccp_holdout`, 129 of 904 = 14%) are the held-out
   evaluation set and never used for training.
2. **Flat-lay** photos of single garments from the clothing catalog's `train/` split (CC0), with
   a weak box from a GrabCut foreground segmentation and the class of their folder (see
   `flat_lay_box`). Why this and not composites of CCP cut-outs: a garment cut out of a photo of
   a person keeps the wearer's pose, arms and occlusions, which look nothing like a shirt laid on
   a bed; the catalog photos are the real target distribution and their only unknown is the box,
   which a foreground segmentation finds well because each photo holds one garment on a plain
   floor, bed or wall. ultralytics' mosaic and scale augmentation then shows them at many sizes
   and next to other garments. The catalog's `validation/` split is never read here, so the
   retrieval benchmark that queries with it stays honest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import scipy.io
from PIL import Image, ImageOps

from recommender.vision.taxonomy import (
    CATALOG_FOLDER_TO_GARMENT,
    CCP_TO_GARMENT,
    GARMENT_CLASSES,
    PAIRED_CLASSES,
    flat_lay_garments,
)

# Regions smaller than this fraction of the photo are annotation specks (a few stray pixels at a
# garment's edge): 0.05% of a 550×832 CCP photo is 229 px, about 15×15, far below a shoe (~2,500 px).
MIN_SPECK_FRACTION = 0.0005
# For garments a person wears once, fragments smaller than this share of the largest fragment
# are stray pixels, not part of the garment's extent, and must not stretch its box.
MIN_FRAGMENT_SHARE = 0.10
# Paired items (two shoes) are split at gaps wider than this fraction of the photo's height;
# smaller gaps (laces, a strap across the foot) are bridged.
PAIRED_BRIDGE_FRACTION = 0.006
# Long side of the images written to the cache: training runs at imgsz 320, so storing the
# 550×832 originals would only cost JPEG decode time on 2 cores every epoch.
CACHE_LONG_SIDE = 448
CCP_HOLDOUT_MODULUS = 7
DATASET_FORMAT_VERSION = 1


@dataclass(frozen=True)
class GarmentBox:
    garment: str
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels, x2/y2 exclusive


def is_ccp_holdout(photo_id: int) -> bool:
    """The fixed evaluation split: CCP photos whose number is a multiple of 7 (129 of the 904 here)."""
    return photo_id % CCP_HOLDOUT_MODULUS == 0


def ccp_label_names(ccp_dir: Path) -> list[str]:
    cells = scipy.io.loadmat(str(Path(ccp_dir) / "label_list.mat"))["label_list"].ravel()
    return [str(cell[0]) if len(cell) else "" for cell in cells]


def _component_boxes(mask: np.ndarray, min_area: float) -> list[tuple[int, np.ndarray]]:
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return [
        (int(stats[i, cv2.CC_STAT_AREA]), stats[i]) for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_area
    ]


def _stat_box(stat: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v) for v in stat[:4])
    return (x, y, x + w, y + h)


def _union(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def boxes_from_label_map(label_map: np.ndarray, label_names: list[str]) -> list[GarmentBox]:
    """Derive one box per garment from a per-pixel label map.

    A person wears one garment of each kind, so all sizeable fragments of a class (a top split by
    an arm or a bag strap, an open jacket's two halves, two trouser legs) form one box; fragments
    under `MIN_FRAGMENT_SHARE` of the largest one and specks under `MIN_SPECK_FRACTION` of the
    photo are ignored. Paired items (shoes) are one box each, with small gaps bridged.
    """
    height, width = label_map.shape
    min_area = max(MIN_SPECK_FRACTION * height * width, 4.0)
    result: list[GarmentBox] = []
    for garment in GARMENT_CLASSES:
        source_ids = [i for i, name in enumerate(label_names) if CCP_TO_GARMENT.get(name) == garment]
        mask = np.isin(label_map, source_ids)
        if not mask.any():
            continue
        if garment in PAIRED_CLASSES:
            radius = max(1, round(PAIRED_BRIDGE_FRACTION * height))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
            bridged = cv2.dilate(mask.astype(np.uint8), kernel)
            count, labels = cv2.connectedComponents(bridged, connectivity=8)
            for i in range(1, count):
                # the box of the garment's own pixels, not of the dilated blob
                ys, xs = np.nonzero(mask & (labels == i))
                if len(xs) >= min_area:
                    result.append(
                        GarmentBox(garment, (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
                    )
        else:
            parts = _component_boxes(mask, min_area)
            if not parts:
                continue
            largest = max(area for area, _ in parts)
            kept = [_stat_box(stat) for area, stat in parts if area >= MIN_FRAGMENT_SHARE * largest]
            result.append(GarmentBox(garment, _union(kept)))
    return result


def flat_lay_box(image: Image.Image, *, work_side: int = 160, margin: float = 0.03) -> tuple[int, int, int, int]:
    """A weak box around the single garment of a flat-lay photo, from a GrabCut foreground mask.

    GrabCut starts from "everything but a thin border is maybe foreground" and learns colour
    models of the floor/bed/wall and the garment. Deterministic: OpenCV's GrabCut seeds its GMMs
    with k-means under a fixed RNG state. When the mask is implausible (under 5% of the photo),
    the box falls back to the whole photo minus the margin: the garment fills most catalog photos.
    """
    return flat_lay_foreground(image, work_side=work_side, margin=margin)[0]


def flat_lay_foreground(
    image: Image.Image, *, work_side: int = 160, margin: float = 0.03
) -> tuple[tuple[int, int, int, int], np.ndarray | None]:
    """`flat_lay_box`'s box and the foreground mask it came from (at `work_side` px, the garment's
    kept parts only), or None for the mask when the box is the fallback."""
    rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    scale = work_side / max(height, width)
    small = cv2.resize(rgb, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    mx, my = max(1, round(margin * sw)), max(1, round(margin * sh))
    fallback = (round(mx / scale), round(my / scale), round((sw - mx) / scale), round((sh - my) / scale))
    mask = np.zeros((sh, sw), np.uint8)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(
            cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
            mask,
            (mx, my, sw - 2 * mx, sh - 2 * my),
            np.zeros((1, 65), np.float64),
            np.zeros((1, 65), np.float64),
            5,
            cv2.GC_INIT_WITH_RECT,
        )
    except cv2.error:
        return fallback, None
    foreground = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    foreground = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    parts = [(int(stats[i, cv2.CC_STAT_AREA]), i) for i in range(1, count)]
    parts = [(area, i) for area, i in parts if area >= 0.002 * sh * sw]
    if not parts:
        return fallback, None
    largest = max(area for area, _ in parts)
    kept = [i for area, i in parts if area >= MIN_FRAGMENT_SHARE * largest]
    x1, y1, x2, y2 = _union([_stat_box(stats[i]) for i in kept])
    if (x2 - x1) * (y2 - y1) < 0.05 * sh * sw:
        return fallback, None
    box = (
        max(0, round(x1 / scale)),
        max(0, round(y1 / scale)),
        min(width, round(x2 / scale)),
        min(height, round(y2 / scale)),
    )
    return box, np.isin(labels, kept)


@dataclass(frozen=True)
class Sample:
    name: str  # file stem in the dataset
    source: Path
    split: str  # "train" or "val"
    kind: str  # "ccp", "flat" or "staff"
    boxes: tuple[GarmentBox, ...] = ()  # staff samples carry their labels


def staff_samples(labels: dict[str, list[tuple[str, tuple[int, int, int, int]]]]) -> list[Sample]:
    """Training samples from boxes staff corrected in admin: ``{image path: [(garment, box)]}``.

    Only the boxes staff touched are labels; any other garment on such a photo stays unlabelled
    (the detector's own guesses are not ground truth), which is why these photos only ever go to
    the training split.
    """
    samples = []
    for path, boxes in sorted(labels.items()):
        known = tuple(GarmentBox(garment, tuple(box)) for garment, box in boxes if garment in GARMENT_CLASSES)
        if known and Path(path).is_file():
            stem = hashlib.sha1(path.encode()).hexdigest()[:12]
            samples.append(Sample(f"staff_{stem}", Path(path), "train", "staff", known))
    return samples


def ccp_samples(ccp_dir: Path) -> list[Sample]:
    photos = sorted((Path(ccp_dir) / "photos").glob("*.jpg"))
    return [
        Sample(f"ccp_{p.stem}", p, "val" if is_ccp_holdout(int(p.stem)) else "train", "ccp")
        for p in photos
        if (Path(ccp_dir) / "annotations" / "pixel-level" / f"{p.stem}.mat").exists()
    ]


def flat_samples(catalog_dir: Path, per_folder: int, folder_garments: dict[str, str] | None = None) -> list[Sample]:
    """Up to `per_folder` photos of each folder of the catalog's train split, evenly spread by name.

    `folder_garments`: folder -> garment class (`taxonomy.flat_lay_garments` of the catalog's
    kinds); the built-in folder table when None. A folder missing from it is not sampled.
    """
    samples = []
    for folder in sorted(folder_garments or CATALOG_FOLDER_TO_GARMENT):
        files = sorted((Path(catalog_dir) / "train" / folder).glob("*.jpg"))
        if per_folder < len(files):
            picks = np.linspace(0, len(files) - 1, per_folder).round().astype(int)
            files = [files[i] for i in sorted(set(picks.tolist()))]
        samples += [Sample(f"flat_{folder}_{f.stem}", f, "train", "flat") for f in files]
    return samples


def _yolo_line(class_index: int, box: tuple[int, int, int, int], width: int, height: int) -> str:
    x1, y1, x2, y2 = box
    return (
        f"{class_index} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
        f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
    )


def sample_boxes(
    sample: Sample, image: Image.Image, ccp_label_names_: list[str], folder_garments: dict[str, str] | None = None
) -> list[GarmentBox]:
    if sample.kind == "staff":
        return list(sample.boxes)
    if sample.kind == "ccp":
        stem = sample.source.stem
        label_map = scipy.io.loadmat(str(sample.source.parent.parent / "annotations" / "pixel-level" / f"{stem}.mat"))[
            "groundtruth"
        ]
        if label_map.shape != (image.height, image.width):
            raise ValueError(f"{sample.source}: label map {label_map.shape} does not match photo {image.size}")
        return boxes_from_label_map(label_map, ccp_label_names_)
    folder = sample.source.parent.name
    return [GarmentBox((folder_garments or CATALOG_FOLDER_TO_GARMENT)[folder], flat_lay_box(image))]


def _iter_limited(samples: list[Sample], limit: int | None) -> Iterator[Sample]:
    if limit is None:
        yield from samples
        return
    for split in ("train", "val"):
        for kind in ("ccp", "flat"):
            yield from [s for s in samples if s.split == split and s.kind == kind][:limit]


def dataset_cache_dir(
    cache_root: str | Path,
    prefix: str,
    config: dict,
    staff_labels: dict | None,
    folder_garments: dict[str, str],
) -> Path:
    """The cache folder of a detector dataset: `prefix` + a hash of every input that changes the data.

    Staff-corrected boxes and non-default flat-lay classes enter the hash only when present, so the
    demo's cached datasets (and committed runs that point at them) keep their names.
    """
    config = dict(config)
    if staff_labels:
        config["staff"] = {path: sorted([g, list(box)] for g, box in boxes) for path, boxes in staff_labels.items()}
    if folder_garments != CATALOG_FOLDER_TO_GARMENT:
        config["flat_garments"] = folder_garments
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return Path(cache_root) / f"{prefix}-{digest}"


def build_yolo_dataset(
    cache_root: Path,
    *,
    ccp_dir: Path,
    catalog_dir: Path,
    flat_per_folder: int = 100,
    limit: int | None = None,
    staff_labels: dict[str, list[tuple[str, tuple[int, int, int, int]]]] | None = None,
    folder_garments: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Path:
    """Write (or reuse) the ultralytics dataset and return the path of its data.yaml.

    The folder name hashes every input that changes the data, so a finished build is reused and a
    changed setting never mixes with an old one. `limit` keeps the first N photos of each source
    and split (tiny test runs). `staff_labels` adds the photos whose boxes staff corrected in
    admin (``recommender.services.corrections.detector_training_labels``) to the training split.
    `folder_garments`: the flat-lay folders' classes from the catalog's kinds (see `flat_samples`).
    """
    folder_garments = flat_lay_garments(folder_garments)
    config = {
        "format": DATASET_FORMAT_VERSION,
        "ccp": str(Path(ccp_dir).resolve()),
        "catalog": str(Path(catalog_dir).resolve()),
        "flat_per_folder": flat_per_folder,
        "limit": limit,
        "classes": list(GARMENT_CLASSES),
        "long_side": CACHE_LONG_SIDE,
        "holdout_modulus": CCP_HOLDOUT_MODULUS,
    }
    root = dataset_cache_dir(cache_root, "detector-data", config, staff_labels, folder_garments)
    data_yaml = root / "data.yaml"
    if data_yaml.exists():
        progress(f"reusing dataset {root}")
        return data_yaml

    label_names = ccp_label_names(ccp_dir)
    samples = list(
        _iter_limited(ccp_samples(ccp_dir) + flat_samples(catalog_dir, flat_per_folder, folder_garments), limit)
    )
    samples += staff_samples(staff_labels or {})
    counts: dict[str, dict[str, int]] = {"train": {}, "val": {}}
    images_per_kind: dict[str, int] = {}
    for index, sample in enumerate(samples, 1):
        with Image.open(sample.source) as raw:
            image = ImageOps.exif_transpose(raw).convert("RGB")
        boxes = sample_boxes(sample, image, label_names, folder_garments)
        scale = min(1.0, CACHE_LONG_SIDE / max(image.size))
        if scale < 1.0:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
            boxes = [GarmentBox(b.garment, tuple(round(v * scale) for v in b.box)) for b in boxes]
        for folder in ("images", "labels"):
            (root / folder / sample.split).mkdir(parents=True, exist_ok=True)
        image.save(root / "images" / sample.split / f"{sample.name}.jpg", quality=92)
        lines = [_yolo_line(GARMENT_CLASSES.index(b.garment), b.box, image.width, image.height) for b in boxes]
        (root / "labels" / sample.split / f"{sample.name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        for b in boxes:
            counts[sample.split][b.garment] = counts[sample.split].get(b.garment, 0) + 1
        key = f"{sample.split}/{sample.kind}"
        images_per_kind[key] = images_per_kind.get(key, 0) + 1
        if index % 200 == 0 or index == len(samples):
            progress(f"dataset: {index}/{len(samples)} images")

    (root / "manifest.json").write_text(
        json.dumps({"config": config, "images": images_per_kind, "boxes": counts}, indent=2, sort_keys=True)
    )
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(GARMENT_CLASSES))
    # written last: its presence marks a complete build
    data_yaml.write_text(f"path: {root.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return data_yaml
