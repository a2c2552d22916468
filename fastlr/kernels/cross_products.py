"""The Gram pass: the centered cross products of the rows of [X, Y], summed in float64 over
blocks of rows and merged with Chan's formula, in parallel over groups of blocks.

The rows are cut into blocks of ``block_rows`` rows from row 0, and the blocks into groups of
``per_group`` consecutive blocks (a layout that depends on the data's shape only). Each group's
state (Σ w, the weighted mean, the upper triangle of Σ w·(z - mean)(z - mean)ᵀ) is folded block
by block, in order; :func:`reduce_groups` folds the groups' states in order. Within a block,
the rows are copied SUB_ROWS at a time, less the block's middle row, and their products summed
(4 x 4 tiles of dot products in vectors, :mod:`fastlr.kernels.gram_tiles`) while the next rows
are prefetched; the block's products about its own means follow from those sums before the
merge. A pass over the whole array and one over consecutive pieces of it whose lengths are
multiples of ``block_rows`` (out of core) fold the same blocks in the same order: the same bits,
on any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from fastlr.kernels.gram_tiles import TILE, add_tile_unchecked
from fastlr.kernels.jit import _prefetch, _u, jit_exact, jit_serial, serial_and_parallel
from fastlr.kernels.layout import aligned_zeros
from fastlr.kernels.statistics import _divide
from fastlr.kernels.transpose import LANES, transposed_rows

#: The cross products take the columns of [X, Y] four at a time: sixteen dot products of a block's
#: columns at once, each pair of loads feeding four (the state's matrices are padded with zero
#: columns to a multiple of four).
STEP = TILE


#: Rows of a block copied and multiplied at a time. Their transposed copy (the columns of
#: [X, Y] plus a column of ones) then stays near the core while the products read it. Measured
#: here (AMD EPYC Zen 5, one thread, 2M x 50 float64): the products 92 ms from 1256-row copies,
#: 52-64 ms from 200-520-row ones, 66-70 ms from 96-136; the copy 84-87 ms at 96-520 rows, but
#: 130 ms at 128 and 559 ms at 256, where each column of the copy is a power of two bytes long
#: and they all share the L1 cache's sets: 200 rows are 25 cache lines. Since the copy goes 8 x 8
#: blocks at a time (:mod:`fastlr.kernels.transpose`), one thread, 1M x 50 float64: the copy
#: 44 -> 17 ms, the pass 77-79 -> 56-57 ms; blocks of 1200 to 16000 rows alike (56-58 ms).
#: Re-measured on the Intel Xeon with the products in vectors and the copies aligned (2M x 50
#: float64, 2 threads / 1 thread): 200 rows 64-65 / 126-127 ms, 256 rows 73-74 / 138 ms, 320
#: rows 70 / 135 ms, 400 rows 73 / 145 ms.
SUB_ROWS = 200


@jit_serial
def _shifted_columns(X, Y, sample_weight, start, stop, shift, Z, V):
    """Rows [start, stop) of [X, Y] in float64, less ``shift``, written transposed: column j
    of the rows is ``Z[j, : stop - start]``, and row ``m = d + k`` of ``Z`` is ones; ``V`` is
    ``w · Z`` (``Z`` itself without weights), so the products of ``V`` and ``Z`` hold Σ w·z
    (column m) and Σ w (entry (m, m)) beside the cross products. The columns of X go 8 x 8
    blocks at a time (:func:`~fastlr.kernels.transpose.transposed_rows`; where d is not a
    multiple of 8, the last block overlaps the one before and writes its columns again, with the
    same values), the last rows and narrow rows one element at a time."""
    d = _u(X.shape[1])
    k = _u(Y.shape[1])
    rows = _u(stop - start)
    done = _u(transposed_rows(X, start, rows, 0, d, shift, Z))
    blocked = d // _u(LANES) * _u(LANES)
    if blocked < d and d >= _u(LANES):  # the last columns: one more block, overlapping
        transposed_rows(X, start, rows, d - _u(LANES), LANES, shift, Z)
        blocked = d
    for r in range(done, rows):  # the last rows, fewer than LANES
        for j in range(blocked):
            Z[j, r] = np.float64(X[_u(start) + r, j]) - shift[j]
    for r in range(rows):  # the columns no block covers (d < LANES)
        for j in range(blocked, d):
            Z[j, r] = np.float64(X[_u(start) + r, j]) - shift[j]
    for o in range(k):
        column, value = Z[d + o], shift[d + o]
        for r in range(rows):
            column[r] = np.float64(Y[_u(start) + r, o]) - value
    ones = Z[d + k]
    for r in range(rows):
        ones[r] = 1.0
    if sample_weight is not None:
        for j in range(d + k + _u(1)):
            column, weighted = Z[j], V[j]
            for r in range(rows):
                weighted[r] = sample_weight[_u(start) + r] * column[r]


@jit_serial
def _add_products(V, Z, rows, G, X, ahead, ahead_rows):
    """``G[a, c] += Σ_t V[a, t] · Z[c, t]`` over columns [0, rows) of the transposed rows ``Z``
    (``V`` is ``Z``, or ``Z`` times the weights), for the 4 x 4 tiles on and above the diagonal
    (the upper triangle, and a few entries below it that are never read), each tile sixteen dot
    products in vectors (:mod:`fastlr.kernels.gram_tiles`). Between the tiles, the rows
    ``[ahead, ahead + ahead_rows)`` of ``X`` (the next ones the pass copies) are prefetched, a few
    cache lines a tile: the products are arithmetic only, and without it the memory sat idle
    while they ran (Intel Xeon, 2M x 50 float64, 1 thread: 138-139 ms without, 126-127 with;
    2 threads 73 -> 64-72 ms).

    Raises IndexError where the arrays do not hold the tiles (checked once, not per tile: the
    tiles are raw vector loads)."""
    m = _u(Z.shape[0])
    if (
        m % _u(STEP) != 0
        or V.shape != Z.shape
        or rows < 0
        or _u(rows) > _u(Z.shape[1])
        or _u(G.shape[0]) < m
        or _u(G.shape[1]) < m
        or V.strides[1] != V.itemsize
        or Z.strides[1] != Z.itemsize
    ):
        raise IndexError("_add_products: the arrays do not hold the tiles")
    tiles = (m // _u(STEP)) * (m // _u(STEP) + _u(1)) // _u(2)
    first = _u(ahead) * _u(X.strides[0])
    lines = (_u(ahead_rows) * _u(X.strides[0]) + _u(63)) // _u(64)
    per_tile = (lines + tiles - _u(1)) // tiles
    line = _u(0)
    for a in range(_u(0), m, _u(STEP)):
        for c in range(a, m, _u(STEP)):
            add_tile_unchecked(V, Z, a, c, rows, G)
            for _ in range(per_tile):
                if line < lines:
                    _prefetch(X, first + line * _u(64))
                line += _u(1)


@jit_exact
def _shares(W, Wb):
    """Chan's weights of a merge: (W + Wb, W·Wb / (W + Wb), Wb / (W + Wb)), divided without
    fast math (a reciprocal could round differently in the serial and the parallel kernel)."""
    total = W + Wb
    return total, W * Wb / total, Wb / total


@jit_serial
def _fold(W, mean, G, Wb, mean_b, Gb):
    """Chan's merge of a block (weight ``Wb``, means ``mean_b``, cross products ``Gb``) into
    a state (``W``, ``mean``, ``G``, updated in place, upper triangles); returns the new W."""
    m = mean_b.shape[0]
    if Wb == 0.0:
        return W
    if W == 0.0:  # the first block: the merge is a copy
        for a in range(m):
            for c in range(a, m):
                G[a, c] = Gb[a, c]
            mean[a] = mean_b[a]
        return Wb
    total, factor, share = _shares(W, Wb)
    delta = np.empty(m)
    for a in range(m):
        delta[a] = mean_b[a] - mean[a]
    for a in range(m):
        for c in range(a, m):
            G[a, c] += Gb[a, c] + factor * delta[a] * delta[c]
    for a in range(m):
        mean[a] += delta[a] * share
    return total


@jit_serial
def _row(X, Y, i):
    """Row ``i`` of [X, Y] in float64."""
    d, k = X.shape[1], Y.shape[1]
    row = np.empty(d + k)
    for j in range(d):
        row[j] = np.float64(X[i, j])
    for o in range(k):
        row[d + o] = np.float64(Y[i, o])
    return row


@jit_serial
def _centered(Gb, shift):
    """A block's products of rows less ``shift`` (with Σ w·z in column m and Σ w at (m, m),
    m = len(shift)) -> (Σ w, the weighted means, and in place the cross products about the
    means, upper triangle): Σ w·(z - z̄)(z - z̄)ᵀ = Σ w·z·zᵀ - (Σ w·z)(Σ w·z)ᵀ / Σ w. With z
    taken about a row of the block, not about zero, the subtraction keeps the digits of
    centered sums (all but about log10(1 + |z̄|² / var) of them)."""
    m = shift.shape[0]
    total = Gb[m, m]
    mean = np.empty(m)
    if total == 0.0:
        for a in range(m):
            mean[a] = shift[a]
        return total, mean
    sums = np.empty(m)
    for a in range(m):
        sums[a] = Gb[a, m]
        mean[a] = Gb[a, m]
    _divide(mean, total)
    for a in range(m):
        for c in range(a, m):
            Gb[a, c] -= sums[a] * mean[c]
    for a in range(m):
        mean[a] += shift[a]
    return total, mean


def _fold_blocks(X, Y, sample_weight, first_row, block_rows, per_group, W, mean, G):
    """Fold the rows of [X, Y], rows ``first_row`` on of the whole data (a multiple of
    ``block_rows``), block by block into the states of their groups (``W`` (groups,), ``mean``
    (groups, d + k), ``G`` (groups, m, m) with m = d + k padded to a multiple of 4); serial, or
    the groups spread over the threads (the same bits)."""
    n = X.shape[0]
    first_block = first_row // block_rows
    last_block = (first_row + n - 1) // block_rows
    first_group = first_block // per_group
    m = X.shape[1] + Y.shape[1]
    width = (m // STEP + 1) * STEP  # the columns, a column of ones, zeros to a multiple of STEP
    for g in prange(last_block // per_group - first_group + 1):
        group = first_group + g
        Z = aligned_zeros(width, SUB_ROWS)
        V = Z if sample_weight is None else aligned_zeros(width, SUB_ROWS)
        Gb = np.empty((width, width))
        begin = max(first_block, group * per_group)
        end = min(last_block, (group + 1) * per_group - 1)
        for b in range(begin, end + 1):
            start = b * block_rows - first_row
            stop = min(start + block_rows, n)
            shift = _row(X, Y, (start + stop) // 2)
            Gb[:, :] = 0.0
            for sub in range(start, stop, SUB_ROWS):
                rows = min(SUB_ROWS, stop - sub)
                _shifted_columns(X, Y, sample_weight, sub, sub + rows, shift, Z, V)
                ahead = min(sub + rows + SUB_ROWS, n) - (sub + rows)
                _add_products(V, Z, rows, Gb, X, sub + rows, ahead)
            Wb, mean_b = _centered(Gb, shift)
            W[group] = _fold(W[group], mean[group], G[group], Wb, mean_b, Gb)


fold_blocks_serial, fold_blocks_parallel = serial_and_parallel(_fold_blocks)


@jit_serial
def reduce_groups(W, mean, G):
    """The groups' states folded in order: (Σ w, the means, the upper triangle of the centered
    cross products, padded as ``G[g]``)."""
    total = 0.0
    all_mean = np.zeros(mean.shape[1])
    all_G = np.zeros((G.shape[1], G.shape[2]))
    for g in range(W.shape[0]):
        total = _fold(total, all_mean, all_G, W[g], mean[g], G[g])
    return total, all_mean, all_G
