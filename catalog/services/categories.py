"""Catalog writes for the category tree (the API calls these; admin saves through the model form).

The database rewrites a moved or renamed category's subtree and its garments' paths itself
(``catalog/0003_category_paths_follow_the_tree``); these functions validate first, so a
person gets a message, not a database error.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog.garment_kinds import kind_guess
from catalog.models import Category

# Raised by the path trigger when a move would make a category its own ancestor.
CYCLE_CONSTRAINT = "category_not_own_descendant"


@transaction.atomic
def category_create(
    *, name: str, slug: str, parent: Category | None = None, garment_kind: str | None = None
) -> Category:
    """A new category; ``garment_kind`` None: guessed from ``name`` (``catalog.garment_kinds``), "" inherits."""
    if garment_kind is None:
        garment_kind = kind_guess(name) or ""
    category = Category(name=name, slug=slug, parent=parent, garment_kind=garment_kind)
    category.full_clean()
    _save(category)
    return category


@transaction.atomic
def category_update(*, category: Category, **fields) -> Category:
    """Change any of name, slug, parent and garment_kind; the subtree's paths and kinds follow in this transaction.

    Raises ``ValidationError`` when the new parent is the category itself or lies below it.
    """
    unknown = set(fields) - {"name", "slug", "parent", "garment_kind"}
    if unknown:
        raise TypeError(f"category_update() got unknown fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(category, name, value)
    category.full_clean()
    _save(category)
    return category


@transaction.atomic
def category_delete(*, category: Category) -> None:
    """Delete a category that nothing uses.

    Raises ``django.db.models.ProtectedError`` while sub-categories, products or seasonal rules
    point at it (all ``PROTECT``: see ``SeasonalRule.target_category`` for why rules do too).
    """
    category.delete()


def _save(category: Category) -> None:
    try:
        category.save()
    except IntegrityError as error:
        # clean() passed, so a concurrent move closed the loop between the check and the save.
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) == CYCLE_CONSTRAINT:
            raise ValidationError({"parent": "A category cannot be moved under itself."}) from error
        raise
