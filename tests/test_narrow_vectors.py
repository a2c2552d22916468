"""The narrow pass's 16-row step in explicit vectors (fastlr.kernels.narrow_vectors): the bits of
the row loop it replaces, at every width, both dtypes, weighted or not; rows that end where
memory ends."""

import sys

import numpy as np
import pytest
from guard_page import PAGE, check_the_fused_pass_on, ending_at_a_guard_page

from fastlr import kernels
from fastlr.kernels import narrow
from fastlr.kernels.passes import fused_pass_any_width

WIDTHS = range(1, narrow.NARROW_MAX + 1)


def _rows_kernel(d):
    return getattr(narrow, f"_rows_{d}")


def _sums(X, y, w, coef, intercept, start, stop, initial=0.125):
    d = X.shape[1]
    out = np.zeros(d + 2)
    out[:d] = initial  # the pass adds to the gradient's partial sums
    _rows_kernel(d)(X, y, w, coef, intercept, start, stop, out)
    return out


@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("x_dtype", "y_dtype"),
    [(np.float32, np.float32), (np.float32, np.float64), (np.float64, np.float64)],
)
def test_rows_in_vectors_have_the_bits_of_the_row_loop(d, weighted, x_dtype, y_dtype):
    # rows that follow each other take the vectors; the same rows inside a wider array (a view
    # of its first d columns) take the loop the vectors replace: the same sums, bit for bit
    rng = np.random.default_rng(d)
    n = 16 * 40 + 11  # whole spans, then rows for the loop
    wide = rng.standard_normal((n, d + 3)).astype(x_dtype)
    X = np.ascontiguousarray(wide[:, :d])
    y = rng.standard_normal(n).astype(y_dtype)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    coef = rng.standard_normal(d)
    assert narrow._takes_vectors(X, y, w, d, n)
    assert not narrow._takes_vectors(wide[:, :d], y, w, d, n)
    for start, stop in ((0, n), (3, n - 2), (5, 5 + 16), (7, 7 + 15)):
        vectors = _sums(X, y, w, coef, -0.75, start, stop)
        loop = _sums(wide[:, :d], y, w, coef, -0.75, start, stop)
        np.testing.assert_array_equal(vectors, loop)
        # and the sums are the sums (float64 throughout)
        rows = X[start:stop].astype(np.float64)
        weights = np.ones(stop - start) if w is None else w[start:stop]
        r = rows @ coef - 0.75 - y[start:stop]
        expected = np.concatenate([0.125 + rows.T @ (weights * r), [weights @ r, weights @ r**2]])
        np.testing.assert_allclose(vectors, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("d", "variant"), [(5, "_w5"), (8, "_w8"), (9, "_w9"), (10, "_w10"), (11, "_wide")]
)
def test_narrow_rows_take_the_narrow_pass(dtype, d, variant):
    n = 16 * 70
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((n, d)).astype(dtype), rng.standard_normal(n).astype(dtype)
    coef = rng.standard_normal(d)
    if dtype == np.float64 and d > narrow.NARROW_MAX_FLOAT64:
        variant = "_wide"  # float64 rows stop a width earlier
    assert kernels.row_passes(X.dtype, d).variant == variant  # the kernel the engines run
    grad = np.empty(d)
    loss, grad_b = kernels.fused_pass_serial(X, y, coef, 0.5, grad)  # one chunk
    inside_grad = np.empty(d)  # the pass compiled callers take, choosing the width inside
    inside = fused_pass_any_width(X, y, None, coef, 0.5, float(n), inside_grad)
    assert inside == (loss, grad_b)
    np.testing.assert_array_equal(inside_grad, grad)
    if narrow.takes_narrow(X.dtype, d):  # the narrow pass's sums, reduced as the pass does
        narrow_grad = np.empty(d)
        parts = _sums(X, y, None, coef, 0.5, 0, n, initial=0.0).reshape(1, -1)
        assert (loss, grad_b) == kernels.reduce_fused_parts(parts, float(n), narrow_grad)
        np.testing.assert_array_equal(grad, narrow_grad)
    r = X.astype(np.float64) @ coef + 0.5 - y
    np.testing.assert_allclose(grad, X.T.astype(np.float64) @ r / n, rtol=1e-11, atol=1e-13)


def test_the_vectors_take_only_rows_that_follow_each_other_and_contiguous_targets():
    X = np.ones((40, 5), np.float32)
    y, w = np.ones(40, np.float32), np.ones(40)
    takes = narrow._takes_vectors
    assert takes(X, y, None, 5, 40)
    assert takes(X, y, w, 5, 40)
    assert not takes(X, y, None, 4, 40)  # another width than the kernel's
    assert not takes(np.ones((40, 10), np.float32)[:, ::2], y, None, 5, 40)  # strided columns
    assert not takes(np.ones((40, 6), np.float32)[:, :5], y, None, 5, 40)  # rows apart
    assert not takes(X, np.ones(80, np.float32)[::2], None, 5, 40)  # strided targets
    assert not takes(X, y, np.ones(80)[::2], 5, 40)  # strided weights
    assert not takes(X, y, None, 5, 41)  # past the last row
    assert not takes(X, y[:39], None, 5, 40)  # a target short
    assert not takes(X, y, w[:39], 5, 40)  # a weight short


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect through libc")
@pytest.mark.parametrize(
    ("d", "dtype"), [(3, np.float32), (5, np.float32), (7, np.float32), (5, np.float64)]
)
def test_the_last_span_is_read_without_touching_memory_past_it(d, dtype):
    # X's last row ends where readable memory ends: at odd widths the float32 step reads the
    # last eight floats of a span on their own; a 16-float load there would fault (the process
    # would die)
    n = (4 * PAGE // (np.dtype(dtype).itemsize * d)) // 16 * 16  # whole spans: the vectors
    X = ending_at_a_guard_page(n * d, dtype).reshape(n, d)  # read the last row
    check_the_fused_pass_on(X, seed=d)
