"""The Gram pass: the centered cross products of the rows of [X, Y], summed in float64 over
blocks of rows and merged with Chan's formula, in parallel over groups of blocks.

The rows are cut into blocks of ``block_rows`` rows from row 0, and the blocks into groups of
``per_group`` consecutive blocks (a layout that depends on the data's shape only). Each group's
state (Σ w, the weighted mean, the upper triangle of Σ w·(z - mean)(z - mean)ᵀ) is folded block
by block, in order; :func:`reduce_groups` folds the groups' states in order. A pass over the
whole array and one over consecutive pieces of it whose lengths are multiples of
``block_rows`` (out of core) fold the same blocks in the same order: the same bits, on any
number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from fastlr.kernels.jit import _u, jit_exact, jit_serial, serial_and_parallel
from fastlr.kernels.options import _weighted
from fastlr.kernels.statistics import _divide

#: The cross products take the columns of [X, Y] four at a time: sixteen dot products of a block's
#: columns at once, each pair of loads feeding four (the state's matrices are padded with zero
#: columns to a multiple of four).
STEP = 4


@jit_serial
def _centered_columns(X, Y, sample_weight, start, stop, Z, V):
    """Rows [start, stop) of [X, Y] in float64, less their (weighted) column means, written
    transposed: column j of the block is ``Z[j, : stop - start]``, and ``V[j]`` is ``w · Z[j]``
    (``V`` is ``Z`` without weights). Returns (the means, Σ w)."""
    d = _u(X.shape[1])
    k = _u(Y.shape[1])
    rows = _u(stop - start)
    for t in range(rows):  # the copy alone: sums in this loop would triple its time
        i = _u(start) + t
        for j in range(d):
            Z[j, t] = np.float64(X[i, j])
        for o in range(k):
            Z[d + o, t] = np.float64(Y[i, o])
    total = np.float64(rows)
    if sample_weight is not None:
        total = 0.0
        for t in range(rows):
            total += sample_weight[_u(start) + t]
    mean = np.zeros(X.shape[1] + Y.shape[1])
    for j in range(d + k):
        column = Z[j]
        total_j = 0.0
        for t in range(rows):
            total_j += _weighted(sample_weight, _u(start) + t, column[t])
        mean[j] = total_j
    if total > 0.0:
        _divide(mean, total)
    for j in range(d + k):
        column, weighted, shift = Z[j], V[j], mean[j]
        for t in range(rows):
            column[t] -= shift
        if sample_weight is not None:
            for t in range(rows):
                weighted[t] = sample_weight[_u(start) + t] * column[t]
    return mean, total


@jit_serial
def _add_products(V, Z, rows, G):
    """``G[a, c] += Σ_t V[a, t] · Z[c, t]`` over columns [0, rows) of the transposed block ``Z``
    (``V`` is ``Z``, or ``Z`` times the weights), for the 4 x 4 tiles on and above the diagonal
    (the upper triangle, and a few entries below it that are never read): sixteen dot products
    of long rows at a time, each pair of loads feeding four of them."""
    m = _u(Z.shape[0])
    for a in range(_u(0), m, _u(STEP)):
        a1, a2, a3 = a + _u(1), a + _u(2), a + _u(3)
        for c in range(a, m, _u(STEP)):
            c1, c2, c3 = c + _u(1), c + _u(2), c + _u(3)
            g00 = g01 = g02 = g03 = g10 = g11 = g12 = g13 = 0.0
            g20 = g21 = g22 = g23 = g30 = g31 = g32 = g33 = 0.0
            for t in range(_u(rows)):
                v0, v1, v2, v3 = V[a, t], V[a1, t], V[a2, t], V[a3, t]
                z0, z1, z2, z3 = Z[c, t], Z[c1, t], Z[c2, t], Z[c3, t]
                g00 += v0 * z0
                g01 += v0 * z1
                g02 += v0 * z2
                g03 += v0 * z3
                g10 += v1 * z0
                g11 += v1 * z1
                g12 += v1 * z2
                g13 += v1 * z3
                g20 += v2 * z0
                g21 += v2 * z1
                g22 += v2 * z2
                g23 += v2 * z3
                g30 += v3 * z0
                g31 += v3 * z1
                g32 += v3 * z2
                g33 += v3 * z3
            G[a, c], G[a, c1], G[a, c2], G[a, c3] = g00, g01, g02, g03
            G[a1, c], G[a1, c1], G[a1, c2], G[a1, c3] = g10, g11, g12, g13
            G[a2, c], G[a2, c1], G[a2, c2], G[a2, c3] = g20, g21, g22, g23
            G[a3, c], G[a3, c1], G[a3, c2], G[a3, c3] = g30, g31, g32, g33


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
        mean[:m] = mean_b
        return Wb
    total, factor, share = _shares(W, Wb)
    delta = mean_b - mean
    for a in range(m):
        for c in range(a, m):
            G[a, c] += Gb[a, c] + factor * delta[a] * delta[c]
    for a in range(m):
        mean[a] += delta[a] * share
    return total


def _fold_blocks(X, Y, sample_weight, first_row, block_rows, per_group, W, mean, G):
    """Fold the rows of [X, Y], rows ``first_row`` on of the whole data (a multiple of
    ``block_rows``), block by block into the states of their groups (``W`` (groups,), ``mean``
    (groups, d + k), ``G`` (groups, m, m) with m = d + k padded to a multiple of 4); serial, or
    the groups spread over the threads (the same bits)."""
    n = X.shape[0]
    first_block = first_row // block_rows
    last_block = (first_row + n - 1) // block_rows
    first_group = first_block // per_group
    for g in prange(last_block // per_group - first_group + 1):
        group = first_group + g
        Z = np.zeros((G.shape[1], block_rows))
        V = Z if sample_weight is None else np.zeros_like(Z)
        Gb = np.empty((G.shape[1], G.shape[1]))
        begin = max(first_block, group * per_group)
        end = min(last_block, (group + 1) * per_group - 1)
        for b in range(begin, end + 1):
            start = b * block_rows - first_row
            stop = min(start + block_rows, n)
            mean_b, Wb = _centered_columns(X, Y, sample_weight, start, stop, Z, V)
            _add_products(V, Z, stop - start, Gb)
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
