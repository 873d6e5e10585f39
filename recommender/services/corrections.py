"""Crop correction: staff fix a garment's box and label; the garment is re-encoded at once and
the correction is kept as a training label for the detector (owner: admin engineer).

``detector_training_labels()`` is the export ``train_detector`` reads: one row per corrected
box, newest correction of a box first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.models import ProductImage
from recommender.models import Garment, GarmentCorrection
from recommender.services.outfit_colours import catalog_colours, image_limits
from recommender.vision.main_garment import stored_main_index
from recommender.vision.taxonomy import GARMENT_CLASSES

# A corrected box is ground truth: it ranks above any detection of the same image.
CORRECTED_CONFIDENCE = 1.0
# Smaller boxes are slips of the mouse, not garments (the encoder sees a few pixels).
MIN_BOX_SIDE = 8


def garment_box_validate(
    *, box: tuple[int, int, int, int], label: str, width: int | None, height: int | None
) -> tuple[int, int, int, int]:
    """Check a box drawn by a person; raise ``ValidationError`` with messages per field."""
    x1, y1, x2, y2 = (int(v) for v in box)
    errors: dict[str, str] = {}
    if label not in GARMENT_CLASSES:
        errors["label"] = f"“{label}” is not a garment class; choose one of {', '.join(GARMENT_CLASSES)}."
    if min(x1, y1, x2, y2) < 0:
        errors["x1"] = "Coordinates start at 0 (the image's top-left corner)."
    elif x2 - x1 < MIN_BOX_SIDE:
        errors["x2"] = f"The box must be at least {MIN_BOX_SIDE} px wide: x2 ({x2}) must exceed x1 ({x1})."
    elif y2 - y1 < MIN_BOX_SIDE:
        errors["y2"] = f"The box must be at least {MIN_BOX_SIDE} px tall: y2 ({y2}) must exceed y1 ({y1})."
    elif width and height and (x2 > width or y2 > height):
        errors["x2"] = f"The box ({x1}, {y1}, {x2}, {y2}) leaves the image ({width} × {height} px)."
    if errors:
        raise ValidationError(errors)
    return (x1, y1, x2, y2)


def garment_correction_create(
    *,
    image: ProductImage,
    box: tuple[int, int, int, int],
    label: str,
    user: AbstractBaseUser | None,
    garment: Garment | None = None,
) -> GarmentCorrection:
    """Adjust ``garment`` (or add a garment the detector missed) with a box and label set by staff.

    The box is re-encoded with the process-wide pipeline (``embed_box``), the garment row gets
    the new box, label and embedding, and a :class:`GarmentCorrection` keeps the label for
    detector training. Model inference runs before the transaction opens, so no row stays
    locked while the encoder works. Raises ``ValidationError`` for an invalid box or label.
    """
    from recommender.vision.pipeline import get_pipeline

    if garment is not None and garment.image_id != image.pk:
        raise ValidationError({"garment": f"Garment {garment.pk} belongs to another image."})
    box = garment_box_validate(box=box, label=label, width=image.width, height=image.height)
    with image.file.open("rb") as handle:
        data = handle.read()
    pipeline = get_pipeline()
    embedding = pipeline.embed_box(data, box)
    # the colour of the new box, as ingest reads it (none without an outfit model)
    colours = catalog_colours(data, [box], kinds=[label], detector=pipeline.detector, **image_limits(pipeline))
    colour = None if colours is None else colours.roots[0]

    x1, y1, x2, y2 = box
    with transaction.atomic():
        previous_box, previous_label = None, ""
        if garment is not None:
            garment = Garment.objects.select_for_update().get(pk=garment.pk)
            previous_box = [garment.box_x1, garment.box_y1, garment.box_x2, garment.box_y2]
            previous_label = garment.label
        else:
            garment = Garment(image=image, product_id=image.product_id)
        garment.box_x1, garment.box_y1, garment.box_x2, garment.box_y2 = box
        garment.label = label
        garment.embedding = embedding
        garment.encoder_version = pipeline.encoder_version
        garment.confidence = CORRECTED_CONFIDENCE
        garment.is_whole_image = False
        garment.outfit_colour = None if colour is None else colour.astype("float32")
        garment.outfit_colour_model = "" if colour is None else colours.model_version
        garment.save()
        image_main_garment_mark(image=image, encoder_version=pipeline.encoder_version)
        return GarmentCorrection.objects.create(
            image=image,
            garment=garment,
            box_x1=x1,
            box_y1=y1,
            box_x2=x2,
            box_y2=y2,
            label=label,
            previous_box=previous_box,
            previous_label=previous_label,
            encoder_version=pipeline.encoder_version,
            corrected_by=user if user is not None and user.is_authenticated else None,
        )


def image_main_garment_mark(*, image: ProductImage, encoder_version: str) -> None:
    """Flag the image's main garment again (``Garment.is_main``) after its garments changed.

    A corrected label or box can change which garment is main (a "shoe" that was a skirt). The
    rule is the pipeline's (``stored_main_index``); call it inside the transaction that changed
    the garments.
    """
    garments = list(Garment.objects.filter(image=image, encoder_version=encoder_version).order_by("id"))
    boxes = [(g.box_x1, g.box_y1, g.box_x2, g.box_y2) for g in garments]
    width = image.width or max((box[2] for box in boxes), default=1)
    height = image.height or max((box[3] for box in boxes), default=1)
    index = stored_main_index(
        [(box, g.label, g.confidence, g.is_whole_image) for box, g in zip(boxes, garments, strict=True)],
        width,
        height,
    )
    main_id = garments[index].pk if index is not None else None
    Garment.objects.filter(image=image, encoder_version=encoder_version).exclude(pk=main_id).update(is_main=False)
    if main_id is not None:
        Garment.objects.filter(pk=main_id).update(is_main=True)


@dataclass(frozen=True)
class TrainingLabel:
    image_path: Path  # absolute path of the stored image file
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 pixels of the EXIF-oriented image
    label: str  # a garment class of recommender.vision.taxonomy
    image_id: int
    width: int | None  # oriented image size when known (YOLO labels are normalised by it)
    height: int | None


def detector_training_labels() -> Iterator[TrainingLabel]:
    """Every staff-corrected box, for ``train_detector``: (image path, box, label) rows.

    A box corrected twice counts once, with its latest box and label: a correction whose box
    a newer correction of the same image started from (``previous_box``) is superseded. This
    holds even after reprocessing replaced the garment rows (``garment`` is then NULL).
    Boxes staff did not touch are not returned: they are the detector's own predictions,
    not labels. Ordered by image id, then newest first, so the export is stable.
    """
    rows = (
        GarmentCorrection.objects.select_related("image")
        .order_by("image_id", "-created_at", "-id")
        .iterator(chunk_size=500)
    )
    current_image, started_from = None, set()
    for correction in rows:
        if correction.image_id != current_image:
            current_image, started_from = correction.image_id, set()
        superseded = correction.box in started_from
        if correction.previous_box:
            started_from.add(tuple(correction.previous_box))
        if superseded:
            continue
        image = correction.image
        yield TrainingLabel(
            image_path=Path(image.file.path),
            box=correction.box,
            label=correction.label,
            image_id=image.pk,
            width=image.width,
            height=image.height,
        )
