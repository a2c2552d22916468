"""Data bigger than memory: the passes of training over a file-backed X, a block of rows at a time.

:class:`StreamingBackend` is the :class:`fastlr.training.backend.Backend` of an ``X`` mapped from a
file (``np.memmap``, ``np.load(path, mmap_mode="r")``, or a ``.npy`` path given to ``fit``).
It runs the fused kernels on blocks of rows that are views of the mapping (no copy) and gives
back each block's pages once they are read (:mod:`fastlr._pages`), so the process holds about
one block (:data:`BLOCK_BYTES`) whatever the size of the file. The training loop above it is the
one every fit uses (:mod:`fastlr.training.run`); only the passes are cut into blocks:

- Loss and gradient, column moments, row norms: a block is a run of whole chunks of the
  in-memory kernels' layout (:func:`fastlr.kernels.chunk_starts` of the whole file, at most
  256 chunks), and the block kernels write the same per-chunk partials with the same row loop,
  reduced in the same order: the same bits as the in-memory pass. Only when one chunk (1/256 of
  the file) is larger than a block is a chunk summed in pieces (then the results agree with
  memory to rounding, not to the bit).
- The sufficient statistics (the Gram path of batch mode): blocks are whole numbers of the
  in-memory pass's float64 sub-blocks (2**20 values), merged by Chan's formula in the same
  order: the same bits. A block holds at least one sub-block.
- sgd and mini-batch without shuffling: the training loop's own kernel calls, on the mapped X,
  each released after it: the same bits. (A call longer than a block is cut into blocks of
  whole batches: the same coefficients; the epoch's loss is then summed in other groups.)
- sgd and mini-batch with ``shuffle=True``: reading a file in random row order would be random
  I/O, so "shuffle" means a local shuffle, as file-based data loaders do: each epoch visits the
  blocks in a fresh random order (the last, shorter block last, so batches stay whole) and the
  rows of each block in a fresh random order (the kernels' keyed permutation, on the block).
  The orders are drawn from the epoch's seed: ``random_state`` makes them reproducible. A file
  that fits in one block is shuffled exactly as in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from fastlr import kernels
from fastlr._pages import release
from fastlr._threading import parallel_launch
from fastlr.engines.inspect_rows import ArrayRows
from fastlr.engines.memory import (
    PARALLEL_MIN_ELEMENTS,
    FusedBackend,
    GramMoments,
    OnFused,
    moments_from_parts,
    predict_into,
)
from fastlr.kernels.records import Linear, Rows
from fastlr.training.backend import EpochData, StochasticEpoch
from fastlr.training.loop import Model, RowOrder
from fastlr.training.settings import Moments, Scaling, TrainSettings

#: Bytes of X a pass holds at once (about: plus up to 2 MiB at each end, and y's rows).
BLOCK_BYTES = 128 << 20
#: When one chunk of the in-memory layout is larger than a block, each block of it is summed in
#: this many pieces (spread over the threads; a fixed count, so the bits do not depend on them).
PIECES_PER_BLOCK = 16


def streams(X: np.ndarray) -> bool:
    """Whether a fit on ``X`` streams it from its file (X is an ``np.memmap``)."""
    return isinstance(X, np.memmap)


@dataclass(frozen=True)
class Block:
    """Rows [start, stop) of the file, cut into pieces [starts[p], starts[p + 1]) (relative to
    ``start``) that belong to the in-memory chunks ``chunks[p]``; ``whole``: each piece is a
    whole chunk, and the chunks are consecutive."""

    start: int
    stop: int
    starts: np.ndarray
    chunks: np.ndarray
    whole: bool


def chunk_blocks(n: int, rows: int, n_threads: int) -> list[Block]:
    """Blocks of at most ``rows`` rows (when a chunk fits) made of whole chunks of the in-memory
    layout of ``n`` rows; a multiple of ``n_threads`` chunks each where the budget allows, so
    every thread has as many. Chunks larger than ``rows`` are cut into blocks of ``rows``."""
    starts = kernels.chunk_starts(n)
    nc = starts.shape[0] - 1
    widest = int(np.diff(starts).max())
    blocks = []
    if widest <= rows:
        per = max(1, rows // widest)
        if per >= n_threads:
            per -= per % n_threads
        for c in range(0, nc, per):
            end = min(c + per, nc)
            first = int(starts[c])
            blocks.append(
                Block(first, int(starts[end]), starts[c : end + 1] - first, np.arange(c, end), True)
            )
        return blocks
    piece = max(1, rows // PIECES_PER_BLOCK)
    for c in range(nc):
        for first in range(int(starts[c]), int(starts[c + 1]), rows):
            last = min(first + rows, int(starts[c + 1]))
            cuts = np.append(np.arange(first, last, piece), last) - first
            blocks.append(Block(first, last, cuts, np.full(cuts.shape[0] - 1, c), False))
    return blocks


@dataclass(frozen=True)
class EpochPlan:
    """One shuffled epoch out of core: slot ``q`` visits block ``blocks[q]`` (rows
    ``blocks[q] * rows`` on), at epoch positions [starts[q], starts[q + 1]), in the row order
    of the key ``keys[q]``."""

    seed: bytes
    rows: int
    blocks: np.ndarray
    starts: np.ndarray
    keys: list[np.ndarray]

    @classmethod
    def draw(cls, order: np.ndarray, n: int, rows: int) -> EpochPlan:
        """The plan of the epoch whose in-memory row order is the key ``order``."""
        if n <= rows:  # one block: the in-memory order itself
            return cls(order.tobytes(), rows, np.zeros(1, np.int64), np.array([0, n]), [order])
        rng = np.random.default_rng([int(v) for v in order])
        full = n // rows
        blocks = rng.permutation(full)
        if n % rows:
            blocks = np.append(blocks, full)  # the shorter block last: batches stay whole
        sizes = np.minimum(rows, n - blocks * rows)
        keys = [RowOrder(int(size), True, rng).next() for size in sizes]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        return cls(order.tobytes(), rows, blocks, starts, keys)

    def segments(self, lo: int, hi: int) -> Iterator[tuple[int, int, int]]:
        """(slot, first, last) for the epoch positions [lo, hi): positions first..last - 1 of
        the slot's block."""
        slot = int(np.searchsorted(self.starts, lo, side="right")) - 1
        while slot < self.blocks.shape[0] and self.starts[slot] < hi:
            begin = int(self.starts[slot])
            yield slot, max(lo, begin) - begin, min(hi, int(self.starts[slot + 1])) - begin
            slot += 1

    def block_rows(self, slot: int, n: int) -> tuple[int, int]:
        first = int(self.blocks[slot]) * self.rows
        return first, min(first + self.rows, n)


class StreamingBackend(OnFused, ArrayRows):
    """:class:`fastlr.training.backend.Backend` over a file-backed X, in blocks of ``block_bytes``
    (see the module); the d-sized work runs on ``fused`` (:class:`~fastlr.engines.memory.OnFused`).
    ``largest_block`` records the most bytes of X a pass held at once."""

    def __init__(self, n_threads: int, block_bytes: int | None = None) -> None:
        self.fused = FusedBackend(n_threads)
        self.n_threads = n_threads
        self.block_bytes = BLOCK_BYTES if block_bytes is None else int(block_bytes)
        self.largest_block = 0
        self._plan: EpochPlan | None = None
        self._layouts: dict[tuple[int, int], list[Block]] = {}

    # ------------------------------------------------------------------ blocks
    def block_rows(self, X: np.ndarray) -> int:
        """Rows of X in a block."""
        return max(1, self.block_bytes // max(1, int(X.shape[1]) * int(X.itemsize)))

    def _chunk_blocks(self, X: np.ndarray) -> list[Block]:
        key = (X.shape[0], self.block_rows(X))
        if key not in self._layouts:
            self._layouts[key] = chunk_blocks(*key, self.n_threads)
        return self._layouts[key]

    def _views(
        self, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None, start: int, stop: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        self.largest_block = max(self.largest_block, (stop - start) * X.shape[1] * X.itemsize)
        return X[start:stop], Y[start:stop], None if w is None else w[start:stop]

    @staticmethod
    def _release(X: np.ndarray, Y: np.ndarray, w: np.ndarray | None, start: int, stop: int) -> None:
        for array in (X, Y, w):
            release(array, start, stop)

    def _threads(self, X: np.ndarray) -> int:
        return self.n_threads if X.size >= PARALLEL_MIN_ELEMENTS else 1

    # ------------------------------------------------------------------ passes
    def moments(self, rows: Rows, gram: bool) -> Moments:
        (X, Y, sample_weight), (n, d, k) = rows, (rows.n, rows.d, rows.k)
        if gram:
            statistics = GramMoments(n, d, k, self._threads(X))
            step = max(statistics.rows, self.block_rows(X) // statistics.rows * statistics.rows)
            for start in range(0, n, step):
                stop = min(start + step, n)
                statistics.add(*self._views(X, Y, sample_weight, start, stop))
                self._release(X, Y, sample_weight, start, stop)
            return statistics.result()
        groups = []
        y_sum = np.zeros(k)
        for block in self._chunk_blocks(X):
            Xb, Yb, wb = self._views(X, Y, sample_weight, block.start, block.stop)
            parts = np.zeros((block.chunks.shape[0], 1 + 3 * d))
            with parallel_launch(self.n_threads):
                kernels.column_moment_parts(Xb, wb, block.starts, parts)
            groups.append(parts)
            weighted = Yb.astype(np.float64) if wb is None else Yb * wb[:, None]
            y_sum += weighted.sum(axis=0)
            self._release(X, Y, sample_weight, block.start, block.stop)
        parts = np.concatenate(groups)
        return moments_from_parts(parts, y_sum / parts[:, 0].sum())

    def row_norm_bounds(self, rows: Rows, scaling: Scaling, intercept: bool) -> tuple[float, float]:
        X, sample_weight = rows.X, rows.sample_weight
        nc = int(kernels.n_chunks(X.shape[0]))
        maxima, sums = np.zeros(nc), np.zeros(nc)
        for block in self._chunk_blocks(X):
            Xb, _, wb = self._views(X, X, sample_weight, block.start, block.stop)
            top, total = np.zeros(block.chunks.shape[0]), np.zeros(block.chunks.shape[0])
            with parallel_launch(self.n_threads):
                kernels.row_norm_parts(
                    Xb, wb, scaling.shift, scaling.scale, intercept, block.starts, top, total
                )
            if block.whole:
                maxima[block.chunks] = top
                sums[block.chunks] = total
            else:
                for q, c in enumerate(block.chunks):
                    maxima[c] = max(maxima[c], top[q])
                    sums[c] += total[q]
            self._release(X, X, sample_weight, block.start, block.stop)
        top_norm, sum_norm = kernels.reduce_row_norms(maxima, sums)
        return float(top_norm), float(sum_norm)

    def loss_gradient(
        self, rows: Rows, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        (X, Y, sample_weight), (coef, intercept) = rows, model
        n, d, k = rows.n, rows.d, rows.k
        threads = self._threads(X)
        nc = int(kernels.n_chunks(n))
        single = k == 1
        width: tuple[int, ...] = (d + 2,) if single else (k, d + 2)
        partials = np.zeros((nc, *width))
        params = coef[0] if single else coef
        kernel = _parts_kernel(X, single, threads)
        for block in self._chunk_blocks(X):
            Xb, Yb, wb = self._views(X, Y, sample_weight, block.start, block.stop)
            parts = np.zeros((block.chunks.shape[0], *width))
            target = Yb[:, 0] if single else Yb
            b = float(intercept[0]) if single else intercept
            with parallel_launch(threads):
                kernel(Xb, target, wb, params, b, block.starts, parts)
            if block.whole:
                partials[block.chunks] = parts
            else:
                for q, c in enumerate(block.chunks):
                    partials[c] += parts[q]
            self._release(X, Y, sample_weight, block.start, block.stop)
        if single:
            loss, grad_b = kernels.reduce_fused_parts(partials, total_weight, grad[0, :-1])
            grad[0, -1] = grad_b
            return float(loss)
        return float(kernels.reduce_fused_parts_multi(partials, total_weight, grad))

    def compensated_loss_gradient(
        self, rows: Rows, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        (X, Y, sample_weight), (coef, intercept) = rows, model
        threads = self._threads(X)
        kernel = (
            kernels.compensated_parts_serial if threads == 1 else kernels.compensated_parts_parallel
        )
        params = (np.ascontiguousarray(coef), np.ascontiguousarray(intercept))
        partials = np.zeros((int(kernels.n_chunks(rows.n)), rows.k, 2, rows.d + 2))
        for block in self._chunk_blocks(X):
            Xb, Yb, wb = self._views(X, Y, sample_weight, block.start, block.stop)
            # each chunk's rows continue its sums in order: the bits of the pass in memory (a
            # block cut from one chunk is one piece here: its pieces would start from the same sums)
            chunks, starts = (
                (block.chunks, block.starts)
                if block.whole
                else (block.chunks[:1], block.starts[[0, -1]])
            )
            parts = partials[chunks]
            with parallel_launch(threads):
                kernel(Xb, Yb, wb, *params, starts, parts)
            partials[chunks] = parts
            self._release(X, Y, sample_weight, block.start, block.stop)
        return float(kernels.reduce_compensated_parts(partials, total_weight, grad))

    # ------------------------------------------------------------------ epochs
    @property
    def sgd(self) -> StochasticEpoch[Rows]:
        return self._blockwise(self.fused.sgd)

    @property
    def minibatch(self) -> StochasticEpoch[Rows]:
        return self._blockwise(self.fused.minibatch)

    def _blockwise(self, run: StochasticEpoch[Rows]) -> StochasticEpoch[Rows]:
        """``run`` on epoch positions [lo, hi): rows in order on the mapped X itself, or the
        blocks of the epoch's plan, each with its own row order (see the module)."""

        def epoch(data: EpochData[Rows], model: Model, rate: float, lo: int, hi: int) -> float:
            (X, Y, w), order = data.rows, data.order
            rows = self._batch_rows(X, data.s)
            total = 0.0
            if order.shape[0] == 0:
                for start in range(lo, hi, rows):
                    stop = min(start + rows, hi)
                    self._views(X, Y, w, start, stop)
                    total += run(data, model, rate, start, stop)
                    self._release(X, Y, w, start, stop)
                return total
            plan = self._epoch_plan(order, X.shape[0], rows)
            for slot, first, last in plan.segments(lo, hi):
                start, stop = plan.block_rows(slot, X.shape[0])
                Xb, Yb, wb = self._views(X, Y, w, start, stop)
                key = plan.keys[slot]
                block = dataclasses.replace(data, rows=Rows(Xb, Yb, wb), order=key)
                total += run(block, model, rate, first, last)
                if last == stop - start:
                    self._release(X, Y, w, start, stop)
            return total

        return epoch

    def hogwild(
        self, data: EpochData[Rows], model: Model, rate: float
    ) -> tuple[float, np.ndarray | None]:
        """Hogwild! block by block: the threads share each block's rows."""
        (X, Y, sample_weight), order = data.rows, data.order
        n = X.shape[0]
        rows = self._batch_rows(X, data.s)
        if order.shape[0] == 0:
            visits = [(start, min(start + rows, n), order) for start in range(0, n, rows)]
        else:
            plan = self._epoch_plan(order, n, rows)
            visits = [(*plan.block_rows(q, n), plan.keys[q]) for q in range(plan.blocks.shape[0])]
        total, average = 0.0, None
        for start, stop, key in visits:
            Xb, Yb, wb = self._views(X, Y, sample_weight, start, stop)
            block = dataclasses.replace(data, rows=Rows(Xb, Yb, wb), order=key)
            part, part_average = self.fused.hogwild(block, model, rate)
            total += part
            if part_average is not None:
                average = part_average if average is None else average + part_average
            self._release(X, Y, sample_weight, start, stop)
        return total, average

    def _batch_rows(self, X: np.ndarray, s: TrainSettings) -> int:
        """Rows per block of a stochastic epoch: whole batches."""
        step = s.batch_size if s.mode == "minibatch" else 1
        return max(step, self.block_rows(X) // step * step)

    def _epoch_plan(self, order: np.ndarray, n: int, rows: int) -> EpochPlan:
        seed = order.tobytes()
        if self._plan is None or self._plan.seed != seed or self._plan.rows != rows:
            self._plan = EpochPlan.draw(order, n, rows)
        return self._plan


def _parts_kernel(X: np.ndarray, single: bool, threads: int) -> Callable[..., None]:
    """The block kernel of the fused pass over ``X``'s rows: one output or several, serial or
    parallel."""
    if single:
        passes = kernels.row_passes(X.dtype, X.shape[1])
        return passes.parts_serial if threads == 1 else passes.parts_parallel
    return kernels.fused_parts_multi_serial if threads == 1 else kernels.fused_parts_multi_parallel


def predict_blocks(
    X: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    out: np.ndarray,
    n_threads: int,
    block_bytes: int | None = None,
) -> None:
    """:func:`fastlr.memory.predict_into` over a file-backed X, a block at a time."""
    budget = BLOCK_BYTES if block_bytes is None else block_bytes
    rows = max(1, budget // max(1, X.shape[1] * X.itemsize))
    for start in range(0, X.shape[0], rows):
        stop = min(start + rows, X.shape[0])
        predict_into(X[start:stop], coef, intercept, out[start:stop], n_threads)
        release(X, start, stop)
