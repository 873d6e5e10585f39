"""Deterministic resizing for model inputs, shared by ingest, queries and training.

Decoding (``load_image``, ``ImageRejected``) is ``fashionrec.imaging``: the catalog needs it too.
"""

from __future__ import annotations

from PIL import Image

# --- Deterministic resizing for model inputs ----------------------------------------------

RESAMPLE = Image.Resampling.BILINEAR


def resize_exact(image: Image.Image, size: int | tuple[int, int]) -> Image.Image:
    """Resize to ``size`` (w, h) ignoring aspect ratio; the encoder's input transform."""
    target = (size, size) if isinstance(size, int) else size
    if image.size == target:
        return image.copy()
    return image.resize(target, RESAMPLE)


def letterbox(
    image: Image.Image, size: int | tuple[int, int], fill: tuple[int, int, int] = (114, 114, 114)
) -> tuple[Image.Image, float, tuple[int, int]]:
    """Fit ``image`` inside ``size`` keeping its aspect ratio, centred on ``fill``.

    Returns the letterboxed image, the scale applied and the (left, top) padding, so a box
    found on the letterboxed image maps back with ``(x - left) / scale``.
    """
    target_w, target_h = (size, size) if isinstance(size, int) else size
    width, height = image.size
    scale = min(target_w / width, target_h / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = image.resize((new_w, new_h), RESAMPLE) if (new_w, new_h) != (width, height) else image
    left, top = (target_w - new_w) // 2, (target_h - new_h) // 2
    canvas = Image.new("RGB", (target_w, target_h), fill)
    canvas.paste(resized.convert("RGB"), (left, top))
    return canvas, scale, (left, top)


def clamp_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """Round a box to whole pixels inside the image, at least one pixel wide and high."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    x1, x2 = sorted((min(max(x1, 0), width), min(max(x2, 0), width)))
    y1, y2 = sorted((min(max(y1, 0), height), min(max(y2, 0), height)))
    if x2 - x1 < 1:
        x1, x2 = (x1, x1 + 1) if x1 < width else (width - 1, width)
    if y2 - y1 < 1:
        y1, y2 = (y1, y1 + 1) if y1 < height else (height - 1, height)
    return x1, y1, x2, y2
