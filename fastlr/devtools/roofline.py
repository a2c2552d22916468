"""The machine's limits for fastlr's passes, measured on the same arrays in the same run.

A kernel's time means little alone: ``fastlr bench`` and ``benchmarks/roofline.py`` show each
pass as a multiple of the fastest thing the machine can do with the same bytes:

- a **sequential read** of ``X`` and ``y`` (1 thread and every thread): the floor of a batch pass,
  which must read every byte once;
- one **BLAS gemv** ``X @ w``: the same stream at BLAS speed (on some shapes faster than a plain
  read loop, whose short rows cost loop overhead);
- a **random-row read**: the rows in the order a shuffled sgd or mini-batch epoch visits them
  (the same permutation, prefetched as the epochs prefetch), on one thread: the floor of sgd;
- the **BLAS Gram product** ``X.T @ X`` (NumPy calls a symmetric rank-k update for it): what the
  moments pass of the default batch fit is measured against;
- the **fused multiply-add rate** of every thread (:func:`fma_seconds`): the floor of a pass
  whose arithmetic, not its read, is the limit (several outputs at a time).

Each contender is timed in a block of runs of its own, in rounds (:func:`time_blocks`): OpenBLAS's
threads keep spinning for a while after a NumPy call returns and slow whatever runs next, so timing
A/B/A/B would charge NumPy's spin to fastlr's kernels.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from numba import prange

from fastlr import kernels
from fastlr.kernels.jit import _u, jit_parallel, jit_serial, serial_and_parallel
from fastlr.kernels.layout import _prefetch_row, _visit_block
from fastlr.kernels.row_vectors import four_dots_unchecked


@jit_serial
def _read_span(X, y, start, stop):
    """Σ of rows [start, stop) of ``X`` and ``y``, added in their own dtype (the cheapest loop
    that touches every byte: it vectorizes over the flat rows, whatever their width)."""
    d = _u(X.shape[1])
    flat = X.reshape(-1)
    total_x = X.dtype.type(0)
    for k in range(_u(start) * d, _u(stop) * d):
        total_x += flat[k]
    total_y = y.dtype.type(0)
    for i in range(_u(start), _u(stop)):
        total_y += y[i]
    return np.float64(total_x) + np.float64(total_y)


def _read_chunks(X, y):
    """Read every byte of ``X`` and ``y`` in the fused pass's chunks (returns their sum).

    Compiled twice (:func:`~fastlr.kernels.jit.serial_and_parallel`): ``read_parallel`` on every
    thread, ``read_serial`` on one. One thread reads in chunks too: the same loop over the whole
    array at once (``_read_span(X, y, 0, n)``, its start a constant) read 200k x 500 float32 in
    33.5 ms, in chunks 21.6 ms, with the same inner loop in both assemblies (Intel Xeon, one
    core; cause not found). Read the slower way, the one-thread column understated a core's
    bandwidth by 1.5x.
    """
    n = X.shape[0]
    nc = kernels.n_chunks(n)
    parts = np.zeros(nc)
    for c in prange(nc):
        parts[c] = _read_span(X, y, c * n // nc, (c + 1) * n // nc)
    return parts.sum()


read_serial, read_parallel = serial_and_parallel(_read_chunks)


@jit_serial
def read_rows(X, y, shuffle):
    """Read the rows of ``X`` and ``y`` in the epoch order ``shuffle`` gives (see
    :class:`fastlr.training.loop.RowOrder`), prefetched as the sgd and mini-batch epochs
    prefetch."""
    n = X.shape[0]
    d = _u(X.shape[1])
    rows = np.zeros(kernels.ROW_BLOCK + kernels.PREFETCH_ROWS, dtype=np.uint64)
    total = 0.0
    for start in range(0, n, kernels.ROW_BLOCK):
        count = _visit_block(X, y, shuffle, rows, start)
        for t in range(count):
            _prefetch_row(X, y, rows[t + kernels.PREFETCH_ROWS])
            i = rows[t]
            row = X.dtype.type(0)
            for j in range(d):
                row += X[i, j]
            total += np.float64(row) + np.float64(y[i])
    return total


@jit_serial
def _fma_rounds(block, coef, rounds):
    """``rounds`` times the four dot products of ``block``'s four rows (kept in L1): each round
    ``block.shape[1] / 2`` fused multiply-adds of 8 float64 lanes (returns their sum)."""
    total = 0.0
    for _ in range(rounds):
        a, b, c, d = four_dots_unchecked(block, 0, coef, 0.0, 0)
        total += (a + b) + (c + d)
    return total


@jit_parallel
def _fma_every_thread(block, coef, rounds, sums):
    for t in prange(sums.shape[0]):
        sums[t] = _fma_rounds(block, coef, rounds)


def fma_seconds(repeats: int = 5, rounds: int = 3) -> float:
    """Seconds per fused multiply-add of 8 float64 lanes with every thread busy: the floor of
    a pass's arithmetic (a one-output pass does 2 per 8 elements of ``X``, k outputs 2k), where
    the read is not the limit.

    Measured with the passes' own dot-product step (:mod:`fastlr.kernels.row_vectors`) over 4
    rows of 1024 float64 in L1, 10,000 times on each thread.

    Examples
    --------
    >>> 0 < fma_seconds(repeats=1, rounds=1) < 1e-6
    True
    """
    from fastlr._threading import max_threads, parallel_launch

    threads = max_threads()
    block, coef, sums = np.ones((4, 1024)), np.full(1024, 1e-9), np.zeros(threads)
    loops = 10_000

    def run() -> None:
        with parallel_launch(threads):
            _fma_every_thread(block, coef, loops, sums)

    seconds = time_blocks({"fma": run}, repeats, rounds)["fma"]
    return seconds / (threads * loops * block.size / 8)


#: Seconds each block of :func:`time_blocks` waits before it starts. After a call returns,
#: OpenBLAS's threads keep spinning after a call (up to 2**28 cycles, its default
#: ``THREAD_TIMEOUT``) before they sleep, taking a core from whatever runs next; one untimed
#: warm-up call of 10-30 ms does not cover that. Measured (AMD EPYC Zen 5, 2M x 50 float32):
#: the fused pass took 21.3 ms right after ``X.T @ X`` and a gemv, 18.5 ms 0.1 s after, 13.8 and
#: 12.4 ms 0.2 and 0.3 s after, 13.1 ms with no BLAS call before it (medians of 6).
SETTLE_SECONDS = 0.25
_settle = SETTLE_SECONDS  # what time_blocks pauses when not told (see settle_seconds)


@contextmanager
def settle_seconds(seconds: float) -> Iterator[None]:
    """Within the block, :func:`time_blocks` (and so :func:`measure_limits`) pause ``seconds``
    before each block unless told otherwise: ``fastlr bench --quick``, whose timings are not
    judged, pauses 0 (the pauses were most of its 70 s).

    Examples
    --------
    >>> with settle_seconds(0.0):
    ...     times = time_blocks({"sum": lambda: sum(range(100))}, repeats=1, rounds=1)
    """
    global _settle
    before, _settle = _settle, seconds
    try:
        yield
    finally:
        _settle = before


def time_blocks(
    contenders: Mapping[str, Callable[[], object]],
    repeats: int = 5,
    rounds: int = 3,
    settle: float | None = None,
) -> dict[str, float]:
    """Median wall time of each contender, each timed in a block of its own.

    Every round runs, for each contender in turn, a pause of ``settle`` seconds (by default
    SETTLE_SECONDS, or what :func:`settle_seconds` set: the previous contender's BLAS threads
    go to sleep), one untimed call (page faults, JIT) then ``repeats`` timed calls; the median
    is taken over all ``rounds * repeats`` samples, so drift in machine speed is spread over
    all.

    Examples
    --------
    >>> times = time_blocks({"sum": lambda: sum(range(100))}, repeats=2, rounds=1)
    >>> sorted(times), times["sum"] > 0
    (['sum'], True)
    """
    pause = _settle if settle is None else settle
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, function in contenders.items():
            time.sleep(pause)
            function()
            for _ in range(repeats):
                start = time.perf_counter()
                function()
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


@dataclass(frozen=True)
class Limits:
    """The limits of one array's passes, in seconds (medians; see :func:`measure_limits`)."""

    read_1: float  #: sequential read of X and y, one thread
    read_n: float  #: sequential read of X and y, every thread
    gemv: float  #: NumPy ``X @ w`` (BLAS gemv)
    random_rows: float  #: one thread reading the rows in a shuffled epoch's order
    gram: float  #: NumPy ``X.T @ X`` (BLAS syrk)

    @property
    def batch(self) -> float:
        """The limit of a batch pass: the faster of the parallel read and the gemv."""
        return min(self.read_n, self.gemv)


def measure_limits(
    X: np.ndarray, y: np.ndarray, shuffle: np.ndarray, repeats: int = 5, rounds: int = 3
) -> Limits:
    """Measure the :class:`Limits` of ``X`` (C-contiguous) and ``y`` on this machine, now.

    ``shuffle`` is the key of the epoch order the random-row read follows (as
    ``fastlr.training.loop.RowOrder(n, True, seed).next()`` gives it).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr.training.loop import RowOrder
    >>> X, y = np.ones((2048, 3)), np.ones(2048)
    >>> limits = measure_limits(X, y, RowOrder(2048, True, 0).next(), repeats=1, rounds=1)
    >>> 0 < limits.batch <= limits.read_n
    True
    """
    from fastlr._threading import max_threads, parallel_launch

    w = np.full(X.shape[1], 0.5, dtype=X.dtype)

    def read_n() -> object:
        with parallel_launch(max_threads()):
            return read_parallel(X, y)

    times = time_blocks(
        {
            "read_1": lambda: read_serial(X, y),
            "read_n": read_n,
            "random_rows": lambda: read_rows(X, y, shuffle),
            "gemv": lambda: X @ w,
            "gram": lambda: X.T @ X,
        },
        repeats,
        rounds,
    )
    return Limits(**times)
