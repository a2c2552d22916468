"""fastlr.make_regression: reproducible on any thread count, exact when noise-free, right stats."""

import math

import numba
import numpy as np
import pytest

import fastlr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3001, 7), (1, 1), (65, 50), (20_011, 3)])
def test_generated_bytes_are_the_same_on_one_to_four_threads(shape, dtype):
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3, 4):
            numba.set_num_threads(threads)
            results.append(fastlr.make_regression(*shape, noise=1.0, random_state=5, dtype=dtype))
    finally:
        numba.set_num_threads(previous)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert a.tobytes() == b.tobytes()


def test_seeds_differ_and_none_is_fresh():
    a = fastlr.make_regression(100, 3, random_state=1)[0]
    b = fastlr.make_regression(100, 3, random_state=2)[0]
    c = fastlr.make_regression(100, 3)[0]
    d = fastlr.make_regression(100, 3)[0]
    assert not np.array_equal(a, b)
    assert not np.array_equal(c, d)


def test_generator_random_state_is_accepted_and_advanced():
    rng = np.random.default_rng(0)
    first = fastlr.make_regression(10, 2, random_state=rng)[0]
    second = fastlr.make_regression(10, 2, random_state=rng)[0]
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noise_free_target_is_exactly_linear_in_the_stored_X(dtype):
    X, y, coef = fastlr.make_regression(5000, 9, bias=-3.0, random_state=0, dtype=dtype)
    assert X.dtype == y.dtype == dtype
    assert coef.dtype == np.float64
    assert X.flags.c_contiguous
    expected = X.astype(np.float64) @ coef - 3.0
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_values_are_standard_normal_and_noise_has_the_asked_scale():
    X, y, coef = fastlr.make_regression(200_000, 5, noise=2.0, bias=1.0, random_state=3)
    assert abs(X.mean()) < 0.01
    assert abs(X.std() - 1) < 0.01
    assert np.all((coef >= 0) & (coef < 100))
    residual = y - (X @ coef + 1.0)
    assert abs(residual.std() - 2.0) < 0.02
    assert abs(residual.mean()) < 0.02
    # Columns and rows are independent draws: no correlation across a pair's two values.
    assert abs(np.corrcoef(X[:, 0], X[:, 1])[0, 1]) < 0.01


def _normal_cdf(x):
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def test_generated_values_have_the_moments_tails_and_distribution_of_a_standard_normal():
    X = fastlr.make_regression(100_000, 20, random_state=11)[0]
    values = X.ravel()
    n = values.size  # 2,000,000
    assert abs(values.mean()) < 5 / math.sqrt(n)
    assert abs(values.var() - 1.0) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(values**3)) < 5 * math.sqrt(15 / n)  # skewness 0
    assert abs(np.mean(values**4) - 3.0) < 5 * math.sqrt(96 / n)  # kurtosis 3
    # Tails: beyond 3 sigma (the wedges of the bottom layers) and beyond 3.65 (the tail algorithm).
    for edge in (3.0, 3.5, 4.0, 4.5):
        p = 2.0 * (1.0 - _normal_cdf(edge))
        count = int(np.sum(np.abs(values) > edge))
        assert abs(count - n * p) < 5 * math.sqrt(n * p) + 1, edge
    assert np.sum(values > 0) == pytest.approx(n / 2, abs=5 * math.sqrt(n / 4))  # the sign bit
    # Kolmogorov-Smirnov distance to the normal CDF (critical value at 0.1%: 1.95 / sqrt(n)).
    ordered = np.sort(values[:500_000])
    m = ordered.size
    cdf = _normal_cdf(ordered)
    distance = max(np.max(np.arange(1, m + 1) / m - cdf), np.max(cdf - np.arange(m) / m))
    assert distance < 1.95 / math.sqrt(m)


def test_generated_neighbouring_values_are_uncorrelated_and_follow_the_normal_histogram():
    X = fastlr.make_regression(50_000, 40, random_state=12)[0]
    values = X.ravel()
    # Consecutive counters (along a row, and across the end of a row) and whole columns.
    assert abs(np.corrcoef(values[:-1], values[1:])[0, 1]) < 0.005
    assert abs(np.corrcoef(np.abs(values[:-1]), np.abs(values[1:]))[0, 1]) < 0.005
    assert abs(np.corrcoef(X[:, 0], X[:, -1])[0, 1]) < 0.02
    # A histogram in bins of 0.25 sigma against the normal's probabilities (chi-square).
    edges = np.linspace(-4.0, 4.0, 33)
    counts, _ = np.histogram(values, bins=edges)
    expected = values.size * np.diff(_normal_cdf(edges))
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 32 + 5 * math.sqrt(2 * 32)
