"""Fill-in-the-blank, AUC and calibration: the yardsticks must score known scorers exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from recommender.outfits.evaluation import (
    auc,
    draw_questions,
    expected_correct,
    fit_calibration,
    fitb,
    lighting_scorer,
    pair_sets,
)


@dataclass
class G:
    kind: str
    outfit: int
    lighting: np.ndarray


def outfits(n: int = 20) -> list[list[G]]:
    return [[G(k, i, np.array([i / n, 0.0, 0.0])) for k in ("top", "trousers", "shoes")] for i in range(n)]


def test_each_question_hides_one_garment_among_three_same_kind_distractors_from_other_outfits():
    street = outfits()
    for question in draw_questions(street, seed=3):
        hidden, *distractors = question.candidates
        assert len(distractors) == 3
        assert {d.kind for d in distractors} == {hidden.kind}
        assert all(d.outfit != hidden.outfit for d in distractors)
        assert hidden not in question.rest and len(question.rest) == 2


def test_draws_are_seeded():
    street = outfits()
    first = [[id(c) for c in q.candidates] for q in draw_questions(street, seed=1)]
    again = [[id(c) for c in q.candidates] for q in draw_questions(street, seed=1)]
    other = [[id(c) for c in q.candidates] for q in draw_questions(street, seed=2)]
    assert first == again != other


def test_ties_count_as_a_random_pick():
    assert expected_correct(np.array([1.0, 1.0, 0.0, 0.0])) == 0.5
    assert expected_correct(np.array([0.0, 0.0, 0.0, 0.0])) == 0.25
    assert expected_correct(np.array([0.0, 1.0, 0.0, 0.0])) == 0.0


def test_a_perfect_scorer_scores_one_and_a_blind_one_a_quarter():
    street = outfits()
    draws = [draw_questions(street, seed) for seed in range(5)]
    perfect = fitb(draws, lambda q: np.array([q.candidates[0].outfit == q.rest[0].outfit] + [0] * 3, float), 20)
    blind = fitb(draws, lambda q: np.zeros(4), 20)
    assert perfect["mean"] == 1.0 and perfect["ci_half"] == 0.0
    assert blind["mean"] == pytest.approx(0.25)
    assert len(blind["draws"]) == 5


def test_the_lighting_baseline_wins_when_one_photo_means_one_light():
    street = outfits()
    result = fitb([draw_questions(street, 0)], lighting_scorer(street), 20)
    assert result["mean"] == 1.0


def test_auc_and_pairs():
    assert auc([2, 3], [0, 1]) == 1.0
    assert auc([1], [1]) == 0.5
    positives, negatives = pair_sets(outfits(), seed=0)
    assert len(positives) == 20 * 3
    assert all(a.outfit == b.outfit for a, b in positives)
    assert all(a.outfit != b.outfit and a.kind != b.kind for a, b in negatives)


def test_calibration_orders_like_the_raw_score():
    a, b = fit_calibration([1.0, 2.0, 1.5, 0.2], [0.0, -1.0, 0.5, 0.1])
    assert a > 0
    assert 1 / (1 + np.exp(-(a * 2.0 + b))) > 0.5 > 1 / (1 + np.exp(-(a * -1.0 + b)))
