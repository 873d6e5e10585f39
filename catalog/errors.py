"""What can go wrong in catalog writes, named for what happened (the API maps these to statuses)."""

from __future__ import annotations


class ProductNotFound(Exception):
    """The product does not exist, or was deleted while the write was under way."""

    def __init__(self, product_id: int) -> None:
        super().__init__(f"Product {product_id} does not exist.")
        self.product_id = product_id


class VariantNotFound(Exception):
    """The variant does not exist (any more)."""

    def __init__(self, variant_id: int) -> None:
        super().__init__(f"Variant {variant_id} does not exist.")
        self.variant_id = variant_id
