"""The Gram pass's products in explicit 8-lane vectors: a 4 x 4 tile of dot products at a time.

The pass (:mod:`fastlr.kernels.cross_products`) multiplies the columns of a few hundred
transposed rows: ``G[a + i, c + j] += Σ_t V[a + i, t] · Z[c + j, t]``, sixteen dot products of
long rows at a time, each pair of loads feeding four. Written as numba loops, LLVM vectorized
them on ``ymm`` registers for the Intel Xeon (its default preferred width there is 256 bits).
Here the sixteen sums are ``zmm`` vectors held in registers across the rows (lane ``l`` of a
sum holds the rows ``t`` with ``t mod 8 = l``), each step one fused multiply-add per sum, the
last rows read through a mask; the lanes of eight sums at a time are then added as a tree of
shuffles (:func:`_lane_sums`) into ``G``. The serial and the parallel pass (and a pass in
pieces) run the same compiled tiles over the same rows, so they give the same bits (the order
spelled here is LLVM's to regroup within a tile: see :mod:`fastlr.kernels.vectors`).

Measured on the Intel Xeon, one thread, the products of 1M rows of 50 float64 (52 columns with y
and the ones), rows in cache: LLVM's loop 47.6 ms, these tiles 30.8 ms, both on copies that
start on a cache line (``layout.aligned_zeros``; on numba's own arrays, 32 bytes past
one, the tiles took 45.6-49.6 ms). The inner loop is 8 loads and 16 ``vfmadd231pd`` on ``zmm``
registers (``inspect_asm``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from fastlr.kernels import vectors
from fastlr.kernels.vectors import DOUBLES, INTERLEAVE_ROUNDS, LANES

#: A tile's rows and columns.
TILE = 4

_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_QUARTER = ir.VectorType(ir.DoubleType(), TILE)
_QUARTER_MASK = ir.VectorType(_I32, TILE)


def _lane_sums(builder: ir.IRBuilder, sums: list[Any]) -> Any:
    """The vector whose lane ``k`` is the sum of the lanes of ``sums[k]`` (eight vectors),
    added as ``((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))``: three rounds of the
    transposition's shuffles of two vectors (INTERLEAVE_ROUNDS), each followed by an add that
    halves the lanes of every sum."""
    mask_type = ir.VectorType(_I32, LANES)
    vectors_left = sums
    for low, high in INTERLEAVE_ROUNDS:
        vectors_left = [
            builder.fadd(
                builder.shuffle_vector(a, b, ir.Constant(mask_type, low)),
                builder.shuffle_vector(a, b, ir.Constant(mask_type, high)),
            )
            for a, b in zip(vectors_left[::2], vectors_left[1::2], strict=True)
        ]
    return vectors_left[0]


def _is_matrix(array: Any) -> bool:
    return isinstance(array, types.Array) and array.ndim == 2 and array.dtype == types.float64


@intrinsic
def _add_tile_unchecked(typingctx, V, Z, a, c, rows, G):
    """``G[a + i, c + j] += Σ_{t < rows} V[a + i, t] · Z[c + j, t]`` for i, j in 0..3.

    No bounds checks: ``V`` and ``Z`` need rows ``a .. a + 3`` and ``c .. c + 3`` holding
    ``rows`` contiguous elements, ``G`` the 16 entries."""
    if not (
        _is_matrix(V)
        and _is_matrix(Z)
        and _is_matrix(G)
        and all(isinstance(index, types.Integer) for index in (a, c, rows))
    ):
        return None

    def codegen(context, builder, signature, args):
        v_type, z_type, _, _, _, g_type = signature.args
        v, z, g = (
            context.make_array(t)(context, builder, value)
            for t, value in ((v_type, args[0]), (z_type, args[1]), (g_type, args[5]))
        )
        first_v, first_z, count = (
            context.cast(builder, args[n], signature.args[n], types.int64) for n in (2, 3, 4)
        )
        v_stride = cgutils.unpack_tuple(builder, v.strides, 2)[0]
        z_stride = cgutils.unpack_tuple(builder, z.strides, 2)[0]

        def origins(data: Any, first: Any, stride: Any) -> list[Any]:
            return [
                (data, builder.mul(builder.add(first, ir.Constant(_I64, i)), stride))
                for i in range(TILE)
            ]

        v_rows = origins(v.data, first_v, v_stride)
        z_rows = origins(z.data, first_z, z_stride)
        zero = ir.Constant(DOUBLES, None)
        sums = [
            [cgutils.alloca_once_value(builder, zero) for _ in range(TILE)] for _ in range(TILE)
        ]

        def step(t: Any, mask: Any = None) -> None:
            byte = builder.mul(t, ir.Constant(_I64, 8))

            def read(data: Any, origin: Any) -> Any:
                pointer = vectors.address(builder, data, builder.add(origin, byte), DOUBLES)
                return vectors.load(builder, pointer, DOUBLES, mask)

            left = [read(data, origin) for data, origin in v_rows]
            right = [read(data, origin) for data, origin in z_rows]
            for i in range(TILE):
                for j in range(TILE):
                    total = sums[i][j]
                    product = vectors.fma(builder, left[i], right[j], builder.load(total))
                    builder.store(product, total)

        lanes = ir.Constant(_I64, LANES)
        whole = builder.udiv(count, lanes)
        with cgutils.for_range(builder, whole) as loop:
            step(builder.mul(loop.index, lanes))
        done = builder.mul(whole, lanes)
        left_over = builder.sub(count, done)
        with builder.if_then(builder.icmp_signed(">", left_over, ir.Constant(_I64, 0))):
            step(done, vectors.first_lanes(builder, left_over))
        g_stride = cgutils.unpack_tuple(builder, g.strides, 2)[0]
        column = builder.mul(first_z, ir.Constant(_I64, 8))
        for i in range(0, TILE, 2):  # rows i and i + 1 of the tile: one vector of 8 sums
            totals = _lane_sums(builder, [builder.load(s) for s in sums[i] + sums[i + 1]])
            for half in range(2):
                row = builder.mul(builder.add(first_v, ir.Constant(_I64, i + half)), g_stride)
                pointer = vectors.address(builder, g.data, builder.add(row, column), _QUARTER)
                part = builder.shuffle_vector(
                    totals, totals, ir.Constant(_QUARTER_MASK, [4 * half + q for q in range(4)])
                )
                builder.store(builder.fadd(builder.load(pointer, align=8), part), pointer, align=8)
        return context.get_dummy_value()

    return types.void(V, Z, a, c, rows, G), codegen


#: ``add_tile_unchecked(V, Z, a, c, rows, G)`` in compiled kernels (typed for Python's checkers).
add_tile_unchecked = cast("Callable[..., None]", _add_tile_unchecked)
