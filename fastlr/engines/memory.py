"""The fused backend: the passes of :mod:`fastlr.training.run` as calls into the jitted kernels.

Plain Python around jitted calls. Everything decided from the passes' results (standardization,
step size, path, the epoch loop) is shared with the NumPy reference in :mod:`fastlr.training.run`.
"""

from __future__ import annotations

import numpy as np

from fastlr import kernels
from fastlr._threading import parallel_launch, resolve_n_jobs
from fastlr.engines.calls import EpochCalls
from fastlr.engines.inspect_rows import ArrayRows
from fastlr.kernels.records import Iterate, Linear, Rows
from fastlr.training.backend import EpochData, GramEpochs
from fastlr.training.loop import LoopRules, Model
from fastlr.training.settings import GramProblem, Moments, Scaling, TrainSettings

#: Below this many elements of X a parallel launch costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 17
#: Elements of [X, Y] per block of the Gram pass: each block's cross products about its own means
#: are merged into its group's by Chan's formula (its rows are copied and multiplied
#: ``kernels.cross_products.SUB_ROWS`` at a time). Chosen when a block was also the copy, on the
#: Intel Xeon (2 threads), the moments of 2M x 50 float64: 110 / 102 / 101 / 104 ms at 2^14 /
#: 2^15 / 2^16 / 2^17 elements, 138 / 124 / 124 / 118 ms at 200k x 200; the earlier BLAS products
#: of 2^17-element blocks took 304 and 214 ms (numpy's one ``X.T @ X`` 195, 114).
GRAM_BLOCK_ELEMENTS = 1 << 16
#: Fewer rows per block than this and the per-block costs (the 4 x 4 tiles' sums, the merge)
#: show on wide rows.
GRAM_MIN_BLOCK_ROWS = 256
#: The most groups of blocks a Gram pass folds in parallel, and the most bytes their states
#: (a (d + k)^2 matrix each) may take.
GRAM_MAX_GROUPS = 64
GRAM_GROUP_BYTES = 1 << 26


def thread_count(X: np.ndarray, n_jobs: int | None) -> int:
    """Threads worth using on ``X``: 1 for small inputs, else what ``n_jobs`` asks for.

    ``n_jobs`` is checked either way, so a bad value fails on small inputs too.
    """
    requested = None if n_jobs is None else resolve_n_jobs(n_jobs)
    if X.size < PARALLEL_MIN_ELEMENTS:
        return 1
    return requested if requested is not None else resolve_n_jobs(None)


def compensated_sums(rows: Rows, model: Linear, n_threads: int) -> np.ndarray:
    """The double-double sums (k, 2, d + 2) of the compensated pass over ``rows`` at ``model``
    (:mod:`fastlr.kernels.compensated`), chunked as the fused pass is."""
    (X, Y, sample_weight), (coef, intercept) = rows, model
    starts = kernels.chunk_starts(X.shape[0])
    parts = np.zeros((starts.shape[0] - 1, rows.k, 2, rows.d + 2))
    params = (np.ascontiguousarray(coef), np.ascontiguousarray(intercept))
    if X.size < PARALLEL_MIN_ELEMENTS or n_threads == 1:
        kernels.compensated_parts_serial(X, Y, sample_weight, *params, starts, parts)
    else:
        with parallel_launch(n_threads):
            kernels.compensated_parts_parallel(X, Y, sample_weight, *params, starts, parts)
    return np.asarray(kernels.sum_compensated_parts(parts))


def fused_pass(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    intercept: float,
    grad: np.ndarray,
    n_threads: int,
    sample_weight: np.ndarray | None = None,
    total_weight: float | None = None,
) -> tuple[float, float]:
    """One output: loss and intercept gradient returned, ``Xᵀ(w·r)/W`` in ``grad`` (W = n
    without weights, else ``total_weight``)."""
    passes = kernels.row_passes(X.dtype, X.shape[1])
    if sample_weight is None:  # what fused_pass_serial computes
        total_weight = X.shape[0]
    assert total_weight is not None
    args = (X, y, sample_weight, coef, intercept, total_weight, grad)
    if n_threads == 1:
        loss, grad_b = passes.pass_serial(*args)
    else:
        with parallel_launch(n_threads):
            loss, grad_b = passes.pass_parallel(*args)
    return float(loss), float(grad_b)


def predict_into(
    X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, out: np.ndarray, n_threads: int
) -> None:
    """Write ``X @ coef[o] + intercept[o]`` into ``out[:, o]`` for each output."""
    for o in range(coef.shape[0]):
        column = out[:, o] if out.shape[1] > 1 else out.reshape(-1)
        if n_threads == 1:
            kernels.predict_serial(X, coef[o], float(intercept[o]), column)
        else:
            with parallel_launch(n_threads):
                kernels.predict_parallel(X, coef[o], float(intercept[o]), column)


class FusedBackend(EpochCalls, ArrayRows):
    """The engine protocol (:class:`~fastlr.training.backend.Backend`) on the jitted kernels, with
    ``n_threads`` threads."""

    update_parameters = staticmethod(kernels.update_parameters)
    sgd_epoch = staticmethod(kernels.sgd_epoch)
    minibatch_epoch = staticmethod(kernels.minibatch_epoch)

    def __init__(self, n_threads: int) -> None:
        self.n_threads = n_threads

    # ------------------------------------------------------------------ passes
    def moments(self, rows: Rows, gram: bool) -> Moments:
        X, Y, sample_weight = rows
        if gram:
            gram_moments = GramMoments(rows.n, rows.d, rows.k, self.n_threads)
            gram_moments.add(X, Y, sample_weight)
            return gram_moments.result()
        with parallel_launch(self.n_threads):
            parts = kernels.column_moments(X, sample_weight)
        y_mean = np.average(Y, axis=0, weights=sample_weight).astype(np.float64)
        return moments_from_parts(parts, y_mean)

    def row_norm_bounds(self, rows: Rows, scaling: Scaling, intercept: bool) -> tuple[float, float]:
        with parallel_launch(self.n_threads):
            top, total = kernels.row_norm_bounds(
                rows.X, rows.sample_weight, scaling.shift, scaling.scale, intercept
            )
        return float(top), float(total)

    def loss_gradient(
        self, rows: Rows, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        (X, Y, sample_weight), (coef, intercept) = rows, model
        threads = self.n_threads if X.size >= PARALLEL_MIN_ELEMENTS else 1
        if Y.shape[1] == 1:
            grad_b: float
            loss, grad_b = fused_pass(
                X,
                Y[:, 0],
                coef[0],
                float(intercept[0]),
                grad[0, :-1],
                threads,
                sample_weight,
                total_weight,
            )
            grad[0, -1] = grad_b
            return float(loss)
        if threads == 1:
            return float(
                kernels.fused_pass_multi_serial(
                    X, Y, sample_weight, coef, intercept, total_weight, grad
                )
            )
        with parallel_launch(threads):
            return float(
                kernels.fused_pass_multi_parallel(
                    X, Y, sample_weight, coef, intercept, total_weight, grad
                )
            )

    def compensated_loss_gradient(
        self, rows: Rows, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        total = compensated_sums(rows, model, self.n_threads)
        return float(kernels.finish_compensated(total, total_weight, grad))

    def gram_loss_gradient(
        self, problem: GramProblem, coef: np.ndarray, intercept: np.ndarray, grad: np.ndarray
    ) -> float:
        return float(kernels.gram_loss_and_gradient(problem, coef, intercept, grad))

    # ------------------------------------------------------------------ epochs
    # (update, sgd and minibatch: EpochCalls, on the kernels named above)
    def hogwild(
        self, data: EpochData[Rows], model: Model, rate: float
    ) -> tuple[float, np.ndarray | None]:
        s, parts = data.s, data.s.n_threads
        k, d = model.coef.shape
        averages = np.zeros((parts, k, d + 2)) if s.average else None
        l1_states = None
        if model.l1_state is not None:
            l1_states = np.repeat(model.l1_state[None, :], parts, axis=0)
        # one slot per part in the iterate's l1_state and average
        iterate = Iterate(model.coef, model.intercept, model.velocity, l1_states, averages)
        with parallel_launch(parts):
            total = kernels.sgd_epoch_hogwild(
                data.rows,
                iterate,
                rate,
                data.order,
                parts,
                s.fit_intercept,
                data.scaling,
                s.penalty,
            )
        if l1_states is not None and model.l1_state is not None:
            model.l1_state[...] = l1_states.mean(axis=0)
        return float(total), None if averages is None else averages.sum(axis=0)

    def gram_epochs(
        self,
        problem: GramProblem,
        model: Model,
        rules: LoopRules,
        s: TrainSettings,
        count: int,
        history: np.ndarray,
    ) -> tuple[int, int]:
        ran, verdict = kernels.gram_epochs(
            problem,
            model.iterate(),
            rules.schedule_from(model.t + 1),
            s.penalty,
            s.momentum_rule,
            s.fit_intercept,
            count,
            rules.stopping,
            model.state,
            history,
        )
        return int(ran), int(verdict)


class OnFused:
    """The members of a :class:`~fastlr.training.backend.Backend` that do d-sized work (no pass
    over X), for a backend that runs them on the fused backend ``fused``."""

    fused: FusedBackend

    def gram_loss_gradient(
        self, problem: GramProblem, coef: np.ndarray, intercept: np.ndarray, grad: np.ndarray
    ) -> float:
        return self.fused.gram_loss_gradient(problem, coef, intercept, grad)

    def update(self, model: Model, grad: np.ndarray, rate: float, s: TrainSettings) -> None:
        self.fused.update(model, grad, rate, s)

    @property
    def gram_epochs(self) -> GramEpochs:
        return self.fused.gram_epochs


def moments_from_parts(parts: np.ndarray, y_mean: np.ndarray) -> Moments:
    """Column means and variances from the groups of :func:`fastlr.kernels.column_moments`
    (one row per group of rows: Σw, Σw·δ, Σw·δ², shift), merged with Chan's formula."""
    d = (parts.shape[1] - 1) // 3
    weight, sums, squares, shift = (
        parts[:, 0],
        parts[:, 1 : 1 + d],
        parts[:, 1 + d : 1 + 2 * d],
        parts[:, 1 + 2 * d :],
    )
    keep = weight > 0
    weight, sums, squares, shift = weight[keep], sums[keep], squares[keep], shift[keep]
    total = float(weight.sum())
    chunk_mean = shift + sums / weight[:, None]
    mean = (weight[:, None] * chunk_mean).sum(axis=0) / total
    within = (squares - sums * sums / weight[:, None]).sum(axis=0)
    between = (weight[:, None] * (chunk_mean - mean) ** 2).sum(axis=0)
    return Moments(total, mean, y_mean, None, None, None, np.maximum(within + between, 0) / total)


class GramMoments:
    """Centered cross products of [X, Y], folded block by block with Chan's formula (so large
    column means cost no accuracy) by :mod:`fastlr.kernels.cross_products`, in parallel over
    groups of blocks.

    The layout (blocks of :attr:`rows` rows, groups of blocks) depends on the shape only.
    :meth:`add` takes the ``n`` rows in order, all at once or in pieces whose lengths are
    multiples of :attr:`rows` (the last excepted): the same blocks in the same order, so the
    same bits, on any number of threads.
    """

    def __init__(self, n: int, d: int, k: int, n_threads: int) -> None:
        m = d + k
        width = -(-m // kernels.GRAM_STEP) * kernels.GRAM_STEP
        # An odd number of cache lines per block column, from when a block was copied whole
        # (power-of-two columns shared the L1 cache's sets); not re-tuned since the copies
        # became SUB_ROWS long.
        self.rows = max(GRAM_MIN_BLOCK_ROWS, GRAM_BLOCK_ELEMENTS // width) // 16 * 16 + 8
        blocks = max(1, -(-n // self.rows))
        most = max(1, min(GRAM_MAX_GROUPS, GRAM_GROUP_BYTES // (8 * width * width)))
        self.per_group = -(-blocks // most)
        groups = -(-blocks // self.per_group)
        self.d, self.n_threads, self.next_row = d, n_threads, 0
        self.W = np.zeros(groups)
        self.mean = np.zeros((groups, m))
        self.G = np.zeros((groups, width, width))

    def add(self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None) -> None:
        if X.shape[0] == 0:
            return
        assert self.next_row % self.rows == 0, "pieces must be whole blocks"
        args = (X, Y, sample_weight, self.next_row, self.rows, self.per_group)
        if self.n_threads == 1:
            kernels.fold_blocks_serial(*args, self.W, self.mean, self.G)
        else:
            with parallel_launch(self.n_threads):
                kernels.fold_blocks_parallel(*args, self.W, self.mean, self.G)
        self.next_row += X.shape[0]

    def result(self) -> Moments:
        W, mean, upper = kernels.reduce_groups(self.W, self.mean, self.G)
        d, m = self.d, mean.shape[0]
        upper = np.triu(upper[:m, :m])
        G = upper + np.triu(upper, 1).T
        xx = np.ascontiguousarray(G[:d, :d])
        return Moments(
            W,
            mean[:d],
            mean[d:],
            xx,
            G[:d, d:].copy(),
            np.diag(G)[d:].copy(),
            np.maximum(np.diag(xx), 0) / W,
        )
