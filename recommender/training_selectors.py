"""Reads for training the encoder on the catalog in the database (``train_encoder --from-catalog``,
``bench/retrieval.py --from-catalog``): rows in, plain data out, so the vision library never
touches Django."""

from __future__ import annotations

from pathlib import Path

from catalog.models import ProductImage
from catalog.models.products import ProcessingStatus
from recommender.vision.encoder_catalog_data import CatalogPhoto


def catalog_training_photos() -> list[CatalogPhoto]:
    """Every stored photo of every product with its category's path, in primary-key order.

    Inactive products count (a product taken off sale still shows what its category looks
    like); photos whose processing failed do not (their file is not a decodable image).
    One query.
    """
    rows = (
        ProductImage.objects.exclude(status=ProcessingStatus.FAILED)
        .order_by("pk")
        .values_list("file", "product_id", "product__category__path")
    )
    storage = ProductImage._meta.get_field("file").storage
    return [CatalogPhoto(Path(storage.path(name)), str(product), path) for name, product, path in rows]
