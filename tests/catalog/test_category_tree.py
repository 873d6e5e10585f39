"""The category tree: paths follow renames and moves (subtree and garments), cycles are refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog.models import Category
from catalog.services.categories import CYCLE_CONSTRAINT, category_create, category_update
from recommender.models import Garment
from tests.concurrency import WAIT_S, blocked_or_done
from tests.factories import category_create as category_path_create
from tests.factories import garment_create, product_create
from tests.recommender.catalog_truth import assert_garments_match_catalog


def paths() -> list[str]:
    return list(Category.objects.order_by("path").values_list("path", flat=True))


@pytest.mark.django_db
def test_renaming_a_parent_rewrites_its_subtree_and_the_garments_paths():
    # given
    hats = category_path_create("clothing/accessories/hats")
    category_path_create("clothing/accessories/hats/caps")
    accessories = hats.parent
    garment = garment_create(product_create(category=hats))
    # when
    category_update(category=accessories, slug="extras")
    # then
    assert paths() == ["clothing", "clothing/extras", "clothing/extras/hats", "clothing/extras/hats/caps"]
    assert Garment.objects.get(pk=garment.pk).category_path == "clothing/extras/hats"
    assert accessories.path == "clothing/extras"
    assert_garments_match_catalog()


@pytest.mark.django_db
def test_moving_a_parent_rewrites_its_subtree_and_the_garments_paths():
    # given
    hats = category_path_create("clothing/accessories/hats")
    women = category_path_create("women")
    garment_create(product_create(category=hats))
    # when
    category_update(category=hats.parent, parent=women)
    # then
    assert paths() == ["clothing", "women", "women/accessories", "women/accessories/hats"]
    assert_garments_match_catalog()


@pytest.mark.django_db
def test_any_writer_moves_the_subtree_even_a_bulk_update():
    # given
    hats = category_path_create("clothing/accessories/hats")
    garment_create(product_create(category=hats))
    # when
    Category.objects.filter(pk=hats.parent_id).update(slug="extras")
    # then
    assert paths() == ["clothing", "clothing/extras", "clothing/extras/hats"]
    assert_garments_match_catalog()


@pytest.mark.django_db
def test_a_new_category_with_the_old_slug_takes_none_of_the_renamed_ones_products_and_can_have_children():
    # given
    hats = category_path_create("clothing/accessories/hats")
    clothing = hats.parent.parent
    category_update(category=hats.parent, slug="extras")
    # when
    fresh = category_create(name="Accessories", slug="accessories", parent=clothing)
    child = category_create(name="Hats", slug="hats", parent=fresh)
    # then
    assert fresh.subtree_ids() == {fresh.pk, child.pk}
    assert child.path == "clothing/accessories/hats"
    assert Category.objects.get(pk=hats.pk).path == "clothing/extras/hats"


@pytest.mark.django_db
@pytest.mark.parametrize("new_parent", ["itself", "its child", "its grandchild"])
def test_moving_a_category_under_itself_or_its_subtree_is_refused(new_parent):
    # given
    caps = category_path_create("clothing/accessories/hats/caps")
    hats = caps.parent
    accessories = hats.parent
    target = {"itself": accessories, "its child": hats, "its grandchild": caps}[new_parent]
    before = paths()
    # when
    with pytest.raises(ValidationError) as refused:
        category_update(category=Category.objects.get(pk=accessories.pk), parent=target)
    # then
    assert "cannot be moved under itself" in refused.value.message_dict["parent"][0]
    assert paths() == before


@pytest.mark.django_db
@pytest.mark.parametrize("new_parent", ["itself", "its grandchild"])
def test_the_database_refuses_a_cycle_from_any_writer(new_parent):
    # given
    caps = category_path_create("clothing/accessories/hats/caps")
    accessories = caps.parent.parent
    target = accessories if new_parent == "itself" else caps
    before = paths()
    # when
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        Category.objects.filter(pk=accessories.pk).update(parent=target)
    # then
    assert refused.value.__cause__.diag.constraint_name == CYCLE_CONSTRAINT
    assert paths() == before


@pytest.mark.django_db(transaction=True)
def test_two_moves_that_together_would_close_a_loop_run_one_after_the_other(start_transaction):
    # given: two sibling categories; one move puts a under b, the other b under a
    a, b = category_path_create("root/a"), category_path_create("root/b")
    first = start_transaction(
        lambda: category_update(category=Category.objects.get(pk=a.pk), parent=Category.objects.get(pk=b.pk)),
        hold=True,
    )
    first.worked.wait(WAIT_S)
    # when
    second = start_transaction(
        lambda: category_update(category=Category.objects.get(pk=b.pk), parent=Category.objects.get(pk=a.pk))
    )
    assert blocked_or_done(second) == "blocked"
    first.finish()
    # then: the second one sees the first and is refused as a cycle
    with pytest.raises(ValidationError) as refused:
        second.finish()
    assert "parent" in refused.value.message_dict
    assert paths() == ["root", "root/b", "root/b/a"]
