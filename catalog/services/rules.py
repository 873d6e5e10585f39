"""Writes to seasonal rules, each one recorded in ``SeasonalRuleChange`` (who, when, old → new).

Admin and any future API go through these functions, so no rule changes without its audit
record: the record is written in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction

from catalog.models import SeasonalRule, SeasonalRuleChange

# The fields a merchandiser edits, in the order the audit record lists them.
RULE_FIELDS: tuple[str, ...] = (
    "name",
    "season",
    "starts_on",
    "ends_on",
    "target_category",
    "target_brand",
    "target_colour",
    "target_tag",
    "weight",
    "priority",
    "is_active",
)


def _audit_value(rule: SeasonalRule, field: str) -> Any:
    """A JSON value people can read in the history: related rows by their name, dates in ISO."""
    model_field = rule._meta.get_field(field)
    if isinstance(model_field, models.ForeignKey):
        related = getattr(rule, field)
        return None if related is None else str(related)
    value = getattr(rule, field)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _snapshot(rule: SeasonalRule) -> dict[str, Any]:
    return {field: _audit_value(rule, field) for field in RULE_FIELDS}


def _record(
    *, rule: SeasonalRule | None, rule_name: str, action: str, user: AbstractBaseUser | None, changes: dict
) -> SeasonalRuleChange:
    return SeasonalRuleChange.objects.create(
        rule=rule,
        rule_name=rule_name,
        action=action,
        changed_by=_user_or_none(user),
        changes=changes,
    )


def _user_or_none(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return user if user is not None and user.is_authenticated else None


@transaction.atomic
def seasonal_rule_create(*, user: AbstractBaseUser | None, data: dict[str, Any]) -> SeasonalRule:
    """Validate and create a rule; the audit record lists every field as ``{"old": None, "new": …}``.

    Raises ``django.core.exceptions.ValidationError`` with per-field messages (see
    ``SeasonalRule.clean``) when the rule is invalid.
    """
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"Not rule fields: {sorted(unknown)}")
    rule = SeasonalRule(**data, updated_by=_user_or_none(user))
    rule.full_clean()
    rule.save()
    changes = {field: {"old": None, "new": value} for field, value in _snapshot(rule).items()}
    _record(rule=rule, rule_name=rule.name, action="create", user=user, changes=changes)
    return rule


@transaction.atomic
def seasonal_rule_update(*, rule_id: int, user: AbstractBaseUser | None, data: dict[str, Any]) -> SeasonalRule:
    """Validate and apply ``data`` to the rule; record only the fields whose value changed.

    The row is locked while the old values are read, so two people saving the same rule at
    once produce two correct records rather than one lost "old" value. Saving with nothing
    changed writes no record.
    """
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"Not rule fields: {sorted(unknown)}")
    rule = SeasonalRule.objects.select_for_update().get(pk=rule_id)
    before = _snapshot(rule)
    for field, value in data.items():
        setattr(rule, field, value)
    rule.full_clean()
    after = _snapshot(rule)
    changes = {
        field: {"old": before[field], "new": after[field]} for field in RULE_FIELDS if before[field] != after[field]
    }
    if not changes:
        return rule
    rule.updated_by = _user_or_none(user)
    rule.save()
    _record(rule=rule, rule_name=rule.name, action="update", user=user, changes=changes)
    return rule


@transaction.atomic
def seasonal_rule_delete(*, rule_id: int, user: AbstractBaseUser | None) -> None:
    """Delete the rule; its history stays (``rule`` becomes NULL, ``rule_name`` keeps the name)."""
    rule = SeasonalRule.objects.select_for_update().get(pk=rule_id)
    changes = {field: {"old": value, "new": None} for field, value in _snapshot(rule).items()}
    _record(rule=rule, rule_name=rule.name, action="delete", user=user, changes=changes)
    rule.delete()


def seasonal_rule_next_active_day(*, rule: SeasonalRule, after: dt.date) -> dt.date:
    """The first day from ``after`` on which the rule's window is open (ignoring ``is_active``).

    A window already over gives its first day: the preview then shows the rule as it was.
    """
    if rule.season_id is None:
        if rule.starts_on and rule.ends_on and rule.starts_on <= after <= rule.ends_on:
            return after
        return rule.starts_on or after
    for offset in range(367):  # every season window opens within a year
        day = after + dt.timedelta(days=offset)
        if rule.season.contains(day):
            return day
    return after
