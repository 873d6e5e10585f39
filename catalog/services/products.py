"""Catalog writes for products and variants (the API and imports call these).

Rows that copy product fields for search (the garments) pick up every change through database
triggers, inside the same transaction (serialised per product); the app that owns those rows
installs the triggers.

Concurrent writes: ``full_clean()`` checks uniqueness before the insert, so two requests with
one SKU can both pass it; the loser's insert then violates the unique index. Each write runs
in a savepoint, and on an ``IntegrityError`` the same checks run again: they now see the
winner's committed row and raise the same ``ValidationError`` a sequential duplicate gets.
A write to a product deleted meanwhile raises :class:`ProductNotFound` (never a resurrected
row or a foreign-key error).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NoReturn

from django.db import DatabaseError, IntegrityError, connection, transaction

from catalog.errors import ProductNotFound, VariantNotFound
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
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as error:
        _raise_lost_race(product, error)
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
        try:
            with transaction.atomic():
                # force_update: a product deleted meanwhile must not come back as a new row.
                product.save(force_update=True)
        except IntegrityError as error:
            _raise_lost_race(product, error)
        except DatabaseError as error:
            if Product.objects.filter(pk=product.pk).exists():
                raise
            raise ProductNotFound(product.pk) from error
    if seasons is not None:
        if not Product.objects.filter(pk=product.pk).exists():
            raise ProductNotFound(product.pk)
        product.seasons.set(list(seasons))
    return product


def _product_lock(product_id: int) -> None:
    """Take the product's row lock before a variant's: the order admin uses (product, then inlines).

    The garment-refresh trigger locks the product anyway; taken after the variant's row lock,
    a stock update racing an admin save of the same product would deadlock. Must be called
    inside an atomic block (the lock lasts until the transaction ends). Raises
    :class:`ProductNotFound` when the product was deleted (possibly while we waited for it).
    """
    locked = Product.objects.select_for_update(no_key=True).filter(pk=product_id).values_list("pk", flat=True)
    if not list(locked):
        raise ProductNotFound(product_id)


@transaction.atomic
def product_delete(*, product_id: int) -> None:
    """Delete a product with its variants, images (their files once committed) and garments.

    The row is locked first: an image upload in flight (which holds a lock on it, see
    ``product_image_create``) finishes before, and its image is deleted with the rest; a
    variant or upload that starts later finds the product gone. Without the lock, a child
    committed between Django's collection of children and the delete fails the deletion's
    foreign-key check at commit.
    """
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound(product_id)
    product.delete()


@transaction.atomic
def variant_create(*, product: Product, sku: str, size: str, colour: str = "", stock: int = 0) -> ProductVariant:
    _product_lock(product.pk)
    variant = ProductVariant(product=product, sku=sku, size=size, colour=colour, stock=stock)
    variant.full_clean()
    try:
        with transaction.atomic():
            variant.save()
            # The foreign key is checked at commit (deferred); check it here, where a product
            # deleted meanwhile can still be told apart from a duplicate.
            connection.check_constraints()
    except IntegrityError as error:
        if not Product.objects.filter(pk=product.pk).exists():
            raise ProductNotFound(product.pk) from None
        _raise_lost_race(variant, error)
    return variant


@transaction.atomic
def variant_update(*, variant: ProductVariant, **fields) -> ProductVariant:
    unknown = set(fields) - {"sku", "size", "colour", "stock"}
    if unknown:
        raise TypeError(f"variant_update() got unknown fields: {sorted(unknown)}")
    try:
        _product_lock(variant.product_id)
    except ProductNotFound:
        raise VariantNotFound(variant.pk) from None
    for name, value in fields.items():
        setattr(variant, name, value)
    variant.full_clean()
    try:
        with transaction.atomic():
            variant.save(force_update=True)
    except IntegrityError as error:
        _raise_lost_race(variant, error)
    except DatabaseError as error:
        if ProductVariant.objects.filter(pk=variant.pk).exists():
            raise
        raise VariantNotFound(variant.pk) from error
    return variant


@transaction.atomic
def variant_delete(*, variant: ProductVariant) -> None:
    ProductVariant.objects.filter(pk=variant.pk).delete()  # 0 rows when deleted concurrently: same end state


def _raise_lost_race(obj: Product | ProductVariant, error: IntegrityError) -> NoReturn:
    """After a unique violation, raise what ``full_clean()`` says now that the winner has committed.

    Re-raises ``error`` when the checks still pass (a constraint they do not cover), which the
    API answers with 409.
    """
    obj.validate_unique()
    obj.validate_constraints()
    raise error
