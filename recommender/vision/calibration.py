"""A match score that means something: cosine similarity → probability of the same kind of garment.

Raw cosines of a class-trained encoder crowd together (a dress's top 12 span 0.977–0.983 with
encoder v1), so "98 % match" on every result says nothing. ``MatchCalibration`` maps a cosine to
the probability that a catalog result at that similarity is the same coarse kind as the query
(top, outerwear, dress, ...), fitted by isotonic regression on held-out pairs of the encoder's
selection split: queries (catalog photos and worn garments never trained on) against the
training catalog photos, their top neighbours labelled same kind or not.

Isotonic regression (pool adjacent violators) fits the best non-decreasing step function, so
the score is monotonic in the cosine by construction and never reorders what the encoder ranks;
it is stored as at most ``MAX_KNOTS`` (cosine, probability) points and evaluated by linear
interpolation between them, flat beyond the ends. The knots travel in the encoder's weights file
(``calibration``), because a calibration belongs to exactly one embedding space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_KNOTS = 24


@dataclass(frozen=True)
class MatchCalibration:
    cosines: tuple[float, ...]  # strictly increasing
    probabilities: tuple[float, ...]  # non-decreasing, in [0, 1]
    pairs: int = 0  # how many labelled pairs it was fitted on

    def __post_init__(self) -> None:
        x, y = np.asarray(self.cosines), np.asarray(self.probabilities)
        if len(x) < 2 or len(x) != len(y):
            raise ValueError("a calibration needs at least two (cosine, probability) knots")
        if np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0) or y.min() < 0 or y.max() > 1:
            raise ValueError("calibration knots must be increasing in cosine and non-decreasing in [0, 1]")

    def __call__(self, cosine):
        """Probability of the same kind at ``cosine`` (a number or an array)."""
        return np.interp(cosine, self.cosines, self.probabilities)

    def to_dict(self) -> dict:
        return {"cosines": list(self.cosines), "probabilities": list(self.probabilities), "pairs": self.pairs}

    @classmethod
    def from_dict(cls, data: dict) -> MatchCalibration:
        return cls(tuple(data["cosines"]), tuple(data["probabilities"]), int(data.get("pairs", 0)))


def isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool adjacent violators: the non-decreasing fit of ``y`` over sorted ``x`` (least squares).

    Returns the distinct x values and the fitted value at each.
    """
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, dtype=np.float64)[order], np.asarray(y, dtype=np.float64)[order]
    # Tied x values are one point with their mean.
    values, starts = np.unique(x, return_index=True)
    sums = np.add.reduceat(y, starts)
    counts = np.diff(np.append(starts, len(y))).astype(np.float64)
    block_sum: list[float] = []
    block_count: list[float] = []
    block_len: list[int] = []
    for s, c in zip(sums, counts, strict=True):
        block_sum.append(s)
        block_count.append(c)
        block_len.append(1)
        while len(block_sum) > 1 and block_sum[-2] / block_count[-2] > block_sum[-1] / block_count[-1]:
            s2, c2, l2 = block_sum.pop(), block_count.pop(), block_len.pop()
            block_sum[-1] += s2
            block_count[-1] += c2
            block_len[-1] += l2
    fitted = np.repeat([s / c for s, c in zip(block_sum, block_count, strict=True)], block_len)
    return values, fitted


def fit_match_calibration(cosines: np.ndarray, same_kind: np.ndarray, max_knots: int = MAX_KNOTS) -> MatchCalibration:
    """Isotonic fit of ``same_kind`` (0/1) on ``cosines``, reduced to at most ``max_knots`` points.

    The knots sit at quantiles of the observed cosines, so they are dense where results are, and
    the reduced curve stays non-decreasing (it samples a non-decreasing function).
    """
    cosines = np.asarray(cosines, dtype=np.float64)
    same_kind = np.asarray(same_kind, dtype=np.float64)
    if len(cosines) < 2 or np.ptp(cosines) == 0:
        raise ValueError("need labelled pairs at two or more distinct similarities")
    values, fitted = isotonic(cosines, same_kind)
    knots = np.unique(np.round(np.quantile(cosines, np.linspace(0, 1, max_knots)), 6))
    probabilities = np.maximum.accumulate(np.clip(np.interp(knots, values, fitted), 0.0, 1.0))
    if len(knots) < 2:
        knots = np.array([values[0], values[-1]])
        probabilities = np.array([fitted[0], fitted[-1]])
    return MatchCalibration(
        tuple(float(v) for v in knots),
        tuple(round(float(v), 4) for v in probabilities),
        pairs=len(cosines),
    )
