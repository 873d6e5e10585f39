"""The catalog's domain errors, named for what happened (see ``fashionrec.errors``; the API maps
their kinds to statuses in one place)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fashionrec.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from catalog.models import ProductImage


class ProductNotFound(NotFound):
    """The product does not exist, or was deleted while the write was under way."""

    def __init__(self, product_id: object) -> None:
        super().__init__(f"Product {product_id} does not exist.")
        self.product_id = product_id


class VariantNotFound(NotFound):
    """The variant does not exist (any more)."""

    def __init__(self, variant_id: object, *, product_id: object = None) -> None:
        of_product = f" of product {product_id}" if product_id is not None else ""
        super().__init__(f"Variant {variant_id}{of_product} does not exist.")
        self.variant_id = variant_id


class CategoryNotFound(NotFound):
    def __init__(self, category_id: object) -> None:
        super().__init__(f"Category {category_id} does not exist.")


class ImageNotFound(NotFound):
    def __init__(self, image_id: object, *, product_id: object) -> None:
        super().__init__(f"Image {image_id} of product {product_id} does not exist.")


class UnknownFilterValue(InvalidInput):
    """A filter names a category, brand or season that does not exist."""

    def __init__(self, unknown: dict[str, object]) -> None:
        details = {field: [f"Unknown {field} {value}."] for field, value in unknown.items()}
        super().__init__(next(iter(details.values()))[0], details=details)


class PriceRangeCrossed(InvalidInput):
    def __init__(self) -> None:
        super().__init__("price_min is greater than price_max.", details={"price_min": ["Must not exceed price_max."]})


class ImageDuplicate(Conflict):
    """The product already has an image with exactly these bytes."""

    code = "duplicate_image"

    def __init__(self, existing: ProductImage) -> None:
        super().__init__(
            f"Product {existing.product_id} already has this image (image {existing.pk}).",
            details={"image_id": existing.pk},
        )
        self.existing = existing
