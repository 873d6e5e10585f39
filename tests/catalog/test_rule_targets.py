"""A brand or category that a seasonal rule targets cannot be deleted under the rule (issue 13, item 12)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import ProtectedError

from catalog.models import Brand, Category, SeasonalRule, SeasonalRuleChange
from catalog.services.rules import seasonal_rule_create, seasonal_rule_delete
from tests.factories import brand_create, category_create

pytestmark = pytest.mark.django_db


def rule_for(**targets) -> SeasonalRule:
    window = {"starts_on": dt.date(2026, 6, 1), "ends_on": dt.date(2026, 8, 31)}
    return seasonal_rule_create(user=None, data={"name": "Summer push", "weight": 0.2, **window, **targets})


@pytest.mark.parametrize("target", ["brand", "category"])
def test_deleting_a_rules_target_is_refused_and_the_rule_and_its_history_stay(target):
    # given
    obj = brand_create("Nordwind") if target == "brand" else category_create("women/dresses")
    rule = rule_for(**{f"target_{target}": obj})
    history = list(SeasonalRuleChange.objects.values_list("pk", "action"))
    # when
    with pytest.raises(ProtectedError) as refused:
        obj.delete()
    # then
    assert list(refused.value.protected_objects) == [rule]
    assert SeasonalRule.objects.filter(pk=rule.pk).exists()
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert list(SeasonalRuleChange.objects.values_list("pk", "action")) == history


def test_once_the_rule_is_deleted_with_its_audit_record_the_brand_can_go():
    # given
    brand = brand_create("Nordwind")
    rule = rule_for(target_brand=brand, target_colour="red")
    seasonal_rule_delete(rule_id=rule.pk, user=None)
    # when
    brand.delete()
    # then
    assert not Brand.objects.filter(pk=brand.pk).exists()
    deleted = SeasonalRuleChange.objects.get(action="delete")
    assert (deleted.rule_name, deleted.changes["target_brand"]) == ("Summer push", {"old": "Nordwind", "new": None})


def test_a_category_without_rules_products_or_children_can_be_deleted():
    leaf = category_create("women/dresses")

    leaf.delete()

    assert not Category.objects.filter(pk=leaf.pk).exists()
