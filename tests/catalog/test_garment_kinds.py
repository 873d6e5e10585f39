"""Garment kinds on categories: the guess list, inheritance down the tree kept by the database,
the data migration's fill, the import's CSV column, admin and the API."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, connection, transaction

from catalog.garment_kinds import KIND_GUESSES, KINDS, kind_guess, kind_parse
from catalog.models import Category
from catalog.services.categories import category_create, category_update
from tests.concurrency import WAIT_S, blocked_or_done
from tests.factories import category_create as category_path_create

MIGRATION = importlib.import_module("catalog.migrations.0005_category_garment_kinds")


def kinds() -> dict[str, tuple[str, str]]:
    return {c.path: (c.garment_kind, c.effective_garment_kind) for c in Category.objects.all()}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("T-shirts", "top"),
        ("Long sleeves", "top"),
        ("Blouses", "top"),
        ("Outerwear", "outerwear"),
        ("Dresses", "dress"),
        ("Women's jeans", "trousers"),
        ("Trousers", "trousers"),
        ("Shorts", "shorts"),
        ("Skirts", "skirt"),
        ("Sneakers", "shoes"),
        ("Hats", "hat"),
        ("Bags", "bag"),
        ("Accessories", "none"),
        ("Dress shirts", "top"),  # the head noun (last word) decides
        ("Clothing", None),
        ("Bottoms", None),
        ("", None),
    ],
)
def test_a_kind_is_guessed_from_the_documented_list(name, kind):
    assert kind_guess(name) == kind


def test_the_guess_list_only_names_declared_kinds():
    assert set(KIND_GUESSES.values()) <= set(KINDS)
    assert kind_parse(" Top ") == "top"
    assert kind_parse("") == ""
    assert kind_parse("jumper") is None


@pytest.mark.django_db
def test_the_kind_is_inherited_down_the_tree_and_follows_changes():
    # given: tops (top) › t-shirts (inherits) › v-necks (inherits); bottoms has no kind
    v_necks = category_path_create("clothing/tops/t-shirts/v-necks")
    bottoms = category_path_create("clothing/bottoms")
    tops = Category.objects.get(path="clothing/tops")
    # when
    category_update(category=tops, garment_kind="top")
    # then
    assert kinds() == {
        "clothing": ("", "none"),
        "clothing/bottoms": ("", "none"),
        "clothing/tops": ("top", "top"),
        "clothing/tops/t-shirts": ("", "top"),
        "clothing/tops/t-shirts/v-necks": ("", "top"),
    }
    assert tops.effective_garment_kind == "top"  # read back by save()

    # when: a sub-category sets its own kind, then the parent changes again
    Category.objects.filter(path="clothing/tops/t-shirts").update(garment_kind="dress")
    Category.objects.filter(pk=tops.pk).update(garment_kind="outerwear")
    # then: the own kind stops the parent's change
    assert kinds()["clothing/tops/t-shirts/v-necks"] == ("", "dress")
    assert kinds()["clothing/tops"] == ("outerwear", "outerwear")

    # when: a move puts v-necks under bottoms (no kind anywhere above)
    category_update(category=Category.objects.get(pk=v_necks.pk), parent=bottoms)
    # then
    assert kinds()["clothing/bottoms/v-necks"] == ("", "none")


@pytest.mark.django_db
def test_the_root_kind_reaches_every_descendant_and_blank_means_inherit():
    category_path_create("shop/women/tops")
    Category.objects.filter(path="shop").update(garment_kind="none")
    Category.objects.filter(path="shop/women").update(garment_kind="top")
    assert {path: kind for path, (_, kind) in kinds().items()} == {
        "shop": "none",
        "shop/women": "top",
        "shop/women/tops": "top",
    }
    Category.objects.filter(path="shop/women").update(garment_kind="")
    assert {path: kind for path, (_, kind) in kinds().items()} == {
        "shop": "none",
        "shop/women": "none",
        "shop/women/tops": "none",
    }


@pytest.mark.django_db
def test_the_database_refuses_a_kind_that_is_not_declared():
    category = category_path_create("clothing")
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.filter(pk=category.pk).update(garment_kind="jumper")


@pytest.mark.django_db
def test_a_category_created_without_a_kind_gets_the_guess():
    clothing = category_create(name="Clothing", slug="clothing")
    skirts = category_create(name="Skirts", slug="skirts", parent=clothing)
    sale = category_create(name="Sale", slug="sale", parent=skirts)
    chosen = category_create(name="Skirts", slug="kilts", parent=clothing, garment_kind="")
    assert (clothing.garment_kind, clothing.effective_garment_kind) == ("", "none")
    assert (skirts.garment_kind, skirts.effective_garment_kind) == ("skirt", "skirt")
    assert (sale.garment_kind, sale.effective_garment_kind) == ("", "skirt")
    assert (chosen.garment_kind, chosen.effective_garment_kind) == ("", "none")  # "" is a choice: inherit


@pytest.mark.django_db
def test_the_data_migration_fills_the_demo_folders_categories_with_the_guesses():
    # given: the demo's tree as the folder import builds it, with no kinds yet
    for path in (
        "clothing/tops/t-shirts",
        "clothing/tops/shirts",
        "clothing/tops/long-sleeves",
        "clothing/outerwear",
        "clothing/dresses",
        "clothing/bottoms/trousers",
        "clothing/bottoms/shorts",
        "clothing/bottoms/skirts",
        "clothing/shoes",
        "clothing/accessories/hats",
    ):
        leaf = category_path_create(path)
        Category.objects.filter(pk=leaf.pk).update(name=leaf.slug.replace("-", " ").capitalize())
    Category.objects.filter(slug="long-sleeves").update(name="Long sleeves")
    # when
    MIGRATION.guess_kinds(django_apps, None)
    # then
    effective = {path: kind for path, (_, kind) in kinds().items()}
    assert effective == {
        "clothing": "none",
        "clothing/accessories": "none",
        "clothing/accessories/hats": "hat",
        "clothing/bottoms": "none",
        "clothing/bottoms/shorts": "shorts",
        "clothing/bottoms/skirts": "skirt",
        "clothing/bottoms/trousers": "trousers",
        "clothing/dresses": "dress",
        "clothing/outerwear": "outerwear",
        "clothing/shoes": "shoes",
        "clothing/tops": "top",
        "clothing/tops/long-sleeves": "top",
        "clothing/tops/shirts": "top",
        "clothing/tops/t-shirts": "top",
    }


@pytest.mark.django_db(transaction=True)
def test_a_child_written_while_its_parent_changes_kind_gets_the_committed_kind(start_transaction):
    # given: a change of the parent's kind, not yet committed
    tops = category_path_create("clothing/tops")
    first = start_transaction(lambda: Category.objects.filter(pk=tops.pk).update(garment_kind="top"), hold=True)
    first.worked.wait(WAIT_S)
    # when: a sub-category is added under it meanwhile
    second = start_transaction(lambda: category_create(name="Misc", slug="misc", parent=tops, garment_kind=""))
    assert blocked_or_done(second) == "blocked"
    first.finish()
    second.finish()
    # then: it waited for the parent and inherited the committed kind
    assert kinds()["clothing/tops/misc"] == ("", "top")


@pytest.mark.django_db
def test_a_raw_insert_that_names_no_kind_inherits_the_parents():
    # given: a parent with a kind; a writer that knows nothing of kinds (bench/recommend.py's COPY)
    tops = category_path_create("clothing/tops")
    Category.objects.filter(pk=tops.pk).update(garment_kind="top")
    # when
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_category (name, slug, path, parent_id) VALUES ('Tees', 'tees', '', %s)", [tops.pk]
        )
    # then
    assert kinds()["clothing/tops/tees"] == ("", "top")


def test_the_documented_guess_list_is_the_declared_one():
    # docs/onboarding.md shows KIND_GUESSES as a table (kind | names); the two must not drift apart
    text = (Path(__file__).resolve().parents[2] / "docs" / "onboarding.md").read_text()
    section = text.split("| kind | names |")[1].split("\n\n")[0]
    documented = {}
    for line in section.strip().splitlines()[1:]:  # past the |---| row
        kind, names = (cell.strip() for cell in line.strip("|").split("|"))
        documented |= dict.fromkeys((name.strip() for name in names.split(",")), kind)
    assert documented == KIND_GUESSES
