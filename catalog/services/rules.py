"""Writes to seasonal rules, each one recorded in ``SeasonalRuleChange`` (who, when, old → new).

Admin and any future API go through these functions, so no rule changes without its audit
record: the record is written in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction

from catalog.models import Product, SeasonalRule, SeasonalRuleChange

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


# --- preview ---------------------------------------------------------------------------------


def recommend_similar_rows(*, product_id: int, k: int, on: dt.date) -> tuple[list, str]:
    """What ``GET /api/v1/products/{id}/similar/`` computes (no filters, no shopper), on day ``on``.

    Returns ``(rows, problem)``: ``recommender.queries.RecommendRow`` items best first, or an
    empty list and the API's own sentence saying why (no active encoder, the product has no
    garment yet, the product is inactive). The admin "visually similar" panel and the rule
    preview both use it, so they show what shoppers get.
    """
    from fashionrec.api.errors import ApiError
    from recommender.selectors import RecommendRequest, recommendations_for_product

    try:
        result = recommendations_for_product(product_id=product_id, request=RecommendRequest(k=k), today=on)
    except ApiError as error:
        return [], str(error.detail)
    return [recommendation.row for recommendation in result.results], ""


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


@dataclass(frozen=True)
class PreviewRow:
    product: Product
    rank_without: int | None  # 1-based; None: not in the top k without the rule
    rank_with: int | None
    score_without: float | None
    score_with: float | None
    seasonal_without: float | None
    seasonal_with: float | None
    similarity: float

    @property
    def movement(self) -> int | None:
        """Places gained (positive) or lost (negative); None when it entered or left the top k."""
        if self.rank_without is None or self.rank_with is None:
            return None
        return self.rank_without - self.rank_with


@dataclass(frozen=True)
class RulePreview:
    on: dt.date
    with_rule: list[PreviewRow]  # the top k with the rule, in order
    dropped: list[PreviewRow]  # in the top k without the rule, pushed out by it
    matched: int  # products of the top k whose seasonal part the rule changed
    problem: str = ""  # why there is nothing to show (no embedding for the sample product…)

    @property
    def moved_up(self) -> list[PreviewRow]:
        return [r for r in self.with_rule if r.rank_without is None or (r.movement or 0) > 0]

    @property
    def moved_down(self) -> list[PreviewRow]:
        return [r for r in self.with_rule if (r.movement or 0) < 0] + self.dropped


def seasonal_rule_preview(*, rule: SeasonalRule, product_id: int, on: dt.date, k: int = 12) -> RulePreview:
    """Top ``k`` products similar to ``product_id`` on day ``on``, without and with ``rule``.

    ``rule`` is the unsaved state of a form (a new rule, or an edited copy of a saved one). Both
    rankings come from the very recommend statement the API runs (``recommender.queries``):
    the rule is written inside a savepoint, the statement runs, and the savepoint is rolled
    back, so the rule's matching and its "highest priority wins" semantics are the SQL's, not
    a re-implementation. Nothing is committed and no audit record is written. The rule is
    previewed as active even if its "active" box is unticked.
    """
    with transaction.atomic():
        without, problem = recommend_similar_rows(product_id=product_id, k=k, on=on)
        if problem:
            return RulePreview(on=on, with_rule=[], dropped=[], matched=0, problem=problem)
        savepoint = transaction.savepoint()
        was_adding, saved_pk, saved_active = rule._state.adding, rule.pk, rule.is_active
        try:
            rule.is_active = True
            rule.save()
            with_rule, _ = recommend_similar_rows(product_id=product_id, k=k, on=on)
        finally:
            transaction.savepoint_rollback(savepoint)
            rule.pk, rule._state.adding, rule.is_active = saved_pk, was_adding, saved_active

    products = Product.objects.in_bulk({r.product_id for r in without} | {r.product_id for r in with_rule})
    before = {r.product_id: (rank, r) for rank, r in enumerate(without, start=1)}
    after = {r.product_id: (rank, r) for rank, r in enumerate(with_rule, start=1)}

    def row(product_id: int) -> PreviewRow:
        rank_without, old = before.get(product_id, (None, None))
        rank_with, new = after.get(product_id, (None, None))
        either = new or old
        return PreviewRow(
            product=products[product_id],
            rank_without=rank_without,
            rank_with=rank_with,
            score_without=old.score if old else None,
            score_with=new.score if new else None,
            seasonal_without=old.breakdown["seasonal"] if old else None,
            seasonal_with=new.breakdown["seasonal"] if new else None,
            similarity=either.similarity,
        )

    rows_with = [row(r.product_id) for r in with_rule]
    dropped = [row(r.product_id) for r in without if r.product_id not in after]
    matched = sum(
        1 for r in rows_with if r.seasonal_without is not None and abs(r.seasonal_with - r.seasonal_without) > 1e-9
    )
    return RulePreview(on=on, with_rule=rows_with, dropped=dropped, matched=matched)
