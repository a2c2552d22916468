"""The fused pass's step over four rows in explicit 8-lane vectors: their predictions, and
their terms of the gradient, for one output or four at a time.

Written as numba loops (:func:`fastlr.kernels.passes._wide_rows`), LLVM vectorizes a row's
loop 32 elements at a time (8 lanes, 4 interleaved) and leaves the rest to narrower and scalar
loops: at 50 features, 18 of every row's elements. Here each row of the four is read 8 elements
at a time, converted to float64 and multiplied into two accumulators per row (16 elements a
step, 8 independent chains of fused multiply-adds), then one more block of 8, then the row's
last elements by masked loads, which touch nothing past the row. The gradient terms go the same
way, 8 elements a step, with masked loads and stores for the last ones.

Measured on the AMD EPYC (Zen 5), against the loop. One thread, rows in L2, ns per element:
float32 at 8-20 features 1.06x-1.18x faster, 32: 0.125 -> 0.106, 48: 0.135 -> 0.103, 50:
0.148 -> 0.108, 64: 0.096 -> 0.087, 100: 1.14x, 200: 1.06x, 500 alike. The whole pass, 2
threads, each in blocks of its own in one process (12 rounds): 2M x 50 0.91x the loop's time,
rows in L3 (20-40 MB) 0.93x-0.99x, 200k x 500, 500k x 100 and 1M x 16 alike (1.01x-1.02x):
where the rows stream from memory at other widths, the read, not the arithmetic, sets the
time. Four outputs at a time (16 accumulators, one chain each; each element converted once
for the four outputs' products): 2M x 50 0.91x the loop's time, 200k x 500 alike, rows in
cache 0.95x-1.0x. Float64 rows gained nothing there (0.87x-1.12x in L2, mostly slower) and
keep the loop on AMD's cores; on the Intel Xeon they take these steps too, measured faster from
8 to 100 features (``VECTORS_FLOAT64`` in :mod:`fastlr.kernels.passes`, which chooses by type
and CPU when a kernel compiles, so each dtype compiles one way). On the AMD EPYC, summing
the four rows' terms into the gradient spelled as one chain of fused multiply-adds instead of
two pairs was slower in cache (1.05x-1.18x). The steps compile with the passes' fast-math
flags, reassociation included (see :mod:`fastlr.kernels.vectors`), and on the Intel Xeon LLVM
turns the two pairs into that chain anyway (``inspect_asm``: ``vfmadd213pd`` with the old sum,
then three ``vfmadd231pd``); the pairs stay spelled for the CPU they were measured on.

Each prediction is a tree (two chains per row, their lanes summed pairwise), not the loop's one
chain: the two accumulators a row are kept through the loop (``inspect_asm``), and only their
final lane sums are LLVM's to regroup. Every kernel built from these steps on one machine gives
the same bits (serial, parallel, read-only: the tests compare them).

The predictions' loops prefetch as they read: each block of a row's columns asks for the same
columns ``ahead`` rows below (the caller picks ``ahead``; 0 for none). On the Intel Xeon a step's
rows prefetched all at once before the step left the wide rows' pass at the read time plus the
arithmetic's (200k x 500 float32: 20.6 ms, against a 2-thread read of 11.5 ms and 7.8 ms of
arithmetic on rows in L2); asked for as the loop goes, 16.7-17.6 ms (see
``INTERLEAVED_PREFETCH_ROW_BYTES`` in :mod:`fastlr.kernels.passes` for the rows that do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from fastlr.kernels import vectors
from fastlr.kernels.jit import jit_serial
from fastlr.kernels.vectors import DOUBLES, LANES

#: Rows of a step.
ROWS = 4

_I64 = ir.IntType(64)


class _Rows:
    """Four consecutive rows of a 2-D array in an intrinsic's code: their vectors of elements."""

    def __init__(self, context: Any, builder: ir.IRBuilder, x_type: Any, x_value: Any, row: Any):
        x = context.make_array(x_type)(context, builder, x_value)
        self.builder = builder
        self.data = x.data
        self.width = cgutils.unpack_tuple(builder, x.shape, 2)[1]
        row_bytes = cgutils.unpack_tuple(builder, x.strides, 2)[0]
        self.row_bytes = row_bytes
        element = context.get_data_type(x_type.dtype)
        self.vector_type = ir.VectorType(element, LANES)
        self.itemsize = ir.Constant(_I64, context.get_abi_sizeof(element))
        self.offsets = [
            builder.mul(builder.add(row, ir.Constant(_I64, r)), row_bytes) for r in range(ROWS)
        ]

    def prefetch(self, ahead: Any, column: Any) -> None:
        """Prefetch the cache lines of the four rows ``ahead`` rows below these, at
        ``column``; nothing if ``ahead`` is 0 (a hint: past the array's end it does nothing)."""
        b = self.builder
        with b.if_then(b.icmp_unsigned("!=", ahead, ir.Constant(_I64, 0))):
            skip = b.mul(ahead, self.row_bytes)
            column_bytes = b.mul(column, self.itemsize)
            for offset in self.offsets:
                vectors.prefetch(b, self.data, b.add(b.add(offset, skip), column_bytes))

    def doubles(self, r: int, column: Any, mask: Any = None) -> Any:
        """Row r's elements ``column .. column + 7`` (those of ``mask``; others 0) as float64."""
        b = self.builder
        offset = b.add(self.offsets[r], b.mul(column, self.itemsize))
        pointer = vectors.address(b, self.data, offset, self.vector_type)
        return vectors.as_doubles(b, vectors.load(b, pointer, self.vector_type, mask))


def _is_row_block(X: Any, i: Any) -> bool:
    return (
        isinstance(X, types.Array)
        and X.ndim == 2
        and X.dtype in (types.float32, types.float64)
        and isinstance(i, types.Integer)
    )


@intrinsic
def _four_dots(typingctx, X, i, coef, start, ahead):
    """``(start + X[i + r] · coef for r in 0..3)`` in float64, prefetching rows
    ``i + ahead + r`` line by line as it reads along the rows (see the module's notes). No
    bounds checks: the rows must be contiguous, ``coef`` contiguous with at least
    ``X.shape[1]`` elements.

    ``start`` (the intercept) is each sum's first term, as in a loop that starts from it: added
    to the finished dot product instead, it rounds the same way on every row whose product
    lies in the same binade (the products lie on that binade's grid), and the mean residual
    takes a bias. Measured: 2M x 50 float64 near the least-squares fit, the intercept's
    gradient -3.7e-15 off (Σ r/n, against long double) with the intercept added last,
    1.3e-17 with the loop; refinement then took the compensated pass (the default fit 2.4x
    slower)."""
    if not (
        _is_row_block(X, i)
        and isinstance(coef, types.Array)
        and coef.ndim == 1
        and coef.dtype in (types.float32, types.float64)
        and isinstance(start, types.Float)
        and isinstance(ahead, types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        row = context.cast(builder, args[1], signature.args[1], types.int64)
        rows = _Rows(context, builder, signature.args[0], args[0], row)
        coefficients = vectors.doubles_at(context, builder, signature.args[2], args[2])
        first = vectors.in_lane_zero(
            builder, context.cast(builder, args[3], signature.args[3], types.float64)
        )
        ahead = context.cast(builder, args[4], signature.args[4], types.int64)
        line_per_block = context.get_abi_sizeof(rows.vector_type.element) == 8
        zero = ir.Constant(DOUBLES, None)
        sums = [[cgutils.alloca_once_value(builder, v) for v in (first, zero)] for _ in range(ROWS)]

        def add_block(j: Any, chain: int, mask: Any = None) -> None:
            if mask is None and (chain == 0 or line_per_block):  # each 64 bytes of a row once
                rows.prefetch(ahead, j)
            c = coefficients(j, mask)
            for r in range(ROWS):
                total = sums[r][chain]
                x = rows.doubles(r, j, mask)
                builder.store(vectors.fma(builder, x, c, builder.load(total)), total)

        step = ir.Constant(_I64, 2 * LANES)
        pairs = builder.udiv(rows.width, step)
        with cgutils.for_range(builder, pairs) as loop:
            j = builder.mul(loop.index, step)
            add_block(j, 0)
            add_block(builder.add(j, ir.Constant(_I64, LANES)), 1)
        j = builder.mul(pairs, step)
        whole = builder.icmp_unsigned(">=", builder.sub(rows.width, j), ir.Constant(_I64, LANES))
        with builder.if_then(whole):
            add_block(j, 0)
        j = builder.select(whole, builder.add(j, ir.Constant(_I64, LANES)), j)
        left = builder.sub(rows.width, j)
        with builder.if_then(builder.icmp_unsigned(">", left, ir.Constant(_I64, 0))):
            add_block(j, 1, vectors.first_lanes(builder, left))
        dots = [
            vectors.horizontal_sum(
                builder, builder.fadd(builder.load(sums[r][0]), builder.load(sums[r][1]))
            )
            for r in range(ROWS)
        ]
        return context.make_tuple(builder, signature.return_type, dots)

    return types.UniTuple(types.float64, ROWS)(X, i, coef, start, ahead), codegen


#: Called by compiled kernels as ``four_dots_unchecked(X, i, coef, start, ahead)`` (typed for
#: Python's checkers).
four_dots_unchecked = cast("Callable[..., tuple[float, float, float, float]]", _four_dots)


@intrinsic
def _four_updates(typingctx, X, i, w0, w1, w2, w3, out):
    """``out[j] += (w0·X[i, j] + w1·X[i+1, j]) + (w2·X[i+2, j] + w3·X[i+3, j])`` for every
    column j of ``X``, each pair's sum one fused multiply-add, as spelled (LLVM may regroup the
    four terms: see the module's notes). No bounds checks: the rows must be contiguous, ``out``
    contiguous float64 with at least ``X.shape[1]`` elements."""
    if not (
        _is_row_block(X, i)
        and all(isinstance(w, types.Float) for w in (w0, w1, w2, w3))
        and isinstance(out, types.Array)
        and out.ndim == 1
        and out.dtype == types.float64
    ):
        return None

    def codegen(context, builder, signature, args):
        row = context.cast(builder, args[1], signature.args[1], types.int64)
        rows = _Rows(context, builder, signature.args[0], args[0], row)
        weights = [
            vectors.splat(
                builder,
                context.cast(builder, args[2 + r], signature.args[2 + r], types.float64),
                DOUBLES,
            )
            for r in range(ROWS)
        ]
        out_data = context.make_array(signature.args[6])(context, builder, args[6]).data

        def update_block(j: Any, mask: Any = None) -> None:
            x = [rows.doubles(r, j, mask) for r in range(ROWS)]
            first = vectors.fma(builder, weights[1], x[1], builder.fmul(weights[0], x[0]))
            second = vectors.fma(builder, weights[3], x[3], builder.fmul(weights[2], x[2]))
            pointer = vectors.address(
                builder, out_data, builder.mul(j, ir.Constant(_I64, 8)), DOUBLES
            )
            old = vectors.load(builder, pointer, DOUBLES, mask)
            vectors.store(builder, builder.fadd(old, builder.fadd(first, second)), pointer, mask)

        step = ir.Constant(_I64, LANES)
        blocks = builder.udiv(rows.width, step)
        with cgutils.for_range(builder, blocks) as loop:
            update_block(builder.mul(loop.index, step))
        j = builder.mul(blocks, step)
        left = builder.sub(rows.width, j)
        with builder.if_then(builder.icmp_unsigned(">", left, ir.Constant(_I64, 0))):
            update_block(j, vectors.first_lanes(builder, left))
        return context.get_dummy_value()

    return types.void(X, i, w0, w1, w2, w3, out), codegen


#: Called by compiled kernels as ``four_updates_unchecked(X, i, w0, w1, w2, w3, out)``.
four_updates_unchecked = cast("Callable[..., None]", _four_updates)


@jit_serial
def takes_vectors(X, coef, out, stop):
    """Whether the steps here may run over the rows below ``stop`` of ``X``: its rows are
    contiguous, as are ``coef``'s and ``out``'s (1-D for one output; (k, d) and (k, d + 2) for
    several), which hold at least a row's width of elements; ``out`` has a row for each of
    ``coef``'s, and ``stop`` lies within the rows. The steps themselves check nothing.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((10, 12), np.float32)
    >>> takes_vectors(X, np.ones(12), np.zeros(14), 10)
    True
    >>> takes_vectors(X, np.ones(11), np.zeros(14), 10)  # one coefficient short
    False
    """
    d = X.shape[1]
    return (
        X.strides[1] == X.itemsize
        and coef.strides[-1] == coef.itemsize
        and out.strides[-1] == out.itemsize
        and coef.shape[-1] >= d
        and out.shape[-1] >= d
        and (coef.ndim == 1 or out.shape[0] >= coef.shape[0])
        and 0 <= stop <= X.shape[0]
    )


# ------------------------------------------------------------------- four rows, four outputs
def _coefficient_rows(
    context: Any, builder: ir.IRBuilder, coef_type: Any, coef: Any, first: Any
) -> list[Callable[..., Any]]:
    """Functions giving the float64 vector of ``coef[first + q, j .. j + 7]``, q = 0..3."""
    array = context.make_array(coef_type)(context, builder, coef)
    row_bytes = cgutils.unpack_tuple(builder, array.strides, 2)[0]
    element = context.get_data_type(coef_type.dtype)
    vector_type = ir.VectorType(element, LANES)
    itemsize = ir.Constant(_I64, context.get_abi_sizeof(element))

    def row(q: int) -> Any:
        offset = builder.mul(builder.add(first, ir.Constant(_I64, q)), row_bytes)

        def at(j: Any, mask: Any = None) -> Any:
            byte = builder.add(offset, builder.mul(j, itemsize))
            pointer = vectors.address(builder, array.data, byte, vector_type)
            return vectors.as_doubles(builder, vectors.load(builder, pointer, vector_type, mask))

        return at

    return [row(q) for q in range(ROWS)]


def _blocks(builder: ir.IRBuilder, width: Any, block: Callable[[Any, Any], None]) -> None:
    """``block(j, None)`` for each whole block of LANES columns of a row, then
    ``block(j, mask)`` for its last ones (if any)."""
    step = ir.Constant(_I64, LANES)
    count = builder.udiv(width, step)
    with cgutils.for_range(builder, count) as loop:
        block(builder.mul(loop.index, step), None)
    j = builder.mul(count, step)
    left = builder.sub(width, j)
    with builder.if_then(builder.icmp_unsigned(">", left, ir.Constant(_I64, 0))):
        block(j, vectors.first_lanes(builder, left))


@intrinsic
def _sixteen_predictions(typingctx, X, i, coef, o, intercepts, ahead):
    """``X[i + r] · coef[o + q] + intercepts[q]`` for the rows r and the outputs q in 0..3, in
    the order q, then r, prefetching rows ``i + ahead + r`` as it reads along the rows; each
    intercept is its sums' first term (see :func:`_four_dots`). No bounds checks: the rows and
    ``coef``'s rows must be contiguous, ``coef`` hold rows o..o+3 of at least ``X.shape[1]``
    elements."""
    if not (
        _is_row_block(X, i)
        and isinstance(coef, types.Array)
        and coef.ndim == 2
        and coef.dtype in (types.float32, types.float64)
        and isinstance(o, types.Integer)
        and isinstance(intercepts, types.UniTuple)
        and intercepts.count == ROWS
        and isinstance(intercepts.dtype, types.Float)
        and isinstance(ahead, types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        row = context.cast(builder, args[1], signature.args[1], types.int64)
        rows = _Rows(context, builder, signature.args[0], args[0], row)
        first = context.cast(builder, args[3], signature.args[3], types.int64)
        outputs = _coefficient_rows(context, builder, signature.args[2], args[2], first)
        ahead = context.cast(builder, args[5], signature.args[5], types.int64)
        values = cgutils.unpack_tuple(builder, args[4], ROWS)
        starts = [  # each output's intercept the first term of its sums (see _four_dots)
            vectors.in_lane_zero(
                builder, context.cast(builder, v, signature.args[4].dtype, types.float64)
            )
            for v in values
        ]
        sums = [
            [cgutils.alloca_once_value(builder, starts[q]) for _ in range(ROWS)]
            for q in range(len(outputs))
        ]

        def block(j: Any, mask: Any) -> None:
            if mask is None:
                rows.prefetch(ahead, j)
            x = [rows.doubles(r, j, mask) for r in range(ROWS)]
            for q, coefficients in enumerate(outputs):
                c = coefficients(j, mask)
                for r in range(ROWS):
                    total = sums[q][r]
                    builder.store(vectors.fma(builder, x[r], c, builder.load(total)), total)

        _blocks(builder, rows.width, block)
        predictions = [
            vectors.horizontal_sum(builder, builder.load(sums[q][r]))
            for q in range(ROWS)
            for r in range(ROWS)
        ]
        return context.make_tuple(builder, signature.return_type, predictions)

    count = ROWS * ROWS
    return types.UniTuple(types.float64, count)(X, i, coef, o, intercepts, ahead), codegen


#: ``sixteen_predictions_unchecked(X, i, coef, o, intercepts, ahead)`` in compiled kernels.
sixteen_predictions_unchecked = cast("Callable[..., tuple[float, ...]]", _sixteen_predictions)


@intrinsic
def _sixteen_updates(typingctx, X, i, a, out, o):
    """``out[o + q, j] += (a[4q]·X[i, j] + a[4q + 1]·X[i+1, j]) + (a[4q + 2]·X[i+2, j] +
    a[4q + 3]·X[i+3, j])`` for the outputs q in 0..3 and every column j of ``X``. No bounds
    checks: the rows and ``out``'s rows (float64) must be contiguous, ``out`` hold rows o..o+3
    of at least ``X.shape[1]`` elements."""
    if not (
        _is_row_block(X, i)
        and isinstance(a, types.UniTuple)
        and a.count == ROWS * ROWS
        and isinstance(a.dtype, types.Float)
        and isinstance(out, types.Array)
        and out.ndim == 2
        and out.dtype == types.float64
        and isinstance(o, types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        row = context.cast(builder, args[1], signature.args[1], types.int64)
        rows = _Rows(context, builder, signature.args[0], args[0], row)
        values = cgutils.unpack_tuple(builder, args[2], ROWS * ROWS)
        weights = [
            vectors.splat(
                builder, context.cast(builder, v, signature.args[2].dtype, types.float64), DOUBLES
            )
            for v in values
        ]
        target = context.make_array(signature.args[3])(context, builder, args[3])
        row_bytes = cgutils.unpack_tuple(builder, target.strides, 2)[0]
        first = context.cast(builder, args[4], signature.args[4], types.int64)
        offsets = [
            builder.mul(builder.add(first, ir.Constant(_I64, q)), row_bytes) for q in range(ROWS)
        ]

        def block(j: Any, mask: Any) -> None:
            x = [rows.doubles(r, j, mask) for r in range(ROWS)]
            column = builder.mul(j, ir.Constant(_I64, 8))
            for q in range(ROWS):
                w = weights[ROWS * q : ROWS * (q + 1)]
                pair = vectors.fma(builder, w[1], x[1], builder.fmul(w[0], x[0]))
                other = vectors.fma(builder, w[3], x[3], builder.fmul(w[2], x[2]))
                byte = builder.add(offsets[q], column)
                pointer = vectors.address(builder, target.data, byte, DOUBLES)
                old = vectors.load(builder, pointer, DOUBLES, mask)
                new = builder.fadd(old, builder.fadd(pair, other))
                vectors.store(builder, new, pointer, mask)

        _blocks(builder, rows.width, block)
        return context.get_dummy_value()

    return types.void(X, i, a, out, o), codegen


#: ``sixteen_updates_unchecked(X, i, a, out, o)`` in compiled kernels.
sixteen_updates_unchecked = cast("Callable[..., None]", _sixteen_updates)
