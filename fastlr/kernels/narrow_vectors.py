"""The narrow pass's step over sixteen rows in explicit 8-lane vectors.

:mod:`fastlr.kernels.narrow` sums each feature across rows into 16 lanes (row t of a span to
lane t mod 16). Written as numba loops, LLVM left them scalar for the Intel Xeon (``inspect_asm``
of the width-5 kernel: ``vfmadd231sd`` and ``vaddsd`` only, the sums kept in memory), and for
``znver5``, ``znver4``, ``sapphirerapids`` and ``skylake-avx512`` alike (``NUMBA_CPU_NAME``): a
feature's reads across rows are strided. On the Intel Xeon the pass of 20M x 5 float32 then took
76.6 ms against a 2-thread read of 16.6 ms (the AMD EPYC's slower read had hidden it).

Here eight rows of ``w`` features, ``8w`` consecutive elements, are read as 64-byte vectors and
regrouped by shuffles of two vectors at a time into one vector per feature (lane t holding row
t), converted to float64 (LLVM lowers the float32 ones to ``vpermt2ps``: 16 shuffles per 16 rows
at width 5, where the regrouping written as one long vector took 50). Float64 rows go the same
way (the narrow pass gives them rows of up to 8 features: see :mod:`fastlr.kernels.narrow`).

Every lane then does what the loop spells for its row, in the same order and with the same
roundings (each ``a += b * c`` one fused multiply-add): the bits are the loop's
(``tests/test_narrow_vectors.py``). The sums stay in registers for the whole loop, and the rows
are prefetched (:data:`PREFETCH_FEATURE_BYTES`).

Measured on the Intel Xeon (2 threads, 100M float32 elements, against the 2-thread read of the
same bytes): widths 2, 5, 7 at 0.97-1.12x, 1.07-1.10x, 1.14-1.24x (the loop: 4.6x at width 5);
one thread, rows in L2, 0.39, 0.51, 0.61, 0.70, 0.92, 1.13 and 1.43 ns a row at widths 1 to 7.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from fastlr.kernels import vectors
from fastlr.kernels.vectors import DOUBLES, LANES

#: Rows of a step: two vectors of LANES rows, the lanes 0-7 and 8-15 of the accumulators.
ROWS = 2 * LANES

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


#: The step asks for the rows this many bytes of a feature ahead (every cache line of X, y and
#: the weights): 128 float32 rows, 64 float64 rows. Measured on the Intel Xeon (2 threads, 100M
#: float32 elements at widths 2, 5 and 7, against the 2-thread read of the same bytes): without
#: it 1.4x-1.6x the read (the 8-row step alone runs at 0.9 ns a row at width 5, rows in L2: the
#: arithmetic and the read do not overlap by themselves); 32, 64, 128, 256, 512 and 1024 rows
#: ahead: 1.00-1.30x, 1.00-1.24x, 0.97-1.19x, 1.00-1.39x, 1.05-1.36x, 1.00-1.48x. Float64, 100M
#: elements at widths 2, 5 and 6 (each distance compiled apart, runs in turn): 32 rows ahead
#: 1.01x / 1.14x / 1.19x, 64 rows 1.03-1.12x / 1.10-1.17x / 1.11-1.15x (three runs), 128 rows
#: 1.23-1.28x / 1.25-1.27x / 1.33-1.44x, 256 and 512 rows no better: the same distance in bytes.
PREFETCH_FEATURE_BYTES = 512


def _registers(builder: ir.IRBuilder, data: Any, origin: Any, w: int, element: Any) -> list[Any]:
    """The ``8w`` elements (``element``: float or double) at ``data`` + ``origin`` bytes as
    64-byte vectors; where ``w`` is odd, a float32 block's last vector holds eight floats, read
    alone (nothing past them), and eight undefined lanes."""
    per_register = 64 // _bytes(element)
    vector = ir.VectorType(element, per_register)
    registers = []
    for k in range(8 * w // per_register):
        byte = builder.add(origin, ir.Constant(_I64, 64 * k))
        pointer = vectors.address(builder, data, byte, vector)
        registers.append(vectors.load(builder, pointer, vector))
    if 8 * w % per_register:
        half = ir.VectorType(element, LANES)
        byte = builder.add(origin, ir.Constant(_I64, 64 * len(registers)))
        low = vectors.load(builder, vectors.address(builder, data, byte, half), half)
        widen = ir.Constant(ir.VectorType(_I32, per_register), [*range(LANES), *[None] * LANES])
        registers.append(builder.shuffle_vector(low, ir.Constant(half, None), widen))
    return registers


def _bytes(element: Any) -> int:
    return 4 if element == ir.FloatType() else 8


def _column(builder: ir.IRBuilder, registers: list[Any], j: int, w: int) -> Any:
    """Feature ``j`` of the eight rows held by ``registers`` (see :func:`_registers`), lane t
    row t: picked from two registers at a time, each shuffle keeping the lanes found so far."""
    indices = [j + w * t for t in range(LANES)]
    size = registers[0].type.count
    mask_type = ir.VectorType(_I32, size)
    pad = [None] * (size - LANES)
    sources = sorted({index // size for index in indices})
    current = registers[sources[0]]
    lanes: list[int | None] = [
        index % size if index // size == sources[0] else None for index in indices
    ]
    for k in sources[1:]:
        for t, index in enumerate(indices):
            if index // size == k:
                lanes[t] = size + index % size
        current = builder.shuffle_vector(current, registers[k], ir.Constant(mask_type, lanes + pad))
        lanes = [t if lane is not None else None for t, lane in enumerate(lanes)]
    if len(sources) == 1:
        current = builder.shuffle_vector(current, current, ir.Constant(mask_type, lanes + pad))
    low = ir.Constant(ir.VectorType(_I32, LANES), list(range(LANES)))
    return builder.shuffle_vector(current, current, low)


@intrinsic
def _sixteen_row_spans(typingctx, X, start, stop, y, sample_weight, coef, intercept, acc, width):
    """Add the terms of rows ``start ..`` of ``X`` (``width`` features, a compile-time constant),
    sixteen at a time while sixteen remain below ``stop``, to ``acc`` ((width + 2, 16) float64,
    C-contiguous): row ``start + 16s + t`` to lane t of ``acc[j]`` (Σ w·r·x_j), ``acc[width]``
    (Σ w·r) and ``acc[width + 1]`` (Σ w·r²), where ``r = (((intercept + x_0 c_0) + x_1 c_1) +
    ...) - y``, each ``+=`` one rounding (a product and a sum: one fused multiply-add). Return
    the first row left. The sums stay in registers across the loop.

    No bounds checks: ``X``'s rows must be contiguous and follow each other (row stride
    ``width`` elements), ``y`` and ``sample_weight`` (or None) contiguous, ``stop`` within all
    three."""
    if not (
        isinstance(X, types.Array)
        and X.ndim == 2
        and X.dtype in (types.float32, types.float64)
        and isinstance(start, types.Integer)
        and isinstance(stop, types.Integer)
        and isinstance(y, types.Array)
        and y.dtype in (types.float32, types.float64)
        and (
            isinstance(sample_weight, types.NoneType)
            or (
                isinstance(sample_weight, types.Array)
                and sample_weight.dtype in (types.float32, types.float64)
            )
        )
        and isinstance(coef, types.Array)
        and coef.ndim == 1
        and coef.dtype in (types.float32, types.float64)
        and isinstance(intercept, types.Float)
        and isinstance(acc, types.Array)
        and acc.dtype == types.float64
        and isinstance(width, types.IntegerLiteral)
    ):
        return None
    w = width.literal_value

    def codegen(context, builder, signature, args):
        x_type, _, _, y_type, weight_type, coef_type, _, acc_type, _ = signature.args
        first = context.cast(builder, args[1], signature.args[1], types.int64)
        last = context.cast(builder, args[2], signature.args[2], types.int64)
        x_data = context.make_array(x_type)(context, builder, args[0]).data
        element = context.get_data_type(x_type.dtype)
        row_bytes = ir.Constant(_I64, _bytes(element) * w)
        c = _coefficients(context, builder, coef_type, args[5], w)
        intercept = vectors.splat(
            builder, context.cast(builder, args[6], signature.args[6], types.float64), DOUBLES
        )
        targets = vectors.doubles_at(context, builder, y_type, args[3])
        weights = None
        if not isinstance(weight_type, types.NoneType):
            weights = vectors.doubles_at(context, builder, weight_type, args[4])
        acc_data = context.make_array(acc_type)(context, builder, args[7]).data
        streams = [
            (
                context.make_array(array_type)(context, builder, value).data,
                context.get_abi_sizeof(context.get_data_type(array_type.dtype)),
            )
            for array_type, value in ((y_type, args[3]), (weight_type, args[4]))
            if not isinstance(array_type, types.NoneType)
        ]
        sums = {}  # (j, half): the lanes of acc[j, 8 half .. 8 half + 7], in registers
        for j in range(w + 2):
            for half in range(2):
                byte = ir.Constant(_I64, (j * ROWS + half * LANES) * 8)
                pointer = vectors.address(builder, acc_data, byte, DOUBLES)
                sums[j, half] = (
                    pointer,
                    cgutils.alloca_once_value(builder, vectors.load(builder, pointer, DOUBLES)),
                )

        def add(j: int, half: int, value: Any, factor: Any = None) -> None:
            total = sums[j, half][1]
            old = builder.load(total)
            new = (
                builder.fadd(old, value)
                if factor is None
                else vectors.fma(builder, value, factor, old)
            )
            builder.store(new, total)

        step = ir.Constant(_I64, ROWS)
        rows = builder.sub(last, builder.select(builder.icmp_signed("<", last, first), last, first))
        count = builder.udiv(rows, step)
        with cgutils.for_range(builder, count) as loop:
            span = builder.add(first, builder.mul(loop.index, step))
            ahead = builder.add(span, ir.Constant(_I64, PREFETCH_FEATURE_BYTES // _bytes(element)))
            x_ahead = builder.mul(ahead, row_bytes)
            for k in range(0, ROWS * _bytes(element) * w, 64):
                vectors.prefetch(builder, x_data, builder.add(x_ahead, ir.Constant(_I64, k)))
            for data, itemsize in streams:
                offset = builder.mul(ahead, ir.Constant(_I64, itemsize))
                for k in range(0, ROWS * itemsize, 64):
                    vectors.prefetch(builder, data, builder.add(offset, ir.Constant(_I64, k)))
            for half in range(2):
                row = builder.add(span, ir.Constant(_I64, half * LANES))
                registers = _registers(builder, x_data, builder.mul(row, row_bytes), w, element)
                columns = [
                    vectors.as_doubles(builder, _column(builder, registers, j, w)) for j in range(w)
                ]
                p = intercept
                for j in range(w):
                    p = vectors.fma(builder, columns[j], c[j], p)
                r = builder.fsub(p, targets(row))
                wr = r if weights is None else builder.fmul(weights(row), r)
                add(w, half, wr)
                add(w + 1, half, wr, r)
                for j in range(w):
                    add(j, half, wr, columns[j])
        for pointer, total in sums.values():
            vectors.store(builder, builder.load(total), pointer)
        return builder.add(first, builder.mul(count, step))

    signature = types.int64(X, start, stop, y, sample_weight, coef, intercept, acc, width)
    return signature, codegen


def _coefficients(
    context: Any, builder: ir.IRBuilder, coef_type: Any, coef: Any, w: int
) -> list[Any]:
    """``coef[0] .. coef[w - 1]``, each as float64 in every lane of a vector."""
    array = context.make_array(coef_type)(context, builder, coef)
    element = context.get_data_type(coef_type.dtype)
    stride = cgutils.unpack_tuple(builder, array.strides, 1)[0]
    byte_data = builder.bitcast(array.data, ir.IntType(8).as_pointer())
    values = []
    for j in range(w):
        pointer = builder.gep(byte_data, [builder.mul(ir.Constant(_I64, j), stride)])
        value = builder.load(builder.bitcast(pointer, element.as_pointer()))
        value = context.cast(builder, value, coef_type.dtype, types.float64)
        values.append(vectors.splat(builder, value, DOUBLES))
    return values


#: ``sixteen_row_spans_unchecked(X, start, stop, y, sample_weight, coef, intercept, acc, WIDTH)``
#: in compiled kernels (typed for Python's checkers).
sixteen_row_spans_unchecked = cast("Callable[..., int]", _sixteen_row_spans)
