import numpy as np
import pytest

from recommender.vision.calibration import MAX_KNOTS, MatchCalibration, fit_match_calibration, isotonic


def test_isotonic_regression_pools_adjacent_violators():
    # given labels that dip once as the similarity grows
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0])

    # when
    values, fitted = isotonic(x, y)

    # then the dip is pooled with its neighbour: the least-squares non-decreasing fit
    assert values.tolist() == x.tolist()
    assert fitted.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]


def test_a_fitted_match_score_is_monotonic_and_spreads_crowded_cosines_over_the_range():
    # given cosines crowded in 0.95-0.99 (as encoder v1's were), right results slightly higher
    rng = np.random.default_rng(0)
    wrong = rng.uniform(0.95, 0.975, 4000)
    right = rng.uniform(0.965, 0.99, 4000)
    cosines = np.concatenate([wrong, right])
    same_kind = np.concatenate([np.zeros(4000), np.ones(4000)])

    # when
    calibration = fit_match_calibration(cosines, same_kind)

    # then
    assert 2 <= len(calibration.cosines) <= MAX_KNOTS
    assert np.all(np.diff(calibration.cosines) > 0)
    assert np.all(np.diff(calibration.probabilities) >= 0)
    grid = np.linspace(0.9, 1.0, 500)
    assert np.all(np.diff(calibration(grid)) >= 0)
    # a clearly wrong and a clearly right result no longer read the same
    assert calibration(0.955) < 0.05 and calibration(0.985) > 0.95
    assert calibration.pairs == 8000
    assert MatchCalibration.from_dict(calibration.to_dict()) == calibration


def test_a_calibration_that_is_not_monotonic_is_refused():
    with pytest.raises(ValueError, match="non-decreasing"):
        MatchCalibration((0.1, 0.5, 0.9), (0.2, 0.8, 0.7))
    with pytest.raises(ValueError, match="increasing"):
        MatchCalibration((0.1, 0.1), (0.2, 0.8))
    with pytest.raises(ValueError, match="distinct"):
        fit_match_calibration(np.array([0.5, 0.5]), np.array([0, 1]))
