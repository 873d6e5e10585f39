"""Detected garments as boxes for ``catalog.admin.overlay.image_with_boxes``."""

from __future__ import annotations

from catalog.admin.overlay import Box
from catalog.models import ProductImage

# One colour per garment class (taxonomy order); unknown labels get grey.
LABEL_COLOURS = {
    "top": "#e6194b",
    "outerwear": "#3cb44b",
    "dress": "#f58231",
    "trousers": "#4363d8",
    "skirt": "#911eb4",
    "shorts": "#42d4f4",
    "shoes": "#f032e6",
    "hat": "#9a6324",
    "bag": "#469990",
}


def garment_boxes(image: ProductImage) -> list[Box]:
    """The image's garments as boxes, its main garment first, then the most confident (uses a
    prefetched ``garments`` if present)."""
    garments = sorted(image.garments.all(), key=lambda g: (not g.is_main, -g.confidence, g.pk))
    return [
        Box(
            box=(g.box_x1, g.box_y1, g.box_x2, g.box_y2),
            label=g.label,
            caption=f"#{g.pk} {g.label} {g.confidence:.2f}"
            + (" (whole image)" if g.is_whole_image else "")
            + (" · main garment" if g.is_main else ""),
            dashed=g.is_whole_image,
            colour=LABEL_COLOURS.get(g.label, "#808080"),
        )
        for g in garments
    ]
