"""Jit settings for every kernel of the package, and the two low-level helpers they all use.

Set once here: ``cache=True`` (in a per-user folder, see :mod:`fastlr.kernels.cache`), the
fast-math flags, ``nogil`` and numpy's error model. ``nnan``/``ninf`` are left out on purpose.
"""

from __future__ import annotations

import types as pytypes
from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from fastlr.kernels import cache

#: The compiled kernels are cached in a per-user folder, not beside this file (see cache).
cache.install()
#: the solvers detect non-finite input and divergence from the kernels' own results.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
jit_serial = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
#: For small row helpers LLVM does not inline by itself (measured: 2x on the multi-output pass).
jit_inline = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
jit_parallel = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
#: No fast math, for the data generator's rare paths, whose values must be the NumPy twin's bit for
#: bit (explicitly: a function that leaves ``fastmath`` unset inherits its caller's flags).
jit_exact = njit(cache=True, nogil=True, fastmath=False, error_model="numpy")


def serial_and_parallel(
    py_func: Callable[..., Any],
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """One source, two kernels: ``py_func``, whose loop over chunks (or rows) is a ``prange``,
    compiled serially (``prange`` is then ``range``) and with threads (``jit_parallel``).

    Each kernel is compiled from its own copy of the function, named ``<name>_serial`` and
    ``<name>_parallel``: numba's cache index is keyed by the function's qualified name and line,
    not by the ``parallel`` flag, so one function compiled both ways would share (and overwrite)
    one cache entry.
    """

    def copy(suffix: str) -> Callable[..., Any]:
        f = pytypes.FunctionType(
            py_func.__code__,
            py_func.__globals__,
            py_func.__name__ + suffix,
            py_func.__defaults__,
            py_func.__closure__,
        )
        f.__qualname__ = py_func.__qualname__ + suffix
        f.__doc__, f.__module__ = py_func.__doc__, py_func.__module__
        return f

    return jit_serial(copy("_serial")), jit_parallel(copy("_parallel"))


@jit_serial
def _u(i):
    """An index as uint64: numba then skips negative-index wraparound (see the fused pass)."""
    return np.uint64(i)


@intrinsic
def _prefetch(typingctx, array, byte_offset):
    """Hint the CPU to fetch the cache line at ``array``'s data + ``byte_offset`` (never faults)."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        byte_pointer = ir.IntType(8).as_pointer()
        address = builder.gep(builder.bitcast(data, byte_pointer), [args[1]])
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0",
        )
        read, keep_in_all_caches, data_cache = (ir.Constant(i32, v) for v in (0, 3, 1))
        builder.call(function, [address, read, keep_in_all_caches, data_cache])
        return context.get_dummy_value()

    return types.void(array, byte_offset), codegen
