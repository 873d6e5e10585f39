"""The "completes the look" panel of the product page: what ``GET /api/v1/products/{id}/complete-the-look/``
answers today (same selector, no filters, no shopper), a few products per complementary kind.

Read-only; shown to whoever may view the product. Its queries do not depend on how many kinds or
products it shows (``outfit_selectors.look_for_product``: context, garment, estimate, one look
statement, one card query).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from fashionrec.errors import DomainError
from recommender.outfit_selectors import LookRequest, look_for_product

LOOK_K = 4  # products per kind: a glance at what the storefront shows


def look_panel_context(request: HttpRequest, object_id: str) -> dict:
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if request.method != "GET" or not (str(object_id).isascii() and str(object_id).isdigit()):
        return {}
    today = timezone.localdate()
    try:
        result = look_for_product(product_id=int(object_id), request=LookRequest(k=LOOK_K), today=today)
    except DomainError as error:  # no outfit model, not indexed yet, inactive product: say why
        return {"look_problem": error.message, "look_today": today, "look": []}
    return {
        "look_problem": "",
        "look_today": today,
        "look_query_kind": result.query_kind,
        "look_model_version": result.model_version,
        "look": [group for group in result.groups if group.results],
    }
