"""A seasonal rule's effect before it is saved: the ranking of a sample product's similar products
without and with the rule (a selector: it writes only inside a savepoint it rolls back)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from catalog.models import Product, SeasonalRule
from recommender.selectors import recommend_similar_rows


@dataclass(frozen=True)
class PreviewRow:
    product: Product
    rank_without: int | None  # 1-based; None: not in the top k without the rule
    rank_with: int | None
    score_without: float | None
    score_with: float | None
    seasonal_without: float | None
    seasonal_with: float | None
    similarity: float  # raw cosine
    match: float  # calibrated (what the score adds), recommender.queries

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
            match=either.match,
        )

    rows_with = [row(r.product_id) for r in with_rule]
    dropped = [row(r.product_id) for r in without if r.product_id not in after]
    matched = sum(
        1 for r in rows_with if r.seasonal_without is not None and abs(r.seasonal_with - r.seasonal_without) > 1e-9
    )
    return RulePreview(on=on, with_rule=rows_with, dropped=dropped, matched=matched)
