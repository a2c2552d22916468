"""The stochastic epochs: sgd (serial and Hogwild) and mini-batch, one update per row or batch,
with the options (weights, standardization, averaging, momentum, cumulative L1)."""

from __future__ import annotations

import numpy as np
from numba import prange

from fastlr.kernels.jit import _renamed_copy, _u, jit_exact, jit_inline, jit_parallel, jit_serial
from fastlr.kernels.layout import (
    PREFETCH_ROWS,
    ROW_BLOCK,
    SPLIT_PREFETCH_ROW_BYTES,
    _prefetch_lines,
    _prefetch_row,
    _prefetch_row_end,
    _visit_block,
)
from fastlr.kernels.multi_output import _add_row_gradient
from fastlr.kernels.options import _prefetch_weight, _slot, _standardized, _weight
from fastlr.kernels.passes import ROWS_PER_STEP
from fastlr.kernels.records import Iterate
from fastlr.kernels.rules import update_parameters


@jit_serial
def _accumulate(average, coef, intercept):
    """Add the current iterate to the running sum of iterates (Polyak-Ruppert averaging)."""
    if average is None:
        return
    k, d = coef.shape
    for o in range(k):
        for j in range(d):
            average[o, j] += coef[o, j]
        average[o, d] += intercept[o]
    average[0, d + 1] += 1.0


@jit_serial
def _l1_total(state, index, l1_step):
    """The cumulative L1 penalty after one more step, stored at ``state[index]`` (0.0 when
    the penalty is off)."""
    if state is None:
        return 0.0
    total = state[index] + l1_step
    state[index] = total
    return total


@jit_serial
def _l1_clipped(state, index, w, total):
    """Coefficient ``w`` after Tsuruoka et al.'s cumulative L1 penalty ``total``, whose share
    already applied to it is ``state[index]`` (``w`` itself when the penalty is off)."""
    if state is None:
        return w
    applied = state[index]
    if w > 0.0:
        new = max(0.0, w - (total + applied))
    elif w < 0.0:
        new = min(0.0, w + (total - applied))
    else:
        new = w
    state[index] = applied + (new - w)
    return new


# --------------------------------------------------------------------------- epochs
@jit_exact
def _sgd_penalty(learning_rate, penalty):
    """sgd's per-step L2 decay ``1 - rate·l2`` and L1 step ``rate·l1``, rounded as the NumPy
    twin rounds them (no fast math here: no fused multiply-add)."""
    return 1.0 - learning_rate * penalty.l2, learning_rate * penalty.l1


@jit_serial
def sgd_epoch(rows, iterate, learning_rate, shuffle, lo, hi, fit_intercept, scaling, penalty):
    """One sgd update per sample for epoch positions [lo, hi), in the epoch's row order.

    ``rows`` (:class:`~fastlr.kernels.records.Rows`) are read as they are; ``iterate.coef``
    (k, d) and ``.intercept`` (k,) are updated in place, in training coordinates
    ``z = (x - shift) * scale`` (or x when ``scaling.shift`` is None). Each step is
    ``learning_rate · w · r · z``; L2 multiplies coef by ``1 - learning_rate · l2`` first; L1 is
    the cumulative penalty (``iterate.l1_state`` None when off); ``iterate.average`` (k, d + 2)
    or None sums the iterates. Returns Σ w·r² over the positions.
    """
    if iterate.coef.shape[0] == 1:
        return _sgd_rows_one_output(
            rows, iterate, learning_rate, shuffle, lo, hi, fit_intercept, scaling, penalty
        )
    return _sgd_rows_any_outputs(
        rows, iterate, learning_rate, shuffle, lo, hi, fit_intercept, scaling, penalty
    )


@jit_serial
def _add_to_average(average, o, j, value):
    """``average[o, j] += value`` when averaging is on."""
    if average is None:
        return
    average[o, j] += value


# One output (the common case) is compiled apart, with its count known (ONE_OUTPUT): through
# loops over outputs whose count LLVM does not know, an epoch takes 1.3x-1.5x as long
# (measured, 1M x 20 float64, shuffled, averaged: 31-38 ms per epoch against 25 ms, and 18 ms
# for a read of the same rows in the same order; AMD EPYC Zen 5). The loop calls no helper
# that LLVM leaves out of line: each such call, once per row, cost the reference counts of its
# array arguments. So the L1 penalty and the average are applied to each coefficient as it is
# updated, not by second passes over coef after every sample (those passes, out of line, made
# an epoch with every option 47-96 ms; inline, 29-34 ms). Each coefficient sees the same
# operations either way, and each sum of the average the same additions in the same order.
ONE_OUTPUT = False  # each compiled copy of _sgd_rows sees its own value here


def _sgd_rows(rows, iterate, learning_rate, shuffle, lo, hi, fit_intercept, scaling, penalty):
    """:func:`sgd_epoch` for one output (ONE_OUTPUT) or any number of them."""
    X, Y, sample_weight = rows
    coef, intercept, _, l1_state, average = iterate
    shift, scale = scaling
    decay, l1_step = _sgd_penalty(learning_rate, penalty)
    k = _u(1) if ONE_OUTPUT else _u(coef.shape[0])
    d = _u(coef.shape[1])
    shuffled = shuffle.shape[0] > 0
    row_bytes = _u(X.strides[0])
    halves = row_bytes >= _u(SPLIT_PREFETCH_ROW_BYTES)  # see there
    half = row_bytes // _u(128) * _u(64)
    visit = np.zeros(ROW_BLOCK + PREFETCH_ROWS, dtype=np.uint64)  # always valid rows
    z = np.empty(coef.shape[1])
    steps = np.empty(coef.shape[0])
    sum_r2 = 0.0
    for start in range(lo, hi, ROW_BLOCK):
        count = min(_visit_block(X, Y, shuffle, visit, start), hi - start)
        for t in range(count):
            ahead = visit[t + PREFETCH_ROWS]  # at the end: a stale, valid row
            if shuffled:
                if halves:
                    _prefetch_lines(X, ahead, _u(0), half)
                else:
                    _prefetch_row(X, Y, ahead)
                _prefetch_weight(sample_weight, ahead)
            i = visit[t]
            w = _weight(sample_weight, i)
            for j in range(d):
                z[j] = _standardized(X, i, j, shift, scale)
            for o in range(k):
                p = intercept[o]
                for j in range(d):
                    p += z[j] * coef[o, j]
                r = p - Y[i, o]
                sum_r2 += w * r * r
                steps[o] = learning_rate * w * r
            if shuffled and halves:
                _prefetch_lines(X, ahead, half, row_bytes)
                _prefetch_row_end(X, Y, ahead)
            total = _l1_total(l1_state, k * d, l1_step)
            for o in range(k):
                step = steps[o]
                for j in range(d):
                    updated = decay * coef[o, j] - step * z[j]
                    updated = _l1_clipped(l1_state, o * d + j, updated, total)
                    coef[o, j] = updated
                    _add_to_average(average, o, j, updated)
                if fit_intercept:
                    intercept[o] -= step
            for o in range(k):
                _add_to_average(average, o, d, intercept[o])
            _add_to_average(average, 0, d + 1, 1.0)
    return sum_r2


_sgd_rows_one_output = jit_serial(_renamed_copy(_sgd_rows, "_one_output", {"ONE_OUTPUT": True}))
_sgd_rows_any_outputs = jit_serial(_renamed_copy(_sgd_rows, "_any_outputs"))


@jit_parallel
def sgd_epoch_hogwild(
    rows, iterate, learning_rate, shuffle, n_parts, fit_intercept, scaling, penalty
):
    """Hogwild!: ``n_parts`` threads each run :func:`sgd_epoch` on their share of the epoch's
    positions and write the shared ``coef`` without locks. Not bit-reproducible (the
    interleaving of the writes depends on timing); ``iterate.l1_state`` (n_parts, k·d + 1) and
    ``iterate.average`` (n_parts, k, d + 2), or None, hold one slot per part."""
    n = rows.X.shape[0]
    sums = np.zeros(n_parts)
    for p in prange(n_parts):
        part = Iterate(
            iterate.coef,
            iterate.intercept,
            iterate.velocity,
            _slot(iterate.l1_state, p),
            _slot(iterate.average, p),
        )
        lo, hi = p * n // n_parts, (p + 1) * n // n_parts
        sums[p] = sgd_epoch(
            rows, part, learning_rate, shuffle, lo, hi, fit_intercept, scaling, penalty
        )
    return sums.sum()


@jit_serial
def _effective(coef, intercept, shift, scale, eff_coef, eff_intercept):
    """The raw-unit model equal to (coef, intercept) in training coordinates."""
    k, d = coef.shape
    for o in range(k):
        b = intercept[o]
        for j in range(d):
            if shift is None:
                eff_coef[o, j] = coef[o, j]
            else:
                eff_coef[o, j] = coef[o, j] * scale[j]
                b -= eff_coef[o, j] * shift[j]
        eff_intercept[o] = b


@jit_serial
def _to_training_gradient(grad, total_weight, shift, scale):
    """Raw-unit sums Σ w·r·x, Σ w·r over a batch -> the gradient in training coordinates."""
    k, d1 = grad.shape
    d = d1 - 1
    for o in range(k):
        for j in range(d):
            g = grad[o, j]
            if shift is not None:
                g = scale[j] * (g - shift[j] * grad[o, d])
            grad[o, j] = g / total_weight
        grad[o, d] /= total_weight


# Mini-batch with one output takes the rows of a batch four at a time (the fused pass's
# ROWS_PER_STEP): each coefficient load serves four rows and each gradient element is loaded and
# stored once for them, instead of once per row.
@jit_inline
def _add_four_rows_gradient(X, Y, visit, t, sample_weight, coef, intercept, out):
    """For the rows visit[t : t + 4] and one output: add Σ w·r·x to out[0, :d] and Σ w·r to
    out[0, d]; return (Σ w·r², Σ w) over the four rows."""
    d = _u(coef.shape[1])
    i0, i1, i2, i3 = visit[t], visit[t + 1], visit[t + 2], visit[t + 3]
    p0 = p1 = p2 = p3 = intercept[0]
    for j in range(d):
        c = coef[0, j]
        p0 += X[i0, j] * c
        p1 += X[i1, j] * c
        p2 += X[i2, j] * c
        p3 += X[i3, j] * c
    r0, r1, r2, r3 = p0 - Y[i0, 0], p1 - Y[i1, 0], p2 - Y[i2, 0], p3 - Y[i3, 0]
    w0, w1 = _weight(sample_weight, i0), _weight(sample_weight, i1)
    w2, w3 = _weight(sample_weight, i2), _weight(sample_weight, i3)
    wr0, wr1, wr2, wr3 = w0 * r0, w1 * r1, w2 * r2, w3 * r3
    for j in range(d):
        out[0, j] += (wr0 * X[i0, j] + wr1 * X[i1, j]) + (wr2 * X[i2, j] + wr3 * X[i3, j])
    out[0, d] += (wr0 + wr1) + (wr2 + wr3)
    return (wr0 * r0 + wr1 * r1) + (wr2 * r2 + wr3 * r3), (w0 + w1) + (w2 + w3)


@jit_serial
def minibatch_epoch(
    rows,
    iterate,
    learning_rate,
    shuffle,
    lo,
    hi,
    batch_size,
    fit_intercept,
    scaling,
    penalty,
    momentum,
):
    """One fused gradient and update per batch of epoch positions [lo, hi) (``lo`` a multiple
    of ``batch_size``). The batch gradient is summed over raw rows with the model's raw-unit
    twin and turned into training coordinates once per batch; the update is
    :func:`fastlr.training.rules.update_parameters`. Returns Σ w·r² (before each batch's update)."""
    X, Y, sample_weight = rows
    coef, intercept, average = iterate.coef, iterate.intercept, iterate.average
    shift, scale = scaling
    shuffled = shuffle.shape[0] > 0
    one_output = coef.shape[0] == 1
    visit = np.zeros(ROW_BLOCK + PREFETCH_ROWS, dtype=np.uint64)
    grad = np.empty((coef.shape[0], coef.shape[1] + 1))
    eff = np.empty(coef.shape)
    eff_b = np.empty(coef.shape[0])
    weighted = np.empty(coef.shape[0])
    sum_r2 = 0.0
    for batch_start in range(lo, hi, batch_size):
        batch_stop = min(batch_start + batch_size, hi)
        _effective(coef, intercept, shift, scale, eff, eff_b)
        grad[:, :] = 0.0
        total_weight = 0.0
        for start in range(batch_start, batch_stop, ROW_BLOCK):
            count = min(_visit_block(X, Y, shuffle, visit, start), batch_stop - start)
            t = 0
            while one_output and t + ROWS_PER_STEP <= count:
                if shuffled:
                    for q in range(ROWS_PER_STEP):
                        _prefetch_row(X, Y, visit[t + q + PREFETCH_ROWS])
                        _prefetch_weight(sample_weight, visit[t + q + PREFETCH_ROWS])
                r2, w = _add_four_rows_gradient(X, Y, visit, t, sample_weight, eff, eff_b, grad)
                sum_r2 += r2
                total_weight += w
                t += ROWS_PER_STEP
            while t < count:
                if shuffled:
                    _prefetch_row(X, Y, visit[t + PREFETCH_ROWS])
                    _prefetch_weight(sample_weight, visit[t + PREFETCH_ROWS])
                i = visit[t]
                w = _weight(sample_weight, i)
                total_weight += w
                sum_r2 += _add_row_gradient(X, Y, i, w, eff, eff_b, weighted, grad)
                t += 1
        if total_weight > 0.0:
            _to_training_gradient(grad, total_weight, shift, scale)
            update_parameters(iterate, grad, learning_rate, penalty, momentum, fit_intercept)
            _accumulate(average, coef, intercept)
    return sum_r2
