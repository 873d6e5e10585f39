"""Catalog reads: product lists with filters, product cards for recommendation results."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat
from django.utils.text import slugify

from catalog.filters import ProductFilters, filters_q
from catalog.models import Category, Product, ProductImage, ProductVariant, Season
from catalog.models.products import ProcessingStatus
from catalog.services.catalog_import import CLOTHING_FOLDERS
from fashionrec.db import fetch_dicts
from fashionrec.db_routing import read_connection


def _with_card_relations(queryset: QuerySet[Product]) -> QuerySet[Product]:
    # brand and category come with the product row (JOIN); images, variants and seasons are one
    # query each whatever the number of products.
    return queryset.select_related("brand", "category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("-is_primary", "id")),
        Prefetch("variants", queryset=ProductVariant.objects.order_by("size", "id")),
        Prefetch("seasons", queryset=Season.objects.order_by("start_month", "start_day", "id")),
    )


# The card of catalog.api.products.ProductCardSerializer, built by PostgreSQL: one round trip for any
# number of products instead of four queries and a model instance per row (13 ms for 10 cards
# through the ORM, about 1 ms this way). tests/api/test_product_cards.py holds both to the
# same output.
_CARDS_SQL = """
SELECT p.id, p.sku, p.title, b.name AS brand,
       COALESCE(NULLIF(replace(c.path, '/', ' › '), ''), c.name) AS category,
       p.category_id, p.department, p.colour, p.price::text AS price, p.currency,
       (SELECT i.file FROM catalog_productimage i WHERE i.product_id = p.id
        ORDER BY i.is_primary DESC, i.id LIMIT 1) AS primary_image_url,
       (SELECT COALESCE(json_object_agg(v.size, v.stock ORDER BY v.size), '{}')
        FROM (SELECT size, sum(stock) AS stock FROM catalog_productvariant
              WHERE product_id = p.id GROUP BY size) v) AS stock_by_size,
       (SELECT COALESCE(json_agg(json_build_object('id', s.id, 'name', s.name)
                                 ORDER BY s.start_month, s.start_day, s.id), '[]')
        FROM catalog_product_seasons ps JOIN catalog_season s ON s.id = ps.season_id
        WHERE ps.product_id = p.id) AS seasons
FROM catalog_product p
JOIN catalog_category c ON c.id = p.category_id
LEFT JOIN catalog_brand b ON b.id = p.brand_id
WHERE p.id = ANY(%s)
"""


def product_cards(ids: Iterable[int]) -> dict[int, dict]:
    """Product cards (the API's ``product`` object) keyed by product id, in one query."""
    ids = list(ids)
    if not ids:
        return {}
    with read_connection().cursor() as cursor:  # a replica inside a replica scope
        cursor.execute(_CARDS_SQL, [ids])
        rows = fetch_dicts(cursor)
    return {row["id"]: _card(row) for row in rows}


def _card(row: dict) -> dict:
    # The columns come in the card's field order; the image column holds the file name until here.
    file = row["primary_image_url"]
    row["primary_image_url"] = default_storage.url(file) if file else None
    row["url"] = f"/api/v1/products/{row['id']}/"
    return row


def product_get(product_id: int, *, include_inactive: bool = False) -> Product | None:
    queryset = Product.objects.all() if include_inactive else Product.objects.filter(is_active=True)
    return _with_card_relations(queryset.filter(pk=product_id)).first()


def product_list(
    filters: ProductFilters, *, search: str | None = None, include_inactive: bool = False
) -> QuerySet[Product]:
    """Products matching the filters (``catalog.filters``; the category resolved to its subtree's
    paths), newest first."""
    queryset = Product.objects.filter(filters_q(filters))
    if not include_inactive:
        queryset = queryset.filter(is_active=True)
    if search:
        queryset = queryset.filter(
            Q(title__icontains=search) | Q(sku__icontains=search) | Q(brand__name__icontains=search)
        )
    return _with_card_relations(queryset.order_by("-created_at", "-id"))


def category_subtree_paths(category_id: int) -> tuple[str, ...]:
    """The paths of a category and of every category below it; () when there is no such category."""
    root = Category.objects.filter(pk=category_id).values("path")
    return tuple(
        Category.objects.filter(Q(path__in=Subquery(root)) | Q(path__startswith=Concat(Subquery(root), Value("/"))))
        .order_by("path")
        .values_list("path", flat=True)
    )


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("path")


def category_get(category_id: int) -> Category | None:
    return Category.objects.filter(pk=category_id).first()


def season_list() -> QuerySet[Season]:
    return Season.objects.order_by("hemisphere", "start_month", "start_day", "id")


def product_image_status_counts(image_ids: Iterable[int]) -> dict[str, int]:
    """How many of these images are in each processing status (every status, zeros included)."""
    counts = dict.fromkeys(ProcessingStatus.values, 0)
    rows = ProductImage.objects.filter(pk__in=list(image_ids)).values_list("status").annotate(count=Count("pk"))
    counts.update(dict(rows))
    return counts


def category_garment_kinds() -> dict[str, str]:
    """Every category's path -> its effective garment kind (one query).

    For the vision library, which takes the kinds as data (``taxonomy.garment_for_name(name,
    kinds=...)``) and reads no database itself.
    """
    return dict(Category.objects.values_list("path", "effective_garment_kind"))


def clothing_folder_kinds() -> dict[str, str]:
    """The clothing dataset's folders -> the effective kind of the category the folder import
    files them under (``CLOTHING_FOLDERS``), for the folders whose category exists (one query).

    The detector's flat-lay labels and their evaluation follow these (``taxonomy.flat_lay_garments``),
    so a category re-filed in admin changes them at the next training.
    """
    folder_of = {
        "/".join(slugify(name)[:120] for name in spec.path): folder for folder, spec in CLOTHING_FOLDERS.items()
    }
    rows = Category.objects.filter(path__in=folder_of).values_list("path", "effective_garment_kind")
    return {folder_of[path]: kind for path, kind in rows}
