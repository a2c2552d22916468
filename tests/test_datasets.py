"""fastlr.make_regression: reproducible on any thread count, exact when noise-free, right stats."""

import numba
import numpy as np
import pytest

import fastlr


def test_same_seed_same_bytes_on_one_and_four_threads():
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fastlr.make_regression(3001, 7, noise=1.0, random_state=5)
        numba.set_num_threads(4)
        four = fastlr.make_regression(3001, 7, noise=1.0, random_state=5)
    finally:
        numba.set_num_threads(previous)
    for a, b in zip(one, four, strict=True):
        np.testing.assert_array_equal(a, b)


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
