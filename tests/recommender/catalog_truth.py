"""What every garment row's denormalised columns must hold, recomputed from the catalog alone.

Deliberately independent of the triggers it checks: plain ORM reads of products, categories,
variants and seasons, aggregated in Python, so a mistake in the SQL of
``recommender_garment_attributes`` cannot hide itself here.
"""

from __future__ import annotations

from catalog.models import Product
from recommender.models import Garment

DENORMALISED_COLUMNS = (
    "category_id",
    "category_path",
    "brand_id",
    "department",
    "colour",
    "price",
    "is_active",
    "stock_total",
    "in_stock",
    "sizes_in_stock",
    "season_ids",
    "tags",
)


def expected_attributes(product: Product) -> dict:
    variants = list(product.variants.all())
    in_stock = [v for v in variants if v.stock > 0]
    return {
        "category_id": product.category_id,
        "category_path": product.category.path,
        "brand_id": product.brand_id,
        "department": product.department,
        "colour": product.colour,
        "price": product.price,
        "is_active": product.is_active,
        "stock_total": sum(v.stock for v in variants),
        "in_stock": bool(in_stock),
        "sizes_in_stock": sorted({v.size for v in in_stock}),
        "season_ids": sorted(s.pk for s in product.seasons.all()),
        "tags": list(product.tags),
    }


def garment_mismatches() -> list[str]:
    """Every denormalised value that differs from the catalog, as readable lines (none: all true)."""
    products = Product.objects.select_related("category").prefetch_related("variants", "seasons")
    expected = {product.pk: expected_attributes(product) for product in products}
    problems = []
    for garment in Garment.objects.order_by("pk").values("pk", "product_id", *DENORMALISED_COLUMNS):
        want = expected[garment["product_id"]]
        for column in DENORMALISED_COLUMNS:
            if garment[column] != want[column]:
                problems.append(
                    f"garment {garment['pk']} (product {garment['product_id']}): "
                    f"{column} is {garment[column]!r}, the catalog says {want[column]!r}"
                )
    return problems


def assert_garments_match_catalog() -> None:
    problems = garment_mismatches()
    assert not problems, "\n".join(problems)
