"""The realistic vector model of ``bench/recommend.py``: neighbour cosines and its pass rule."""

import numpy as np

from bench.realistic_vectors import Fit, RealEncoderModel, neighbour_cosines


def unit_rows(rng, n: int, dim: int = 16) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_neighbour_cosines_are_the_first_and_tenth_largest_excluding_self_across_chunks():
    # given
    rng = np.random.default_rng(0)
    catalog = unit_rows(rng, 300)
    # when (chunks smaller than the catalog, so results merge across chunks)
    first, tenth = neighbour_cosines(catalog, catalog[:40], exclude_self=True, chunk=64)
    # then
    sims = catalog[:40] @ catalog.T
    sims[np.arange(40), np.arange(40)] = -np.inf
    ordered = -np.sort(-sims, axis=1)
    np.testing.assert_allclose(first, ordered[:, 0], rtol=1e-6)
    np.testing.assert_allclose(tenth, ordered[:, 9], rtol=1e-6)


def test_the_pass_rule_fails_when_any_percentile_is_off_by_more_than_the_tolerance():
    real = {"1-NN": [0.80, 0.85, 0.90], "10-NN": [0.70, 0.75, 0.80]}
    assert Fit(1.0, real, {"1-NN": [0.82, 0.86, 0.88], "10-NN": [0.72, 0.74, 0.79]}).passes
    assert not Fit(1.0, real, {"1-NN": [0.82, 0.86, 0.88], "10-NN": [0.72, 0.74, 0.84]}).passes


def test_more_noise_spreads_the_synthetic_catalog_and_the_fit_meets_the_real_median():
    # given a clustered "real" catalog with augmented views
    rng = np.random.default_rng(1)
    centres = unit_rows(rng, 20, 32)
    real = centres[rng.integers(0, 20, 400)] + rng.normal(size=(400, 32)).astype(np.float32) * 0.3
    of = np.repeat(np.arange(400), 2)
    augmented = real[of] + rng.normal(size=(800, 32)).astype(np.float32) * 0.1
    model = RealEncoderModel(real, augmented, of)
    # when
    near = neighbour_cosines(model.sample(2000, 0.2, np.random.default_rng(2)), model.real[:1], exclude_self=False)
    far = neighbour_cosines(model.sample(2000, 3.0, np.random.default_rng(2)), model.real[:1], exclude_self=False)
    vectors, fit = model.fit(400, seed=3, probes=100)  # as many as the real catalog: reachable
    # then
    assert near[0][0] > far[0][0]
    assert vectors.shape == (400, 32)
    assert abs(fit.synthetic["1-NN"][1] - fit.real["1-NN"][1]) < 0.03
