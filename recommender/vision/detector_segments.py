"""Instance outlines (YOLO-seg polygons) of the garments in a photo, for training a segmenting detector.

CCP labels every pixel, so a garment's outline is known, not only its box. A segmentation head
trained on those outlines learns from every pixel of the garment (which pixels are skirt and which
are leg) instead of four box edges, and lets ultralytics' copy-paste augmentation cut real garments
out of one photo and paste them into another: far more signal per photo from ~700 photos.

The grouping is the box rule of `detector_data.boxes_from_label_map`: a garment worn once is one
instance (its sizeable fragments together, stray fragments and specks dropped), each shoe is its
own instance. YOLO-seg holds one polygon per instance, so the outlines of a garment's fragments (a
top split in two by an arm) are joined into one by zero-width bridges between their nearest
points; the polygon's extent is then exactly the union of the kept fragments, the box the rule
gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from recommender.vision.detector_data import (
    MIN_FRAGMENT_SHARE,
    MIN_SPECK_FRACTION,
    PAIRED_BRIDGE_FRACTION,
    flat_lay_foreground,
)
from recommender.vision.taxonomy import CCP_TO_GARMENT, GARMENT_CLASSES, PAIRED_CLASSES

# Douglas-Peucker tolerance of the traced outlines, in pixels of the traced image: a 550×832 CCP
# photo is trained at 320 px (1 training pixel ≈ 2.6 photo pixels), so 1.5 px loses nothing the
# model can see and keeps label files (and the GPU pack) small.
OUTLINE_TOLERANCE_PX = 1.5


@dataclass(frozen=True)
class GarmentOutline:
    garment: str
    polygon: np.ndarray  # (N, 2) float32 pixel coordinates x, y of one closed outline, N >= 3

    @property
    def box(self) -> tuple[int, int, int, int]:
        """x1, y1, x2, y2 of the outline, x2/y2 exclusive like `detector_data.GarmentBox`."""
        x1, y1 = np.floor(self.polygon.min(0)).astype(int)
        x2, y2 = np.floor(self.polygon.max(0)).astype(int) + 1
        return (int(x1), int(y1), int(x2), int(y2))


def garment_instance_masks(label_map: np.ndarray, label_names: list[str]) -> list[tuple[str, np.ndarray]]:
    """(garment, boolean mask) per instance, grouped by the box rule of `detector_data` (see module doc)."""
    height, width = label_map.shape
    min_area = max(MIN_SPECK_FRACTION * height * width, 4.0)
    instances: list[tuple[str, np.ndarray]] = []
    for garment in GARMENT_CLASSES:
        source_ids = [i for i, name in enumerate(label_names) if CCP_TO_GARMENT.get(name) == garment]
        mask = np.isin(label_map, source_ids)
        if not mask.any():
            continue
        if garment in PAIRED_CLASSES:
            radius = max(1, round(PAIRED_BRIDGE_FRACTION * height))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
            count, labels = cv2.connectedComponents(cv2.dilate(mask.astype(np.uint8), kernel), connectivity=8)
            for i in range(1, count):
                own = mask & (labels == i)  # the item's own pixels, not the dilated blob
                if own.sum() >= min_area:
                    instances.append((garment, own))
        else:
            count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
            areas = {i: int(stats[i, cv2.CC_STAT_AREA]) for i in range(1, count)}
            sizeable = {i: a for i, a in areas.items() if a >= min_area}
            if not sizeable:
                continue
            largest = max(sizeable.values())
            kept = [i for i, a in sizeable.items() if a >= MIN_FRAGMENT_SHARE * largest]
            instances.append((garment, np.isin(labels, kept)))
    return instances


def mask_outline(mask: np.ndarray, *, tolerance: float = OUTLINE_TOLERANCE_PX) -> np.ndarray | None:
    """One closed polygon around every part of `mask` (parts joined by zero-width bridges), or None.

    Holes are ignored (a bag strap across a top is still the top's extent). Each part's outline is
    simplified by Douglas-Peucker; the extreme points of every part survive simplification, so
    the polygon's extent stays the mask's.
    """
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    parts = []
    for contour in contours:
        simplified = cv2.approxPolyDP(contour, tolerance, True).reshape(-1, 2)
        points = contour.reshape(-1, 2)
        # approxPolyDP may cut an extreme pixel off a part: put the part's extreme points back so
        # the outline's box is the mask's box
        extremes = [points[points[:, 0].argmin()], points[points[:, 0].argmax()]]
        extremes += [points[points[:, 1].argmin()], points[points[:, 1].argmax()]]
        parts.append(_with_points(simplified, points, extremes))
    parts = [p for p in parts if len(p) >= 1]
    if not parts:
        return None
    outline = _join_parts(sorted(parts, key=lambda p: (-len(p), p[0][1], p[0][0])))
    if len(outline) < 3:
        # a one- or two-pixel-wide sliver: outline its box instead
        x1, y1 = outline.min(0)
        x2, y2 = outline.max(0)
        outline = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    return outline.astype(np.float32)


def _with_points(simplified: np.ndarray, contour: np.ndarray, extremes: list[np.ndarray]) -> np.ndarray:
    """`simplified` with any missing `extremes` inserted in contour order."""
    index_of = {(int(x), int(y)): i for i, (x, y) in enumerate(contour)}
    wanted = {index_of[(int(x), int(y))] for x, y in simplified if (int(x), int(y)) in index_of}
    wanted |= {index_of[(int(x), int(y))] for x, y in extremes}
    return contour[sorted(wanted)]


def _join_parts(parts: list[np.ndarray]) -> np.ndarray:
    """Join closed outlines into one: walk the first, step to the nearest point of the next, walk
    it round, step back, and continue, so every bridge is traversed both ways (zero width)."""
    outline = parts[0]
    for part in parts[1:]:
        distances = ((outline[:, None, :].astype(np.int64) - part[None, :, :]) ** 2).sum(-1)
        i, j = np.unravel_index(distances.argmin(), distances.shape)
        loop = np.concatenate([part[j:], part[: j + 1]])  # part walked round from j back to j
        outline = np.concatenate([outline[: i + 1], loop, outline[i:]])
    return outline


def outlines_from_label_map(label_map: np.ndarray, label_names: list[str]) -> list[GarmentOutline]:
    """The garment outlines of a CCP photo: one per instance of `garment_instance_masks`."""
    outlines = []
    for garment, mask in garment_instance_masks(label_map, label_names):
        polygon = mask_outline(mask)
        if polygon is not None:
            outlines.append(GarmentOutline(garment, polygon))
    return outlines


def box_outline(garment: str, box: tuple[int, int, int, int]) -> GarmentOutline:
    """A rectangle outline, for labels that are boxes only (staff corrections)."""
    x1, y1, x2, y2 = box
    polygon = np.array([[x1, y1], [x2 - 1, y1], [x2 - 1, y2 - 1], [x1, y2 - 1]], np.float32)
    return GarmentOutline(garment, polygon)


def flat_lay_outline(image: Image.Image, garment: str) -> GarmentOutline:
    """The outline of the single garment of a flat-lay photo, from the GrabCut foreground of
    `detector_data.flat_lay_box`; the whole-photo fallback box when the foreground is implausible."""
    box, mask = flat_lay_foreground(image)
    if mask is None:
        return box_outline(garment, box)
    small = mask_outline(mask)
    if small is None:
        return box_outline(garment, box)
    scale_x, scale_y = image.width / mask.shape[1], image.height / mask.shape[0]
    polygon = small * np.array([scale_x, scale_y], np.float32)
    polygon[:, 0] = polygon[:, 0].clip(0, image.width - 1)
    polygon[:, 1] = polygon[:, 1].clip(0, image.height - 1)
    return GarmentOutline(garment, polygon)


def yolo_segment_line(outline: GarmentOutline, width: int, height: int) -> str:
    """`class x1 y1 x2 y2 …` with coordinates normalised to the image (ultralytics' seg label format)."""
    # pixel centres: a pixel column x spans [x, x + 1), so its outline point sits at x + 0.5
    normalised = (outline.polygon + 0.5) / np.array([width, height], np.float32)
    coordinates = " ".join(f"{v:.5f}" for v in normalised.clip(0.0, 1.0).ravel())
    return f"{GARMENT_CLASSES.index(outline.garment)} {coordinates}"
