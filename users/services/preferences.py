"""Shopper preferences: what they told us (PUT /me/preferences/)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from catalog.models import Brand, Category
from users.models import UserPreference


@transaction.atomic
def preference_update(
    *,
    user: AbstractBaseUser,
    categories: Iterable[Category],
    brands: Iterable[Brand],
    colours: Iterable[str],
    sizes: Iterable[str],
    price_min: Decimal | None,
    price_max: Decimal | None,
) -> UserPreference:
    """Replace the stated preferences; the learnt taste and dislike vectors are kept."""
    preference, _ = UserPreference.objects.select_for_update().get_or_create(user=user)
    preference.colours = list(dict.fromkeys(colours))
    preference.sizes = list(dict.fromkeys(sizes))
    preference.price_min = price_min
    preference.price_max = price_max
    # Field validation only: the price-order constraint is checked by the caller's serializer and
    # enforced by the database, so re-checking it here would only add a query.
    preference.full_clean(exclude=["user", "taste_vector", "dislike_vector"], validate_constraints=False)
    preference.save()
    preference.categories.set(list(categories))
    preference.brands.set(list(brands))
    return preference
