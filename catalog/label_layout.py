"""Labels of boxes drawn on a photo that never sit on each other (admin overlay, contact sheets).

Each label starts at its box's top-left corner; boxes of one outfit often share a corner (a top
inside a dress's box, two shoes side by side), so labels are placed one by one in priority
order: one that would overlap a label already placed moves down, then up, by its own height
until it is free, inside the photo. The demo's ``fashionrec/static/fashionrec/js/labels.js``
does the same in the browser, where the label sizes are measured rather than estimated.

Plain Python, no Django: the vision library (``recommender.vision.detector_render``) uses it too,
and the GPU training entry point must run without Django. It lives in ``catalog`` (whose package
imports nothing) rather than ``fashionrec``, whose package loads the Celery app and with it Django.
"""

from __future__ import annotations

from collections.abc import Sequence

Rect = tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def labels_place(labels: Sequence[Rect], width: float, height: float, *, gap: float = 0.0) -> list[Rect]:
    """Where to draw each label (rects at their natural place, highest priority first), no two
    overlapping as long as the photo is tall enough to stack them; a label that finds no free
    place keeps its corner."""
    placed: list[Rect] = []
    for left, top, right, bottom in labels:
        dx = max(-left, min(0.0, width - right))  # inside the photo sideways
        step = bottom - top + gap
        tries = int(height // max(step, 1e-6)) + 1
        chosen: Rect | None = None
        for i in range(tries + 1):
            for dy in (0.0,) if i == 0 else (i * step, -i * step):
                candidate = (left + dx, top + dy, right + dx, bottom + dy)
                if candidate[1] < 0 or candidate[3] > height:
                    continue
                if not any(_overlaps(candidate, other) for other in placed):
                    chosen = candidate
                    break
            if chosen is not None:
                break
        placed.append(chosen or (left + dx, top, right + dx, bottom))
    return placed
