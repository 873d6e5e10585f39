"""Categories and brands in admin: moves keep the tree whole; rules keep their targets."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.urls import reverse

from catalog.models import Category, SeasonalRule
from catalog.services.rules import seasonal_rule_create
from recommender.models import Garment
from tests.factories import brand_create, category_create, garment_create, product_create

pytestmark = pytest.mark.django_db


def category_form(category: Category, **changes) -> dict:
    form = {"name": category.name, "slug": category.slug, "parent": category.parent_id or ""}
    return form | changes


@pytest.mark.parametrize("new_parent", ["itself", "its sub-category"])
def test_moving_a_category_under_itself_is_refused_with_a_message(client_for, new_parent):
    # given
    hats = category_create("clothing/accessories/hats")
    accessories = hats.parent
    target = accessories if new_parent == "itself" else hats
    # when
    response = client_for("staff").post(
        reverse("admin:catalog_category_change", args=[accessories.pk]), category_form(accessories, parent=target.pk)
    )
    # then
    assert response.status_code == 200  # the form again, with the error
    assert "a category cannot be moved under itself" in html.unescape(response.content.decode())
    assert Category.objects.get(pk=accessories.pk).parent_id == hats.parent.parent_id


def test_renaming_a_parent_in_admin_moves_its_subtree_and_garments(client_for):
    # given
    hats = category_create("clothing/accessories/hats")
    garment = garment_create(product_create(category=hats))
    # when
    response = client_for("staff").post(
        reverse("admin:catalog_category_change", args=[hats.parent_id]), category_form(hats.parent, slug="extras")
    )
    # then
    assert response.status_code == 302, response.content[:500]
    assert Category.objects.get(pk=hats.pk).path == "clothing/extras/hats"
    assert Garment.objects.get(pk=garment.pk).category_path == "clothing/extras/hats"


@pytest.mark.parametrize("target", ["brand", "category"])
def test_deleting_a_rules_target_in_admin_names_the_rule_and_deletes_nothing(client_for, target):
    # given
    obj = brand_create("Nordwind") if target == "brand" else category_create("women/dresses")
    window = {"starts_on": dt.date(2026, 6, 1), "ends_on": dt.date(2026, 8, 31)}
    rule = seasonal_rule_create(
        user=None, data={"name": "Nordwind summer", "weight": 0.2, f"target_{target}": obj, **window}
    )
    url = reverse(f"admin:catalog_{target}_delete", args=[obj.pk])
    # when
    response = client_for("superuser").post(url, {"post": "yes"})
    # then
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in page
    assert "Nordwind summer" in page
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert SeasonalRule.objects.filter(pk=rule.pk).exists()


def test_catalog_staff_set_a_kind_in_admin_and_sub_categories_inherit_it(client_for):
    # given
    hats = category_create("clothing/accessories/hats")
    accessories = hats.parent
    # when
    response = client_for("staff").post(
        reverse("admin:catalog_category_change", args=[accessories.pk]), category_form(accessories, garment_kind="hat")
    )
    # then
    assert response.status_code == 302, response.content[:500]
    assert Category.objects.get(pk=hats.pk).effective_garment_kind == "hat"
    page = client_for("staff").get(reverse("admin:catalog_category_changelist"))
    assert "Hat" in page.content.decode()


def test_a_merchandiser_cannot_change_a_kind_in_admin(client_for):
    hats = category_create("clothing/accessories/hats")
    response = client_for("merchandiser").post(
        reverse("admin:catalog_category_change", args=[hats.pk]), category_form(hats, garment_kind="bag")
    )
    assert response.status_code == 403
    assert Category.objects.get(pk=hats.pk).garment_kind == ""


def test_a_category_added_in_admin_without_a_kind_gets_the_guess(client_for):
    clothing = category_create("clothing")
    response = client_for("staff").post(
        reverse("admin:catalog_category_add"), {"name": "Sneakers", "slug": "sneakers", "parent": clothing.pk}
    )
    assert response.status_code == 302, response.content[:500]
    added = Category.objects.get(path="clothing/sneakers")
    assert (added.garment_kind, added.effective_garment_kind) == ("shoes", "shoes")
