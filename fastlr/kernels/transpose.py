"""An 8 x 8 block of rows transposed in registers: the copy at the heart of the Gram pass.

The Gram pass (:mod:`fastlr.kernels.cross_products`) multiplies the columns of a few hundred rows
at a time, so it first copies those rows transposed. Written as loops, that copy moves one element
per load and per store, along strided addresses, and was the larger half of the pass (AMD EPYC Zen
5, one thread, 1M x 50 float64: 44 ms for the copy against 11 ms for a read of the same bytes,
32 ms for the products); no loop order made LLVM do better. Here eight rows are loaded eight
elements at a time, transposed by three rounds of shuffles, and stored eight elements at a time:
the copy took 17 ms, the whole pass 77-79 -> 56-57 ms. Each element is the same float64
subtraction as the loop's, so the copy's bits are the loop's. The vectors are LLVM's generic
ones: where a CPU's registers are narrower than 8 doubles, LLVM splits them.

numba has no vector types, so the block is one LLVM intrinsic; :func:`transposed_rows`, what
kernels call, copies a span of rows block by block and checks its bounds once (the intrinsic
itself reads and writes raw memory).
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from fastlr.kernels.jit import _u, jit_serial
from fastlr.kernels.vectors import INTERLEAVE_ROUNDS, address
from fastlr.kernels.vectors import LANES as _VECTOR_LANES

#: Rows and columns of a transposed block: one vector (an AVX-512 register of float64) a row.
LANES = _VECTOR_LANES


def _transposed(builder: ir.IRBuilder, rows: list[Any]) -> list[Any]:
    """The columns of eight <8 x double> rows, by three rounds of two-vector shuffles
    (INTERLEAVE_ROUNDS): pairs of rows interleave their even and odd columns, then pairs of those
    their column pairs, then their column quadruples."""
    mask_type = ir.VectorType(ir.IntType(32), LANES)
    vectors = rows
    for span, (low, high) in zip((1, 2, 4), INTERLEAVE_ROUNDS, strict=True):
        # in round r, vector q is paired with vector q + span (q's bit r clear): q gets the
        # "low" shuffle of the pair, q + span the "high" one
        out = list(vectors)
        for q in range(LANES):
            if q & span:
                continue
            a, b = vectors[q], vectors[q + span]
            out[q] = builder.shuffle_vector(a, b, ir.Constant(mask_type, low))
            out[q + span] = builder.shuffle_vector(a, b, ir.Constant(mask_type, high))
        vectors = out
    return vectors


@intrinsic
def _transposed_block_unchecked(typingctx, X, i, j, shift, Z, t):
    """``Z[j + c, t + r] = float64(X[i + r, j + c]) - shift[j + c]`` for r, c in 0..7. No bounds
    checks: rows of ``X`` and of ``Z`` must hold the 8 elements contiguously."""
    if not (
        isinstance(X, types.Array)
        and X.ndim == 2
        and X.dtype in (types.float32, types.float64)
        and isinstance(shift, types.Array)
        and shift.ndim == 1
        and shift.dtype == types.float64
        and isinstance(Z, types.Array)
        and Z.ndim == 2
        and Z.dtype == types.float64
        and all(isinstance(index, types.Integer) for index in (i, j, t))
    ):
        return None

    def codegen(context, builder, signature, args):
        x_type, _, _, shift_type, z_type, _ = signature.args
        x = context.make_array(x_type)(context, builder, args[0])
        shift_array = context.make_array(shift_type)(context, builder, args[3])
        z = context.make_array(z_type)(context, builder, args[4])
        i64 = ir.IntType(64)
        # numba's own cast: sign- or zero-extends as each index's type says
        row, column, first = (
            context.cast(builder, args[n], signature.args[n], types.int64) for n in (1, 2, 5)
        )
        double_vector = ir.VectorType(ir.DoubleType(), LANES)
        element = context.get_data_type(x_type.dtype)
        element_vector = ir.VectorType(element, LANES)
        itemsize = ir.Constant(i64, context.get_abi_sizeof(element))
        x_row_bytes = cgutils.unpack_tuple(builder, x.strides, 2)[0]
        z_row_bytes = cgutils.unpack_tuple(builder, z.strides, 2)[0]

        column_bytes = builder.mul(column, ir.Constant(i64, 8))
        shift_vector = builder.load(
            address(builder, shift_array.data, column_bytes, double_vector), align=8
        )
        rows = []
        for r in range(LANES):
            offset = builder.add(
                builder.mul(builder.add(row, ir.Constant(i64, r)), x_row_bytes),
                builder.mul(column, itemsize),
            )
            value = builder.load(address(builder, x.data, offset, element_vector), align=4)
            if element != ir.DoubleType():
                value = builder.fpext(value, double_vector)
            rows.append(builder.fsub(value, shift_vector))
        first_byte = builder.mul(first, ir.Constant(i64, 8))
        for c, vector in enumerate(_transposed(builder, rows)):
            offset = builder.add(
                builder.mul(builder.add(column, ir.Constant(i64, c)), z_row_bytes), first_byte
            )
            builder.store(vector, address(builder, z.data, offset, double_vector), align=8)
        return context.get_dummy_value()

    return types.void(X, i, j, shift, Z, t), codegen


@jit_serial
def transposed_rows(X, start, rows, first_column, columns, shift, Z):
    """``Z[j, r] = float64(X[start + r, j]) - shift[j]`` for the rows r < ``rows`` and the
    columns ``first_column <= j < first_column + columns`` that whole 8 x 8 blocks cover;
    returns how many rows that is (``rows`` rounded down to a multiple of LANES; the columns
    likewise).

    Raises IndexError where the span does not lie inside the arrays, or where a row of ``X`` or
    ``Z`` (or ``shift``) is not contiguous, whatever ``NUMBA_BOUNDSCHECK`` says: the blocks are
    raw vector loads and stores. Checked once per call, not per block (per block, the checks
    cost as much as the copy).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(90.0).reshape(10, 9)
    >>> Z = np.zeros((9, 10))
    >>> transposed_rows(X, 1, 9, 1, 8, np.ones(9), Z)
    8
    >>> bool((Z[1:9, :8] == X[1:9, 1:9].T - 1.0).all())
    True
    """
    lanes = _u(LANES)
    whole_rows = _u(rows) // lanes * lanes
    first = _u(start)
    left = _u(first_column)
    end = left + _u(columns) // lanes * lanes
    if (
        start < 0
        or rows < 0
        or first_column < 0
        or columns < 0
        or first + whole_rows > _u(X.shape[0])
        or end > _u(X.shape[1])
        or end > _u(shift.shape[0])
        or end > _u(Z.shape[0])
        or whole_rows > _u(Z.shape[1])
    ):
        raise IndexError("transposed_rows: the rows or columns lie outside the arrays")
    if (
        X.strides[1] != X.itemsize
        or Z.strides[1] != Z.itemsize
        or shift.strides[0] != shift.itemsize
    ):
        raise IndexError("transposed_rows: the rows of X or Z are not contiguous")
    for t in range(_u(0), whole_rows, lanes):
        for j in range(left, end, lanes):
            _transposed_block_unchecked(X, first + t, j, shift, Z, t)
    return whole_rows
