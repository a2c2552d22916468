"""Jitted kernels: the fused pass, the epoch loops and prediction (data generation: _generate).

Private. Every kernel has a NumPy twin in :mod:`fastlr.reference` and a test that holds the two
together. Kernels trust their inputs: dtypes, shapes, contiguity and parameter values are checked
once, above them (:mod:`fastlr._validation`).

Conventions
-----------
- ``X`` is a C-contiguous 2-D float32 or float64 array, ``y`` a 1-D float32 or float64 array; both
  are read as they are (no copies) and every sum is accumulated in float64.
- ``coef`` is a float64 array updated in place; the intercept is a float passed in and returned.
- ``shuffle`` is empty (an epoch visits rows 0, 1, ..., n - 1) or the key of a permutation of
  the rows computed on the fly (no index array; see ``_fill_rows``).
- Parallel reductions split the rows into ``n_chunks(n)`` contiguous chunks. The layout depends on
  ``n`` only, never on the thread count, and the chunk results are summed in chunk order, so serial
  and parallel kernels return bit-identical results on any number of threads.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from fastlr import _jitcache, _rules

#: The compiled kernels are cached in a per-user folder, not beside this file (see _jitcache).
_jitcache.install()

#: fastmath flags, chosen once for the whole package. ``nnan`` and ``ninf`` are left out on purpose:
#: the solvers detect non-finite input and divergence from the kernels' own results.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
jit_serial = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
#: For small row helpers LLVM does not inline by itself (measured: 2x on the multi-output pass).
jit_inline = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
jit_parallel = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
#: No fast math, for the data generator's rare paths, whose values must be the NumPy twin's bit for
#: bit (explicitly: a function that leaves ``fastmath`` unset inherits its caller's flags).
jit_exact = njit(cache=True, nogil=True, fastmath=False, error_model="numpy")

# A 64-bit mixing constant (SplitMix64's) for the shuffle's Feistel rounds.
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_ONE = np.uint64(1)

#: Rows per chunk below which a problem stays in one chunk, and the most chunks a pass uses.
MIN_CHUNK_ROWS = 1024
MAX_CHUNKS = 256


@jit_serial
def n_chunks(n_rows: int) -> int:
    """Number of row chunks of a parallel reduction over ``n_rows`` rows (thread-independent)."""
    return max(1, min(MAX_CHUNKS, n_rows // MIN_CHUNK_ROWS))


@jit_serial
def chunk_starts(n_rows):
    """The first row of each chunk of a reduction over ``n_rows`` rows, and ``n_rows``: chunk
    ``c`` is rows [starts[c], starts[c + 1]). Out-of-core passes visit the same chunks."""
    nc = n_chunks(n_rows)
    starts = np.empty(nc + 1, dtype=np.int64)
    for c in range(nc + 1):
        starts[c] = c * n_rows // nc
    return starts


@jit_serial
def _u(i):
    """An index as uint64: numba then skips negative-index wraparound (see the fused pass)."""
    return np.uint64(i)


@jit_serial
def _row_prediction(X, i, coef, intercept):
    """``X[i] · coef + intercept`` in float64 (``i`` unsigned)."""
    p = intercept
    for j in range(_u(X.shape[1])):
        p += X[i, j] * coef[j]
    return p


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


# --------------------------------------------------------------------------- fused pass
# Unsigned indices matter: with a signed loop index numba wraps negative indices around, which
# keeps LLVM from vectorizing the row loops (2-3x slower on narrow float32 rows).
@jit_serial
def _weighted(sample_weight, i, r):
    """``sample_weight[i] * r``, or ``r`` itself when there are no weights."""
    if sample_weight is None:
        return r
    return np.float64(sample_weight[i]) * r


#: Rows the fused pass takes at a time: each coefficient load serves, and each gradient element is
#: loaded and stored once for, this many rows. Measured here (Intel Xeon, 2 threads), against one
#: row at a time: 1.1x to 2x faster on every width from 5 to 500 features; it also beat the
#: earlier loop unrolled for the exact width of rows of up to 8 features (d = 5: 43 vs 98 ms
#: float32, 39 vs 52 ms float64, 20M rows), which it replaces.
ROWS_PER_STEP = 4
#: On float32 rows the pass asks for the rows this many steps ahead (whole rows, every cache
#: line). Measured here (Intel Xeon, 2 threads): float32 1.2x to 1.4x faster at 5, 50 and 500
#: features; float64 1.2x slower at 50 and 500 (the hardware prefetcher keeps up there, and the
#: extra instructions only cost), 5% faster at 5: so float32 only.
PREFETCH_STEPS = 2


@jit_serial
def _prefetch_rows_ahead(X, first, stop):
    """Prefetch rows [first, first + ROWS_PER_STEP) of ``X`` that lie below ``stop``."""
    row_bytes = _u(X.strides[0])
    end = min(first + _u(ROWS_PER_STEP), stop) * row_bytes
    for offset in range(first * row_bytes, end, _u(64)):
        _prefetch(X, offset)


@jit_serial
def _fused_rows(X, y, sample_weight, coef, intercept, start, stop, out):
    """Add Σ w·r·x (out[:d]), Σ w·r (out[d]) and Σ w·r² (out[d + 1]) over rows [start, stop)
    (``sample_weight`` None: w = 1, no multiplication compiled in), ROWS_PER_STEP rows at a time.
    """
    d = _u(X.shape[1])
    stop = _u(stop)
    # One accumulator per row of a step: each sum is then a chain of single additions, which
    # LLVM cannot regroup differently where this loop is inlined (numba callers get the bits of
    # the Python call).
    sum_r = 0.0
    sum_r2 = 0.0
    i = _u(start)
    while i + _u(ROWS_PER_STEP) <= stop:
        if X.itemsize == 4:
            _prefetch_rows_ahead(X, i + _u(PREFETCH_STEPS * ROWS_PER_STEP), stop)
        i1, i2, i3 = i + _u(1), i + _u(2), i + _u(3)
        p0 = p1 = p2 = p3 = intercept
        for j in range(d):
            c = coef[j]
            p0 += X[i, j] * c
            p1 += X[i1, j] * c
            p2 += X[i2, j] * c
            p3 += X[i3, j] * c
        r0, r1, r2, r3 = p0 - y[i], p1 - y[i1], p2 - y[i2], p3 - y[i3]
        w0 = _weighted(sample_weight, i, r0)
        w1 = _weighted(sample_weight, i1, r1)
        w2 = _weighted(sample_weight, i2, r2)
        w3 = _weighted(sample_weight, i3, r3)
        sum_r += (w0 + w1) + (w2 + w3)
        sum_r2 += (w0 * r0 + w1 * r1) + (w2 * r2 + w3 * r3)
        for j in range(d):
            out[j] += (w0 * X[i, j] + w1 * X[i1, j]) + (w2 * X[i2, j] + w3 * X[i3, j])
        i += _u(ROWS_PER_STEP)
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


@jit_serial
def fused_pass_serial(X, y, coef, intercept, grad):
    """One pass: loss ``Σr²/(2n)`` returned with ``mean(r)``; ``Xᵀr/n`` written to ``grad``.

    """
    return fused_pass_weighted_serial(X, y, None, coef, intercept, X.shape[0], grad)


@jit_serial
def fused_pass_parallel(X, y, coef, intercept, grad):
    """:func:`fused_pass_serial` with the chunks spread over the threads; same bits (the
    parallel loop is the weighted kernel's, compiled without weights)."""
    return fused_pass_weighted_parallel(X, y, None, coef, intercept, X.shape[0], grad)


@jit_serial
def fused_pass_weighted_serial(X, y, sample_weight, coef, intercept, total_weight, grad):
    """:func:`fused_pass_serial` with each row's terms weighted by ``sample_weight`` (n,) (or
    None), divided by ``total_weight`` instead of n: the one-output weighted pass."""
    n = X.shape[0]
    nc = n_chunks(n)
    parts = np.zeros((nc, grad.shape[0] + 2))
    for c in range(nc):
        _fused_rows(X, y, sample_weight, coef, intercept, c * n // nc, (c + 1) * n // nc, parts[c])
    return _reduce_chunks(parts, total_weight, grad)


@jit_parallel
def fused_pass_weighted_parallel(X, y, sample_weight, coef, intercept, total_weight, grad):
    """:func:`fused_pass_weighted_serial` with the chunks spread over the threads; same bits."""
    n = X.shape[0]
    nc = n_chunks(n)
    parts = np.zeros((nc, grad.shape[0] + 2))
    for c in prange(nc):
        _fused_rows(X, y, sample_weight, coef, intercept, c * n // nc, (c + 1) * n // nc, parts[c])
    return _reduce_chunks(parts, total_weight, grad)


# Out of core (fastlr._streaming), a pass visits a file in blocks of rows. Its chunks are the
# in-memory pass's chunks (``chunk_starts`` of the whole file), so the pieces of a block are
# summed by the same row loop into the same per-chunk partials, and reduced in the same order:
# the same bits as the pass over the whole array in memory.
@jit_serial
def fused_parts_serial(X, y, sample_weight, coef, intercept, starts, parts):
    """The fused pass's partial sums over pieces of a block of rows: ``parts[p]`` (zeroed by the
    caller) gets Σ w·r·x, Σ w·r, Σ w·r² over rows [starts[p], starts[p + 1]) of ``X``.
    :func:`reduce_fused_parts` turns the partials of every chunk into loss and gradient."""
    for p in range(parts.shape[0]):
        _fused_rows(X, y, sample_weight, coef, intercept, starts[p], starts[p + 1], parts[p])


@jit_parallel
def fused_parts_parallel(X, y, sample_weight, coef, intercept, starts, parts):
    """:func:`fused_parts_serial` with the pieces spread over the threads; same bits."""
    for p in prange(parts.shape[0]):
        _fused_rows(X, y, sample_weight, coef, intercept, starts[p], starts[p + 1], parts[p])


@jit_serial
def reduce_fused_parts(parts, total_weight, grad):
    """Loss and intercept gradient from the partials of every chunk (``Xᵀ(w·r)/W`` into
    ``grad``), summed in chunk order as the in-memory pass does."""
    return _reduce_chunks(parts, total_weight, grad)


# --------------------------------------------------------------------------- epochs
#: Shuffled epochs read rows in random order, which the hardware cannot predict; the kernels
#: ask for the row this many samples ahead (measured here: 16 beats 8 by 10-25%).
PREFETCH_ROWS = 16


@jit_serial
def _prefetch_row(X, y, row):
    """Prefetch every cache line of ``X[row]`` and ``y[row]``."""
    row_bytes = _u(X.strides[0])
    for offset in range(_u(0), row_bytes, _u(64)):
        _prefetch(X, row * row_bytes + offset)
    _prefetch(y, row * _u(y.strides[0]))


# Shuffling without an index array: epoch position k visits row perm(k), where perm is a
# 4-round Feistel network on the smallest even-bit domain holding n, cycle-walked back into
# [0, n) (a bijection of the rows). ``shuffle`` is empty (rows in order) or holds
# [half_bits, key_1, ..., key_4]; see fastlr._loop.RowOrder, and fastlr.reference.row_order.
#: Rows are looked up a block at a time (then prefetched from the block, and visited).
ROW_BLOCK = 256


@jit_serial
def _feistel_round(right, key, mask):
    z = (right ^ key) * _MIX1
    return (z ^ (z >> np.uint64(32))) & mask


@jit_serial
def _fill_rows(rows, start, n, shuffle):
    """``rows[t]`` = the row at epoch position ``start + t``, for positions below ``n``."""
    count = min(rows.shape[0], n - start)
    if shuffle.shape[0] == 0:
        for t in range(count):
            rows[t] = _u(start + t)
        return count
    half = shuffle[0]
    mask = (_ONE << half) - _ONE
    k1, k2, k3, k4 = shuffle[1], shuffle[2], shuffle[3], shuffle[4]
    limit = _u(n)
    for t in range(count):
        x = _u(start + t)
        while True:
            left = x >> half
            right = x & mask
            left ^= _feistel_round(right, k1, mask)
            right ^= _feistel_round(left, k2, mask)
            left ^= _feistel_round(right, k3, mask)
            right ^= _feistel_round(left, k4, mask)
            x = (left << half) | right
            if x < limit:
                break
        rows[t] = x
    return count


@jit_serial
def epoch_row_order(n, shuffle, out):
    """Write the rows an epoch over ``n`` rows visits, in order (exposes the shuffle to tests)."""
    _fill_rows(out, 0, n, shuffle)


@jit_serial
def _visit_block(X, y, shuffle, rows, start):
    """Rows of the block at ``start`` (plus the next PREFETCH_ROWS), prefetched if shuffled."""
    count = _fill_rows(rows, start, X.shape[0], shuffle)
    if shuffle.shape[0] > 0:
        for t in range(min(count, PREFETCH_ROWS)):
            _prefetch_row(X, y, rows[t])
    return min(count, ROW_BLOCK)


# --------------------------------------------------------------------------- the epoch rules
# The same source as the Python loop's (fastlr._rules), compiled for the kernels.
update_parameters = jit_serial(_rules.update_parameters)
epoch_learning_rate = jit_serial(_rules.epoch_learning_rate)
epoch_verdict = jit_serial(_rules.epoch_verdict)
penalty_value = jit_serial(_rules.penalty_value)
certified_gap = jit_serial(_rules.certified_gap)
_GAP = _rules.GAP
_NONFINITE = _rules.NONFINITE
_CONVERGED = _rules.CONVERGED

# --------------------------------------------------------------------------- options
# An optional input (sample weights, the standardization, averaging, momentum, the cumulative
# L1 state) is passed as None or as an array. Numba compiles one specialization per combination
# and prunes the ``is None`` branches when it compiles, so an option left off costs nothing.


@jit_serial
def _prefetch_weight(sample_weight, row):
    """Prefetch ``sample_weight[row]`` (nothing when the option is off)."""
    if sample_weight is None:
        return
    _prefetch(sample_weight, row * _u(sample_weight.strides[0]))


@jit_serial
def _weight(sample_weight, i):
    if sample_weight is None:
        return 1.0
    return np.float64(sample_weight[i])


@jit_serial
def _standardized(X, i, j, shift, scale):
    """``X[i, j]`` in training coordinates: ``(x - shift) * scale``, or x itself."""
    if shift is None:
        return np.float64(X[i, j])
    return (np.float64(X[i, j]) - shift[j]) * scale[j]


@jit_serial
def _slot(array, p):
    """``array[p]``, or None when the option is off."""
    if array is None:
        return None
    return array[p]


@jit_serial
def _accumulate(average, coef, intercept):
    """Add the current iterate to the running sum of iterates (Polyak-Ruppert averaging)."""
    if average is None:
        return
    k, d = coef.shape
    for o in range(k):
        for j in range(d):
            average[o, j] += coef[o, j]
        average[o, d] += intercept[o]
    average[0, d + 1] += 1.0


@jit_serial
def _cumulative_l1(coef, state, l1_step):
    """Tsuruoka et al.'s cumulative L1 penalty after one sgd step; ``state`` = [q..., u]."""
    if state is None:
        return
    k, d = coef.shape
    total = state[k * d] + l1_step
    state[k * d] = total
    for o in range(k):
        for j in range(d):
            applied = state[o * d + j]
            w = coef[o, j]
            if w > 0.0:
                new = max(0.0, w - (total + applied))
            elif w < 0.0:
                new = min(0.0, w + (total - applied))
            else:
                new = w
            state[o * d + j] = applied + (new - w)
            coef[o, j] = new


# ----------------------------------------------------------------- weighted, multi-output pass
@jit_serial
def _fused_rows_multi(X, Y, sample_weight, coef, intercept, start, stop, out):
    """Over rows [start, stop): out[o, :d] += Σ w·r_o·x, out[o, d] += Σ w·r_o and
    out[0, d + 1] += Σ_o Σ w·r_o², for every output o of ``coef`` (k, d)."""
    weighted = np.empty(coef.shape[0])
    sum_r2 = 0.0
    for i in range(_u(start), _u(stop)):
        w = _weight(sample_weight, i)
        sum_r2 += _add_row_gradient(X, Y, i, w, coef, intercept, weighted, out)
    out[0, coef.shape[1] + 1] += sum_r2


@jit_inline
def _add_row_gradient(X, Y, i, w, coef, intercept, weighted, out):
    """Add row i's w·r_o·x to out[o, :d] and w·r_o to out[o, d] for every output o (``weighted``
    is scratch of k values); return Σ_o w·r_o²."""
    k = _u(coef.shape[0])
    d = _u(coef.shape[1])
    sum_r2 = 0.0
    for o in range(k):
        p = intercept[o]
        for j in range(d):
            p += X[i, j] * coef[o, j]
        r = p - Y[i, o]
        sum_r2 += w * r * r
        weighted[o] = w * r
    for o in range(k):
        for j in range(d):
            out[o, j] += weighted[o] * X[i, j]
        out[o, d] += weighted[o]
    return sum_r2


@jit_serial
def _reduce_multi(parts, total_weight, grad):
    """Sum chunk partials in chunk order into ``grad`` (k, d + 1) / W; return Σ w·r² / (2W)."""
    k, d1 = grad.shape
    grad[:, :] = 0.0
    sum_r2 = 0.0
    for c in range(parts.shape[0]):
        for o in range(k):
            for j in range(d1):
                grad[o, j] += parts[c, o, j]
        sum_r2 += parts[c, 0, d1]
    for o in range(k):
        for j in range(d1):
            grad[o, j] /= total_weight
    return 0.5 * sum_r2 / total_weight


@jit_serial
def fused_pass_multi_serial(X, Y, sample_weight, coef, intercept, total_weight, grad):
    """The fused pass for weighted rows and/or several outputs: ``Y`` (n, k), ``coef`` (k, d),
    ``intercept`` (k,), ``sample_weight`` (n,) or None summing to ``total_weight``.

    Writes ``Xᵀ(w·r) / W`` and ``Σ w·r / W`` into ``grad`` (k, d + 1); returns Σ w·r² / (2W).
    """
    n = X.shape[0]
    nc = n_chunks(n)
    parts = np.zeros((nc, coef.shape[0], coef.shape[1] + 2))
    for c in range(nc):
        _fused_rows_multi(
            X, Y, sample_weight, coef, intercept, c * n // nc, (c + 1) * n // nc, parts[c]
        )
    return _reduce_multi(parts, total_weight, grad)


@jit_parallel
def fused_pass_multi_parallel(X, Y, sample_weight, coef, intercept, total_weight, grad):
    """:func:`fused_pass_multi_serial` with the chunks spread over the threads; same bits."""
    n = X.shape[0]
    nc = n_chunks(n)
    parts = np.zeros((nc, coef.shape[0], coef.shape[1] + 2))
    for c in prange(nc):
        _fused_rows_multi(
            X, Y, sample_weight, coef, intercept, c * n // nc, (c + 1) * n // nc, parts[c]
        )
    return _reduce_multi(parts, total_weight, grad)


@jit_serial
def fused_parts_multi_serial(X, Y, sample_weight, coef, intercept, starts, parts):
    """The multi-output pass's partials over pieces of a block: ``parts[p]`` (k, d + 2), zeroed
    by the caller, as :func:`fused_parts_serial`; :func:`reduce_fused_parts_multi` reduces."""
    for p in range(parts.shape[0]):
        _fused_rows_multi(X, Y, sample_weight, coef, intercept, starts[p], starts[p + 1], parts[p])


@jit_parallel
def fused_parts_multi_parallel(X, Y, sample_weight, coef, intercept, starts, parts):
    """:func:`fused_parts_multi_serial` with the pieces spread over the threads; same bits."""
    for p in prange(parts.shape[0]):
        _fused_rows_multi(X, Y, sample_weight, coef, intercept, starts[p], starts[p + 1], parts[p])


@jit_serial
def reduce_fused_parts_multi(parts, total_weight, grad):
    """Σ w·r² / (2W) from every chunk's partials, the gradient into ``grad`` (k, d + 1)."""
    return _reduce_multi(parts, total_weight, grad)


# --------------------------------------------------------------------------- statistics
@jit_serial
def _column_sums_rows(X, sample_weight, start, stop, out):
    """out[0] += Σ w, out[1 + j] += Σ w·(x_j - x0_j), out[1 + d + j] += Σ w·(x_j - x0_j)², with
    x0 the first row of [start, stop): a shift that keeps the sums of squares accurate."""
    d = _u(X.shape[1])
    for i in range(_u(start), _u(stop)):
        w = _weight(sample_weight, i)
        out[0] += w
        for j in range(d):
            delta = np.float64(X[i, j]) - np.float64(X[_u(start), j])
            out[_u(1) + j] += w * delta
            out[_u(1) + d + j] += w * delta * delta


@jit_parallel
def column_moments(X, sample_weight):
    """Per chunk: (Σw, Σw·δ, Σw·δ², shift) with δ = x - the chunk's first row. Fixed layout."""
    n, d = X.shape
    nc = n_chunks(n)
    parts = np.zeros((nc, 1 + 3 * d))
    for c in prange(nc):
        start = c * n // nc
        _column_sums_rows(X, sample_weight, start, (c + 1) * n // nc, parts[c])
        for j in range(d):
            parts[c, 1 + 2 * d + j] = X[start, j]
    return parts


@jit_parallel
def column_moment_parts(X, sample_weight, starts, parts):
    """:func:`column_moments` over pieces of a block of rows: ``parts[p]`` (zeroed by the
    caller) for rows [starts[p], starts[p + 1]), shifted by the piece's first row."""
    d = X.shape[1]
    for p in prange(parts.shape[0]):
        start = starts[p]
        _column_sums_rows(X, sample_weight, start, starts[p + 1], parts[p])
        for j in range(d):
            parts[p, 1 + 2 * d + j] = X[start, j]


@jit_serial
def _row_norms(X, sample_weight, shift, scale, extra, start, stop):
    """(max, sum) over rows [start, stop) of w·(||z||² + extra)."""
    top = 0.0
    total = 0.0
    for i in range(start, stop):
        w = _weight(sample_weight, i)
        norm = extra
        for j in range(X.shape[1]):
            z = _standardized(X, i, j, shift, scale)
            norm += z * z
        top = max(top, w * norm)
        total += w * norm
    return top, total


@jit_parallel
def row_norm_parts(X, sample_weight, shift, scale, fit_intercept, starts, maxima, sums):
    """:func:`row_norm_bounds` over pieces of a block of rows: ``maxima[p]`` and ``sums[p]`` for
    rows [starts[p], starts[p + 1])."""
    extra = 1.0 if fit_intercept else 0.0
    for p in prange(maxima.shape[0]):
        maxima[p], sums[p] = _row_norms(
            X, sample_weight, shift, scale, extra, starts[p], starts[p + 1]
        )


@jit_serial
def reduce_row_norms(maxima, sums):
    """The largest of the pieces' maxima and the sum of their sums, in order."""
    return maxima.max(), sums.sum()


@jit_parallel
def row_norm_bounds(X, sample_weight, shift, scale, fit_intercept):
    """(max over rows of w·(||z||² + 1{intercept}), Σ w·(||z||² + 1{intercept})), z in training
    coordinates: the smoothness constants of sgd and mini-batch steps."""
    n = X.shape[0]
    nc = n_chunks(n)
    maxima = np.zeros(nc)
    sums = np.zeros(nc)
    extra = 1.0 if fit_intercept else 0.0
    for c in prange(nc):
        maxima[c], sums[c] = _row_norms(
            X, sample_weight, shift, scale, extra, c * n // nc, (c + 1) * n // nc
        )
    return reduce_row_norms(maxima, sums)


# --------------------------------------------------------------------------- epochs
@jit_serial
def sgd_epoch(
    X,
    Y,
    sample_weight,
    coef,
    intercept,
    learning_rate,
    shuffle,
    lo,
    hi,
    fit_intercept,
    shift,
    scale,
    decay,
    l1_step,
    l1_state,
    average,
):
    """One sgd update per sample for epoch positions [lo, hi), in the epoch's row order.

    ``coef`` (k, d) and ``intercept`` (k,) are float64, updated in place, in training
    coordinates ``z = (x - shift) * scale`` (or x when ``shift`` is None). Each step is
    ``learning_rate · w · r · z``; L2 multiplies coef by ``decay`` first; L1 is the cumulative
    penalty (``l1_state`` None when off); ``average`` (k, d + 2) or None sums the iterates.
    Returns Σ w·r² over the positions.
    """
    k = _u(coef.shape[0])
    d = _u(coef.shape[1])
    shuffled = shuffle.shape[0] > 0
    rows = np.zeros(ROW_BLOCK + PREFETCH_ROWS, dtype=np.uint64)  # always valid rows
    z = np.empty(coef.shape[1])
    steps = np.empty(coef.shape[0])
    sum_r2 = 0.0
    for start in range(lo, hi, ROW_BLOCK):
        count = min(_visit_block(X, Y, shuffle, rows, start), hi - start)
        for t in range(count):
            if shuffled:
                _prefetch_row(X, Y, rows[t + PREFETCH_ROWS])  # at the end: a stale, valid row
                _prefetch_weight(sample_weight, rows[t + PREFETCH_ROWS])
            i = rows[t]
            w = _weight(sample_weight, i)
            for j in range(d):
                z[j] = _standardized(X, i, j, shift, scale)
            for o in range(k):
                p = intercept[o]
                for j in range(d):
                    p += z[j] * coef[o, j]
                r = p - Y[i, o]
                sum_r2 += w * r * r
                steps[o] = learning_rate * w * r
            for o in range(k):
                step = steps[o]
                for j in range(d):
                    updated = decay * coef[o, j] - step * z[j]
                    coef[o, j] = updated
                    _add_to_average(average, l1_state, o, j, updated)
                if fit_intercept:
                    intercept[o] -= step
            if l1_state is None:
                _accumulate_intercepts(average, intercept, d)
            else:
                _cumulative_l1(coef, l1_state, l1_step)
                _accumulate(average, coef, intercept)
    return sum_r2


# Averaging in sgd: without the L1 penalty, each updated coefficient is added to the running sum
# while it is still in a register, in the update loop itself, instead of a second pass over coef
# after every sample (1.6x the cost of an epoch without averaging, measured before). The sums
# are the same additions in the same order, so the bits are those of _accumulate.
@jit_serial
def _add_to_average(average, l1_state, o, j, value):
    """``average[o, j] += value`` when averaging is on and no L1 step follows the update."""
    if average is None or l1_state is not None:
        return
    average[o, j] += value


@jit_serial
def _accumulate_intercepts(average, intercept, d):
    """The rest of :func:`_accumulate` after :func:`_add_to_average`: intercepts and count."""
    if average is None:
        return
    for o in range(intercept.shape[0]):
        average[o, d] += intercept[o]
    average[0, d + 1] += 1.0


@jit_parallel
def sgd_epoch_hogwild(
    X,
    Y,
    sample_weight,
    coef,
    intercept,
    learning_rate,
    shuffle,
    n_parts,
    fit_intercept,
    shift,
    scale,
    decay,
    l1_step,
    l1_states,
    averages,
):
    """Hogwild!: ``n_parts`` threads each run :func:`sgd_epoch` on their share of the epoch's
    positions and write the shared ``coef`` without locks. Not bit-reproducible (the
    interleaving of the writes depends on timing); ``l1_states``/``averages`` are per part."""
    n = X.shape[0]
    sums = np.zeros(n_parts)
    for p in prange(n_parts):
        sums[p] = sgd_epoch(
            X,
            Y,
            sample_weight,
            coef,
            intercept,
            learning_rate,
            shuffle,
            p * n // n_parts,
            (p + 1) * n // n_parts,
            fit_intercept,
            shift,
            scale,
            decay,
            l1_step,
            _slot(l1_states, p),
            _slot(averages, p),
        )
    return sums.sum()


@jit_serial
def _effective(coef, intercept, shift, scale, eff_coef, eff_intercept):
    """The raw-unit model equal to (coef, intercept) in training coordinates."""
    k, d = coef.shape
    for o in range(k):
        b = intercept[o]
        for j in range(d):
            if shift is None:
                eff_coef[o, j] = coef[o, j]
            else:
                eff_coef[o, j] = coef[o, j] * scale[j]
                b -= eff_coef[o, j] * shift[j]
        eff_intercept[o] = b


@jit_serial
def _to_training_gradient(grad, total_weight, shift, scale):
    """Raw-unit sums Σ w·r·x, Σ w·r over a batch -> the gradient in training coordinates."""
    k, d1 = grad.shape
    d = d1 - 1
    for o in range(k):
        for j in range(d):
            g = grad[o, j]
            if shift is not None:
                g = scale[j] * (g - shift[j] * grad[o, d])
            grad[o, j] = g / total_weight
        grad[o, d] /= total_weight


@jit_serial
def minibatch_epoch(
    X,
    Y,
    sample_weight,
    coef,
    intercept,
    learning_rate,
    shuffle,
    lo,
    hi,
    batch_size,
    fit_intercept,
    shift,
    scale,
    l2,
    l1,
    momentum,
    nesterov,
    velocity,
    average,
):
    """One fused gradient and update per batch of epoch positions [lo, hi) (``lo`` a multiple
    of ``batch_size``). The batch gradient is summed over raw rows with the model's raw-unit
    twin and turned into training coordinates once per batch; the update is
    :func:`fastlr._rules.update_parameters`. Returns Σ w·r² (before each batch's update)."""
    shuffled = shuffle.shape[0] > 0
    rows = np.zeros(ROW_BLOCK + PREFETCH_ROWS, dtype=np.uint64)
    grad = np.empty((coef.shape[0], coef.shape[1] + 1))
    eff = np.empty(coef.shape)
    eff_b = np.empty(coef.shape[0])
    weighted = np.empty(coef.shape[0])
    sum_r2 = 0.0
    for batch_start in range(lo, hi, batch_size):
        batch_stop = min(batch_start + batch_size, hi)
        _effective(coef, intercept, shift, scale, eff, eff_b)
        grad[:, :] = 0.0
        total_weight = 0.0
        for start in range(batch_start, batch_stop, ROW_BLOCK):
            count = min(_visit_block(X, Y, shuffle, rows, start), batch_stop - start)
            for t in range(count):
                if shuffled:
                    _prefetch_row(X, Y, rows[t + PREFETCH_ROWS])
                    _prefetch_weight(sample_weight, rows[t + PREFETCH_ROWS])
                i = rows[t]
                w = _weight(sample_weight, i)
                total_weight += w
                sum_r2 += _add_row_gradient(X, Y, i, w, eff, eff_b, weighted, grad)
        if total_weight > 0.0:
            _to_training_gradient(grad, total_weight, shift, scale)
            update_parameters(
                coef,
                intercept,
                grad,
                learning_rate,
                l2,
                l1,
                momentum,
                nesterov,
                velocity,
                fit_intercept,
            )
            _accumulate(average, coef, intercept)
    return sum_r2


# --------------------------------------------------------------------------- sufficient statistics
@jit_serial
def gram_loss_and_gradient(H, C, mean_z, y_mean, y_var, coef, intercept, grad):
    """Loss and gradient from the sufficient statistics, in training coordinates.

    With u = b - ȳ: ``L = ½ Σ_o (wᵀHw - 2wᵀC_o + 2u·m_zᵀw + u² + var_o)``,
    ``∇_w = Hw - C_o + u·m_z`` and ``∇_b = u + m_zᵀw``, where H = E_w[zzᵀ], C = E_w[z(y - ȳ)],
    m_z = E_w[z]. Centered y keeps the loss accurate down to rounding of var(y).
    """
    k, d = coef.shape
    loss = 0.0
    for o in range(k):
        u = intercept[o] - y_mean[o]
        quad = 0.0
        lin = 0.0
        mz_w = 0.0
        for j in range(d):
            hw = 0.0
            for m in range(d):
                hw += H[j, m] * coef[o, m]
            quad += coef[o, j] * hw
            lin += coef[o, j] * C[j, o]
            mz_w += mean_z[j] * coef[o, j]
            grad[o, j] = hw - C[j, o] + u * mean_z[j]
        grad[o, d] = u + mz_w
        loss += 0.5 * (quad - 2.0 * lin + 2.0 * u * mz_w + u * u + y_var[o])
    return loss


@jit_serial
def gram_epochs(
    H,
    C,
    mean_z,
    y_mean,
    y_var,
    coef,
    intercept,
    velocity,
    learning_rate,
    schedule,
    power_t,
    t_start,
    l2,
    l1,
    momentum,
    nesterov,
    fit_intercept,
    max_epochs,
    tol,
    n_iter_no_change,
    monotone,
    rise_atol,
    state,
    history,
):
    """Up to ``max_epochs`` full-batch iterations on the sufficient statistics, O(k·d²) each,
    with the same rules as the Python loop (:mod:`fastlr._rules`), the certified error of each
    epoch included. Returns (epochs, verdict); ``history`` receives each epoch's objective."""
    k, d = coef.shape
    grad = np.empty((k, d + 1))
    for e in range(max_epochs):
        loss = gram_loss_and_gradient(H, C, mean_z, y_mean, y_var, coef, intercept, grad)
        loss += penalty_value(coef, l2, l1)
        state[_GAP] = certified_gap(coef, intercept, grad, l2, l1, fit_intercept, state)
        rate = epoch_learning_rate(learning_rate, schedule, t_start + e, power_t, state)
        update_parameters(
            coef, intercept, grad, rate, l2, l1, momentum, nesterov, velocity, fit_intercept
        )
        verdict = epoch_verdict(state, loss, tol, n_iter_no_change, schedule, monotone, rise_atol)
        history[e] = loss
        if verdict >= _NONFINITE:
            return e, verdict
        if verdict == _CONVERGED:
            return e + 1, verdict
    return max_epochs, 0


# --------------------------------------------------------------------------- prediction
@jit_serial
def predict_serial(X, coef, intercept, out):
    """``out[i] = X[i] · coef + intercept``, summed in float64, stored in ``out``'s dtype."""
    for i in range(_u(X.shape[0])):
        out[i] = _row_prediction(X, i, coef, intercept)


@jit_parallel
def predict_parallel(X, coef, intercept, out):
    """:func:`predict_serial` with the rows spread over the threads (rows are independent)."""
    for i in prange(X.shape[0]):
        out[i] = _row_prediction(X, _u(i), coef, intercept)
