"""An image with boxes drawn over it (detected garments, for one): inline SVG, no external assets.

The SVG's ``viewBox`` is the image's pixel size and it is stretched over the ``<img>``, so
boxes stored in pixels of the EXIF-oriented image land where they belong at any display
size (browsers apply EXIF orientation to ``<img>`` by default, as the pipeline does).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from catalog.label_layout import labels_place
from catalog.models import ProductImage


@dataclass(frozen=True)
class Box:
    box: tuple[int, int, int, int]
    label: str
    caption: str  # what the box says: "top 0.91", "#3 dress (corrected)"
    dashed: bool = False
    colour: str = "#808080"


# Labels are drawn this many screen pixels tall at the overlay's nominal width, whatever the
# photo's own size (the SVG scales with the display, so the font is set in image pixels).
LABEL_FONT_PX = 12
# Below this display width a label is only the box's number; the legend under a wider overlay
# says what each number is.
WORDS_FROM_WIDTH = 300


def image_with_boxes(
    image: ProductImage, boxes: Iterable[Box], *, width: int = 480, element_id: str = ""
) -> SafeString:
    """The image at ``width`` px with its boxes, numbered in the given order (the first keeps its
    label's corner); labels never overlap (``catalog.label_layout``); from
    ``WORDS_FROM_WIDTH`` px a numbered legend with each box's caption follows the image."""
    if not image.file:
        return mark_safe("<em>no file</em>")
    img = format_html(
        '<img src="{}" alt="image {}" loading="lazy" style="display:block;width:100%;height:auto">',
        image.file.url,
        image.pk,
    )
    if not image.width or not image.height:
        # The size is known once the image has been validated; without it boxes cannot be placed.
        return format_html('<div style="width:{}px">{}</div>', width, img)
    boxes = list(boxes)
    per_screen_px = image.width / width  # image pixels per screen pixel at the nominal width
    stroke = max(2, round(2 * per_screen_px))
    font = LABEL_FONT_PX * per_screen_px
    pad = 3 * per_screen_px
    wide = width >= WORDS_FROM_WIDTH
    texts = [f"{n} {b.label}" if wide else str(n) for n, b in enumerate(boxes, start=1)]
    # sans-serif averages ~0.6 em per character; a generous estimate keeps labels apart
    natural = [
        (b.box[0], b.box[1], b.box[0] + 0.62 * font * len(text) + 2 * pad, b.box[1] + font + 2 * pad)
        for b, text in zip(boxes, texts, strict=True)
    ]
    placed = labels_place(natural, image.width, image.height, gap=per_screen_px)
    shapes = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="{}" stroke-width="{}"{}></rect>',
        (
            (
                b.box[0],
                b.box[1],
                b.box[2] - b.box[0],
                b.box[3] - b.box[1],
                b.colour,
                stroke,
                SafeString(' stroke-dasharray="12 8"') if b.dashed else "",
            )
            for b in boxes
        ),
    )
    # labels after every box, so no box is drawn over a label
    labels = format_html_join(
        "",
        '<g class="box-label"><rect x="{}" y="{}" width="{}" height="{}" fill="{}" rx="{}"></rect>'
        '<text x="{}" y="{}" font-size="{}" fill="#fff" font-family="sans-serif" font-weight="bold">{}</text></g>',
        (
            (
                f"{r[0]:.1f}",
                f"{r[1]:.1f}",
                f"{r[2] - r[0]:.1f}",
                f"{r[3] - r[1]:.1f}",
                b.colour,
                f"{pad:.1f}",
                f"{r[0] + pad:.1f}",
                f"{r[1] + pad + 0.85 * font:.1f}",
                f"{font:.1f}",
                text,
            )
            for b, r, text in zip(boxes, placed, texts, strict=True)
        ),
    )
    overlay = format_html(
        '<div class="garment-overlay" {} style="position:relative;display:inline-block;width:{}px;max-width:100%"'
        ' data-width="{}" data-height="{}">{}'
        '<svg viewBox="0 0 {} {}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg"'
        ' style="position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none">{}{}</svg></div>',
        format_html('id="{}"', element_id) if element_id else "",
        width,
        image.width,
        image.height,
        img,
        image.width,
        image.height,
        shapes,
        labels,
    )
    if not wide or not boxes:
        return overlay
    legend = format_html_join(
        "",
        '<li><span style="display:inline-block;min-width:1.4em;text-align:center;color:#fff;background:{};'
        'border-radius:3px;font-weight:bold">{}</span> {}</li>',
        ((b.colour, n, b.caption) for n, b in enumerate(boxes, start=1)),
    )
    return format_html(
        '<div>{}<ol class="garment-legend" style="list-style:none;margin:0.4em 0 0;padding:0">{}</ol></div>',
        overlay,
        legend,
    )
