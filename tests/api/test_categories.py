"""/api/v1/categories/: the tree for everyone; renames and moves for catalog staff, cycles refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from catalog.models import Category
from tests.api.conftest import assert_error
from tests.factories import category_create, garment_create, product_create
from tests.recommender.catalog_truth import assert_garments_match_catalog

pytestmark = pytest.mark.django_db


def client_in_group(django_user_model, group: str) -> APIClient:
    # The groups and their grants come from migration catalog/0002_staff_groups.
    user = django_user_model.objects.create_user(group.lower().replace(" ", "-"), password=None, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def catalog_staff(django_user_model):
    return client_in_group(django_user_model, "Catalog staff")


@pytest.fixture
def tree():
    hats = category_create("clothing/accessories/hats")
    return {"clothing": hats.parent.parent, "accessories": hats.parent, "hats": hats}


def test_renaming_a_parent_keeps_its_products_under_it_in_lists_and_similar(client, catalog_staff, tree, encoder):
    # given: a hat, and a shirt to ask for similar products of
    hat = product_create(category=tree["hats"])
    shirt = product_create(category=category_create("clothing/tops"))
    garment_create(hat, seed=1)
    garment_create(shirt, seed=2)
    accessories = tree["accessories"].pk
    # when
    response = catalog_staff.patch(f"/api/v1/categories/{accessories}/", {"slug": "extras"}, format="json")
    # then
    assert response.status_code == 200, response.content
    assert response.json()["path"] == "clothing/extras"
    assert Category.objects.get(pk=tree["hats"].pk).path == "clothing/extras/hats"
    listed = client.get("/api/v1/products/", {"category": accessories}).json()["results"]
    assert [product["id"] for product in listed] == [hat.pk]
    similar = client.get(f"/api/v1/products/{shirt.pk}/similar/", {"category": accessories, "k": 50}).json()
    assert [result["product"]["id"] for result in similar["results"]] == [hat.pk]
    assert_garments_match_catalog()


def test_a_new_category_under_the_old_slug_gets_a_child_and_none_of_the_old_products(client, catalog_staff, tree):
    # given
    hat = product_create(category=tree["hats"])
    catalog_staff.patch(f"/api/v1/categories/{tree['accessories'].pk}/", {"slug": "extras"}, format="json")
    # when
    created = catalog_staff.post(
        "/api/v1/categories/", {"name": "Accessories", "slug": "accessories", "parent": tree["clothing"].pk}
    )
    child = catalog_staff.post("/api/v1/categories/", {"name": "Hats", "slug": "hats", "parent": created.json()["id"]})
    # then
    assert (created.status_code, child.status_code) == (201, 201), (created.content, child.content)
    assert child.json()["path"] == "clothing/accessories/hats"
    listed = client.get("/api/v1/products/", {"category": created.json()["id"]}).json()["results"]
    assert hat.pk not in [product["id"] for product in listed]


@pytest.mark.parametrize("new_parent", ["accessories", "hats"])
def test_moving_a_category_under_itself_or_its_subtree_is_a_400(catalog_staff, tree, new_parent):
    # when
    response = catalog_staff.patch(
        f"/api/v1/categories/{tree['accessories'].pk}/", {"parent": tree[new_parent].pk}, format="json"
    )
    # then
    error = assert_error(response, 400, "invalid")
    assert "cannot be moved under itself" in error["details"]["parent"][0]
    assert Category.objects.get(pk=tree["accessories"].pk).parent_id == tree["clothing"].pk


def test_an_unknown_parent_is_a_400(catalog_staff, tree):
    response = catalog_staff.patch(f"/api/v1/categories/{tree['hats'].pk}/", {"parent": 999_999}, format="json")

    assert "parent" in assert_error(response, 400, "invalid")["details"]


def test_an_unknown_category_is_a_404(catalog_staff):
    assert_error(catalog_staff.patch("/api/v1/categories/abc/", {"slug": "x"}, format="json"), 404, "not_found")


@pytest.mark.parametrize("who", ["anonymous", "shopper", "staff without the permission", "merchandiser"])
def test_only_people_allowed_to_change_categories_can(client, django_user_model, tree, who):
    # given
    if who == "merchandiser":
        client = client_in_group(django_user_model, "Merchandiser")  # view-only on categories
    elif who != "anonymous":
        client.force_authenticate(
            django_user_model.objects.create_user("u", password=None, is_staff=who.startswith("staff"))
        )
    # when
    patched = client.patch(f"/api/v1/categories/{tree['hats'].pk}/", {"slug": "caps"}, format="json")
    created = client.post("/api/v1/categories/", {"name": "Caps", "slug": "caps"})
    deleted = client.delete(f"/api/v1/categories/{tree['hats'].pk}/")
    # then
    assert {patched.status_code, created.status_code, deleted.status_code} <= {401, 403}
    assert Category.objects.get(pk=tree["hats"].pk).slug == "hats"
    assert not Category.objects.filter(slug="caps").exists()
    assert client.get("/api/v1/categories/").status_code == 200


def test_deleting_a_category_a_rule_targets_is_a_409_and_keeps_both(catalog_staff, tree):
    # given
    from catalog.models import SeasonalRule
    from catalog.services.rules import seasonal_rule_create

    rule = seasonal_rule_create(
        user=None,
        data={"name": "Hat week", "weight": 0.3, "starts_on": "2026-06-01", "ends_on": "2026-06-07"}
        | {"target_category": tree["hats"]},
    )
    # when
    response = catalog_staff.delete(f"/api/v1/categories/{tree['hats'].pk}/")
    # then
    error = assert_error(response, 409, "in_use")
    assert error["details"] == {"used_by": {"seasonal rules": 1}}
    assert "1 seasonal rule" in error["message"]
    assert Category.objects.filter(pk=tree["hats"].pk).exists()
    assert SeasonalRule.objects.filter(pk=rule.pk).exists()


def test_deleting_a_category_with_products_or_children_is_a_409(catalog_staff, tree):
    product_create(category=tree["hats"])

    with_products = catalog_staff.delete(f"/api/v1/categories/{tree['hats'].pk}/")
    with_children = catalog_staff.delete(f"/api/v1/categories/{tree['accessories'].pk}/")

    assert assert_error(with_products, 409, "in_use")["details"] == {"used_by": {"products": 1}}
    assert assert_error(with_children, 409, "in_use")["details"] == {"used_by": {"categories": 1}}


def test_deleting_an_unused_category_is_a_204(catalog_staff, tree):
    response = catalog_staff.delete(f"/api/v1/categories/{tree['hats'].pk}/")

    assert response.status_code == 204, response.content
    assert not Category.objects.filter(pk=tree["hats"].pk).exists()


def test_the_list_shows_each_categorys_own_and_inherited_kind_in_one_query(client, tree, django_assert_num_queries):
    # given
    Category.objects.filter(pk=tree["accessories"].pk).update(garment_kind="bag")
    # when
    with django_assert_num_queries(1):  # the categories, in path order
        listed = client.get("/api/v1/categories/").json()
    # then
    assert [(c["path"], c["garment_kind"], c["effective_garment_kind"]) for c in listed] == [
        ("clothing", "", "none"),
        ("clothing/accessories", "bag", "bag"),
        ("clothing/accessories/hats", "", "bag"),
    ]


def test_catalog_staff_set_a_kind_and_the_subtree_follows(catalog_staff, tree):
    # when
    response = catalog_staff.patch(f"/api/v1/categories/{tree['hats'].pk}/", {"garment_kind": "hat"}, format="json")
    created = catalog_staff.post(
        "/api/v1/categories/", {"name": "Sun hats", "slug": "sun-hats", "parent": tree["hats"].pk}, format="json"
    )
    root = catalog_staff.patch(f"/api/v1/categories/{tree['clothing'].pk}/", {"garment_kind": "top"}, format="json")
    # then
    assert response.status_code == 200, response.content
    assert (response.json()["garment_kind"], response.json()["effective_garment_kind"]) == ("hat", "hat")
    assert (created.json()["garment_kind"], created.json()["effective_garment_kind"]) == ("hat", "hat")  # guessed
    assert root.json()["effective_garment_kind"] == "top"
    assert Category.objects.get(pk=tree["accessories"].pk).effective_garment_kind == "top"
    assert Category.objects.get(pk=tree["hats"].pk).effective_garment_kind == "hat"


def test_an_unknown_kind_is_a_400_naming_the_field_and_changes_nothing(catalog_staff, tree):
    response = catalog_staff.patch(f"/api/v1/categories/{tree['hats'].pk}/", {"garment_kind": "jumper"}, format="json")
    error = assert_error(response, 400)
    assert "garment_kind" in error["details"]
    assert Category.objects.get(pk=tree["hats"].pk).garment_kind == ""
