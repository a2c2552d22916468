"""Column moments and row norms: the passes the set-up makes before training."""

from __future__ import annotations

import numpy as np
from numba import prange

from fastlr.kernels.jit import _u, jit_exact, jit_parallel, jit_serial
from fastlr.kernels.layout import n_chunks
from fastlr.kernels.options import _standardized, _weight


@jit_serial
def _column_sums_rows(X, sample_weight, start, stop, out):
    """out[0] += Σ w, out[1 + j] += Σ w·(x_j - x0_j), out[1 + d + j] += Σ w·(x_j - x0_j)², with
    x0 the first row of [start, stop): a shift that keeps the sums of squares accurate."""
    d = _u(X.shape[1])
    for i in range(_u(start), _u(stop)):
        w = _weight(sample_weight, i)
        out[0] += w
        for j in range(d):
            delta = np.float64(X[i, j]) - np.float64(X[_u(start), j])
            out[_u(1) + j] += w * delta
            out[_u(1) + d + j] += w * delta * delta


@jit_parallel
def column_moments(X, sample_weight):
    """Per chunk: (Σw, Σw·δ, Σw·δ², shift) with δ = x - the chunk's first row. Fixed layout."""
    n, d = X.shape
    nc = n_chunks(n)
    parts = np.zeros((nc, 1 + 3 * d))
    for c in prange(nc):
        start = c * n // nc
        _column_sums_rows(X, sample_weight, start, (c + 1) * n // nc, parts[c])
        for j in range(d):
            parts[c, 1 + 2 * d + j] = X[start, j]
    return parts


@jit_parallel
def column_moment_parts(X, sample_weight, starts, parts):
    """:func:`column_moments` over pieces of a block of rows: ``parts[p]`` (zeroed by the
    caller) for rows [starts[p], starts[p + 1]), shifted by the piece's first row."""
    d = X.shape[1]
    for p in prange(parts.shape[0]):
        start = starts[p]
        _column_sums_rows(X, sample_weight, start, starts[p + 1], parts[p])
        for j in range(d):
            parts[p, 1 + 2 * d + j] = X[start, j]


@jit_serial
def _row_norms(X, sample_weight, shift, scale, extra, start, stop):
    """(max, sum) over rows [start, stop) of w·(||z||² + extra)."""
    top = 0.0
    total = 0.0
    for i in range(start, stop):
        w = _weight(sample_weight, i)
        norm = extra
        for j in range(X.shape[1]):
            z = _standardized(X, i, j, shift, scale)
            norm += z * z
        top = max(top, w * norm)
        total += w * norm
    return top, total


@jit_parallel
def row_norm_parts(X, sample_weight, shift, scale, fit_intercept, starts, maxima, sums):
    """:func:`row_norm_bounds` over pieces of a block of rows: ``maxima[p]`` and ``sums[p]`` for
    rows [starts[p], starts[p + 1])."""
    extra = 1.0 if fit_intercept else 0.0
    for p in prange(maxima.shape[0]):
        maxima[p], sums[p] = _row_norms(
            X, sample_weight, shift, scale, extra, starts[p], starts[p + 1]
        )


@jit_serial
def reduce_row_norms(maxima, sums):
    """The largest of the pieces' maxima and the sum of their sums, in order."""
    return maxima.max(), sums.sum()


@jit_parallel
def row_norm_bounds(X, sample_weight, shift, scale, fit_intercept):
    """(max over rows of w·(||z||² + 1{intercept}), Σ w·(||z||² + 1{intercept})), z in training
    coordinates: the smoothness constants of sgd and mini-batch steps."""
    n = X.shape[0]
    nc = n_chunks(n)
    maxima = np.zeros(nc)
    sums = np.zeros(nc)
    extra = 1.0 if fit_intercept else 0.0
    for c in prange(nc):
        maxima[c], sums[c] = _row_norms(
            X, sample_weight, shift, scale, extra, c * n // nc, (c + 1) * n // nc
        )
    return reduce_row_norms(maxima, sums)


@jit_exact
def _divide(values, by):
    """``values /= by``, correctly rounded (no fast math: no multiplication by 1 / by)."""
    for j in range(values.shape[0]):
        values[j] = values[j] / by
