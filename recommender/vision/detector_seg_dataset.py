"""The segmenting detector's dataset: CCP outlines and flat-lay outlines as one ultralytics YOLO-seg dataset.

Three CCP splits, fixed by the photo's number (`ccp_split`):

- **report**: numbers divisible by 7 (`detector_data.is_ccp_holdout`, 129 photos): never written
  here, so no training run, checkpoint choice or threshold ever sees them; `bench/detect.py`
  reports on them.
- **selection**: of the rest, numbers ending in 3 (about 10 %, 87 photos): ultralytics validates
  on them every epoch (its best.pt) and every setting or confidence is chosen on them.
- **train**: everything else, plus the flat-lay photos of the catalog's `train/` split (the same
  weak labels as `detector_data`, with the GrabCut outline instead of its box) and the boxes staff
  corrected in admin (rectangles: a box is all they are).

Images are stored at a long side of `cache_long_side(imgsz)`: big enough for the scale jitter to
zoom in without upsampling, small enough to decode fast on 2 cores and to pack for a GPU run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import scipy.io
from PIL import Image, ImageOps

from recommender.vision.detector_data import (
    ccp_label_names,
    dataset_cache_dir,
    flat_samples,
    is_ccp_holdout,
    staff_samples,
)
from recommender.vision.detector_segments import (
    GarmentOutline,
    box_outline,
    flat_lay_outline,
    outlines_from_label_map,
    yolo_segment_line,
)
from recommender.vision.taxonomy import GARMENT_CLASSES, flat_lay_garments

SEG_DATASET_FORMAT_VERSION = 1
SELECTION_MODULUS, SELECTION_REMAINDER = 10, 3
REPORT, SELECTION, TRAIN = "report", "selection", "train"

# photos a dataset folder may hold: built here as JPEG, unpacked from a GPU pack as WebP
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def ccp_split(photo_id: int) -> str:
    """report (number divisible by 7), selection (of the rest, number ending in 3) or train."""
    if is_ccp_holdout(photo_id):
        return REPORT
    if photo_id % SELECTION_MODULUS == SELECTION_REMAINDER:
        return SELECTION
    return TRAIN


def cache_long_side(imgsz: int) -> int:
    """Stored long side for a training size: 1.4× (a multiple of 32), e.g. 448 for 320."""
    return -(-round(imgsz * 1.4) // 32) * 32


def ccp_outlines(photo: Path, image: Image.Image, label_names: list[str]) -> list[GarmentOutline]:
    label_map = scipy.io.loadmat(str(photo.parent.parent / "annotations" / "pixel-level" / f"{photo.stem}.mat"))[
        "groundtruth"
    ]
    if label_map.shape != (image.height, image.width):
        raise ValueError(f"{photo}: label map {label_map.shape} does not match photo {image.size}")
    return outlines_from_label_map(label_map, label_names)


def _ccp_photos(ccp_dir: Path) -> list[tuple[Path, str]]:
    photos = sorted((Path(ccp_dir) / "photos").glob("*.jpg"))
    return [
        (p, ccp_split(int(p.stem)))
        for p in photos
        if (Path(ccp_dir) / "annotations" / "pixel-level" / f"{p.stem}.mat").exists()
    ]


def build_seg_dataset(
    cache_root: Path,
    *,
    ccp_dir: Path,
    catalog_dir: Path,
    imgsz: int = 320,
    flat_per_folder: int = 100,
    limit: int | None = None,
    staff_labels: dict[str, list[tuple[str, tuple[int, int, int, int]]]] | None = None,
    folder_garments: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Path:
    """Write (or reuse) the YOLO-seg dataset and return the path of its data.yaml.

    As `detector_data.build_yolo_dataset`: the folder name hashes every input that changes the
    data, `limit` keeps the first N photos of each source and split (tiny test runs), and
    data.yaml is written last so its presence marks a complete build. Its `val` is the selection
    split; the report split is not in the dataset at all. `folder_garments`: the flat-lay
    folders' classes from the catalog's kinds (`detector_data.flat_samples`).
    """
    folder_garments = flat_lay_garments(folder_garments)
    long_side = cache_long_side(imgsz)
    config = {
        "format": SEG_DATASET_FORMAT_VERSION,
        "ccp": str(Path(ccp_dir).resolve()),
        "catalog": str(Path(catalog_dir).resolve()),
        "flat_per_folder": flat_per_folder,
        "limit": limit,
        "classes": list(GARMENT_CLASSES),
        "long_side": long_side,
        "selection": [SELECTION_MODULUS, SELECTION_REMAINDER],
    }
    root = dataset_cache_dir(cache_root, "detector-seg", config, staff_labels, folder_garments)
    data_yaml = root / "data.yaml"
    if data_yaml.exists():
        progress(f"reusing dataset {root}")
        return data_yaml

    label_names = ccp_label_names(ccp_dir)
    ccp = [(p, split) for p, split in _ccp_photos(ccp_dir) if split != REPORT]
    flat = flat_samples(catalog_dir, flat_per_folder, folder_garments)
    if limit is not None:
        ccp = [c for split in (TRAIN, SELECTION) for c in [c for c in ccp if c[1] == split][:limit]]
        flat = flat[:limit]
    # (name, source, split, kind, staff boxes)
    items = [(f"ccp_{p.stem}", p, split, "ccp", ()) for p, split in ccp]
    items += [(s.name, s.source, TRAIN, "flat", ()) for s in flat]
    items += [(s.name, s.source, TRAIN, "staff", s.boxes) for s in staff_samples(staff_labels or {})]

    counts: dict[str, dict[str, int]] = {TRAIN: {}, SELECTION: {}}
    images: dict[str, int] = {}
    for index, (name, source, split, kind, staff_boxes) in enumerate(items, 1):
        with Image.open(source) as raw:
            image = ImageOps.exif_transpose(raw).convert("RGB")
        if kind == "ccp":
            outlines = ccp_outlines(source, image, label_names)
        elif kind == "flat":
            outlines = [flat_lay_outline(image, folder_garments[source.parent.name])]
        else:
            outlines = [box_outline(b.garment, b.box) for b in staff_boxes]
        # normalised coordinates do not change when the image is resized
        lines = [yolo_segment_line(o, image.width, image.height) for o in outlines]
        scale = min(1.0, long_side / max(image.size))
        if scale < 1.0:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
        for folder in ("images", "labels"):
            (root / folder / split).mkdir(parents=True, exist_ok=True)
        image.save(root / "images" / split / f"{name}.jpg", quality=90)
        (root / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        for o in outlines:
            counts[split][o.garment] = counts[split].get(o.garment, 0) + 1
        images[f"{split}/{kind}"] = images.get(f"{split}/{kind}", 0) + 1
        if index % 200 == 0 or index == len(items):
            progress(f"dataset: {index}/{len(items)} images")

    (root / "manifest.json").write_text(
        json.dumps({"config": config, "images": images, "instances": counts}, indent=2, sort_keys=True)
    )
    write_data_yaml(root)
    return data_yaml


def write_data_yaml(root: Path) -> Path:
    """data.yaml for a dataset folder (also after it was moved, e.g. unpacked on a GPU machine)."""
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(GARMENT_CLASSES))
    path = Path(root) / "data.yaml"
    path.write_text(f"path: {Path(root).resolve()}\ntrain: images/{TRAIN}\nval: images/{SELECTION}\nnames:\n{names}\n")
    return path
