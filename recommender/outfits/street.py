"""CCP street photos as outfits: one mask-cut garment per catalog kind a person wears.

A garment enters every later step as a **mask-cut crop**: the box around its label mask with
every pixel outside the mask set to one neutral grey, so neither the encoder nor a colour
statistic sees the photo's background, skin or neighbouring garments (a model could otherwise
"match" two garments because they share a street). Its colour histogram and lighting figures
come from the mask's own pixels, kept as photographed with the whole photo's mean colour beside
them: the model normalises them for the photo's lighting by its own method
(``recommender.outfits.photo_lighting``), so one cache of garments serves every method.

Splits are the detector's (``detector_seg_dataset.ccp_split``): **report** (photo number divisible
by 7) is only ever read by ``bench/outfits.py``; **selection** chooses the model's weights;
**train** fills its tables and its street index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image, ImageOps

from recommender.outfits import photo_lighting
from recommender.vision.detector_data import boxes_from_label_map, ccp_label_names
from recommender.vision.detector_seg_dataset import ccp_split
from recommender.vision.taxonomy import CATALOG_FOLDER_TO_GARMENT, GARMENT_CLASSES, garment_for_name

NEUTRAL_GREY = (128, 128, 128)
# The kinds a shopper can buy (the catalog's folders), in the detector's class order; bags are
# detected but not sold, so they neither complete a look nor count as an outfit garment.
CATALOG_KINDS: tuple[str, ...] = tuple(k for k in GARMENT_CLASSES if k in set(CATALOG_FOLDER_TO_GARMENT.values()))
# Colour statistics read at most this many mask pixels (an even stride), enough for a histogram.
COLOUR_SAMPLE = 4000
# The outfit model's Lab palette histogram reads a garment's ``pixels``: this many, an even stride.
PIXEL_SAMPLE = 1000

ColourNamer = Callable[[np.ndarray], np.ndarray]  # (n, 3) floats in 0..1 -> (n,) colour names
Encode = Callable[[Sequence[Image.Image]], np.ndarray]  # crops -> (n, dim) unit vectors


@dataclass
class StreetGarment:
    photo_id: int
    kind: str
    box: tuple[int, int, int, int]
    colours: np.ndarray  # share of the mask's pixels per colour bin, sums to 1
    lighting: np.ndarray  # mean luminance, log(R/G), log(B/G) of the mask's pixels
    embedding: np.ndarray | None = field(default=None, repr=False)
    pixels: np.ndarray | None = field(default=None, repr=False)  # (≤ PIXEL_SAMPLE, 3) uint8 of the mask
    # with ``load_outfits(box_reads=True)``: the garment read from its box as ingest reads a catalog
    # photo (``colour_read.garment_pixels``: GrabCut, no mask)
    box_pixels: np.ndarray | None = field(default=None, repr=False)
    # with ``load_outfits(detector=…)`` (a segmenting one): the garment read from its box through
    # the detector's masks of its kind (``colour_read.garment_pixels(detections=…)``), as ingest reads
    # a catalog photo since 2026-12-06
    seg_pixels: np.ndarray | None = field(default=None, repr=False)
    # the whole photo's mean R, G, B (0..1): the model's lighting normalisation reads it
    photo_mean: np.ndarray | None = field(default=None, repr=False)


def pixel_sample(pixels: np.ndarray) -> np.ndarray:
    """At most ``PIXEL_SAMPLE`` of (n, 3) uint8 pixels, an even stride (deterministic)."""
    pixels = np.asarray(pixels, dtype=np.uint8).reshape(-1, 3)
    return pixels[:: max(1, len(pixels) // PIXEL_SAMPLE)][:PIXEL_SAMPLE].copy()


@dataclass
class Outfit:
    photo_id: int
    split: str
    garments: list[StreetGarment]

    def kinds(self) -> list[str]:
        return [g.kind for g in self.garments]


def mask_cut(image: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> Image.Image:
    """The box of ``image`` (H, W, 3 uint8) with every pixel outside ``mask`` set to neutral grey."""
    x1, y1, x2, y2 = box
    crop = image[y1:y2, x1:x2].copy()
    crop[~mask[y1:y2, x1:x2]] = NEUTRAL_GREY
    return Image.fromarray(crop)


def colour_histogram(pixels: np.ndarray, namer: ColourNamer, bins: Sequence[str]) -> np.ndarray:
    """Share of ``pixels`` (n, 3 uint8) per colour bin, named by ``namer``; uniform when empty."""
    if len(pixels) == 0:
        return np.full(len(bins), 1.0 / len(bins))
    step = max(1, len(pixels) // COLOUR_SAMPLE)
    names = namer(pixels[::step].astype(np.float32) / 255.0)
    index = {name: i for i, name in enumerate(bins)}
    counts = np.zeros(len(bins))
    for name, count in zip(*np.unique(names, return_counts=True), strict=True):
        if str(name) in index:
            counts[index[str(name)]] += count
    total = counts.sum()
    return counts / total if total else np.full(len(bins), 1.0 / len(bins))


def lighting_of(pixels: np.ndarray) -> np.ndarray:
    """Mean luminance (0..1) and grey-world white balance log(R/G), log(B/G) of (n, 3 uint8) pixels."""
    mean = pixels.reshape(-1, 3).astype(np.float64).mean(axis=0) / 255.0 if len(pixels) else np.full(3, 0.5)
    r, g, b = np.maximum(mean, 1e-3)
    return np.array([0.299 * r + 0.587 * g + 0.114 * b, np.log(r / g), np.log(b / g)])


def kind_label_ids(label_names: Sequence[str]) -> dict[str, list[int]]:
    """CCP label ids of each catalog kind, through the taxonomy's own name mapping."""
    ids: dict[str, list[int]] = {kind: [] for kind in CATALOG_KINDS}
    for i, name in enumerate(label_names):
        kind = garment_for_name(name) if name else None
        if kind in ids:
            ids[kind].append(i)
    return ids


def outfit_garments(
    photo_id: int, image: np.ndarray, label_map: np.ndarray, label_names: Sequence[str], kind_ids: dict[str, list[int]]
) -> list[tuple[str, tuple[int, int, int, int], np.ndarray]]:
    """(kind, box, mask) per catalog kind worn in one photo; kinds in the detector's class order.

    The box is the union of the detector's ground-truth boxes of the kind (both shoes are one
    garment of an outfit), so specks a box would ignore do not stretch it.
    """
    boxes: dict[str, list[tuple[int, int, int, int]]] = {}
    for found in boxes_from_label_map(label_map, list(label_names)):
        if found.garment in kind_ids:
            boxes.setdefault(found.garment, []).append(found.box)
    result = []
    for kind in CATALOG_KINDS:
        if kind not in boxes:
            continue
        parts = boxes[kind]
        box = (min(b[0] for b in parts), min(b[1] for b in parts), max(b[2] for b in parts), max(b[3] for b in parts))
        mask = np.zeros(label_map.shape, dtype=bool)
        x1, y1, x2, y2 = box
        mask[y1:y2, x1:x2] = np.isin(label_map[y1:y2, x1:x2], kind_ids[kind])
        result.append((kind, box, mask))
    return result


def ccp_photos(ccp_dir: Path, splits: Iterable[str]) -> list[tuple[int, Path, str]]:
    """(photo number, path, split) of the annotated CCP photos in ``splits``, by number."""
    wanted = set(splits)
    found = []
    for photo in sorted(Path(ccp_dir, "photos").glob("*.jpg")):
        split = ccp_split(int(photo.stem))
        if split in wanted and Path(ccp_dir, "annotations", "pixel-level", f"{photo.stem}.mat").exists():
            found.append((int(photo.stem), photo, split))
    return found


def load_outfits(
    ccp_dir: Path,
    splits: Iterable[str],
    *,
    namer: ColourNamer,
    colour_bins: Sequence[str],
    encode: Encode | None = None,
    limit: int | None = None,
    keep_crops: bool = False,
    box_reads: bool = False,
    detector=None,
    progress: Callable[[str], None] = lambda message: None,
) -> tuple[list[Outfit], dict[int, list[Image.Image]]]:
    """The outfits of ``splits`` (garments with colours, lighting and, with ``encode``, embeddings).

    Crops are encoded photo by photo and dropped unless ``keep_crops`` (the contact sheet),
    so memory stays at the figures, not the pixels. Returns (outfits, crops by photo number).
    """
    from recommender.outfits import colour_read  # it reads with this module's pixel_sample

    ccp_dir = Path(ccp_dir)
    label_names = ccp_label_names(ccp_dir)
    kind_ids = kind_label_ids(label_names)
    photos = ccp_photos(ccp_dir, splits)[:limit]
    outfits: list[Outfit] = []
    crops_by_photo: dict[int, list[Image.Image]] = {}
    for done, (photo_id, path, split) in enumerate(photos, 1):
        with Image.open(path) as raw:
            image = np.asarray(ImageOps.exif_transpose(raw).convert("RGB"))
        mat = ccp_dir / "annotations" / "pixel-level" / f"{path.stem}.mat"
        label_map = scipy.io.loadmat(str(mat))["groundtruth"]
        if label_map.shape != image.shape[:2]:
            raise ValueError(f"{path}: label map {label_map.shape} does not match photo {image.shape[:2]}")
        garments, crops = [], []
        mean = photo_lighting.photo_mean(image)
        detections = detector.detect([Image.fromarray(image)])[0] if detector is not None else None
        for kind, box, mask in outfit_garments(photo_id, image, label_map, label_names, kind_ids):
            pixels = image[mask]
            garments.append(
                StreetGarment(
                    photo_id=photo_id,
                    kind=kind,
                    box=box,
                    colours=colour_histogram(pixels, namer, colour_bins),
                    lighting=lighting_of(pixels),
                    pixels=pixel_sample(pixels),
                    photo_mean=mean,
                    box_pixels=colour_read.garment_pixels(image, box) if box_reads else None,
                    seg_pixels=colour_read.garment_pixels(image, box, detections=detections, kind=kind)
                    if detections is not None
                    else None,
                )
            )
            crops.append(mask_cut(image, mask, box))
        if encode is not None and crops:
            for garment, embedding in zip(garments, encode(crops), strict=True):
                garment.embedding = np.asarray(embedding, dtype=np.float32)
        if keep_crops:
            crops_by_photo[photo_id] = crops
        outfits.append(Outfit(photo_id=photo_id, split=split, garments=garments))
        if done % 100 == 0 or done == len(photos):
            progress(f"outfits: {done}/{len(photos)} photos")
    return outfits, crops_by_photo
