"""The "visually similar" panel of the product page: the recommend API's own query, with scores."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from catalog.models import Product, ProductImage
from recommender.selectors import recommend_similar_rows

SIMILAR_K = 8


def similar_panel_context(request: HttpRequest, object_id: str) -> dict:
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if request.method != "GET" or not (str(object_id).isascii() and str(object_id).isdigit()):
        return {}
    product_id = int(object_id)
    rows, problem = recommend_similar_rows(product_id=product_id, k=SIMILAR_K, on=timezone.localdate())
    products = Product.objects.select_related("brand").in_bulk([r.product_id for r in rows])

    images = ProductImage.objects.in_bulk([r.image_id for r in rows])
    return {
        "similar_problem": problem,
        "similar_today": timezone.localdate(),
        "similar": [
            {"row": r, "product": products[r.product_id], "image": images.get(r.image_id)}
            for r in rows
            if r.product_id in products
        ],
    }
