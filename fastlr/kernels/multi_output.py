"""The fused pass for several outputs (``y`` of shape (n, k)), weighted or not: one read of the
rows gives every output's loss and gradient; serial and parallel over fixed chunks, in memory and
over the pieces of a file's blocks, as :mod:`fastlr.kernels.passes` does for one output."""

from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from fastlr.kernels.jit import _u, jit_inline, jit_serial, serial_and_parallel
from fastlr.kernels.layout import n_chunks
from fastlr.kernels.options import _weight
from fastlr.kernels.passes import (
    PREFETCH_FLOAT64,
    PREFETCH_STEPS,
    ROWS_PER_STEP,
    VECTORS_FLOAT64,
    _prefetch_rows_ahead,
    _rows_ahead,
)
from fastlr.kernels.row_vectors import (
    sixteen_predictions_unchecked,
    sixteen_updates_unchecked,
    takes_vectors,
)


# The multi-output pass takes ROWS_PER_STEP rows and up to four outputs at a time: each load (and
# float32 conversion) of an element of the rows serves four outputs, in the predictions and again
# in the gradient terms; each gradient element is loaded and stored once per 4 rows. Measured here
# (AMD EPYC Zen 5, 2 threads, benchmarks/roofline.py variants: k = 4, time per byte read against
# the one-output pass; two runs): 2M x 50 float32 4.08x before -> 2.24x / 1.77x, float64 1.66x ->
# 1.20x / 0.98x, 200k x 500 float32 2.98x -> 1.82x / 1.65x, float64 2.25x -> 1.32x / 1.44x. Two
# outputs at a time measured 2.3x / 1.9x at 2M x 50 in a scratch run where four gave 1.5x / 1.3x.
# It prefetches its rows as the one-output pass does (PREFETCH_FLOAT64): measured here, 2M x 50
# float32 24.3 -> 19.4-20.6 ms (three runs; 1.95x -> 1.49x-1.65x the plain pass per byte). Wide
# float32 rows, as the predictions read them (INTERLEAVED_PREFETCH_ROW_BYTES; Intel Xeon, four
# runs in turn): 200k x 500 30.1-32.0 -> 24.6-25.9 ms, 2M x 50 alike (25.2-26.5 / 24.9-26.6).
# Float64 rows take the explicit vectors where the one-output pass does (VECTORS_FLOAT64; Intel
# Xeon, two runs in turn): 2M x 50 42.9-44.3 -> 34.8-37.2 ms, 200k x 500 41.0-42.1 -> 39.6-40.9.
@jit_serial
def _fused_rows_multi(X, Y, sample_weight, coef, intercept, start, stop, out):
    """Over rows [start, stop): out[o, :d] += Σ w·r_o·x, out[o, d] += Σ w·r_o and
    out[0, d + 1] += Σ_o Σ w·r_o², for every output o of ``coef`` (k, d)."""
    k = _u(coef.shape[0])
    coef = np.ascontiguousarray(coef)  # vector rows: loaded 8 at a time (no copy if it is)
    vectors = X.itemsize == 4 or VECTORS_FLOAT64
    if vectors and not takes_vectors(X, coef, out, stop):
        raise IndexError("the fused pass's rows, coefficients or partial sums do not fit")
    # the vector predictions of four outputs prefetch wide rows as they read them; else a step's
    # rows are asked for before the step (float64 rows where PREFETCH_FLOAT64 says so)
    interleaved = vectors and k >= _u(4) and _rows_ahead(X) != 0
    stop = _u(stop)
    sum_r2 = 0.0
    i = _u(start)
    while i + _u(ROWS_PER_STEP) <= stop:
        if not interleaved and (X.itemsize == 4 or PREFETCH_FLOAT64):
            _prefetch_rows_ahead(X, i + _u(PREFETCH_STEPS * ROWS_PER_STEP), stop)
        w = (
            _weight(sample_weight, i),
            _weight(sample_weight, i + _u(1)),
            _weight(sample_weight, i + _u(2)),
            _weight(sample_weight, i + _u(3)),
        )
        o = _u(0)
        while o + _u(4) <= k:
            sum_r2 += _four_rows_four_outputs(X, Y, i, w, coef, intercept, o, out)
            o += _u(4)
        while o < k:
            sum_r2 += _four_rows_one_output(X, Y, i, w, coef, intercept, o, out)
            o += _u(1)
        i += _u(ROWS_PER_STEP)
    weighted = np.empty(coef.shape[0])
    while i < stop:  # the last rows of the span, one at a time
        sum_r2 += _add_row_gradient(
            X, Y, i, _weight(sample_weight, i), coef, intercept, weighted, out
        )
        i += _u(1)
    out[0, coef.shape[1] + 1] += sum_r2


@jit_inline
def _four_rows_one_output(X, Y, i, w, coef, intercept, o, out):
    """Rows i..i+3 (weights ``w``), output o: add Σ w·r·x to out[o, :d] and Σ w·r to out[o, d];
    return Σ w·r²."""
    d = _u(coef.shape[1])
    i1, i2, i3 = i + _u(1), i + _u(2), i + _u(3)
    p0 = p1 = p2 = p3 = intercept[o]
    for j in range(d):
        c = coef[o, j]
        p0 += X[i, j] * c
        p1 += X[i1, j] * c
        p2 += X[i2, j] * c
        p3 += X[i3, j] * c
    r0, r1, r2, r3 = p0 - Y[i, o], p1 - Y[i1, o], p2 - Y[i2, o], p3 - Y[i3, o]
    a0, a1, a2, a3 = w[0] * r0, w[1] * r1, w[2] * r2, w[3] * r3
    for j in range(d):
        out[o, j] += (a0 * X[i, j] + a1 * X[i1, j]) + (a2 * X[i2, j] + a3 * X[i3, j])
    out[o, d] += (a0 + a1) + (a2 + a3)
    return (a0 * r0 + a1 * r1) + (a2 * r2 + a3 * r3)


@jit_inline
def _four_rows_four_outputs(X, Y, i, w, coef, intercept, o, out):
    """:func:`_four_rows_one_output` for outputs o..o+3 at once (one load of each element of the
    rows serves the four outputs); returns Σ w·r² over the 16 residuals."""
    b = (intercept[o], intercept[o + _u(1)], intercept[o + _u(2)], intercept[o + _u(3)])
    p = _sixteen_predictions_by_type(X, i, coef, o, b)
    a, sum_r2 = _sixteen_terms(Y, i, w, p, o)
    _add_sixteen_by_type(X, i, a, out, o)
    d = _u(coef.shape[1])
    for q in range(4):
        out[o + _u(q), d] += (a[4 * q] + a[4 * q + 1]) + (a[4 * q + 2] + a[4 * q + 3])
    return sum_r2


def _sixteen_predictions_by_type(X, i, coef, o, b):  # pragma: no cover
    """In compiled code: :func:`_sixteen_predictions`, in explicit vectors for float32 rows and
    float64 rows where ``VECTORS_FLOAT64`` says so (:mod:`row_vectors`); chosen by type and CPU,
    only the one chosen is compiled."""
    raise TypeError("called from compiled kernels only")


@overload(_sixteen_predictions_by_type, inline="always")
def _sixteen_predictions_overload(X, i, coef, o, b):
    if X.dtype == types.float32 or (X.dtype == types.float64 and VECTORS_FLOAT64):
        return lambda X, i, coef, o, b: sixteen_predictions_unchecked(
            X, i, coef, o, b, _rows_ahead(X)
        )
    return lambda X, i, coef, o, b: _sixteen_predictions(X, i, coef, o, b)


def _add_sixteen_by_type(X, i, a, out, o):  # pragma: no cover
    """In compiled code: :func:`_add_sixteen`, in explicit vectors where
    :func:`_sixteen_predictions_by_type` takes them."""
    raise TypeError("called from compiled kernels only")


@overload(_add_sixteen_by_type, inline="always")
def _add_sixteen_overload(X, i, a, out, o):
    if X.dtype == types.float32 or (X.dtype == types.float64 and VECTORS_FLOAT64):
        return lambda X, i, a, out, o: sixteen_updates_unchecked(X, i, a, out, o)
    return lambda X, i, a, out, o: _add_sixteen(X, i, a, out, o)


@jit_inline
def _sixteen_predictions(X, i, coef, o, b):
    """``X[i + r] · coef[o + q] + b[q]`` for rows r and outputs q in 0..3 (order q, then r),
    one chain of fused steps each."""
    d = _u(coef.shape[1])
    i1, i2, i3 = i + _u(1), i + _u(2), i + _u(3)
    o1, o2, o3 = o + _u(1), o + _u(2), o + _u(3)
    p0 = p1 = p2 = p3 = b[0]
    q0 = q1 = q2 = q3 = b[1]
    s0 = s1 = s2 = s3 = b[2]
    t0 = t1 = t2 = t3 = b[3]
    for j in range(d):
        x0, x1, x2, x3 = X[i, j], X[i1, j], X[i2, j], X[i3, j]
        cp, cq, cs, ct = coef[o, j], coef[o1, j], coef[o2, j], coef[o3, j]
        p0, p1, p2, p3 = p0 + x0 * cp, p1 + x1 * cp, p2 + x2 * cp, p3 + x3 * cp
        q0, q1, q2, q3 = q0 + x0 * cq, q1 + x1 * cq, q2 + x2 * cq, q3 + x3 * cq
        s0, s1, s2, s3 = s0 + x0 * cs, s1 + x1 * cs, s2 + x2 * cs, s3 + x3 * cs
        t0, t1, t2, t3 = t0 + x0 * ct, t1 + x1 * ct, t2 + x2 * ct, t3 + x3 * ct
    return (p0, p1, p2, p3, q0, q1, q2, q3, s0, s1, s2, s3, t0, t1, t2, t3)


@jit_inline
def _sixteen_terms(Y, i, w, p, o):
    """From the 16 predictions ``p`` (order output, then row): the weighted residuals w·r (same
    order) and Σ w·r²."""
    i1, i2, i3 = i + _u(1), i + _u(2), i + _u(3)
    o1, o2, o3 = o + _u(1), o + _u(2), o + _u(3)
    p0, p1, p2, p3 = p[0] - Y[i, o], p[1] - Y[i1, o], p[2] - Y[i2, o], p[3] - Y[i3, o]
    q0, q1, q2, q3 = p[4] - Y[i, o1], p[5] - Y[i1, o1], p[6] - Y[i2, o1], p[7] - Y[i3, o1]
    s0, s1, s2, s3 = p[8] - Y[i, o2], p[9] - Y[i1, o2], p[10] - Y[i2, o2], p[11] - Y[i3, o2]
    t0, t1, t2, t3 = p[12] - Y[i, o3], p[13] - Y[i1, o3], p[14] - Y[i2, o3], p[15] - Y[i3, o3]
    w0, w1, w2, w3 = w
    a0, a1, a2, a3 = w0 * p0, w1 * p1, w2 * p2, w3 * p3
    b0, b1, b2, b3 = w0 * q0, w1 * q1, w2 * q2, w3 * q3
    c0, c1, c2, c3 = w0 * s0, w1 * s1, w2 * s2, w3 * s3
    e0, e1, e2, e3 = w0 * t0, w1 * t1, w2 * t2, w3 * t3
    sum_r2 = (
        ((a0 * p0 + a1 * p1) + (a2 * p2 + a3 * p3))
        + ((b0 * q0 + b1 * q1) + (b2 * q2 + b3 * q3))
        + ((c0 * s0 + c1 * s1) + (c2 * s2 + c3 * s3))
        + ((e0 * t0 + e1 * t1) + (e2 * t2 + e3 * t3))
    )
    a = (a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, e0, e1, e2, e3)
    return a, sum_r2


@jit_inline
def _add_sixteen(X, i, a, out, o):
    """``out[o + q, j] += (a[4q]·X[i, j] + a[4q + 1]·X[i + 1, j]) + (a[4q + 2]·X[i + 2, j] +
    a[4q + 3]·X[i + 3, j])`` for outputs q in 0..3."""
    i1, i2, i3 = i + _u(1), i + _u(2), i + _u(3)
    o1, o2, o3 = o + _u(1), o + _u(2), o + _u(3)
    a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, e0, e1, e2, e3 = a
    for j in range(_u(X.shape[1])):
        x0, x1, x2, x3 = X[i, j], X[i1, j], X[i2, j], X[i3, j]
        out[o, j] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)
        out[o1, j] += (b0 * x0 + b1 * x1) + (b2 * x2 + b3 * x3)
        out[o2, j] += (c0 * x0 + c1 * x1) + (c2 * x2 + c3 * x3)
        out[o3, j] += (e0 * x0 + e1 * x1) + (e2 * x2 + e3 * x3)


@jit_inline
def _add_row_gradient(X, Y, i, w, coef, intercept, weighted, out):
    """Add row i's w·r_o·x to out[o, :d] and w·r_o to out[o, d] for every output o (``weighted``
    is scratch of k values); return Σ_o w·r_o²."""
    k = _u(coef.shape[0])
    d = _u(coef.shape[1])
    sum_r2 = 0.0
    for o in range(k):
        p = intercept[o]
        for j in range(d):
            p += X[i, j] * coef[o, j]
        r = p - Y[i, o]
        sum_r2 += w * r * r
        weighted[o] = w * r
    for o in range(k):
        for j in range(d):
            out[o, j] += weighted[o] * X[i, j]
        out[o, d] += weighted[o]
    return sum_r2


@jit_serial
def _reduce_multi(parts, total_weight, grad):
    """Sum chunk partials in chunk order into ``grad`` (k, d + 1) / W; return Σ w·r² / (2W)."""
    k, d1 = grad.shape
    grad[:, :] = 0.0
    sum_r2 = 0.0
    for c in range(parts.shape[0]):
        for o in range(k):
            for j in range(d1):
                grad[o, j] += parts[c, o, j]
        sum_r2 += parts[c, 0, d1]
    for o in range(k):
        for j in range(d1):
            grad[o, j] /= total_weight
    return 0.5 * sum_r2 / total_weight


def _fused_pass_multi(X, Y, sample_weight, coef, intercept, total_weight, grad):
    """The fused pass for weighted rows and/or several outputs: ``Y`` (n, k), ``coef`` (k, d),
    ``intercept`` (k,), ``sample_weight`` (n,) or None summing to ``total_weight``; serial, or
    the chunks spread over the threads (the same bits).

    Writes ``Xᵀ(w·r) / W`` and ``Σ w·r / W`` into ``grad`` (k, d + 1); returns Σ w·r² / (2W).
    """
    n = X.shape[0]
    nc = n_chunks(n)
    parts = np.zeros((nc, coef.shape[0], coef.shape[1] + 2))
    for c in prange(nc):
        _fused_rows_multi(
            X, Y, sample_weight, coef, intercept, c * n // nc, (c + 1) * n // nc, parts[c]
        )
    return _reduce_multi(parts, total_weight, grad)


fused_pass_multi_serial, fused_pass_multi_parallel = serial_and_parallel(_fused_pass_multi)


def _fused_parts_multi(X, Y, sample_weight, coef, intercept, starts, parts):
    """The multi-output pass's partials over pieces of a block: ``parts[p]`` (k, d + 2), zeroed
    by the caller, as :func:`fused_parts_serial`; :func:`reduce_fused_parts_multi` reduces."""
    for p in prange(parts.shape[0]):
        _fused_rows_multi(X, Y, sample_weight, coef, intercept, starts[p], starts[p + 1], parts[p])


fused_parts_multi_serial, fused_parts_multi_parallel = serial_and_parallel(_fused_parts_multi)


@jit_serial
def reduce_fused_parts_multi(parts, total_weight, grad):
    """Σ w·r² / (2W) from every chunk's partials, the gradient into ``grad`` (k, d + 1)."""
    return _reduce_multi(parts, total_weight, grad)
