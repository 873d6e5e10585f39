"""Catalog writes for products and variants (the API and imports call these).

Garment rows pick up every change through the database triggers of
``recommender/0002`` (serialised per product by ``0008``), inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction

from catalog.models import Brand, Category, Product, ProductVariant, Season

_PRODUCT_FIELDS = {
    "sku",
    "title",
    "description",
    "brand",
    "category",
    "department",
    "colour",
    "price",
    "currency",
    "tags",
    "is_active",
}


@transaction.atomic
def product_create(
    *,
    sku: str,
    title: str,
    category: Category,
    price: Decimal,
    brand: Brand | None = None,
    description: str = "",
    department: str = "unisex",
    colour: str = "",
    currency: str = "EUR",
    tags: Iterable[str] = (),
    is_active: bool = True,
    seasons: Iterable[Season] = (),
) -> Product:
    product = Product(
        sku=sku,
        title=title,
        category=category,
        price=price,
        brand=brand,
        description=description,
        department=department,
        colour=colour,
        currency=currency,
        tags=list(tags),
        is_active=is_active,
    )
    product.full_clean()
    product.save()
    product.seasons.set(list(seasons))
    return product


@transaction.atomic
def product_update(*, product: Product, seasons: Iterable[Season] | None = None, **fields) -> Product:
    """Update the given fields (any of ``_PRODUCT_FIELDS``) and, when given, the seasons."""
    unknown = set(fields) - _PRODUCT_FIELDS
    if unknown:
        raise TypeError(f"product_update() got unknown fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(product, name, list(value) if name == "tags" else value)
    if fields:
        product.full_clean()
        product.save()
    if seasons is not None:
        product.seasons.set(list(seasons))
    return product


def _product_lock(product_id: int) -> None:
    """Take the product's row lock before a variant's: the order admin uses (product, then inlines).

    The garment-refresh trigger locks the product anyway; taken after the variant's row lock,
    a stock update racing an admin save of the same product would deadlock. Must be called
    inside an atomic block (the lock lasts until the transaction ends).
    """
    list(Product.objects.select_for_update(no_key=True).filter(pk=product_id).values_list("pk", flat=True))


@transaction.atomic
def variant_create(*, product: Product, sku: str, size: str, colour: str = "", stock: int = 0) -> ProductVariant:
    _product_lock(product.pk)
    variant = ProductVariant(product=product, sku=sku, size=size, colour=colour, stock=stock)
    variant.full_clean()
    variant.save()
    return variant


@transaction.atomic
def variant_update(*, variant: ProductVariant, **fields) -> ProductVariant:
    unknown = set(fields) - {"sku", "size", "colour", "stock"}
    if unknown:
        raise TypeError(f"variant_update() got unknown fields: {sorted(unknown)}")
    _product_lock(variant.product_id)
    for name, value in fields.items():
        setattr(variant, name, value)
    variant.full_clean()
    variant.save()
    return variant
