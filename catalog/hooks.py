"""Work the catalog starts but does not do: the app that does it registers here, in its ``AppConfig.ready``.

The catalog stores product images; detecting and encoding them is the job of an app above it,
and the catalog never imports the apps above it (dependencies point one way; see the import
contracts in ``pyproject.toml``). That app registers its ingestion enqueue here. Without a
registered processor (the catalog on its own) images stay pending, as when the broker is down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

logger = logging.getLogger(__name__)


class ImagesEnqueue(Protocol):
    def __call__(self, *, image_ids: Iterable[int], force: bool = False, batch_size: int | None = None) -> int:
        """Send the images for processing; return how many batches were sent."""


_images_enqueue: ImagesEnqueue | None = None


def image_processing_register(enqueue: ImagesEnqueue) -> None:
    """Called once by the app that processes images (a second call replaces the first)."""
    global _images_enqueue
    _images_enqueue = enqueue


def product_images_enqueue(*, image_ids: Iterable[int], force: bool = False, batch_size: int | None = None) -> int:
    """Send stored images to processing (call it after commit); returns the batches sent."""
    if _images_enqueue is None:
        logger.warning("no image processing registered: images stay pending")
        return 0
    return _images_enqueue(image_ids=image_ids, force=force, batch_size=batch_size)
