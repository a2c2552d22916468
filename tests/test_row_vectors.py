"""The fused pass's 4-row step in explicit vectors (fastlr.kernels.row_vectors), against NumPy in
float64: every width around the vectors' 8 and 16 elements, both dtypes, rows that end where
memory ends."""

import sys

import numba
import numpy as np
import pytest
from guard_page import PAGE, check_the_fused_pass_on, ending_at_a_guard_page

from fastlr import kernels
from fastlr.kernels.row_vectors import (
    four_dots_unchecked,
    four_updates_unchecked,
    sixteen_predictions_unchecked,
    sixteen_updates_unchecked,
    takes_vectors,
)

WIDTHS = [1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 50, 131]


@numba.njit
def dots(X, i, coef, ahead=8, start=0.0):
    return four_dots_unchecked(X, i, coef, start, ahead)


@numba.njit
def updates(X, i, w, out):
    four_updates_unchecked(X, i, w[0], w[1], w[2], w[3], out)


@numba.njit
def sixteen_predictions(X, i, coef, o, b):
    return sixteen_predictions_unchecked(X, i, coef, o, (b[0], b[1], b[2], b[3]), 8)


@numba.njit
def sixteen_updates(X, i, a, out, o):
    first = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
    second = (a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15])
    sixteen_updates_unchecked(X, i, (*first, *second), out, o)


@numba.njit
def takes(X, coef, out, stop):
    return takes_vectors(X, coef, out, stop)


def rows(d, dtype, seed=0):
    rng = np.random.default_rng(seed + d)
    return rng.standard_normal((9, d)).astype(dtype), rng.standard_normal(d)


@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("coef_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("first", [0, 5])
def test_four_dots_are_the_rows_dot_products(d, dtype, coef_dtype, first):
    X, coef = rows(d, dtype)
    coef = coef.astype(coef_dtype)
    expected = X[first : first + 4].astype(np.float64) @ coef.astype(np.float64)
    np.testing.assert_allclose(dots(X, first, coef), expected, rtol=1e-13, atol=1e-13 * d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_four_dots_prefetching_past_the_arrays_end_changes_nothing(dtype):
    """The rows ``ahead`` below are only asked for: none, within, or far past the array (even
    at its last page, before a guard page), the products' bits are the same."""
    n, d = 12, 131
    X = ending_at_a_guard_page(n * d, dtype).reshape(n, d)
    X[:] = np.random.default_rng(1).standard_normal((n, d))
    coef = np.random.default_rng(2).standard_normal(d)
    first = n - 4
    results = [dots(X, first, coef, ahead) for ahead in (0, 1, 8, PAGE, 1 << 40)]
    assert all(r == results[0] for r in results)
    expected = X[first:].astype(np.float64) @ coef
    np.testing.assert_allclose(results[0], expected, rtol=1e-13, atol=1e-13 * d)


@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("first", [0, 5])
def test_four_updates_add_the_weighted_rows_and_touch_nothing_else(d, dtype, first):
    X, _ = rows(d, dtype)
    w = np.array([0.5, -1.25, 2.0, 3.5])
    out = np.arange(d + 3, dtype=np.float64)  # 3 elements past the row's width stay as they are
    expected = out.copy()
    expected[:d] += w @ X[first : first + 4].astype(np.float64)
    updates(X, first, w, out)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(out[d:], expected[d:])


@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("coef_dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("first", "output"), [(0, 0), (5, 2)])
def test_sixteen_predictions_are_four_rows_by_four_outputs(d, dtype, coef_dtype, first, output):
    X, _ = rows(d, dtype)
    coef = np.random.default_rng(d).standard_normal((6, d)).astype(coef_dtype)
    b = np.array([0.5, -1.0, 2.0, 0.25])
    products = coef[output : output + 4].astype(np.float64) @ X[first : first + 4].T.astype(
        np.float64
    )  # [output q, row r]
    expected = (products + b[:, None]).reshape(-1)
    np.testing.assert_allclose(
        sixteen_predictions(X, first, coef, output, b), expected, rtol=1e-13, atol=1e-13 * d
    )


@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("first", "output"), [(0, 0), (5, 2)])
def test_sixteen_updates_add_each_outputs_weighted_rows_and_touch_nothing_else(
    d, dtype, first, output
):
    X, _ = rows(d, dtype)
    a = np.random.default_rng(d + 1).standard_normal(16)
    out = np.arange(7.0 * (d + 3)).reshape(7, d + 3)  # rows and columns around the updated ones
    expected = out.copy()
    expected[output : output + 4, :d] += a.reshape(4, 4) @ X[first : first + 4].astype(np.float64)
    sixteen_updates(X, first, a, out, output)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-13)
    untouched = np.ones(out.shape, bool)
    untouched[output : output + 4, :d] = False
    np.testing.assert_array_equal(out[untouched], expected[untouched])


def test_the_steps_are_taken_for_contiguous_rows_only():
    X = np.ones((10, 12), np.float32)
    coef, out = np.ones(12), np.zeros(14)
    assert takes(X, coef, out, 10)
    assert takes(X.astype(np.float64), coef, out, 10)  # could; the passes choose by type
    # the passes take C-contiguous rows only (validation); the step checks again, being raw loads
    assert not takes(np.ones((10, 24), np.float32)[:, ::2], coef, out, 10)  # strided rows
    assert not takes(X, np.ones(24)[::2], out, 10)  # strided coefficients
    assert not takes(X, coef[:11], out, 10)  # one coefficient short
    assert not takes(X, coef, out[:11], 10)  # one gradient element short
    assert not takes(X, coef, out, 11)  # past the last row
    # four outputs at a time: coef (k, d) and out (k, d + 2), along their rows
    coefs, outs = np.ones((5, 12)), np.zeros((5, 14))
    assert takes(X, coefs, outs, 10)
    assert not takes(X, np.ones((5, 24))[:, ::2], outs, 10)
    assert not takes(X, coefs, np.zeros((5, 28))[:, ::2], 10)
    assert not takes(X, coefs[:, :11], outs, 10)
    assert not takes(X, coefs, outs[:4], 10)  # fewer rows of partial sums than outputs


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect through libc")
@pytest.mark.parametrize("d", [9, 13, 50])
def test_the_last_elements_of_the_last_row_are_read_without_touching_memory_past_it(d):
    # X's last row ends where readable memory ends: a full 8-element load of its last elements
    # would fault (the process would die), the masked loads must not
    n = 4 * PAGE // (4 * d)
    X = ending_at_a_guard_page(n * d, np.float32).reshape(n, d)
    rng = check_the_fused_pass_on(X, seed=d)
    # four outputs at a time
    Y = rng.standard_normal((n, 4)).astype(np.float32)
    coefs = rng.standard_normal((4, d))
    grads = np.empty((4, d + 1))
    loss = kernels.fused_pass_multi_serial(X, Y, None, coefs, np.zeros(4), float(n), grads)
    R = X.astype(np.float64) @ coefs.T - Y
    np.testing.assert_allclose(loss, 0.5 * np.sum(R * R) / n, rtol=1e-12)
    np.testing.assert_allclose(grads[:, :d], R.T @ X.astype(np.float64) / n, rtol=1e-11, atol=1e-14)
