import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog.models import SeasonalRule
from tests.factories import category_create

pytestmark = pytest.mark.django_db


def rule(**fields) -> SeasonalRule:
    defaults = {
        "name": "Summer dresses",
        "weight": 0.2,
        "starts_on": dt.date(2026, 6, 1),
        "ends_on": dt.date(2026, 8, 31),
    }
    return SeasonalRule(**{**defaults, **fields})


def test_a_valid_rule_passes_validation():
    rule(target_colour="red").full_clean()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"target_colour": "red", "ends_on": dt.date(2026, 5, 1)}, "ends_on", "ends (2026-05-01) before it starts"),
        ({"target_colour": "red", "weight": 0.9}, "weight", "between -0.5 and 0.5"),
        ({"target_colour": "red", "weight": -0.75}, "weight", "between -0.5 and 0.5"),
        ({}, "target_category", "at least one target"),
        ({"target_colour": "red", "starts_on": None, "ends_on": None}, "starts_on", "Choose a season"),
    ],
)
def test_invalid_rules_are_rejected_with_a_clear_message(fields, field, message):
    with pytest.raises(ValidationError) as raised:
        rule(**fields).full_clean()
    assert message in " ".join(raised.value.message_dict[field])


def test_season_and_window_together_are_rejected(season_summer):
    with pytest.raises(ValidationError) as raised:
        rule(target_colour="red", season=season_summer).full_clean()
    assert "not both" in raised.value.message_dict["season"][0]


@pytest.mark.parametrize(
    "fields",
    [
        {"target_colour": "red", "ends_on": dt.date(2026, 5, 1)},
        {"target_colour": "red", "weight": 2.0},
        {},
    ],
)
def test_the_database_refuses_invalid_rules_that_skip_validation(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        rule(**fields).save()


def test_a_rule_is_active_inside_its_window_only(season_winter):
    winter_rule = SeasonalRule.objects.create(
        name="Coats", season=season_winter, target_category=category_create("women/outerwear"), weight=0.3
    )
    assert winter_rule.is_active_on(dt.date(2026, 12, 24))
    assert winter_rule.is_active_on(dt.date(2027, 1, 15))  # the window wraps the new year
    assert not winter_rule.is_active_on(dt.date(2026, 7, 1))
    winter_rule.is_active = False
    assert not winter_rule.is_active_on(dt.date(2026, 12, 24))


def test_a_season_rejects_a_day_that_its_month_lacks():
    from catalog.models import Season

    with pytest.raises(ValidationError) as raised:
        Season(name="Odd", slug="odd", start_month=2, start_day=30, end_month=3, end_day=1).full_clean()
    assert "not a day of month 2" in raised.value.message_dict["start_day"][0]
