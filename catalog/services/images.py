"""Storing product images: every way an image arrives (API, admin, import) goes through here.

The file and its row are committed first; processing (detect, encode) is enqueued with
``transaction.on_commit``, so a worker never sees a row that was rolled back and an upload
is never lost when the broker or a worker is down (the catch-up task finds it later).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from PIL import Image

from catalog.models import Product, ProductImage
from catalog.models.products import ProcessingStatus
from recommender.vision.preprocess import ImageRejected, load_image

logger = logging.getLogger(__name__)

__all__ = [
    "ImageDuplicate",
    "ImageRejected",
    "ValidatedImage",
    "image_validate",
    "product_image_create",
    "product_image_reprocess",
]


class ImageDuplicate(Exception):
    """The product already has an image with exactly these bytes."""

    def __init__(self, existing: ProductImage) -> None:
        super().__init__(f"Product {existing.product_id} already has this image (image {existing.pk}).")
        self.existing = existing


@dataclass(frozen=True)
class ValidatedImage:
    data: bytes
    checksum: str  # SHA-256 hex of the bytes
    width: int  # of the EXIF-oriented image
    height: int
    image: Image.Image = field(repr=False, compare=False)  # decoded, EXIF-oriented RGB


def _read_bounded(source: bytes | Path | BinaryIO, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` + 1 bytes, so an oversized upload is refused without reading it whole."""
    if isinstance(source, bytes):
        return source
    if isinstance(source, Path):
        if source.stat().st_size > max_bytes:
            raise ImageRejected("too_large", f"The file is larger than {max_bytes} bytes.")
        return source.read_bytes()
    size = getattr(source, "size", None)
    if size is not None and size > max_bytes:
        raise ImageRejected("too_large", f"The file is larger than {max_bytes} bytes.")
    if hasattr(source, "seek"):
        source.seek(0)
    return source.read(max_bytes + 1)


def image_validate(source: bytes | Path | BinaryIO, *, max_bytes: int | None = None) -> ValidatedImage:
    """Read and decode an upload; raise :class:`ImageRejected` (with ``code``) if it is not a usable image.

    Admin forms can call this from ``clean()`` to show the reason next to the field.
    """
    max_bytes = max_bytes or settings.FASHIONREC_MAX_UPLOAD_BYTES
    data = _read_bounded(source, max_bytes)
    # load_image does the real checks (empty, not an image, truncated, decompression bombs).
    image = load_image(
        data,
        max_bytes=max_bytes,
        max_pixels=settings.FASHIONREC_MAX_IMAGE_PIXELS,
        max_decoded_bytes=settings.FASHIONREC_MAX_DECODED_BYTES,
    )
    return ValidatedImage(
        data=data, checksum=hashlib.sha256(data).hexdigest(), width=image.width, height=image.height, image=image
    )


def product_image_create(
    *,
    product: Product,
    file: bytes | Path | BinaryIO | ValidatedImage,
    is_primary: bool = False,
    enqueue: bool = True,
) -> ProductImage:
    """Store an image of ``product`` and enqueue its processing once the transaction commits.

    ``file`` is an uploaded file, raw bytes, a path or an already validated image. The file
    is stored under a generated name (never the client's). Raises :class:`ImageRejected` for
    an unusable image and :class:`ImageDuplicate` if the product already has these bytes.
    ``enqueue=False`` leaves the image pending for the caller to enqueue in batches (import).
    """
    validated = file if isinstance(file, ValidatedImage) else image_validate(file)
    existing = ProductImage.objects.filter(product=product, checksum=validated.checksum).first()
    if existing is not None:
        raise ImageDuplicate(existing)

    # Two attempts: a concurrent upload to the same product can win the "one primary image"
    # unique index between our check and our insert; the second attempt sees its row.
    for attempt in (1, 2):
        image = ProductImage(
            product=product,
            is_primary=is_primary,
            checksum=validated.checksum,
            width=validated.width,
            height=validated.height,
            status=ProcessingStatus.PENDING,
        )
        try:
            with transaction.atomic():
                if is_primary:
                    # One primary per product (a partial unique index): demote the current one first.
                    product.images.filter(is_primary=True).update(is_primary=False)
                elif not product.images.exists():
                    image.is_primary = True  # a product's first image is its primary image
                image.file.save("upload", ContentFile(validated.data), save=False)
                image.save()
                if enqueue:
                    transaction.on_commit(functools.partial(_enqueue, [image.pk]))
            return image
        except IntegrityError:
            _delete_stored_file(image)
            # Lost a race with a concurrent upload of the same bytes, or of a primary image.
            existing = ProductImage.objects.filter(product=product, checksum=validated.checksum).first()
            if existing is not None:
                raise ImageDuplicate(existing) from None
            if attempt == 2:
                raise
        except BaseException:
            _delete_stored_file(image)
            raise
    raise AssertionError("unreachable")


def product_image_reprocess(*, image: ProductImage) -> ProductImage:
    """Process an image again (after a failure, or a corrected file): back to pending, then enqueue."""
    with transaction.atomic():
        ProductImage.objects.filter(pk=image.pk).update(status=ProcessingStatus.PENDING, error="", processed_at=None)
        image_id = image.pk
        transaction.on_commit(lambda: _enqueue([image_id], force=True))
    image.refresh_from_db()
    return image


def _enqueue(image_ids: list[int], *, force: bool = False) -> None:
    from recommender.services.ingest import product_images_enqueue

    product_images_enqueue(image_ids=image_ids, force=force)


def _delete_stored_file(image: ProductImage) -> None:
    # The row was rolled back: do not leave its file behind.
    if image.file and image.file.name:
        try:
            image.file.storage.delete(image.file.name)
        except OSError:
            logger.warning("could not delete orphan file %s", image.file.name, exc_info=True)
