"""A garment's own pixels from its box in a photo that has no label mask (a catalog photo).

The outfit model learns colours from mask-cut street garments; a catalog photo has only the
detector's box, which also holds the bed, floor or blanket the garment lies on, the skin of a
model, a neighbouring garment. On the CCP train garments (2,329, ground-truth boxes; v004's
palette; docs/outfits.md, "A shopper's photo"), the mean Hellinger distance of a read's palette
histogram to the mask's was 0.330 for the whole box, 0.310 for its middle half and **0.246 for
GrabCut** (Rother et al., SIGGRAPH 2004: a colour model of the box against its surroundings,
OpenCV's implementation) initialised with the box, at 120 px and 3 rounds; the shipped 100 px and
2 rounds cost half as much for 0.007 more (``SIDE``). GrabCut needs surroundings: where the box is
the whole photo (a flat lay the detector found nothing in) or GrabCut keeps too little, the
box's middle half is read instead.

Before either, the segmenting detector's own masks (``mask_pixels``: the photo's detections of
the garment's kind inside its box), which come with its boxes: on the CCP selection garments
their read is 0.192 from the mask's against GrabCut's 0.244, and a product page's look scores
FITB 0.411 / AUC 0.580 on the report split against 0.357 / 0.567 (docs/outfits.md, "Catalog
colours from the detector's own masks").
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from recommender.outfits.street import pixel_sample
from recommender.vision.taxonomy import GARMENT_CLASSES

# GrabCut runs on the box plus this share of its size around it, scaled to at most SIDE px, for
# ITERATIONS rounds. The cheapest setting whose read is within 0.01 (mean Hellinger distance to
# the mask's palette histogram, 788 CCP train garments) of 120 px and 3 rounds': 0.257 against
# 0.250, at 9.6 ms a garment instead of 18.1 (80 px: 0.269-0.273; 64 px: 0.263-0.276).
CONTEXT = 0.25
SIDE = 100
ITERATIONS = 2
# fewer foreground pixels than this and GrabCut's answer is not trusted
MIN_FOREGROUND = 20
# the fallback: the middle share of the box's width and height
CENTRE = 0.5
# fewer mask pixels than this inside a box and the detector's masks are not trusted (GrabCut reads)
MIN_MASK_PIXELS = 20


def centre_pixels(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(n, 3) pixels of the middle ``CENTRE`` of the box (at least one pixel)."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    cx, cy = int(x1 + width * (1 - CENTRE) / 2), int(y1 + height * (1 - CENTRE) / 2)
    return image[cy : max(cy + 1, int(cy + height * CENTRE)), cx : max(cx + 1, int(cx + width * CENTRE))].reshape(-1, 3)


def grabcut_pixels(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """(n, 3) pixels GrabCut keeps as the box's foreground, on a reduced copy; None where it cannot run."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    pad_x, pad_y = (x2 - x1) * CONTEXT, (y2 - y1) * CONTEXT
    rx1, ry1 = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
    rx2, ry2 = min(width, int(np.ceil(x2 + pad_x))), min(height, int(np.ceil(y2 + pad_y)))
    region = image[ry1:ry2, rx1:rx2]
    if region.size == 0:
        return None
    scale = min(1.0, SIDE / max(region.shape[:2]))
    small = cv2.resize(
        region,
        (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale))),
        interpolation=cv2.INTER_AREA,
    )
    left, top = round((x1 - rx1) * scale), round((y1 - ry1) * scale)
    rect = (
        left,
        top,
        min(max(1, round((x2 - x1) * scale)), small.shape[1] - left - 1),
        min(max(1, round((y2 - y1) * scale)), small.shape[0] - top - 1),
    )
    # GrabCut learns the background from outside the rectangle: none there, nothing to learn
    whole = left == 0 and top == 0 and rect[2] >= small.shape[1] - 2 and rect[3] >= small.shape[0] - 2
    if rect[2] < 2 or rect[3] < 2 or whole:
        return None
    mask = np.zeros(small.shape[:2], np.uint8)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models by k-means from OpenCV's per-thread generator: reseeded, a
    # garment reads the same at ingest, in the backfill command and in a test
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(np.ascontiguousarray(small), mask, rect, background, foreground, ITERATIONS, cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        return None
    kept = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return small[kept] if kept.sum() >= MIN_FOREGROUND else None


def mask_pixels(
    image: np.ndarray, detections: Sequence, box: tuple[int, int, int, int], kind: str | None
) -> np.ndarray | None:
    """(n, 3) pixels of ``image`` inside ``box`` covered by the mask of a detection (``detector.
    Detection`` with a ``mask``) labelled ``kind`` (of any label for a kind the detector does not
    know); None under ``MIN_MASK_PIXELS``. Both shoes of a pair are read, and a top's box does not
    read the trousers it overlaps."""
    any_label = kind not in GARMENT_CLASSES
    x1, y1, x2, y2 = box
    inside = np.zeros((max(0, y2 - y1), max(0, x2 - x1)), bool)
    for found in detections:
        if found.mask is None or not (any_label or found.label == kind):
            continue
        # the part of the detection's box inside the garment's box
        bx1, by1 = found.box[0], found.box[1]
        ox1, oy1 = max(x1, bx1), max(y1, by1)
        ox2, oy2 = min(x2, found.box[2]), min(y2, found.box[3])
        if ox2 > ox1 and oy2 > oy1:
            inside[oy1 - y1 : oy2 - y1, ox1 - x1 : ox2 - x1] |= found.mask[oy1 - by1 : oy2 - by1, ox1 - bx1 : ox2 - bx1]
    if inside.sum() < MIN_MASK_PIXELS:
        return None
    return image[y1:y2, x1:x2][inside]


def garment_pixels(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    *,
    detections: Sequence | None = None,
    kind: str | None = None,
) -> np.ndarray:
    """A sample (``street.pixel_sample``) of the garment's own pixels in its ``box`` of ``image``
    ((H, W, 3) uint8 RGB): with the photo's ``detections`` from a segmenting detector, the masks
    of the garment's ``kind`` inside the box (``mask_pixels``); else, or where they keep too
    little, GrabCut's foreground; else the box's middle half."""
    found = mask_pixels(image, detections, box, kind) if detections else None
    if found is None:
        found = grabcut_pixels(image, box)
    return pixel_sample(found if found is not None else centre_pixels(image, box))
