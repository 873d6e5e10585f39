"""Who can open which admin page and run which action: anonymous, shopper, merchandiser, staff, superuser.

The last tests hold the API to the same rules: a catalog write through the API is allowed to
exactly the roles whose admin allows the same change.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import Product, ProductImage, ProductVariant, SeasonalRule, SeasonalRuleChange
from catalog.models.products import ProcessingStatus
from tests.admin.conftest import ROLES, jpeg_bytes

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"

# page -> status per role (anonymous, shopper, merchandiser, staff, superuser); 302 = sent to login.
PAGES = {
    "admin:index": (302, 302, 200, 200, 200),
    "admin:catalog_product_changelist": (302, 302, 200, 200, 200),
    "admin:catalog_product_add": (302, 302, 403, 200, 200),
    "admin:catalog_productimage_changelist": (302, 302, 200, 200, 200),
    "admin:catalog_productvariant_changelist": (302, 302, 200, 200, 200),
    "admin:catalog_season_add": (302, 302, 200, 403, 200),
    "admin:catalog_seasonalrule_changelist": (302, 302, 200, 200, 200),
    "admin:catalog_seasonalrule_add": (302, 302, 200, 403, 200),
    "admin:catalog_seasonalrulechange_changelist": (302, 302, 200, 200, 200),
    "admin:auth_user_changelist": (302, 302, 200, 200, 200),
    "admin:auth_user_add": (302, 302, 403, 403, 200),
    "admin:auth_group_changelist": (302, 302, 403, 403, 200),
    "admin:users_userpreference_changelist": (302, 302, 200, 200, 200),
    "admin:users_interaction_changelist": (302, 302, 200, 200, 200),
    "admin:recommender_garment_changelist": (302, 302, 200, 200, 200),
    "admin:recommender_garmentcorrection_changelist": (302, 302, 200, 200, 200),
}


@pytest.mark.parametrize("role", ROLES)
def test_admin_page_access_matrix(client_for, role):
    # given: one role, every page of the matrix (one test per role keeps the suite fast)
    client = client_for(role)
    # when
    answers = {page: client.get(reverse(page)) for page in PAGES}
    # then
    wrong = {
        page: (response.status_code, PAGES[page][ROLES.index(role)])
        for page, response in answers.items()
        if response.status_code != PAGES[page][ROLES.index(role)]
    }
    assert wrong == {}, f"{role}: page -> (got, expected)"
    for response in answers.values():
        if response.status_code == 302:
            assert response["Location"].startswith(LOGIN)


# object page -> (can open, can save) per role; anonymous and shopper are sent to login.
@pytest.mark.parametrize(
    ("role", "can_save"),
    [("merchandiser", False), ("staff", True), ("superuser", True)],
)
def test_product_page_is_view_only_for_merchandisers(client_for, catalog, role, can_save):
    # given
    product = catalog[0]
    client = client_for(role)
    url = reverse("admin:catalog_product_change", args=[product.pk])
    # when
    page = client.get(url)
    # then: the page opens for all three; price and stock are inputs only for those who may edit
    assert page.status_code == 200
    content = page.content.decode()
    assert ('name="price"' in content) is can_save
    assert ('name="variants-0-stock"' in content) is can_save
    assert ('name="_save"' in content) is can_save


def test_a_merchandiser_cannot_change_a_price_by_posting(client_for, catalog):
    # given
    product = catalog[0]
    client = client_for("merchandiser")
    # when
    response = client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        {"sku": product.sku, "title": product.title, "price": "1.00", "category": product.category_id},
    )
    # then
    assert response.status_code == 403
    product.refresh_from_db()
    assert str(product.price) == "49.90"


def test_a_merchandiser_sees_users_read_only(client_for, users):
    # given
    client = client_for("merchandiser")
    shopper = users["shopper"]
    # when
    page = client.get(reverse("admin:auth_user_change", args=[shopper.pk]))
    post = client.post(reverse("admin:auth_user_change", args=[shopper.pk]), {"username": "renamed"})
    # then
    assert page.status_code == 200
    assert 'name="username"' not in page.content.decode()
    assert post.status_code == 403
    shopper.refresh_from_db()
    assert shopper.username == "shopper"


def rule_form(**fields) -> dict:
    return {
        "name": "Red summer",
        "is_active": "on",
        "weight": "0.2",
        "priority": "0",
        "starts_on": "2026-06-01",
        "ends_on": "2026-08-31",
        "target_colour": "red",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
        **fields,
    }


@pytest.mark.parametrize(("role", "allowed"), [("merchandiser", True), ("staff", False), ("superuser", True)])
def test_who_can_create_a_rule_and_the_change_is_recorded(client_for, users, role, allowed):
    # given
    client = client_for(role)
    # when
    response = client.post(reverse("admin:catalog_seasonalrule_add"), rule_form())
    # then
    assert response.status_code == (302 if allowed else 403)
    assert SeasonalRule.objects.exists() is allowed
    if allowed:
        change = SeasonalRuleChange.objects.get()
        assert (change.action, change.changed_by) == ("create", users[role])


@pytest.mark.parametrize(("role", "allowed"), [("merchandiser", False), ("staff", True), ("superuser", True)])
def test_who_can_reprocess_images(client_for, catalog, role, allowed):
    # given
    image = ProductImage.objects.filter(product=catalog[0]).get()
    ProductImage.objects.filter(pk=image.pk).update(status=ProcessingStatus.FAILED, error="decoder exploded")
    client = client_for(role)
    # when
    response = client.post(
        reverse("admin:catalog_productimage_changelist"), {"action": "reprocess", "_selected_action": [image.pk]}
    )
    # then: the action is not offered to merchandisers, so their request changes nothing
    assert response.status_code in (200, 302)
    image.refresh_from_db()
    if allowed:
        assert (image.status, image.error) == (ProcessingStatus.PENDING, "")
    else:
        assert (image.status, image.error) == (ProcessingStatus.FAILED, "decoder exploded")


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 302), ("shopper", 302), ("merchandiser", 403), ("staff", 302), ("superuser", 302)],
)
def test_who_can_post_a_crop_correction(client_for, catalog, role, expected):
    # given: a form that fails validation (box too small), so no model is needed to answer
    image = ProductImage.objects.filter(product=catalog[0]).get()
    client = client_for(role)
    # when
    response = client.get(reverse("admin:catalog_productimage_correct", args=[image.pk]))
    # then: GET is redirected back to the image page for those allowed, refused for merchandisers
    assert response.status_code == expected
    if role in ("staff", "superuser"):
        assert response["Location"] == reverse("admin:catalog_productimage_change", args=[image.pk])


@pytest.mark.parametrize(("role", "allowed"), [("merchandiser", True), ("staff", False)])
def test_who_can_preview_a_rule(client_for, catalog, role, allowed):
    # given
    client = client_for(role)
    # when
    response = client.post(
        reverse("admin:catalog_seasonalrule_preview"), {**rule_form(), "_preview_product": catalog[0].sku}
    )
    # then
    assert response.status_code == (200 if allowed else 403)
    assert SeasonalRule.objects.count() == 0


def test_a_merchandiser_may_delete_a_rule_and_the_deletion_is_recorded(client_for, users):
    # given
    rule = SeasonalRule.objects.create(
        name="Old", target_tag="x", weight=0.1, starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 1, 2)
    )
    client = client_for("merchandiser")
    # when
    response = client.post(reverse("admin:catalog_seasonalrule_delete", args=[rule.pk]), {"post": "yes"})
    # then
    assert response.status_code == 302
    assert not SeasonalRule.objects.exists()
    change = SeasonalRuleChange.objects.get()
    assert (change.action, change.rule_name, change.changed_by) == ("delete", "Old", users["merchandiser"])


@pytest.mark.parametrize(("role", "allowed"), [("merchandiser", False), ("staff", True)])
def test_who_can_reprocess_a_products_images_from_the_product_list(client_for, catalog, role, allowed):
    # given
    ProductImage.objects.update(status=ProcessingStatus.FAILED)
    client = client_for(role)
    # when
    client.post(
        reverse("admin:catalog_product_changelist"),
        {"action": "reprocess_images", "_selected_action": [catalog[0].pk, catalog[1].pk]},
    )
    # then: only the selected products' images, and only when allowed
    pending = set(ProductImage.objects.filter(status=ProcessingStatus.PENDING).values_list("product_id", flat=True))
    assert pending == ({catalog[0].pk, catalog[1].pk} if allowed else set())


# --- the API grants catalog writes exactly as admin does ------------------------------------

# (API write, the model and admin permission it corresponds to)
API_WRITES = [
    ("create product", Product, "add"),
    ("change product", Product, "change"),
    ("delete product", Product, "delete"),
    ("add variant", ProductVariant, "add"),
    ("change variant", ProductVariant, "change"),
    ("delete variant", ProductVariant, "delete"),
    ("upload image", ProductImage, "add"),
    ("delete image", ProductImage, "delete"),
]


def send_api_write(client: APIClient, write: str, catalog: list):
    first, second, third = catalog
    variant = first.variants.first()
    return {
        "create product": lambda: client.post(
            "/api/v1/products/",
            {"sku": "API-NEW", "title": "New", "category": first.category_id, "price": "9.00"},
            format="json",
        ),
        "change product": lambda: client.patch(f"/api/v1/products/{first.pk}/", {"title": "Renamed"}, format="json"),
        "delete product": lambda: client.delete(f"/api/v1/products/{third.pk}/"),
        "add variant": lambda: client.post(
            f"/api/v1/products/{first.pk}/variants/", {"sku": "API-V", "size": "XL"}, format="json"
        ),
        "change variant": lambda: client.patch(
            f"/api/v1/products/{first.pk}/variants/{variant.pk}/", {"sku": "API-V2"}, format="json"
        ),
        "delete variant": lambda: client.delete(f"/api/v1/products/{first.pk}/variants/{variant.pk}/"),
        "upload image": lambda: client.post(
            f"/api/v1/products/{first.pk}/images/",
            {"image": SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")},
            format="multipart",
        ),
        "delete image": lambda: client.delete(f"/api/v1/products/{second.pk}/images/{second.images.get().pk}/"),
    }[write]()


def admin_allows(user, model, action: str, product: Product) -> bool:
    request = RequestFactory().get("/admin/")
    request.user = user or AnonymousUser()
    product_admin = admin.site._registry[Product]
    if not product_admin.has_module_permission(request):
        return False
    if (model, action) == (ProductImage, "add"):
        # Admin adds images only in the product page's inline (its image list has no "add").
        inline = next(i for i in product_admin.get_inline_instances(request, product) if i.model is ProductImage)
        return inline.has_add_permission(request, product)
    return getattr(admin.site._registry[model], f"has_{action}_permission")(request)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("write", "model", "action"), API_WRITES, ids=[write for write, _, _ in API_WRITES])
def test_the_api_allows_a_catalog_write_to_exactly_the_roles_admin_allows_it_to(
    users, catalog, role, write, model, action
):
    # given
    client = APIClient()
    if users[role] is not None:
        client.force_authenticate(users[role])
    expected = admin_allows(users[role], model, action, catalog[0])
    # when
    response = send_api_write(client, write, catalog)
    # then
    if expected:
        assert 200 <= response.status_code < 300, (response.status_code, response.content[:300])
    else:
        assert response.status_code in (401, 403), (response.status_code, response.content[:300])
    assert expected is (role in ("staff", "superuser"))  # docs/admin.md's table, for the reader


def test_a_merchandiser_granted_product_rights_by_hand_still_cannot_change_prices_or_stock(users, catalog):
    # given: someone gave a Merchandiser product and variant change rights
    merchandiser = users["merchandiser"]
    merchandiser.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_product", "change_productvariant"])
    )
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=merchandiser.pk))  # fresh permission cache
    product = catalog[0]
    variant = product.variants.order_by("pk").first()
    # when
    title = client.patch(f"/api/v1/products/{product.pk}/", {"title": "Summer tee"}, format="json")
    price = client.patch(f"/api/v1/products/{product.pk}/", {"price": "0.01"}, format="json")
    stock = client.patch(f"/api/v1/products/{product.pk}/variants/{variant.pk}/", {"stock": 99}, format="json")
    # then: what admin allows them (the title) goes through; prices and stock stay as they were
    assert title.status_code == 200
    assert (price.status_code, stock.status_code) == (403, 403)
    assert price.json()["error"]["code"] == "permission_denied"
    product.refresh_from_db()
    variant.refresh_from_db()
    assert (product.title, str(product.price), variant.stock) == ("Summer tee", "49.90", 0)
