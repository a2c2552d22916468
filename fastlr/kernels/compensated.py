"""The fused pass in double-double: the data gradient that refinement falls back on where the
plain pass's rounding is what limits the answer.

The refinement of a sufficient-statistics fit (:mod:`fastlr.training.accuracy`) corrects the
coefficients by the gradient computed from the data. At the solution that gradient is a sum of
large terms ``w·r·x`` that cancel, and each residual ``r = x·coef + b - y`` is itself a
difference of large numbers, so the plain pass's rounding (a few ulps of the terms, in an order
the kernel chooses for speed) is the smallest correction refinement can see: on NIST's Wampler5
it left 6.8 correct digits where the problem allows 15.

Here every product is split into its rounded value and its exact error (a fused multiply-add),
and every sum into its rounded value and its exact error (Knuth's two-sum): each residual is a
compensated dot product (Ogita, Rump and Oishi's Dot2, kept unrounded as ``hi + lo``) and each
gradient element a compensated sum of the exact products of that residual with ``x``. The
result is as accurate as if the pass ran in twice float64's precision and rounded once (error
about ``ε·|g| + n²ε²·Σ|w·r·x|``), whatever the order of the rows.

It is scalar code, about ten times the plain pass's arithmetic: refinement calls it only after
the plain gradient stopped contracting the error. Compiled without fast math (``jit_exact``):
reassociation would cancel the error terms. Chunked as the fused passes are, its sums continue
from the partials they are given, so serial, parallel and streamed passes give the same bits.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from fastlr.kernels.jit import jit_exact, serial_and_parallel
from fastlr.kernels.options import _weight


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``: the instruction, or libm's exact fma)."""
    if not all(isinstance(v, types.Float) for v in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(double, [double] * 3), "llvm.fma.f64"
        )
        values = [
            context.cast(builder, v, t, types.float64)
            for v, t in zip(args, signature.args, strict=True)
        ]
        return builder.call(function, values)

    return types.float64(a, b, c), codegen


@jit_exact
def _two_sum(a, b):
    """``(s, e)``: ``s = fl(a + b)`` and its exact error ``a + b - s`` (Knuth)."""
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


@jit_exact
def _compensated_rows(X, Y, sample_weight, coef, intercept, start, stop, parts):
    """Continue the double-double sums of rows [start, stop) in ``parts`` (k, 2, d + 2): for
    each output o, ``parts[o, 0] + parts[o, 1]`` holds Σ w·r·x_j (j < d), Σ w·r (d), and
    ``parts[o, 0, d + 1]`` Σ w·r² (the loss, summed plainly)."""
    k, d = coef.shape
    for i in range(start, stop):
        w = _weight(sample_weight, i)
        for o in range(k):
            # r = intercept + x·coef - y as hi + lo (Dot2)
            s, c = _two_sum(intercept[o], -float(Y[i, o]))
            for j in range(d):
                x = float(X[i, j])
                p = x * coef[o, j]
                s, t = _two_sum(s, p)
                c += t + _fma(x, coef[o, j], -p)
            r, r_lo = _two_sum(s, c)
            wr = w * r
            wr_lo = _fma(w, r, -wr) + w * r_lo
            hi = parts[o, 0]
            lo = parts[o, 1]
            for j in range(d):
                x = float(X[i, j])
                p = wr * x
                hi[j], t = _two_sum(hi[j], p)
                lo[j] += t + (_fma(wr, x, -p) + wr_lo * x)
            hi[d], t = _two_sum(hi[d], wr)
            lo[d] += t + wr_lo
            hi[d + 1] += wr * r


def _compensated_parts(X, Y, sample_weight, coef, intercept, starts, parts):
    """Rows [starts[p], starts[p + 1]) continue ``parts[p]`` (k, 2, d + 2): see
    :func:`_compensated_rows`. Serial, or the pieces spread over the threads: the same bits."""
    for p in prange(parts.shape[0]):
        _compensated_rows(X, Y, sample_weight, coef, intercept, starts[p], starts[p + 1], parts[p])


compensated_parts_serial, compensated_parts_parallel = serial_and_parallel(
    _compensated_parts, exact=True
)


@jit_exact
def add_compensated(total, parts):
    """``total += parts`` (k, 2, d + 2) in double-double: ``[o, 0] + [o, 1]`` is each sum."""
    for o in range(total.shape[0]):
        for j in range(total.shape[2]):
            total[o, 0, j], t = _two_sum(total[o, 0, j], parts[o, 0, j])
            total[o, 1, j] += t + parts[o, 1, j]


@jit_exact
def sum_compensated_parts(parts):
    """The double-double sums (k, 2, d + 2) of the partials of every chunk (nc, k, 2, d + 2),
    added in chunk order."""
    total = np.zeros(parts.shape[1:])
    for c in range(parts.shape[0]):
        add_compensated(total, parts[c])
    return total


@jit_exact
def finish_compensated(total, total_weight, grad):
    """The loss, and ``grad`` (k, d + 1), from double-double sums (k, 2, d + 2): each rounded
    once and divided by ``total_weight``."""
    d = grad.shape[1] - 1
    loss = 0.0
    for o in range(total.shape[0]):
        for j in range(d + 1):
            grad[o, j] = (total[o, 0, j] + total[o, 1, j]) / total_weight
        loss += total[o, 0, d + 1] + total[o, 1, d + 1]
    return 0.5 * loss / total_weight


@jit_exact
def reduce_compensated_parts(parts, total_weight, grad):
    """The loss and ``grad`` (k, d + 1) from the double-double partials of every chunk
    (nc, k, 2, d + 2): :func:`sum_compensated_parts`, then :func:`finish_compensated`."""
    return finish_compensated(sum_compensated_parts(parts), total_weight, grad)
