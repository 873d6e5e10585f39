"""The shopper-facing demo pages: ``/`` (search by photo) and ``/products/<id>/`` (similar items).

Both pages are thin: they render a shell with the filter options and a little configuration,
and the browser talks to the public REST API (``/api/v1/recommendations/``,
``/api/v1/products/{id}/similar/``, ``/api/v1/complete-the-look/``,
``/api/v1/products/{id}/complete-the-look/``, ``/api/v1/me/interactions/``) exactly as any other client
would. So the demo exercises the real API, and there is one implementation of the recommend
logic. The few reads below only decide what the shell shows (is the catalog searchable yet,
which sizes exist); they never rank anything.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from catalog.models import Product, ProductVariant
from recommender.models import EncoderVersion, Garment

# The command the empty-catalog message tells people to run (see docs/demo.md and docs/ingestion.md).
IMPORT_COMMAND = ".venv/bin/python manage.py import_catalog ../shared/datasets/clothing-small/train"

# Recommendations per request. The API's default is 12 as well; the grid is laid out for it.
RESULTS_PER_PAGE = 12
# Complete the look: products per complementary kind, one sideways-scrolling row each.
LOOK_PER_KIND = 6

# Clothing sizes in the order a shopper reads them; anything else (numeric shoe sizes, "one
# size") follows, numbers by value.
_LETTER_SIZES = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"]


def _size_sort_key(size: str) -> tuple[int, float, str]:
    upper = size.upper()
    if upper in _LETTER_SIZES:
        return (0, _LETTER_SIZES.index(upper), upper)
    if re.fullmatch(r"\d+(\.\d+)?", size):
        return (1, float(size), size)
    return (2, 0.0, upper)


def _sizes_in_stock() -> list[str]:
    sizes = ProductVariant.objects.filter(stock__gt=0, product__is_active=True).values_list("size", flat=True)
    return sorted(set(sizes.distinct()), key=_size_sort_key)


def _searchable_garments() -> int:
    """How many garments a query can find now: those of the active encoder version."""
    active = EncoderVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
    if active is None:
        return 0
    return Garment.objects.filter(encoder_version=active, is_active=True).count()


def _page_config(request: HttpRequest, **extra) -> dict:
    """What the page's script needs, rendered with ``json_script`` (never inline JS strings)."""
    return {
        "k": RESULTS_PER_PAGE,
        "lookK": LOOK_PER_KIND,
        "maxUploadBytes": settings.FASHIONREC_MAX_UPLOAD_BYTES,
        "signedIn": request.user.is_authenticated,
        "importCommand": IMPORT_COMMAND,
        "urls": {
            "recommend": "/api/v1/recommendations/",
            "similar": "/api/v1/products/{id}/similar/",
            "completeLook": "/api/v1/complete-the-look/",
            "productLook": "/api/v1/products/{id}/complete-the-look/",
            "categories": "/api/v1/categories/",
            "seasons": "/api/v1/seasons/",
            "interactions": "/api/v1/me/interactions/",
            "product": reverse("product_detail", args=[0]).replace("/0/", "/{id}/"),
        },
        **extra,
    }


@require_safe
@ensure_csrf_cookie  # likes and signed-in queries are POSTs that carry the token from this cookie
def home(request: HttpRequest) -> HttpResponse:
    searchable = _searchable_garments()
    context = {
        "searchable_garments": searchable,
        "product_count": Product.objects.filter(is_active=True).count(),
        "sizes": _sizes_in_stock(),
        "import_command": IMPORT_COMMAND,
        "config": _page_config(request, mode="image", catalogEmpty=searchable == 0),
    }
    return render(request, "fashionrec/home.html", context)


@require_safe
@ensure_csrf_cookie
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(
        Product.objects.select_related("brand", "category").prefetch_related("seasons", "images", "variants"),
        pk=product_id,
        is_active=True,
    )
    images = list(product.images.all())
    primary = next((image for image in images if image.is_primary), images[0] if images else None)
    stock_by_size = {
        variant.size: variant.stock
        for variant in sorted(product.variants.all(), key=lambda variant: _size_sort_key(variant.size))
    }
    garments = []
    if primary is not None:
        active = EncoderVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
        for index, garment in enumerate(
            Garment.objects.filter(image=primary, encoder_version=active).order_by("-is_main", "-confidence", "id")
        ):
            garments.append(
                {
                    "index": index,
                    "box": [garment.box_x1, garment.box_y1, garment.box_x2, garment.box_y2],
                    "label": garment.label,
                    "confidence": garment.confidence,
                    "is_whole_image": garment.is_whole_image,
                    "is_main": garment.is_main,
                }
            )
    image_info = {"width": primary.width, "height": primary.height} if primary is not None and primary.width else None
    context = {
        "product": product,
        "primary_image": primary,
        "stock_by_size": stock_by_size,
        "sizes": _sizes_in_stock(),
        "import_command": IMPORT_COMMAND,
        "config": _page_config(
            request,
            mode="product",
            productId=product.pk,
            catalogEmpty=False,
            garments=garments,
            image=image_info,
        ),
    }
    return render(request, "fashionrec/product.html", context)
