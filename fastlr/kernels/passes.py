"""The fused passes: one read of the rows gives the loss, the gradient and the intercept's
gradient (one output, weighted or not; serial and parallel over fixed chunks; several outputs
are :mod:`fastlr.kernels.multi_output`'s), and prediction."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from llvmlite import binding as _llvm
from numba import prange, types
from numba.core import config as _numba_config
from numba.extending import overload

from fastlr.kernels.jit import (
    _prefetch,
    _renamed_copy,
    _u,
    jit_inline,
    jit_serial,
    serial_and_parallel,
)
from fastlr.kernels.layout import n_chunks
from fastlr.kernels.narrow import narrow_pass, narrow_rows, takes_narrow
from fastlr.kernels.options import _weighted
from fastlr.kernels.row_vectors import four_dots_unchecked, four_updates_unchecked, takes_vectors


@jit_serial
def _row_prediction(X, i, coef, intercept):
    """``X[i] · coef + intercept`` in float64 (``i`` unsigned)."""
    p = intercept
    for j in range(_u(X.shape[1])):
        p += X[i, j] * coef[j]
    return p


# --------------------------------------------------------------------------- fused pass
# Unsigned indices matter: with a signed loop index numba wraps negative indices around, which
# keeps LLVM from vectorizing the row loops (2-3x slower on narrow float32 rows).
#: Rows the fused pass takes at a time: each coefficient load serves, and each gradient element is
#: loaded and stored once for, this many rows. Measured here (Intel Xeon, 2 threads), against one
#: row at a time: 1.1x to 2x faster on every width from 5 to 500 features; it also beat the
#: earlier loop unrolled for the exact width of rows of up to 8 features (d = 5: 43 vs 98 ms
#: float32, 39 vs 52 ms float64, 20M rows), which it replaces. Float rows of at most 8 or 10
#: features now go to :mod:`fastlr.kernels.narrow`, which vectorizes across rows.
ROWS_PER_STEP = 4
#: The passes ask for the rows this many steps ahead (whole rows, every cache line): always on
#: float32 rows, and on float64 rows where :data:`PREFETCH_FLOAT64` says so. Measured on the
#: Intel Xeon (2 threads): float32 1.2x to 1.4x faster at 5, 50 and 500 features.
PREFETCH_STEPS = 2


def _prefetches_float64(cpu: str) -> bool:
    """Whether the passes prefetch float64 rows on the CPU LLVM compiles for (``cpu``, as
    ``llvmlite.binding.get_host_cpu_name()`` names it).

    The choice depends on the CPU and was measured on both (2 threads, each variant in its own
    block): on the Intel Xeon (Emerald Rapids) prefetching float64 rows made the pass 1.2x
    slower at 50 and 500 features (the hardware prefetcher keeps up; the extra instructions
    only cost), 5% faster at 5. On the AMD EPYC (Zen 5, LLVM's ``znver5``) it made the pass of
    2M x 50 float64 1.2x faster (24.1-24.8 ms -> 19.2-21.0 ms against a 2-thread read of
    18.9-19.4 ms, two runs of 1-16 steps ahead: 1 to 8 alike), 200k x 500 1.05x faster, 20M x 5
    alike; and the multi-output pass (k = 4) of 2M x 50 float64 29.2 -> 21.4-24.3 ms. So:
    AMD's Zen cores only. A CPU named otherwise (``NUMBA_CPU_NAME=generic`` included, whose
    cache may be shared between machines) keeps the Intel choice; the bits are the same either
    way.
    """
    return cpu.startswith("znver")


def _vectors_float64(cpu: str) -> bool:
    """Whether float64 rows (too wide for the narrow pass) take the explicit vector steps
    (:func:`_vector_steps`) rather than numba's loops (:func:`_loop_steps`) on the CPU LLVM
    compiles for (``cpu``, as :func:`_prefetches_float64` takes it).

    Measured on both, each choice where it was faster: on the AMD EPYC (Zen 5) the vectors
    gained nothing on float64 rows (0.87x-1.12x the loop's time in L2, mostly slower). On the
    Intel Xeon (2 threads, rows from memory, runs of the two in turn, each in a process of its
    own, two or three runs) they were faster at every width from 8 to 100 features and alike
    at 500: 12M x 8 47.5-51.5 -> 37.4-37.8 ms, 4M x 24 36.9-41.3 -> 33.1-35.7, 3M x 32
    33.9-34.7 -> 27.0-30.2, 2M x 50 1.24x-1.40x -> 1.01x-1.08x the parallel read of the same
    run, 1M x 100 1.27x-1.36x -> 1.12x-1.21x, 200k x 500 1.11x-1.27x -> 1.10x-1.17x, 6M x 16
    alike. Either way every pass on one machine runs the chosen kernel, so they agree in their
    bits (the vectors' tree and the loop's chains differ by rounding only; both compile with
    reassociation, so another CPU's LLVM may round them differently too).
    """
    return not cpu.startswith("znver")


#: numba compiles for ``NUMBA_CPU_NAME`` where set (its config module holds it), else the host.
_TARGET_CPU = _numba_config.CPU_NAME or _llvm.get_host_cpu_name()  # type: ignore[attr-defined]
PREFETCH_FLOAT64 = _prefetches_float64(_TARGET_CPU)
VECTORS_FLOAT64 = _vectors_float64(_TARGET_CPU)


@jit_serial
def _prefetch_rows_ahead(X, first, stop):
    """Prefetch rows [first, first + ROWS_PER_STEP) of ``X`` that lie below ``stop``."""
    row_bytes = _u(X.strides[0])
    end = min(first + _u(ROWS_PER_STEP), stop) * row_bytes
    for offset in range(first * row_bytes, end, _u(64)):
        _prefetch(X, offset)


#: Rows of at least this many bytes that take the vector steps (float32; float64 where
#: VECTORS_FLOAT64 says so) are prefetched as the steps read them: each block of a row's columns
#: asks for the same columns PREFETCH_STEPS steps below (:mod:`fastlr.kernels.row_vectors`);
#: narrower rows a step's rows at a time, before the step (float64 ones where PREFETCH_FLOAT64
#: says so).
#: Measured on the Intel Xeon (2 threads, float32, the step's prefetch against the interleaved one,
#: runs of the two in turn, each in processes of its own): 200k x 500 20.1-20.6 -> 17.2-17.6 ms
#: (five runs: 1.7x -> 1.4x the parallel read), 1M x 100 17.9-18.0 -> 14.8-15.3 ms, 2M x 50
#: alike, 4M x 24 14.8-17.0 -> 15.6-17.5 ms, 6M x 16 15.3-16.2 -> 19.3-20.0 ms (slower: rows of
#: one cache line, where the step's prefetch asks for the same lines in a burst). Not measured
#: on the AMD EPYC. Prefetching further ahead (2 KB or 4 KB) was slower at every width.
#: Float64 rows without it (Intel Xeon, 2026-12-07, the two kernels in one process, 5 rounds):
#: 200k x 500 0.96x-0.98x the time (three runs), 100k x 1000 0.92x, but 1M x 100 1.09x,
#: 2M x 50 1.05x and 4M x 24 1.05x: one threshold for both dtypes kept.
INTERLEAVED_PREFETCH_ROW_BYTES = 256


@jit_inline
def _rows_ahead(X):
    """How many rows below the step's the vector steps prefetch as they read along the rows
    (0: none, the caller prefetches the step's rows ahead)."""
    if _u(X.strides[0]) >= _u(INTERLEAVED_PREFETCH_ROW_BYTES):
        return _u(PREFETCH_STEPS * ROWS_PER_STEP)
    return _u(0)


@jit_inline
def _four_predictions(X, i, coef, intercept):
    """``X[i + r] · coef + intercept`` for the rows r = 0..3: one chain of fused steps a row."""
    i1, i2, i3 = i + _u(1), i + _u(2), i + _u(3)
    p0 = p1 = p2 = p3 = intercept
    for j in range(_u(X.shape[1])):
        c = coef[j]
        p0 += X[i, j] * c
        p1 += X[i1, j] * c
        p2 += X[i2, j] * c
        p3 += X[i3, j] * c
    return p0, p1, p2, p3


@jit_inline
def _add_four_rows(X, i, w0, w1, w2, w3, out):
    """``out[j] += (w0·X[i, j] + w1·X[i + 1, j]) + (w2·X[i + 2, j] + w3·X[i + 3, j])``."""
    i1, i2, i3 = i + _u(1), i + _u(2), i + _u(3)
    for j in range(_u(X.shape[1])):
        out[j] += (w0 * X[i, j] + w1 * X[i1, j]) + (w2 * X[i2, j] + w3 * X[i3, j])


@jit_inline
def _four_terms(y, sample_weight, i, p):
    """The residuals of rows i..i+3 from their predictions ``p``, weighted: (w·r for each row),
    Σ w·r and Σ w·r²."""
    r0, r1, r2, r3 = p[0] - y[i], p[1] - y[i + _u(1)], p[2] - y[i + _u(2)], p[3] - y[i + _u(3)]
    w0 = _weighted(sample_weight, i, r0)
    w1 = _weighted(sample_weight, i + _u(1), r1)
    w2 = _weighted(sample_weight, i + _u(2), r2)
    w3 = _weighted(sample_weight, i + _u(3), r3)
    return (w0, w1, w2, w3), (w0 + w1) + (w2 + w3), (w0 * r0 + w1 * r1) + (w2 * r2 + w3 * r3)


@jit_serial
def _vector_steps(X, y, sample_weight, coef, intercept, start, stop, out):
    """:func:`_four_row_steps` for float32 rows, and float64 rows where :data:`VECTORS_FLOAT64`
    says so (rows too wide for the narrow pass, see :func:`~fastlr.kernels.narrow.takes_narrow`):
    each step's two loops in explicit vectors (:mod:`row_vectors`)."""
    if not takes_vectors(X, coef, out, stop):
        raise IndexError("the fused pass's rows, coefficients or partial sums do not fit")
    stop = _u(stop)
    sum_r = 0.0
    sum_r2 = 0.0
    i = _u(start)
    ahead = _rows_ahead(X)
    while i + _u(ROWS_PER_STEP) <= stop:
        if ahead == 0 and (X.itemsize == 4 or PREFETCH_FLOAT64):
            _prefetch_rows_ahead(X, i + _u(PREFETCH_STEPS * ROWS_PER_STEP), stop)
        p = four_dots_unchecked(X, i, coef, np.float64(intercept), ahead)
        w, step_r, step_r2 = _four_terms(y, sample_weight, i, p)
        sum_r += step_r
        sum_r2 += step_r2
        four_updates_unchecked(X, i, w[0], w[1], w[2], w[3], out)
        i += _u(ROWS_PER_STEP)
    return i, sum_r, sum_r2


@jit_serial
def _loop_steps(X, y, sample_weight, coef, intercept, start, stop, out):
    """:func:`_four_row_steps` for float64 rows where :data:`VECTORS_FLOAT64` is off (AMD's Zen
    cores): numba loops, which LLVM vectorizes."""
    stop = _u(stop)
    # One accumulator per row of a step: each sum is then a chain of single additions, which
    # LLVM cannot regroup differently where this loop is inlined (numba callers get the bits of
    # the Python call).
    sum_r = 0.0
    sum_r2 = 0.0
    i = _u(start)
    while i + _u(ROWS_PER_STEP) <= stop:
        if X.itemsize == 4 or PREFETCH_FLOAT64:
            _prefetch_rows_ahead(X, i + _u(PREFETCH_STEPS * ROWS_PER_STEP), stop)
        w, step_r, step_r2 = _four_terms(
            y, sample_weight, i, _four_predictions(X, i, coef, intercept)
        )
        sum_r += step_r
        sum_r2 += step_r2
        _add_four_rows(X, i, w[0], w[1], w[2], w[3], out)
        i += _u(ROWS_PER_STEP)
    return i, sum_r, sum_r2


def _four_row_steps(X, y, sample_weight, coef, intercept, start, stop, out):  # pragma: no cover
    """In compiled code: the 4-row steps over rows [start, stop): add their Σ w·r·x to
    ``out[:d]``; return the first row they leave, Σ w·r and Σ w·r².

    Chosen by type when the caller compiles: float32 rows take :func:`_vector_steps`, float64
    rows too where :data:`VECTORS_FLOAT64` says so, else :func:`_loop_steps`; only the one
    chosen is compiled. One loop over the rows for each way: a branch between the two inside
    one loop cost 1.1x-1.2x in cache.
    """
    raise TypeError("_four_row_steps is called from compiled kernels only")


@overload(_four_row_steps)
def _four_row_steps_by_type(X, y, sample_weight, coef, intercept, start, stop, out):
    if X.dtype == types.float32 or (X.dtype == types.float64 and VECTORS_FLOAT64):
        return lambda X, y, sample_weight, coef, intercept, start, stop, out: _vector_steps(
            X, y, sample_weight, coef, intercept, start, stop, out
        )
    return lambda X, y, sample_weight, coef, intercept, start, stop, out: _loop_steps(
        X, y, sample_weight, coef, intercept, start, stop, out
    )


@jit_inline
def _fused_rows(X, y, sample_weight, coef, intercept, start, stop, out):
    """Add Σ w·r·x (out[:d]), Σ w·r (out[d]) and Σ w·r² (out[d + 1]) over rows [start, stop)
    (``sample_weight`` None: w = 1, no multiplication compiled in): rows of any width, narrow
    ones by the narrow pass (all its widths compiled in), others by :func:`_wide_rows`."""
    if not narrow_pass(X, y, sample_weight, coef, intercept, start, stop, out):
        _wide_rows(X, y, sample_weight, coef, intercept, start, stop, out)


@jit_serial
def _wide_rows(X, y, sample_weight, coef, intercept, start, stop, out):
    """:func:`_fused_rows` for rows wider than the narrow pass takes (or of another dtype),
    ROWS_PER_STEP rows at a time; nothing of the narrow pass compiled in."""
    d = _u(X.shape[1])
    coef = np.ascontiguousarray(coef)  # the vector steps load it 8 at a time (no copy if it is)
    i, sum_r, sum_r2 = _four_row_steps(X, y, sample_weight, coef, intercept, start, stop, out)
    stop = _u(stop)
    while i < stop:  # the last rows of the span, one at a time
        r = _row_prediction(X, i, coef, intercept) - y[i]
        wr = _weighted(sample_weight, i, r)
        sum_r += wr
        sum_r2 += wr * r
        for j in range(d):
            out[j] += wr * X[i, j]
        i += _u(1)
    out[d] = sum_r
    out[d + _u(1)] = sum_r2


@jit_serial
def _reduce_chunks(parts, n, grad):
    """Sum chunk partials in chunk order; write grad_coef, return (loss, grad_intercept).
    ``n`` is the sample count, or the total weight of a weighted pass."""
    d = grad.shape[0]
    grad[:] = 0.0
    sum_r = 0.0
    sum_r2 = 0.0
    for c in range(parts.shape[0]):
        for j in range(d):
            grad[j] += parts[c, j]
        sum_r += parts[c, d]
        sum_r2 += parts[c, d + 1]
    for j in range(d):
        grad[j] /= n
    return 0.5 * sum_r2 / n, sum_r / n


#: The row kernel of the chunked passes below; each compiled set (:func:`row_passes`,
#: :data:`fused_pass_any_width`) sees its own (compiled with its name in ``constants``).
ROW_PASS = _fused_rows


def _fused_pass_weighted(X, y, sample_weight, coef, intercept, total_weight, grad):
    """The one-output pass: loss ``Σ w·r²/(2W)`` returned with ``Σ w·r/W``, ``Xᵀ(w·r)/W``
    written to ``grad``, each row's terms weighted by ``sample_weight`` (n,) (or None: w = 1,
    nothing multiplied), W = ``total_weight`` (n without weights). Serial, or the chunks spread
    over the threads: the same bits."""
    n = X.shape[0]
    nc = n_chunks(n)
    parts = np.zeros((nc, grad.shape[0] + 2))
    for c in prange(nc):
        ROW_PASS(X, y, sample_weight, coef, intercept, c * n // nc, (c + 1) * n // nc, parts[c])
    return _reduce_chunks(parts, total_weight, grad)


# Out of core (fastlr.engines.streaming), a pass visits a file in blocks of rows. Its chunks are the
# in-memory pass's chunks (``chunk_starts`` of the whole file), so the pieces of a block are
# summed by the same row loop into the same per-chunk partials, and reduced in the same order:
# the same bits as the pass over the whole array in memory.
def _fused_parts(X, y, sample_weight, coef, intercept, starts, parts):
    """The fused pass's partial sums over pieces of a block of rows: ``parts[p]`` (zeroed by the
    caller) gets Σ w·r·x, Σ w·r, Σ w·r² over rows [starts[p], starts[p + 1]) of ``X``, serially
    or with the pieces spread over the threads (the same bits). :func:`reduce_fused_parts`
    turns the partials of every chunk into loss and gradient."""
    for p in prange(parts.shape[0]):
        ROW_PASS(X, y, sample_weight, coef, intercept, starts[p], starts[p + 1], parts[p])


class RowPasses(NamedTuple):
    """The one-output pass (:func:`_fused_pass_weighted`) and its block pass
    (:func:`_fused_parts`), serial and parallel, compiled for one kind of rows."""

    pass_serial: Callable[..., Any]
    pass_parallel: Callable[..., Any]
    parts_serial: Callable[..., Any]
    parts_parallel: Callable[..., Any]
    #: what the kernels' names add: ``_w<width>`` or ``_wide``
    variant: str


@functools.cache
def row_passes(dtype: np.dtype, width: int) -> RowPasses:
    """The one-output passes for rows of ``width`` features of ``dtype``, compiled with the one
    row kernel those rows take: narrow float rows (:func:`~fastlr.kernels.narrow.takes_narrow`)
    the narrow pass compiled for their width (kernels named ``<name>_w<width>_serial`` and so
    on), other rows :func:`_wide_rows` (``<name>_wide_serial``). The bits of
    :data:`fused_pass_any_width`, which runs the same row kernels.

    Why: numba links every kernel a kernel calls into it, then optimizes and compiles the whole
    again, so a kernel that chose the width inside compiled every narrow kernel once per
    signature and caller (a cold float64 pass went from 3.1 s to 8.1 s with them; Intel Xeon).
    The engines know the rows before they call, and take these.

    >>> import numpy as np
    >>> X, y = np.ones((100, 3)), np.zeros(100)
    >>> grad = np.empty(3)
    >>> passes = row_passes(X.dtype, X.shape[1])
    >>> loss, grad_b = passes.pass_serial(X, y, None, np.full(3, 0.5), 0.0, 100, grad)
    >>> float(loss), float(grad_b), grad.tolist()
    (1.125, 1.5, [1.5, 1.5, 1.5])
    """
    if takes_narrow(np.dtype(dtype), width):
        variant, rows = f"_w{width}", narrow_rows(width)
    else:
        variant, rows = "_wide", _wide_rows
    constants = {"ROW_PASS": rows}
    return RowPasses(
        *serial_and_parallel(_fused_pass_weighted, variant=variant, constants=constants),
        *serial_and_parallel(_fused_parts, variant=variant, constants=constants),
        variant,
    )


#: :func:`_fused_pass_weighted` over rows of any width, serial, for compiled callers that
#: cannot choose by the rows (``fastlr.loss_and_gradient`` inside a user's numba function): each
#: width inside takes the row kernel :func:`row_passes` takes for it, so the bits are the same.
fused_pass_any_width = jit_serial(_renamed_copy(_fused_pass_weighted, "_any_width"))


def fused_pass_serial(X, y, coef, intercept, grad):
    """From Python: the pass without weights over ``X``'s rows, serial (the kernel of
    :func:`row_passes`): loss ``Σr²/(2n)`` returned with ``mean(r)``, ``Xᵀr/n`` in ``grad``."""
    kernel = row_passes(X.dtype, X.shape[1]).pass_serial
    return kernel(X, y, None, coef, intercept, X.shape[0], grad)


def fused_pass_parallel(X, y, coef, intercept, grad):
    """:func:`fused_pass_serial` with the chunks spread over the threads; the same bits."""
    kernel = row_passes(X.dtype, X.shape[1]).pass_parallel
    return kernel(X, y, None, coef, intercept, X.shape[0], grad)


@jit_serial
def reduce_fused_parts(parts, total_weight, grad):
    """Loss and intercept gradient from the partials of every chunk (``Xᵀ(w·r)/W`` into
    ``grad``), summed in chunk order as the in-memory pass does."""
    return _reduce_chunks(parts, total_weight, grad)


# --------------------------------------------------------------------------- prediction
def _predict(X, coef, intercept, out):
    """``out[i] = X[i] · coef + intercept``, summed in float64, stored in ``out``'s dtype;
    serial, or the rows spread over the threads (rows are independent)."""
    for i in prange(X.shape[0]):
        out[i] = _row_prediction(X, _u(i), coef, intercept)


predict_serial, predict_parallel = serial_and_parallel(_predict)
