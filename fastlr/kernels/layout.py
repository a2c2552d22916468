"""How a pass splits rows (chunks whose layout depends on n only) and the order an epoch visits
them (a shuffle without an index array), with the prefetching of shuffled rows; scratch arrays
that start on a cache line."""

from __future__ import annotations

import numpy as np

from fastlr.kernels.jit import _prefetch_to_l2, _u, jit_serial

# A 64-bit mixing constant (SplitMix64's) for the shuffle's Feistel rounds.
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_ONE = np.uint64(1)

#: Rows per chunk below which a problem stays in one chunk, and the most chunks a pass uses.
MIN_CHUNK_ROWS = 1024
MAX_CHUNKS = 256
#: float64 elements of a cache line.
_LINE_DOUBLES = 8


@jit_serial
def aligned_zeros(rows, columns):
    """A (rows, columns) float64 array of zeros whose data starts on a cache line (64 bytes).

    numba's arrays start 32 bytes past one (measured: ``Z.ctypes.data % 64`` was 32 for every
    ``np.zeros``), so every 64-byte vector a kernel writes or reads in them spans two cache
    lines: measured on the Intel Xeon, one thread, an 8 x 8 block of the Gram pass's copy took
    31 ns into such rows and 11-12 ns into aligned ones. Rows whose length is a multiple of 8
    elements then all start on a cache line."""
    flat = np.zeros(rows * columns + _LINE_DOUBLES)
    skip = (-(flat.ctypes.data // 8)) % _LINE_DOUBLES
    return flat[skip : skip + rows * columns].reshape((rows, columns))


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


# --------------------------------------------------------------------------- epochs
#: Shuffled epochs read rows in random order, which the hardware cannot predict; the kernels
#: ask for the row this many samples ahead (measured on the AMD EPYC: 16 beats 8 by 10-25%; on
#: the Intel Xeon, into L2, 16 beats 8 by 1-3%).
PREFETCH_ROWS = 16


@jit_serial
def _prefetch_row(X, y, row):
    """Prefetch every cache line of ``X[row]`` and ``y[row]`` into L2: a line every 64 bytes from
    the row's start, and the line of its last byte (a row that does not start on a line ends in
    one more). Without that last line, measured on the Intel Xeon, an averaged sgd epoch of
    1M x 20 float64 (160-byte rows) took 52.1 ms against a 35.1 ms random-row read; with it
    38.8 ms against 29.3 (``benchmarks/roofline.py sgd``).

    Into L2 (``prefetcht1``), not every level: measured on the Intel Xeon (2026-12-07), a read
    of 200k x 200 float64 rows in a shuffled order took 50 ms prefetched into L1, 47.5 ms not
    prefetched at all and 37 ms prefetched into L2; 1M x 20: 42, 53 and 33 ms. Likely, though not
    shown (no hardware counters on that machine): a line asked for into L1 holds one of the
    core's few L1 miss buffers until it arrives, and the row's other lines queue behind it."""
    _prefetch_lines(X, row, _u(0), _u(X.strides[0]))
    _prefetch_row_end(X, y, row)


@jit_serial
def _prefetch_lines(X, row, start, stop):
    """Prefetch into L2 the lines of ``X[row]`` at byte offsets ``start``, ``start + 64``, ...
    below ``stop`` (part of :func:`_prefetch_row`)."""
    row_bytes = _u(X.strides[0])
    for offset in range(start, stop, _u(64)):
        _prefetch_to_l2(X, row * row_bytes + offset)


@jit_serial
def _prefetch_row_end(X, y, row):
    """Prefetch into L2 the line of ``X[row]``'s last byte and ``y[row]`` (the rest of
    :func:`_prefetch_row` after its lines)."""
    row_bytes = _u(X.strides[0])
    _prefetch_to_l2(X, row * row_bytes + row_bytes - _u(1))
    _prefetch_to_l2(y, row * _u(y.strides[0]))


#: Rows of this many bytes or more are prefetched by the sgd epoch in two halves, one before
#: the row's dot product, one before its update, not in one burst. Measured on the Intel Xeon
#: (2026-12-07, averaged sgd epoch, float64, against the random-row read of the same rows): 200
#: features 1.92x-1.96x the read in one burst, 1.58x in halves; 100 features 1.80x -> 1.67x;
#: 32 and 50 features alike; 20 features (160 bytes) 1.38x -> 1.52x, slower. Likely, not shown:
#: a software prefetch waits for one of the core's few miss buffers, and a row of 25 lines
#: asked for at once holds up the arithmetic behind it.
SPLIT_PREFETCH_ROW_BYTES = 512


# Shuffling without an index array: epoch position k visits row perm(k), where perm is a
# 4-round Feistel network on the smallest even-bit domain holding n, cycle-walked back into
# [0, n) (a bijection of the rows). ``shuffle`` is empty (rows in order) or holds
# [half_bits, key_1, ..., key_4]; see fastlr.training.loop.RowOrder, and fastlr.reference.row_order.
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
