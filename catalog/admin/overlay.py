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

from catalog.models import ProductImage


@dataclass(frozen=True)
class Box:
    box: tuple[int, int, int, int]
    label: str
    caption: str  # what the box says: "top 0.91", "#3 dress (corrected)"
    dashed: bool = False
    colour: str = "#808080"


def image_with_boxes(
    image: ProductImage, boxes: Iterable[Box], *, width: int = 480, element_id: str = ""
) -> SafeString:
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
    font = max(10, image.height // 30)
    stroke = max(2, image.width // 200)
    shapes = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="{}" stroke-width="{}"{}></rect>'
        '<text x="{}" y="{}" font-size="{}" fill="{}" stroke="#fff" stroke-width="{}" paint-order="stroke"'
        ' font-family="sans-serif">{}</text>',
        (
            (
                b.box[0],
                b.box[1],
                b.box[2] - b.box[0],
                b.box[3] - b.box[1],
                b.colour,
                stroke,
                SafeString(' stroke-dasharray="12 8"') if b.dashed else "",
                b.box[0] + stroke,
                b.box[1] + font,
                font,
                b.colour,
                max(1, font // 6),
                b.caption,
            )
            for b in boxes
        ),
    )
    return format_html(
        '<div class="garment-overlay" {} style="position:relative;display:inline-block;width:{}px;max-width:100%"'
        ' data-width="{}" data-height="{}">{}'
        '<svg viewBox="0 0 {} {}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg"'
        ' style="position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none">{}</svg></div>',
        format_html('id="{}"', element_id) if element_id else "",
        width,
        image.width,
        image.height,
        img,
        image.width,
        image.height,
        shapes,
    )
