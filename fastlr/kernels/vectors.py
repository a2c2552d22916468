"""Building blocks of the kernels written in LLVM IR, where numba has no vector types: addresses,
prefetches, 8-lane vectors, masks for a row's last elements, masked loads and stores, fused
multiply-adds, a horizontal sum in a fixed order, float64 vectors read from a 1-D array, and the
lane picks of interleaving shuffles.

The operations here are emitted without fast-math flags, but numba's fast-math pass then gives
every floating-point instruction of a kernel the kernel's flags, these included (``inspect_llvm``
of the wide rows' steps: ``fadd reassoc nsz arcp contract afn <8 x double>``). In kernels
compiled without reassociation (``jit_in_order``: the narrow pass; ``jit_exact``) LLVM cannot
regroup them, and a kernel's bits are those its IR spells. In kernels compiled with it
(``jit_serial``) LLVM may regroup additions within a step: the 4-row update's two pairs of
products (:mod:`fastlr.kernels.row_vectors`) compile to one chain of four fused multiply-adds on
the Intel Xeon (``inspect_asm``). Their bits are then LLVM's choice for the CPU it compiles for,
the same in every kernel built from the same steps on one machine (serial, parallel, or called
from a user's ``@njit`` code: the tests compare them). The vectors are LLVM's generic ones:
where a CPU's registers are narrower than 8 doubles, LLVM splits them; where a CPU has no masked
loads, LLVM spells them element by element.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba.core import cgutils

#: Elements of a vector: one AVX-512 register of float64.
LANES = 8

#: The (low, high) lane picks of three rounds of two-vector shuffles that interleave two vectors'
#: lanes, then their pairs of lanes, then their quadruples: the rounds of an 8 x 8 transposition
#: (:mod:`fastlr.kernels.transpose`), and of eight vectors' lane sums added as trees
#: (:mod:`fastlr.kernels.gram_tiles`).
INTERLEAVE_ROUNDS = (
    ([0, 8, 2, 10, 4, 12, 6, 14], [1, 9, 3, 11, 5, 13, 7, 15]),
    ([0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]),
    ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]),
)

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
DOUBLES = ir.VectorType(ir.DoubleType(), LANES)


def address(builder: ir.IRBuilder, data: Any, byte_offset: Any, vector_type: ir.Type) -> Any:
    """A pointer to a ``vector_type`` at ``data`` + ``byte_offset`` bytes."""
    pointer = builder.gep(builder.bitcast(data, ir.IntType(8).as_pointer()), [byte_offset])
    return builder.bitcast(pointer, vector_type.as_pointer())


#: ``llvm.prefetch``'s locality for a line wanted in every level of the cache (x86:
#: ``prefetcht0``), and for one wanted in L2 and below (``prefetcht1``; AMD's Zen cores fetch
#: into L1 for either).
EVERY_LEVEL = 3
L2_AND_BELOW = 2


def prefetch(
    builder: ir.IRBuilder, data: Any, byte_offset: Any, locality: int = EVERY_LEVEL
) -> None:
    """Hint the CPU to fetch the cache line at ``data`` + ``byte_offset`` bytes into the levels
    of the cache ``locality`` names (a hint: it never faults, wherever it points)."""
    byte_pointer = ir.IntType(8).as_pointer()
    pointer = builder.gep(builder.bitcast(data, byte_pointer), [byte_offset])
    function = cgutils.get_or_insert_function(
        builder.module,
        ir.FunctionType(ir.VoidType(), [byte_pointer, _I32, _I32, _I32]),
        "llvm.prefetch.p0",
    )
    read, data_cache = ir.Constant(_I32, 0), ir.Constant(_I32, 1)
    builder.call(function, [pointer, read, ir.Constant(_I32, locality), data_cache])


def in_lane_zero(builder: ir.IRBuilder, value: Any, vector_type: ir.VectorType = DOUBLES) -> Any:
    """``value`` in lane 0 of a ``vector_type``, zeros in the others (a sum's first term)."""
    return builder.insert_element(ir.Constant(vector_type, None), value, ir.Constant(_I32, 0))


def splat(builder: ir.IRBuilder, value: Any, vector_type: ir.VectorType) -> Any:
    """``value`` in every lane of a ``vector_type``."""
    one = in_lane_zero(builder, value, vector_type)
    return builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))


def first_lanes(builder: ir.IRBuilder, count: Any) -> Any:
    """The mask of lanes ``0 .. count - 1`` (``count`` an i64 below LANES)."""
    lanes = ir.Constant(ir.VectorType(_I64, LANES), list(range(LANES)))
    return builder.icmp_unsigned("<", lanes, splat(builder, count, ir.VectorType(_I64, LANES)))


def _suffix(vector_type: ir.VectorType) -> str:
    return f"v{LANES}{'f32' if vector_type.element == ir.FloatType() else 'f64'}"


def load(builder: ir.IRBuilder, pointer: Any, vector_type: ir.VectorType, mask: Any = None) -> Any:
    """The vector at ``pointer`` (aligned to its elements only); with ``mask``, only its lanes
    are read (nothing past them is touched) and the others are 0."""
    align = 4 if vector_type.element == ir.FloatType() else 8
    if mask is None:
        return builder.load(pointer, align=align)
    function = cgutils.get_or_insert_function(
        builder.module,
        ir.FunctionType(vector_type, [pointer.type, _I32, mask.type, vector_type]),
        f"llvm.masked.load.{_suffix(vector_type)}.p0",
    )
    zeros = ir.Constant(vector_type, None)
    return builder.call(function, [pointer, ir.Constant(_I32, align), mask, zeros])


def store(builder: ir.IRBuilder, value: Any, pointer: Any, mask: Any = None) -> None:
    """Store the float64 vector ``value`` at ``pointer``; with ``mask``, only its lanes."""
    if mask is None:
        builder.store(value, pointer, align=8)
        return
    function = cgutils.get_or_insert_function(
        builder.module,
        ir.FunctionType(ir.VoidType(), [value.type, pointer.type, _I32, mask.type]),
        f"llvm.masked.store.{_suffix(value.type)}.p0",
    )
    builder.call(function, [value, pointer, ir.Constant(_I32, 8), mask])


def as_doubles(builder: ir.IRBuilder, vector: Any) -> Any:
    """A float32 or float64 vector as float64 (exactly)."""
    return vector if vector.type == DOUBLES else builder.fpext(vector, DOUBLES)


def fma(builder: ir.IRBuilder, a: Any, b: Any, c: Any) -> Any:
    """``a * b + c`` in every lane, rounded once."""
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(DOUBLES, [DOUBLES] * 3), f"llvm.fma.v{LANES}f64"
    )
    return builder.call(function, [a, b, c])


def horizontal_sum(builder: ir.IRBuilder, vector: Any) -> Any:
    """The sum of a float64 vector's lanes, as a tree: lanes ``l`` and ``l + 4``, then the
    pairs 2 apart, then the last two."""
    width = LANES
    while width > 1:
        half = width // 2
        low = builder.shuffle_vector(
            vector, vector, ir.Constant(ir.VectorType(_I32, half), list(range(half)))
        )
        high = builder.shuffle_vector(
            vector, vector, ir.Constant(ir.VectorType(_I32, half), list(range(half, width)))
        )
        vector = builder.fadd(low, high)
        width = half
    return builder.extract_element(vector, ir.Constant(_I32, 0))


def doubles_at(context: Any, builder: ir.IRBuilder, array_type: Any, array: Any) -> Any:
    """A function giving the float64 vector of a contiguous 1-D array's elements ``j .. j + 7``
    (with a mask, only its lanes are read; the others are 0), for an intrinsic's code."""
    data = context.make_array(array_type)(context, builder, array).data
    element = context.get_data_type(array_type.dtype)
    vector_type = ir.VectorType(element, LANES)
    itemsize = ir.Constant(_I64, context.get_abi_sizeof(element))

    def at(j: Any, mask: Any = None) -> Any:
        pointer = address(builder, data, builder.mul(j, itemsize), vector_type)
        return as_doubles(builder, load(builder, pointer, vector_type, mask))

    return at
