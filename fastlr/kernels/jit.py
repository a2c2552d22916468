"""Jit settings for every kernel of the package, and the two low-level helpers they all use.

Set once here: ``cache=True`` (in a per-user folder, see :mod:`fastlr.kernels.cache`), the
fast-math flags, ``nogil`` and numpy's error model. ``nnan``/``ninf`` are left out on purpose.
"""

from __future__ import annotations

import types as pytypes
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from fastlr.kernels import cache, vectors

#: The compiled kernels are cached in a per-user folder, not beside this file (see cache).
cache.install()
#: the solvers detect non-finite input and divergence from the kernels' own results.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
jit_serial = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
#: For small row helpers LLVM does not inline by itself (measured: 2x on the multi-output pass).
jit_inline = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
jit_parallel = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
#: Fast math without reassociation, for a kernel whose sums across rows LLVM would otherwise
#: vectorize in an order of its own choosing, which may differ between two compilations of the
#: same source (another caller, a read-only array): its bits are then those its source spells.
jit_in_order = njit(cache=True, nogil=True, fastmath=FASTMATH - {"reassoc"}, error_model="numpy")
#: No fast math, for the data generator's rare paths, whose values must be the NumPy twin's bit for
#: bit (explicitly: a function that leaves ``fastmath`` unset inherits its caller's flags).
jit_exact = njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
jit_exact_parallel = njit(
    cache=True, nogil=True, fastmath=False, error_model="numpy", parallel=True
)


def _renamed_copy(
    py_func: Callable[..., Any], suffix: str, constants: dict[str, Any] | None = None
) -> Callable[..., Any]:
    """A copy of ``py_func`` named ``<name><suffix>``, its globals extended by ``constants``.

    numba's cache index is keyed by the function's qualified name and line, not by the flags it
    was compiled with nor by the values of its globals, so every compiled variant of one source
    needs a name of its own.
    """
    namespace = py_func.__globals__ if constants is None else {**py_func.__globals__, **constants}
    f = pytypes.FunctionType(
        py_func.__code__,
        namespace,
        py_func.__name__ + suffix,
        py_func.__defaults__,
        py_func.__closure__,
    )
    f.__qualname__ = py_func.__qualname__ + suffix
    f.__doc__, f.__module__ = py_func.__doc__, py_func.__module__
    return f


def serial_and_parallel(
    py_func: Callable[..., Any],
    exact: bool = False,
    variant: str = "",
    constants: dict[str, Any] | None = None,
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """One source, two kernels: ``py_func``, whose loop over chunks (or rows) is a ``prange``,
    compiled serially (``prange`` is then ``range``) and with threads (``jit_parallel``; without
    fast math, ``jit_exact`` and ``jit_exact_parallel``, where ``exact``), named
    ``<name><variant>_serial`` and ``<name><variant>_parallel``, their globals extended by
    ``constants`` (see :func:`_renamed_copy`).
    """
    serial, parallel = (jit_exact, jit_exact_parallel) if exact else (jit_serial, jit_parallel)
    return (
        serial(_renamed_copy(py_func, variant + "_serial", constants)),
        parallel(_renamed_copy(py_func, variant + "_parallel", constants)),
    )


def for_widths(py_func: Callable[..., Any], widths: range) -> tuple[Callable[..., Any], ...]:
    """One source, one kernel per row width: ``py_func`` compiled (``jit_in_order``) with its
    global ``WIDTH`` set to each of ``widths`` (a constant to LLVM, which then unrolls the loops
    over a row and can vectorize across rows), named ``<name>_<width>``."""
    return tuple(jit_in_order(_renamed_copy(py_func, f"_{w}", {"WIDTH": w})) for w in widths)


@jit_serial
def _u(i):
    """An index as uint64: numba then skips negative-index wraparound (see the fused pass)."""
    return np.uint64(i)


def _prefetch_into(locality: int) -> Any:
    """An intrinsic ``(array, byte_offset)`` that hints the CPU to fetch the cache line at
    ``array``'s data + ``byte_offset`` into the levels ``locality`` names (never faults)."""

    def prefetch(typingctx, array, byte_offset):
        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            vectors.prefetch(builder, data, args[1], locality)
            return context.get_dummy_value()

        return types.void(array, byte_offset), codegen

    prefetch.__name__ = f"prefetch_locality_{locality}"  # two intrinsics, two names
    return intrinsic(prefetch)


#: Fetch a line into every level of the cache (the passes: their rows come next).
_prefetch = _prefetch_into(vectors.EVERY_LEVEL)
#: Fetch a line into L2 (the shuffled epochs' rows, wanted 16 rows later; see layout).
_prefetch_to_l2 = _prefetch_into(vectors.L2_AND_BELOW)
