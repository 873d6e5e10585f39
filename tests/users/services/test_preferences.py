"""users.services.preferences: replacing what a shopper told us."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from tests.factories import brand_create, category_create, unit_vector
from users.models import UserPreference
from users.services.preferences import preference_update

pytestmark = pytest.mark.django_db


def test_an_update_replaces_what_was_stated_and_keeps_what_was_learnt(shopper):
    # given a shopper with stated preferences and a learnt taste vector
    dresses, tops, acme = category_create("women/dresses"), category_create("women/tops"), brand_create("Acme")
    preference = UserPreference.objects.create(
        user=shopper, colours=["red"], sizes=["S"], taste_vector=unit_vector(1), taste_weight=2.0
    )
    preference.categories.add(dresses)
    preference.brands.add(acme)

    # when
    updated = preference_update(
        user=shopper,
        categories=[tops],
        brands=[],
        colours=["blue", "blue", "navy"],
        sizes=["M", "L", "M"],
        price_min=Decimal("5"),
        price_max=None,
    )

    # then the lists are replaced (duplicates dropped, order kept), the vector untouched
    updated.refresh_from_db()
    assert list(updated.categories.all()) == [tops] and not updated.brands.exists()
    assert updated.colours == ["blue", "navy"] and updated.sizes == ["M", "L"]
    assert updated.price_min == Decimal("5.00") and updated.price_max is None
    assert updated.taste_weight == 2.0
    assert list(updated.taste_vector) == pytest.approx(unit_vector(1), abs=1e-6)


def test_a_size_longer_than_the_column_is_refused_and_nothing_is_stored(shopper):
    # when: the service validates the fields itself, whoever calls it (admin, commands, the API)
    with pytest.raises(ValidationError) as refused:
        preference_update(
            user=shopper, categories=[], brands=[], colours=[], sizes=["M", "x" * 17], price_min=None, price_max=None
        )

    # then
    assert "sizes" in refused.value.message_dict
    assert not UserPreference.objects.exists()


def test_the_database_refuses_an_inverted_price_range(shopper):
    # given: the service leaves the order check to the API's serializer and the database
    # when / then
    with pytest.raises(IntegrityError, match="preference_price_range_ordered"):
        preference_update(
            user=shopper,
            categories=[],
            brands=[],
            colours=[],
            sizes=[],
            price_min=Decimal("90"),
            price_max=Decimal("10"),
        )
    assert not UserPreference.objects.exists()
