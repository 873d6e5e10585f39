"""Which detected garment a shopper most likely means: the default garment of a photo.

A person dropping in a photo of a woman in a striped maxi dress wants dresses, not the shoes the
detector happens to be surest of. The rule, as a person looks at an outfit photo:

    prominence = kind weight × √(area share of the photo) × centrality

- **kind**: the garments a shopper searches for (top, outerwear, dress, trousers, skirt, shorts)
  weigh 1; accessories (shoes, bag, hat) weigh `ACCESSORY_WEIGHT` = 0.25, so a shoe needs 16× a
  top's area to be chosen over it (in a close-up of shoes, it is); labels outside the taxonomy
  (a user's own weights) weigh `UNKNOWN_WEIGHT` = 0.5.
- **area**: the square root, so a garment twice as large is preferred but a big coat does not
  win against a dress by size alone when the dress is the centre of the photo.
- **centrality**: 1 at the photo's centre falling linearly to 0.5 at a corner: photographers put
  the subject in the middle; a half-cropped passer-by at the edge is less likely the intent.

Confidence is not a factor: every box has already passed the served threshold, and the detector's
surest class is mostly shoes (many examples, distinctive shape). Ties (equal prominence) go to
the more confident box, then to the earlier one, so the choice is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from recommender.vision.taxonomy import BAG, DRESS, HAT, OUTERWEAR, SHOES, SHORTS, SKIRT, TOP, TROUSERS

MAIN_KINDS: frozenset[str] = frozenset({TOP, OUTERWEAR, DRESS, TROUSERS, SKIRT, SHORTS})
ACCESSORY_KINDS: frozenset[str] = frozenset({SHOES, BAG, HAT})
ACCESSORY_WEIGHT = 0.25
UNKNOWN_WEIGHT = 0.5


def kind_weight(label: str) -> float:
    if label in MAIN_KINDS:
        return 1.0
    if label in ACCESSORY_KINDS:
        return ACCESSORY_WEIGHT
    return UNKNOWN_WEIGHT


def prominence(box: Sequence[float], label: str, width: int, height: int) -> float:
    """The rule of the module doc for one box (x1, y1, x2, y2 in pixels of a `width`×`height` photo)."""
    x1, y1, x2, y2 = box
    area_share = max(0.0, x2 - x1) * max(0.0, y2 - y1) / max(1, width * height)
    # distance of the box centre from the photo centre, 0 at the centre and 1 at a corner
    dx = ((x1 + x2) / 2 - width / 2) / (width / 2)
    dy = ((y1 + y2) / 2 - height / 2) / (height / 2)
    off_centre = min(1.0, math.hypot(dx, dy) / math.sqrt(2))
    centrality = 1.0 - 0.5 * off_centre
    return kind_weight(label) * math.sqrt(min(1.0, area_share)) * centrality


def main_garment_index(garments: Sequence[tuple[Sequence[float], str, float]], width: int, height: int) -> int | None:
    """Index of the main garment among (box, label, confidence) tuples, or None when there are none."""
    if not garments:
        return None
    return max(
        range(len(garments)),
        key=lambda i: (prominence(garments[i][0], garments[i][1], width, height), garments[i][2], -i),
    )


def main_first(garments: Sequence[tuple], width: int, height: int, limit: int) -> list[tuple]:
    """Up to `limit` of the (box, label, confidence, …) tuples: the main garment, then the rest by
    confidence. The main garment is chosen among all of them, so it is kept even when `limit` more
    confident boxes (two shoes, a bag…) would otherwise crowd it out."""
    rest = list(garments)
    main = main_garment_index([(g[0], g[1], g[2]) for g in rest], width, height)
    chosen = [rest.pop(main)] if main is not None and limit > 0 else []
    return chosen + sorted(rest, key=lambda g: -g[2])[: max(0, limit - len(chosen))]


def stored_main_index(
    garments: Sequence[tuple[Sequence[float], str, float, bool]], width: int, height: int
) -> int | None:
    """The main garment among stored (box, label, confidence, is_whole_image) rows of one image.

    The same rule as :func:`main_garment_index` over the detected garments; a whole-image
    fallback is the main garment only of an image with no detected garment (what the pipeline
    stores then). Used where garments are stored after the fact: the backfill migration and a
    staff correction, which can change the image's main garment.
    """
    detected = [i for i, g in enumerate(garments) if not g[3]]
    if not detected:
        return 0 if garments else None
    chosen = main_garment_index([(garments[i][0], garments[i][1], garments[i][2]) for i in detected], width, height)
    return detected[chosen]  # type: ignore[index]
