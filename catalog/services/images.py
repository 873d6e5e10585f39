"""Storing product images: every way an image arrives (API, admin, import) goes through here.

The file and its row are committed first; processing (detect, encode) is enqueued with
``transaction.on_commit``, so a worker never sees a row that was rolled back and an upload
is never lost when the broker or a worker is down (the catch-up task finds it later).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from catalog import hooks
from catalog.errors import ImageDuplicate, ProductNotFound
from catalog.models import Product, ProductImage
from catalog.models.products import IMAGES_FOLDER, ProcessingStatus
from fashionrec.imaging import ImageRejected, encode_for_storage, load_image

logger = logging.getLogger(__name__)

__all__ = [
    "ImageDuplicate",
    "ImageRejected",
    "ProductNotFound",
    "ValidatedImage",
    "image_validate",
    "product_image_create",
    "product_image_delete",
    "product_image_files_delete_on_commit",
    "product_image_orphan_files_sweep",
    "product_image_reprocess",
]


@dataclass(frozen=True)
class ValidatedImage:
    data: bytes  # what is stored: the photo re-encoded without metadata (``encode_for_storage``)
    checksum: str  # SHA-256 hex of ``data``
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

    The bytes to store are the decoded, EXIF-oriented photo re-encoded as JPEG without EXIF, GPS,
    XMP or comments (``fashionrec.imaging.encode_for_storage``); the client's bytes are never
    stored. The checksum is of those bytes (the ingest worker recomputes it from the stored file),
    and since the encoding is deterministic the same upload twice still has the same checksum.
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
    stored = encode_for_storage(image)
    return ValidatedImage(
        data=stored, checksum=hashlib.sha256(stored).hexdigest(), width=image.width, height=image.height, image=image
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
            # Uploads to one product take turns on its row: the duplicate check, the demotion of
            # the current primary image and the insert then see every earlier upload committed
            # (parallel primary uploads all succeed, the last one wins), and a deletion of the
            # product waits for the upload or makes it find the product gone. NO KEY: variants
            # and garments referencing the product are not blocked.
            if not Product.objects.select_for_update(no_key=True).filter(pk=product.pk).exists():
                raise ProductNotFound(product.pk)
            existing = ProductImage.objects.filter(product=product, checksum=validated.checksum).first()
            if existing is not None:
                raise ImageDuplicate(existing)
            if is_primary:
                # One primary per product (a partial unique index): demote the current one first.
                product.images.filter(is_primary=True).update(is_primary=False)
            elif not product.images.exists():
                image.is_primary = True  # a product's first image is its primary image
            image.file.save("upload", ContentFile(validated.data), save=False)
            image.save()
            if enqueue:
                transaction.on_commit(functools.partial(_enqueue, [image.pk]))
    except BaseException:
        _delete_stored_file(image)
        raise
    return image


@transaction.atomic
def product_image_delete(*, image: ProductImage) -> None:
    """Delete an image row with its garments; its file goes once the deletion commits (see catalog.signals)."""
    ProductImage.objects.filter(pk=image.pk).delete()  # 0 rows when deleted concurrently: same end state


def product_image_reprocess(*, image: ProductImage) -> ProductImage:
    """Process an image again (after a failure, or a corrected file): back to pending, then enqueue."""
    with transaction.atomic():
        ProductImage.objects.filter(pk=image.pk).update(status=ProcessingStatus.PENDING, error="", processed_at=None)
        image_id = image.pk
        transaction.on_commit(lambda: _enqueue([image_id], force=True))
    image.refresh_from_db()
    return image


def _enqueue(image_ids: list[int], *, force: bool = False) -> None:
    hooks.product_images_enqueue(image_ids=image_ids, force=force)


def _delete_stored_file(image: ProductImage) -> None:
    # The row was rolled back: do not leave its file behind.
    if image.file and image.file.name:
        _delete_files([image.file.name])


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # the sweep retries it
            logger.warning("could not delete file %s", name, exc_info=True)


def product_image_files_delete_on_commit(names: list[str], *, using: str | None = None) -> None:
    """Delete stored image files once the transaction that deleted their rows commits.

    Never before: a deletion that is rolled back keeps its row, so it must keep its file.
    Outside a transaction (autocommit) the deletion is already committed and the files go at once.
    """
    names = [name for name in names if name]
    if names:
        transaction.on_commit(functools.partial(_delete_files, names), using=using)


# Files under the images folder younger than this are never swept. An upload writes its file
# just before inserting its row, in a transaction that is invisible to the sweep until it commits
# (seconds: one product per transaction, even in imports); an hour leaves a wide margin for
# slow commits and for clocks of the storage and the worker that disagree by minutes.
ORPHAN_MIN_AGE_S = 3600


def product_image_orphan_files_sweep(*, min_age_s: int = ORPHAN_MIN_AGE_S, batch_size: int = 1000) -> int:
    """Delete files under the product images folder that no image row references; return how many.

    Catches files whose row went without the ORM (raw SQL, a restored backup, a crash between
    commit and the file deletion). Files younger than ``min_age_s`` are kept: their row may be
    in a transaction that has not committed yet.
    """
    cutoff = time.time() - min_age_s
    deleted = 0
    for names in _batches(_stored_image_files(older_than=cutoff), batch_size):
        referenced = set(ProductImage.objects.filter(file__in=names).values_list("file", flat=True))
        orphans = [name for name in names if name not in referenced]
        _delete_files(orphans)
        deleted += len(orphans)
    return deleted


def _stored_image_files(*, older_than: float):
    root = Path(settings.MEDIA_ROOT)
    folder = root / IMAGES_FOLDER
    for directory, _, files in os.walk(folder):
        for file_name in files:
            path = Path(directory) / file_name
            try:
                if path.stat().st_mtime < older_than:
                    yield path.relative_to(root).as_posix()
            except OSError:  # deleted meanwhile
                continue


def _batches(items, size: int):
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
