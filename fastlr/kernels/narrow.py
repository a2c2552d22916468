"""The fused pass over narrow rows (float32 or float64, 1 to NARROW_MAX features).

The row loop of :func:`fastlr.kernels.passes._wide_rows` runs along a row: at 5 features it
cannot fill a vector, and its per-row costs (the partial sums, the loop's bounds) weigh on every
5 elements. Here the width is compiled in, one kernel per width (``jit.for_widths``), and the
work goes across rows instead: each vector holds one feature of consecutive rows.

The sums across rows go to LANES explicit accumulators per column (row t of a chunk to lane
t mod LANES), added up in lane order at the end, and the kernel is compiled without
reassociation (``jit_in_order``): with it, LLVM vectorized these sums in an order of its own
choosing, and the same source compiled for a read-only array gave other bits. This way the bits
are those of the source, wherever it is compiled (serial, parallel, a user's ``@njit`` code).
Rows that follow each other go sixteen at a time through explicit vectors
(:mod:`fastlr.kernels.narrow_vectors`: LLVM left the loop scalar for the Intel Xeon), with the
same bits; the last rows of a span, and rows that do not follow each other, take the loop below.

Measured on the Intel Xeon (2 threads, 100M elements, against the 2-thread read of the same
bytes): float32 widths 2, 5, 7 at 0.97-1.12x, 1.07-1.10x, 1.14-1.24x, where the loop took 4.6x
at width 5. Width 8 (NARROW_MAX 7 -> 8, 2026-12-07; ``benchmarks/roofline.py``'s batch cell for
12M x 8, two runs of the old and new code in turn, x the faster of the read and the gemv):
float32 2.02x -> 1.24x-1.25x (28.8-30.3 -> 18.7-19.3 ms), float64 1.39x-1.42x -> 1.21x-1.29x
(38.3-40.0 -> 34.4-34.7 ms), where the 4-row step's vectors read one block of 8 a row and
summed each row's block apart (width 8 not measured on the AMD EPYC). On the AMD EPYC, before
the explicit vectors, float32 widths 1, 3, 5, 7 ran at 0.80x, 1.16x, 0.94-1.10x, 1.17x the read
(the 4-row loop 2.7x-4.5x). 16 lanes measured faster than 8 or 32 on float32 at width 5 (AMD
EPYC: 0.94x, 1.90x, 1.32x).

Float64 rows take it too. One run of each, 2 threads, 100M elements, 2026-12-06, x the read:
widths 1 to 7 at 0.97x, 1.06x, 1.06x, 1.15x, 1.10x, 1.10x and 1.12-1.15x, where the 4-row loop
took 4.11x, 2.91x, 2.06x, 1.43x, 1.43x, 1.55x and 1.15-1.28x (with the float32 rows' prefetch
distance in rows, 128, the vectors had taken 0.98x-1.44x: the distance is now the same in bytes,
:data:`fastlr.kernels.narrow_vectors.PREFETCH_FEATURE_BYTES`). They had kept the loop while the
certificate of a fit depended on the order of the data gradient's sums (the vectors' order
moved NIST's Wampler5 from 6.81 correct digits to 6.12); refinement now falls back on a
compensated gradient where that rounding shows (:mod:`fastlr.kernels.compensated`), and
Wampler5 fits to 15 digits either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import types
from numba.extending import overload

from fastlr.kernels.jit import _u, for_widths, jit_inline, jit_serial
from fastlr.kernels.narrow_vectors import ROWS, sixteen_row_spans_unchecked
from fastlr.kernels.options import _weighted

#: The widest rows the narrow pass takes: float32 rows of up to NARROW_MAX features, float64
#: rows of up to NARROW_MAX_FLOAT64. Measured on the Intel Xeon (2026-12-07, the batch cell of
#: ``benchmarks/roofline.py``, the narrow pass against the 4-row step's vectors, runs in turn, x
#: the limit): float32 at 9 features 2.26x-2.32x -> 1.52x-1.53x (two runs), at 10 1.94x-2.23x
#: -> 1.56x-1.74x (28.5-31.3 -> 24.0-24.4 ms, three runs), at 11 1.81x-1.87x -> 1.52x-2.00x
#: (one run of three slower), at 12 1.77x -> 1.81x; float64 at 9 1.37x -> 1.31x and 1.24x ->
#: 1.32x, at 10-12 slower (1.25x-1.31x -> 1.37x-1.47x): the widest rows of each dtype measured
#: faster in every run.
NARROW_MAX = 10
NARROW_MAX_FLOAT64 = 8
#: Accumulators per column: the sums across rows, row t of a span to lane t mod LANES.
LANES = ROWS
WIDTH = NARROW_MAX  # each compiled copy of _narrow_rows sees its own width here


def _narrow_rows(X, y, sample_weight, coef, intercept, start, stop, out):
    """:func:`fastlr.kernels.passes._fused_rows` for rows of exactly ``WIDTH`` features."""
    acc = np.zeros((WIDTH + 2, LANES))  # Σ w·r·x per column, then Σ w·r and Σ w·r², per lane
    i = _u(start)
    if _takes_vectors(X, y, sample_weight, WIDTH, stop):
        # whole spans in explicit vectors, with the bits of the loop below
        spans = sixteen_row_spans_unchecked
        i = _u(spans(X, i, stop, y, sample_weight, coef, intercept, acc, WIDTH))
    while i < _u(stop):
        count = min(_u(LANES), _u(stop) - i)
        for t in range(count):  # each lane's sums, one row after another
            row = i + t
            p = intercept  # the 4-row loop's order of operations (one chain of fused steps)
            for j in range(WIDTH):  # a constant: LLVM unrolls it
                p += np.float64(X[row, j]) * coef[j]
            r = p - y[row]
            wr = _weighted(sample_weight, row, r)
            acc[WIDTH, t] += wr
            acc[WIDTH + 1, t] += wr * r
            for j in range(WIDTH):
                acc[j, t] += wr * np.float64(X[row, j])
        i += count
    for j in range(WIDTH + 2):
        total = 0.0
        for t in range(LANES):
            total += acc[j, t]
        if j < WIDTH:
            out[j] += total
        else:
            out[j] = total


@jit_inline  # typed in each width's kernel, not compiled apart once per width (its literal)
def _takes_vectors(X, y, sample_weight, width, stop):
    """Whether :func:`sixteen_row_spans_unchecked` may read the rows below ``stop``: rows of
    ``width`` contiguous elements, one right after another, and ``y`` and the weights
    contiguous and long enough."""
    return (
        X.shape[1] == width
        and X.strides[1] == X.itemsize
        and X.strides[0] == X.itemsize * width
        and y.strides[0] == y.itemsize
        and (sample_weight is None or sample_weight.strides[0] == sample_weight.itemsize)
        and 0 <= stop <= X.shape[0]
        and stop <= y.shape[0]
        and (sample_weight is None or stop <= sample_weight.shape[0])
    )


(
    _rows_1,
    _rows_2,
    _rows_3,
    _rows_4,
    _rows_5,
    _rows_6,
    _rows_7,
    _rows_8,
    _rows_9,
    _rows_10,
) = for_widths(_narrow_rows, range(1, NARROW_MAX + 1))
_ROWS = (_rows_1, _rows_2, _rows_3, _rows_4, _rows_5, _rows_6, _rows_7, _rows_8, _rows_9, _rows_10)


def takes_narrow(dtype: np.dtype, width: int) -> bool:
    """Whether rows of ``width`` features of ``dtype`` take the narrow pass.

    >>> takes_narrow(np.dtype(np.float32), 10), takes_narrow(np.dtype(np.float64), 9)
    (True, False)
    """
    widest = {np.float32: NARROW_MAX, np.float64: NARROW_MAX_FLOAT64}.get(dtype.type, 0)
    return 1 <= width <= widest


def narrow_rows(width: int) -> Callable[..., Any]:
    """The narrow pass compiled for rows of ``width`` features (1 to NARROW_MAX)."""
    return _ROWS[width - 1]


@jit_serial
def _narrow_widths(X, y, sample_weight, coef, intercept, start, stop, out):
    """The narrow pass for rows it takes (:func:`takes_narrow`; returns True), or False."""
    d = X.shape[1]
    if X.itemsize == 8 and d > NARROW_MAX_FLOAT64:
        return False
    if d == 1:
        _rows_1(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 2:
        _rows_2(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 3:
        _rows_3(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 4:
        _rows_4(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 5:
        _rows_5(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 6:
        _rows_6(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 7:
        _rows_7(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 8:
        _rows_8(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 9:
        _rows_9(X, y, sample_weight, coef, intercept, start, stop, out)
    elif d == 10:
        _rows_10(X, y, sample_weight, coef, intercept, start, stop, out)
    else:
        return False
    return True


def narrow_pass(X, y, sample_weight, coef, intercept, start, stop, out):  # pragma: no cover
    """In compiled code: if ``X``'s rows are narrow (:func:`takes_narrow`), add the fused
    pass's sums over rows [start, stop) to ``out`` as :func:`fastlr.kernels.passes._fused_rows`
    does, with the kernel compiled for their width, and return True; else return False.

    The prediction is one chain of fused steps, as in the 4-row loop; only the order of the
    sums across rows differs. (An early version summed each prediction as a tree, which moved
    the data gradient of a 16-row sample-weight problem by an ulp, and a zero coefficient's
    certificate then read 9.9 digits, a warning; with one chain that problem certifies 13.)
    """
    raise TypeError("narrow_pass is called from compiled kernels only")


@overload(narrow_pass)
def _narrow_pass_by_type(X, y, sample_weight, coef, intercept, start, stop, out):
    """Chosen by type when the caller compiles: float32 and float64 rows, and nothing of the
    narrow pass for other types. (Each width kernel takes 0.3-0.7 s to compile, once in every
    kernel that links it: callers that know the width take
    :func:`fastlr.kernels.passes.row_passes`, compiled with one width only.)"""
    if X.dtype in (types.float32, types.float64):
        return lambda X, y, sample_weight, coef, intercept, start, stop, out: _narrow_widths(
            X, y, sample_weight, coef, intercept, start, stop, out
        )
    return lambda X, y, sample_weight, coef, intercept, start, stop, out: False
