"""Catalog garments' colours as the outfit model reads them (``Garment.outfit_colour``).

Complete the look used to know a catalog product's colour only by its name, one of 13, while
the model's colour harmony is learned over a 24-colour Lab palette of garments' own pixels. On
the CCP selection outfits (v004), scoring the candidates by their colour name instead of their
pixels' palette took fill-in-the-blank from 0.410 to 0.307 and the pair AUC from 0.610 to 0.530,
about the colour-only baseline (docs/outfits.md, "Catalog colours"). So every stored garment
keeps its root palette histogram, read from its own pixels (through the segmenting detector's masks
of its kind in its box, GrabCut where there are none: ``recommender.outfits.colour_read``) with the
loaded outfit model, and the model's version beside it: the look SQL uses it when that version is
the loaded model's, and the colour name otherwise.

Written at ingest (for every new or re-embedded image) and by ``manage.py outfit_colours`` (a
catalog ingested before this existed, or after the outfit model changed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db.models import Q

from catalog.models import ProductImage
from fashionrec.imaging import ImageRejected, load_image
from recommender.models import Garment
from recommender.outfits import colour_read, photo_lighting
from recommender.outfits.catalog import get_outfit_model
from recommender.outfits.model import OutfitModel
from recommender.vision.preprocess import clamp_box

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogColours:
    model_version: str
    roots: list[np.ndarray | None]  # one per box asked for


def loaded_outfit_model() -> OutfitModel | None:
    """The outfit model colours are read with, or None where there is none to load (then garments
    are stored without a colour and the look SQL uses their colour names)."""
    try:
        model = get_outfit_model()
    except (FileNotFoundError, OSError, ValueError, KeyError) as error:
        logger.info("no outfit model for catalog colours: %s", error)
        return None
    return model if model.palette is not None else None


def catalog_colours(
    data: bytes,
    boxes: Sequence[tuple[int, int, int, int] | None],
    *,
    kinds: Sequence[str | None] | None = None,
    detections: Sequence | None = None,
    detector=None,
    model: OutfitModel | None = None,
    **limits,
) -> CatalogColours | None:
    """Each box's root palette histogram in the photo ``data`` (boxes in pixels of the photo as
    ``load_image`` with ``limits`` decodes it, as the pipeline's are; None for a box not to read);
    None without a model, without a box to read, or when the photo cannot be decoded.

    A box is read through the masks of the photo's ``detections`` of its garment's kind (``kinds``,
    one per box: the garment's label), the pipeline's analysis' own; without them, a segmenting
    ``detector`` is run on the photo for them; without masks, GrabCut reads the box."""
    model = model or loaded_outfit_model()
    if model is None or not any(box is not None for box in boxes):
        return None
    try:
        decoded = load_image(data, **limits)
    except ImageRejected:
        return None
    if detections is None and getattr(detector, "has_masks", False):
        detections = detector.detect([decoded])[0]
    image = np.asarray(decoded)
    height, width = image.shape[:2]
    kinds = list(kinds) if kinds is not None else [None] * len(boxes)
    # only a model trained with a lighting method (``photo_lighting``) reads it
    mean = photo_lighting.photo_mean(image) if model.lighting != photo_lighting.NONE else None
    roots = []
    for box, kind in zip(boxes, kinds, strict=True):
        if box is None:
            roots.append(None)
            continue
        x1, y1, x2, y2 = clamp_box(tuple(box), width, height)
        pixels = colour_read.garment_pixels(image, (x1, y1, x2, y2), detections=detections, kind=kind)
        roots.append(model.catalog_colour(pixels, mean))
    return CatalogColours(model_version=model.colour_key, roots=roots)


def stale_colour_images(*, model_version: str, force: bool = False) -> list[int]:
    """Ids of the images with a garment whose colour is not of ``model_version`` (every image
    with a garment under ``force``), ascending; read at once, so writing colours meanwhile
    cannot move the list."""
    garments = Garment.objects.all() if force else Garment.objects.filter(~Q(outfit_colour_model=model_version))
    return list(garments.order_by("image_id").values_list("image_id", flat=True).distinct())


@dataclass
class RefreshResult:
    garments: int = 0  # colours written
    unreadable: list[int] = field(default_factory=list)  # images whose file could not be read or decoded


def garment_colours_refresh(*, image_ids: Sequence[int], model: OutfitModel, detector=None) -> RefreshResult:
    """Read and store the colour of every garment of these images, through a segmenting
    ``detector``'s masks as ingest reads them (GrabCut without one).

    An image whose file is missing or unreadable is skipped (its garments keep what they had),
    as is a garment deleted meanwhile (a re-ingest replaced it)."""
    images = {image.pk: image for image in ProductImage.objects.filter(pk__in=image_ids)}
    garments = list(Garment.objects.filter(image_id__in=images).order_by("image_id", "id"))
    by_image: dict[int, list[Garment]] = {}
    for garment in garments:
        by_image.setdefault(garment.image_id, []).append(garment)
    changed = []
    result = RefreshResult()
    for image_id, rows in by_image.items():
        image = images[image_id]
        try:
            with image.file.storage.open(image.file.name, "rb") as handle:
                data = handle.read()
        except (FileNotFoundError, ValueError, OSError) as error:
            logger.warning("outfit colours: image %s unreadable (%s)", image_id, error)
            result.unreadable.append(image_id)
            continue
        boxes = [(g.box_x1, g.box_y1, g.box_x2, g.box_y2) for g in rows]
        try:
            colours = catalog_colours(
                data, boxes, kinds=[g.label for g in rows], detector=detector, model=model, **image_limits()
            )
        except Exception:  # one odd photo does not stop the catalog's: it is listed with the unreadable
            logger.exception("outfit colours: reading image %s failed", image_id)
            colours = None
        if colours is None:
            result.unreadable.append(image_id)
            continue
        for garment, root in zip(rows, colours.roots, strict=True):
            garment.outfit_colour = None if root is None else root.astype(np.float32)
            garment.outfit_colour_model = colours.model_version if root is not None else ""
            changed.append(garment)
    # only the two colour columns: a concurrent re-ingest's rows are not overwritten
    result.garments = Garment.objects.bulk_update(changed, ["outfit_colour", "outfit_colour_model"], batch_size=500)
    return result


def image_limits(pipeline=None) -> dict:
    """The decoding limits of ``pipeline`` (the vision pipeline's, from settings, without one), so
    the colour read decodes a photo as the pipeline did and its boxes land on the same pixels."""
    if pipeline is not None:
        return {
            "max_bytes": pipeline.max_bytes,
            "max_pixels": pipeline.max_pixels,
            "max_decoded_bytes": pipeline.max_decoded_bytes,
        }
    return {
        "max_bytes": settings.FASHIONREC_MAX_UPLOAD_BYTES,
        "max_pixels": settings.FASHIONREC_MAX_IMAGE_PIXELS,
        "max_decoded_bytes": settings.FASHIONREC_MAX_DECODED_BYTES,
    }
