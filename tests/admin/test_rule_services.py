import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from catalog.models import SeasonalRule, SeasonalRuleChange
from catalog.services.rules import seasonal_rule_create, seasonal_rule_delete, seasonal_rule_update
from tests.factories import brand_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchandiser_user():
    return User.objects.create_user("mia", password=None, is_staff=True)


def rule_data(**fields):
    return {
        "name": "Red summer",
        "target_colour": "red",
        "weight": 0.2,
        "starts_on": dt.date(2026, 6, 1),
        "ends_on": dt.date(2026, 8, 31),
        **fields,
    }


def test_creating_a_rule_records_who_and_every_field(merchandiser_user):
    # when
    rule = seasonal_rule_create(user=merchandiser_user, data=rule_data())
    # then
    change = SeasonalRuleChange.objects.get(rule=rule)
    assert change.action == "create"
    assert change.changed_by == merchandiser_user
    assert change.changes["weight"] == {"old": None, "new": 0.2}
    assert change.changes["starts_on"] == {"old": None, "new": "2026-06-01"}
    assert rule.updated_by == merchandiser_user


def test_updating_a_rule_records_only_what_changed_old_to_new(merchandiser_user, season_summer):
    # given
    rule = seasonal_rule_create(user=merchandiser_user, data=rule_data())
    brand = brand_create("Zara")
    # when
    seasonal_rule_update(
        rule_id=rule.pk,
        user=merchandiser_user,
        data={"weight": -0.1, "target_brand": brand, "season": season_summer, "starts_on": None, "ends_on": None},
    )
    # then
    change = SeasonalRuleChange.objects.filter(rule=rule, action="update").get()
    assert change.changes == {
        "season": {"old": None, "new": "Summer (Northern)"},
        "starts_on": {"old": "2026-06-01", "new": None},
        "ends_on": {"old": "2026-08-31", "new": None},
        "target_brand": {"old": None, "new": "Zara"},
        "weight": {"old": 0.2, "new": -0.1},
    }
    assert SeasonalRule.objects.get(pk=rule.pk).weight == -0.1


def test_saving_without_a_change_writes_no_record(merchandiser_user):
    rule = seasonal_rule_create(user=merchandiser_user, data=rule_data())
    seasonal_rule_update(rule_id=rule.pk, user=merchandiser_user, data={"weight": 0.2, "name": "Red summer"})
    assert SeasonalRuleChange.objects.filter(rule=rule).count() == 1


def test_an_invalid_update_changes_nothing_and_records_nothing(merchandiser_user):
    # given
    rule = seasonal_rule_create(user=merchandiser_user, data=rule_data())
    # when
    with pytest.raises(ValidationError) as raised:
        seasonal_rule_update(rule_id=rule.pk, user=merchandiser_user, data={"weight": 0.8})
    # then
    assert "between -0.5 and 0.5" in " ".join(raised.value.message_dict["weight"])
    assert SeasonalRule.objects.get(pk=rule.pk).weight == 0.2
    assert SeasonalRuleChange.objects.filter(rule=rule).count() == 1


def test_deleting_a_rule_keeps_its_history(merchandiser_user):
    # given
    rule = seasonal_rule_create(user=merchandiser_user, data=rule_data())
    # when
    seasonal_rule_delete(rule_id=rule.pk, user=merchandiser_user)
    # then
    assert not SeasonalRule.objects.exists()
    history = list(SeasonalRuleChange.objects.filter(rule_name="Red summer").order_by("id"))
    assert [c.action for c in history] == ["create", "delete"]
    assert history[1].changes["weight"] == {"old": 0.2, "new": None}
    assert all(c.rule is None for c in history)


def test_the_history_lists_changed_fields_in_form_order_without_empty_ones(merchandiser_user):
    # given
    from catalog.admin.rules import changes_html

    rule = seasonal_rule_create(user=merchandiser_user, data=rule_data())
    # when
    html = str(changes_html(SeasonalRuleChange.objects.get(rule=rule)))
    # then: name before weight before dates' end; no unused target, no "— → —"
    assert html.index("<b>name</b>") < html.index("<b>starts on</b>") < html.index("<b>weight</b>")
    assert "target brand" not in html and "— → —" not in html
    assert "<b>target colour</b>: — → red" in html
