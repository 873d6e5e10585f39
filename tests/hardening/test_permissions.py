"""Every unsafe method of every API view, for every role: only the roles allowed may write.

The matrix is built from the URL resolver, not from a list kept by hand: a new view or method
that is not classified in ``WRITE_POLICY`` fails ``test_every_unsafe_endpoint_has_a_policy``
and cannot escape the matrix. Each request carries a valid body, so an allowed role gets a
2xx and a refused one is refused by the permission check (401/403 in the error format, with
nothing written to the database or the media folder), not by validation. With session
cookies, a write without the CSRF token is refused too.

Catalog writes follow the admin's model permissions (docs/admin.md): a
Merchandiser has staff status but only views products, variants and images, so every catalog
write is refused to them, as it is to a shopper.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from tests.factories import category_create
from tests.hardening.conftest import (
    ROLES,
    assert_error_format,
    client_for,
    database_fingerprint,
    image_bytes,
    media_files,
)

pytestmark = pytest.mark.django_db

UNSAFE = ("post", "put", "patch", "delete")
ANYONE = frozenset(ROLES)
SIGNED_IN = ANYONE - {"anonymous"}
CATALOG_STAFF = frozenset({"staff", "superuser"})  # Catalog staff group, and superusers
# (route name, method) -> the roles allowed to make that write.
WRITE_POLICY = {
    ("products", "post"): CATALOG_STAFF,
    ("product-detail", "put"): CATALOG_STAFF,
    ("product-detail", "patch"): CATALOG_STAFF,
    ("product-detail", "delete"): CATALOG_STAFF,
    ("product-variants", "post"): CATALOG_STAFF,
    ("product-variant-detail", "patch"): CATALOG_STAFF,
    ("product-variant-detail", "delete"): CATALOG_STAFF,
    ("product-images", "post"): CATALOG_STAFF,
    ("product-image-detail", "delete"): CATALOG_STAFF,
    ("recommendations", "post"): ANYONE,
    # reads sent as POST (a photo or a list of garments in the body): open to anyone, like recommendations
    ("complete-the-look", "post"): ANYONE,
    ("outfit-score", "post"): ANYONE,
    ("me-preferences", "put"): SIGNED_IN,
    ("me-interactions", "post"): SIGNED_IN,
    ("categories", "post"): CATALOG_STAFF,
    ("category-detail", "patch"): CATALOG_STAFF,
    ("category-detail", "delete"): CATALOG_STAFF,
}


def _api_views(resolver: URLResolver | None = None, prefix: str = ""):
    """(route name, route, view class) of every DRF view reachable from the root URL conf."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _api_views(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view_class = getattr(entry.callback, "view_class", None) or getattr(entry.callback, "cls", None)
            if isinstance(view_class, type) and issubclass(view_class, APIView):
                yield entry.name, prefix + str(entry.pattern), view_class


def unsafe_endpoints() -> list[tuple[str, str, str]]:
    return sorted(
        (name, route, method)
        for name, route, view_class in _api_views()
        for method in UNSAFE
        if hasattr(view_class, method)
    )


ENDPOINTS = unsafe_endpoints()


def test_every_unsafe_endpoint_has_a_policy():
    found = {(name, method) for name, _, method in ENDPOINTS}
    assert len(found) >= len(WRITE_POLICY) - 1  # the resolver walk itself works
    unclassified = found - set(WRITE_POLICY)
    assert not unclassified, f"classify these writes in WRITE_POLICY (and test them): {sorted(unclassified)}"
    assert not set(WRITE_POLICY) - found, "WRITE_POLICY names endpoints that no longer exist"


def request_for(name: str, route: str, method: str, shop: dict, role: str) -> tuple[str, dict, str]:
    product = shop["products"][0]
    variant = product.variants.first()
    image = product.images.first()
    path = "/" + (
        route.replace("<str:product_id>", str(product.pk))
        .replace("<str:variant_id>", str(variant.pk))
        .replace("<str:image_id>", str(image.pk))
    )
    tag = f"{role}-{method}"  # unique values: a staff request never collides with an earlier one
    # A category in use cannot be deleted (409); the delete gets a spare one of its own.
    spare = (name, method) == ("category-detail", "delete")
    category = category_create(f"spare/{tag}") if spare else shop["categories"][1]
    path = path.replace("<str:category_id>", str(category.pk))
    bodies = {
        ("products", "post"): {"sku": f"NEW-{tag}", "title": "New", "category": shop["categories"][0].pk, "price": "9"},
        ("product-detail", "put"): {
            "sku": f"PUT-{tag}",
            "title": "Replaced",
            "category": shop["categories"][1].pk,
            "price": "19.90",
        },
        ("product-detail", "patch"): {"title": f"Renamed {tag}"},
        ("product-variants", "post"): {"sku": f"V-{tag}", "size": "XL", "stock": 2},
        ("product-variant-detail", "patch"): {"stock": 7},
        ("categories", "post"): {"name": "New", "slug": f"new-{tag}", "parent": shop["categories"][0].pk},
        ("category-detail", "patch"): {"name": f"Renamed {tag}"},
        ("category-detail", "delete"): {},
        ("recommendations", "post"): {"product_id": product.pk, "k": 2},
        ("complete-the-look", "post"): {"product_id": product.pk, "k": 2},
        ("outfit-score", "post"): {"product_ids": [p.pk for p in shop["products"][:2]]},
        ("me-preferences", "put"): {"sizes": ["M"], "colours": ["red"]},
        ("me-interactions", "post"): {"product_id": product.pk, "kind": "like"},
        ("product-detail", "delete"): {},
        ("product-variant-detail", "delete"): {},
        ("product-image-detail", "delete"): {},
    }
    if (name, method) == ("product-images", "post"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        image = SimpleUploadedFile("p.png", image_bytes("PNG", colour="orange"), content_type="image/png")
        return path, {"image": image}, "multipart"
    return path, bodies[(name, method)], "json"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "route", "method"), ENDPOINTS, ids=[f"{m.upper()} {r}" for _, r, m in ENDPOINTS])
def test_writes_are_allowed_to_their_roles_only(users, shop, media_root, name, route, method, role):
    # given
    allowed = role in WRITE_POLICY[(name, method)]
    path, body, fmt = request_for(name, route, method, shop, role)
    before, files_before = database_fingerprint(), media_files(media_root)
    # when
    response = getattr(client_for(role, users), method)(path, body, format=fmt)
    # then
    if allowed:
        assert 200 <= response.status_code < 300, (role, response.status_code, response.content[:300])
    else:
        assert response.status_code in (401, 403), (role, response.status_code, response.content[:300])
        error = assert_error_format(response)
        assert error["code"] == ("not_authenticated" if role == "anonymous" else "permission_denied"), error
        assert database_fingerprint() == before
        assert media_files(media_root) == files_before


@pytest.mark.parametrize(("name", "route", "method"), ENDPOINTS, ids=[f"{m.upper()} {r}" for _, r, m in ENDPOINTS])
def test_session_writes_need_the_csrf_token(users, shop, media_root, name, route, method):
    # given: a browser session of a user allowed to make this write
    role = "staff" if "shopper" not in WRITE_POLICY[(name, method)] else "shopper"
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(users[role])
    request_for(name, route, method, shop, role)  # creates what the request needs (a spare category) first
    before = database_fingerprint()

    def send(**headers):
        path, body, fmt = request_for(name, route, method, shop, role)  # afresh: an upload is read once
        if fmt == "json":
            return getattr(browser, method)(path, json.dumps(body), content_type="application/json", **headers)
        return getattr(browser, method)(path, body, **headers)

    # when: no token
    refused = send()
    # then
    error = assert_error_format(refused, 403)
    assert "CSRF" in error["message"], error
    assert database_fingerprint() == before
    # and with the token the same request goes through
    browser.get("/accounts/login/")  # sets the csrftoken cookie
    allowed = send(HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert 200 <= allowed.status_code < 300, (allowed.status_code, allowed.content[:300])
