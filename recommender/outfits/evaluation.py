"""Fill-in-the-blank (FITB) and pairwise AUC on street outfits: the model's yardsticks.

FITB (as Polyvore's): for an outfit with at least two catalog-kind garments, one garment is
hidden; the candidates are the hidden garment and ``DISTRACTORS`` garments of the same kind from
other outfits of the same split; a scorer picks the candidate that fits the rest best. Each
seeded *draw* hides one random garment of every outfit and draws new distractors. Ties count
as the expected value of a random pick among the tied (a scorer that cannot tell candidates
apart scores 1/4, never by luck). The interval is a bootstrap over outfits of the mean over
draws, so it covers which outfits happened to be held out, not only the distractor draw.

Used twice: ``manage.py train_outfits`` chooses weights on the selection split, and
``bench/outfits.py`` reports on the report split, which training never reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.outfits.model import GarmentLike, OutfitModel

DISTRACTORS = 3
BOOTSTRAP_RESAMPLES = 2000


@dataclass
class Question:
    outfit: int  # position of the outfit in the evaluated list
    rest: list  # the garments left in the outfit
    candidates: list  # candidates[0] is the hidden garment


def draw_questions(outfits: Sequence[Sequence[GarmentLike]], seed: int) -> list[Question]:
    """One question per outfit with two or more garments (and enough distractors of the kind)."""
    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[tuple[int, GarmentLike]]] = {}
    for position, outfit in enumerate(outfits):
        for garment in outfit:
            by_kind.setdefault(garment.kind, []).append((position, garment))
    questions = []
    for position, outfit in enumerate(outfits):
        if len(outfit) < 2:
            continue
        hidden = int(rng.integers(len(outfit)))
        kind = outfit[hidden].kind
        others = [g for p, g in by_kind[kind] if p != position]
        if len(others) < DISTRACTORS:
            continue
        picks = rng.choice(len(others), size=DISTRACTORS, replace=False)
        questions.append(
            Question(
                outfit=position,
                rest=[g for i, g in enumerate(outfit) if i != hidden],
                candidates=[outfit[hidden], *(others[i] for i in picks)],
            )
        )
    return questions


def expected_correct(scores: np.ndarray) -> float:
    """1/ties when the true candidate (index 0) is among the best scores, else 0."""
    best = np.isclose(scores, scores.max(), rtol=0, atol=1e-12)
    return float(best[0]) / float(best.sum())


Scorer = Callable[[Question], np.ndarray]  # one score per candidate


def fitb(draws: Sequence[Sequence[Question]], scorer: Scorer, n_outfits: int, seed: int = 0) -> dict:
    """Accuracy per draw, their mean, and a 95 % bootstrap interval over outfits."""
    per_draw = []
    per_outfit = np.zeros(n_outfits)
    asked = np.zeros(n_outfits)
    for questions in draws:
        correct = [expected_correct(scorer(q)) for q in questions]
        per_draw.append(float(np.mean(correct)) if correct else 0.0)
        for q, c in zip(questions, correct, strict=True):
            per_outfit[q.outfit] += c
            asked[q.outfit] += 1
    used = asked > 0
    outfit_means = per_outfit[used] / asked[used]
    rng = np.random.default_rng(seed)
    resamples = rng.integers(len(outfit_means), size=(BOOTSTRAP_RESAMPLES, len(outfit_means)))
    boot = outfit_means[resamples].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {
        "mean": float(np.mean(per_draw)),
        "draws": per_draw,
        "ci_low": float(low),
        "ci_high": float(high),
        "ci_half": float((high - low) / 2),
        "outfits": int(used.sum()),
    }


def model_scorer(model: OutfitModel) -> Scorer:
    """The model's pick: the candidate with the highest mean raw pair score with the rest."""

    def score(question: Question) -> np.ndarray:
        return np.array(
            [np.mean([model.raw(model.pair_features(c, g)) for g in question.rest]) for c in question.candidates]
        )

    return score


def look_score(model: OutfitModel, query: GarmentLike, candidate: GarmentLike) -> float:
    """The raw score complete the look gives ``candidate`` for ``query`` (one direction, as the
    look SQL computes it, ``recommender.outfit_selectors.look_parameters``): kind term, the
    query vector (direct + partners) at the candidate's embedding, and the colour vector at the
    candidate's root palette histogram (its stored colour, pixels or colour name)."""
    weights = model.weights
    kind = model.kind_pmi(query.kind, candidate.kind) if query.kind in model.kinds else 0.0
    vector = weights.direct * np.asarray(query.embedding, dtype=np.float64)
    partners = model.partner_vector(query.embedding, query.kind, candidate.kind)
    if partners is not None:
        vector = vector + weights.partners * partners
    if model.palette is not None:
        colour = float(np.sqrt(model.palette_histogram(candidate)) @ model.colour_vector(query, candidate.kind))
    else:
        colour = model.colour_terms(query, candidate.kind)[model.colour_bins[int(np.argmax(candidate.colours))]]
    return float(weights.kind * kind + weights.colour * colour + vector @ np.asarray(candidate.embedding))


def look_scorer(model: OutfitModel, as_product: Callable[[GarmentLike], GarmentLike]) -> Scorer:
    """Fill in the blank as complete the look ranks the catalog: every garment as the catalog
    holds it (``as_product``), each candidate by its mean ``look_score`` from the rest."""

    def score(question: Question) -> np.ndarray:
        rest = [as_product(g) for g in question.rest]
        return np.array([np.mean([look_score(model, q, as_product(c)) for q in rest]) for c in question.candidates])

    return score


def feature_scorer(model: OutfitModel, feature: str) -> Scorer:
    """One part of the model alone (the kinds-only and colour-only baselines)."""
    column = ("kind", "colour", "partners", "direct").index(feature)

    def score(question: Question) -> np.ndarray:
        return np.array(
            [np.mean([model.pair_features(c, g)[column] for g in question.rest]) for c in question.candidates]
        )

    return score


def colour_table_scorer(model: OutfitModel) -> Scorer:
    """The colour-only baseline: the co-occurrence table of colour bins (no learning, no embedding)."""

    def score(question: Question) -> np.ndarray:
        return np.array([np.mean([model.colour_table_score(c, g) for g in question.rest]) for c in question.candidates])

    return score


def lighting_scorer(outfits: Sequence[Sequence]) -> Scorer:
    """The "same photo" baseline: the candidate whose crop's brightness and white balance are
    nearest the rest's mean (each figure standardised over every garment evaluated)."""
    everything = np.array([g.lighting for outfit in outfits for g in outfit])
    spread = everything.std(axis=0) + 1e-9

    def score(question: Question) -> np.ndarray:
        centre = np.mean([g.lighting for g in question.rest], axis=0)
        return -np.array([np.linalg.norm((c.lighting - centre) / spread) for c in question.candidates])

    return score


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos, neg = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def pair_sets(
    outfits: Sequence[Sequence[GarmentLike]], seed: int, negatives_per_pair: int = 3
) -> tuple[list[tuple], list[tuple]]:
    """True pairs (two garments of one outfit) and random pairs of the same two kinds from different outfits."""
    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[tuple[int, GarmentLike]]] = {}
    for position, outfit in enumerate(outfits):
        for garment in outfit:
            by_kind.setdefault(garment.kind, []).append((position, garment))
    positives, negatives = [], []
    for position, outfit in enumerate(outfits):
        for i, first in enumerate(outfit):
            for second in outfit[i + 1 :]:
                positives.append((first, second))
                others = [g for p, g in by_kind[second.kind] if p != position]
                for pick in rng.choice(len(others), size=min(negatives_per_pair, len(others)), replace=False):
                    negatives.append((first, others[pick]))
    return positives, negatives


def fit_calibration(
    positive_raw: Sequence[float], negative_raw: Sequence[float], steps: int = 50
) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a·raw + b) by logistic regression (Newton steps), classes weighted equally."""
    x = np.concatenate([positive_raw, negative_raw]).astype(np.float64)
    y = np.concatenate([np.ones(len(positive_raw)), np.zeros(len(negative_raw))])
    weight = np.where(y == 1, 0.5 / max(len(positive_raw), 1), 0.5 / max(len(negative_raw), 1))
    design = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.zeros(2)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ (weight * (p - y))
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + 1e-6 * np.eye(2)
        theta -= np.linalg.solve(hessian, gradient)
    return float(theta[0]), float(theta[1])
