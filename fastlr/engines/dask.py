"""The Dask engine: handles on row blocks kept on the workers, the per-block work, training.

Each row block of X is packed with its rows of y and of the weights into one future
(:func:`fastlr.dask.scatter_blocks`; :class:`DaskRows` holds them). Every pass over the data maps
a ``_block_*`` function (the fused kernels on one block) over those futures and reduces the
results with a tree of :data:`FAN_IN`-input tasks on the workers (:func:`reduce_tree`).
:class:`DaskBackend` serves the batch paths of :func:`fastlr.training.run.train`; sgd and
minibatch are parallelized SGD (:func:`_train_averaged`). dask is imported only where used;
the public entry points are in :mod:`fastlr.dask`."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, cast

import numpy as np

from fastlr import kernels
from fastlr._validation import as_float_matrix, nonfinite_error
from fastlr.engines.memory import FusedBackend, OnFused, compensated_sums
from fastlr.kernels.records import Linear, Rows
from fastlr.training import run, setup
from fastlr.training.loop import Model
from fastlr.training.settings import Moments, Scaling, Trained, TrainSettings, refuse_unsupported

__all__ = ["FAN_IN", "DaskBackend", "DaskRows", "merge_moments", "train"]

#: Partial results merged per task of the reduction tree.
FAN_IN = 8


# --------------------------------------------------------------------------- handles
@dataclasses.dataclass
class DaskRows:
    """The rows of a Dask fit: handles on the row blocks kept on the workers, the data's size,
    and the dask arrays they came from (for the error path's distributed look at the values).

    ``blocks`` are futures of the blocks' :class:`~fastlr.kernels.records.Rows`
    (:func:`fastlr.dask.scatter_blocks`); ``array``, ``y_array`` and ``w_array`` are X, y and
    the weights (or None) as dask arrays; ``n``, ``d``, ``k`` the rows, features and outputs.
    ``zero`` marks the handle of the same blocks with y = 0 (:meth:`DaskBackend.zero_targets`);
    ``weight`` is the checked total weight, once known.
    """

    client: Any
    blocks: list[Any]
    array: Any
    y_array: Any
    w_array: Any
    n: int
    d: int
    k: int
    zero: bool = False
    weight: float | None = None

    def total_weight(self) -> float:
        """Σ w, checked once on the workers (finite, >= 0, a positive sum)."""
        if self.weight is None:
            self.weight = _check_weights(self)
        return self.weight


def _computed(client: Any, lazy: Any) -> Any:
    """A (small) dask result, computed on the workers and brought to the client."""
    return client.compute(lazy).result()


# --------------------------------------------------------------------------- per-block work
def pack_block(X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> Rows:
    """One block as the kernels take it (on its worker): float X, (n, k) float Y, f8 weights."""
    X = as_float_matrix(X)
    Y = np.ascontiguousarray(y.reshape(y.shape[0], -1))
    if Y.dtype not in (np.float32, np.float64):
        Y = Y.astype(np.float64)
    weights = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
    return Rows(X, Y, weights)


def _block_moments(block: Rows, gram: bool) -> Moments:
    if block.total_weight() == 0.0:
        return _empty_moments(block.d, block.k, gram)
    return FusedBackend(1).moments(block, gram)


def _block_loss_gradient(
    block: Rows, coef: np.ndarray, intercept: np.ndarray, zero_targets: bool
) -> tuple[float, float, np.ndarray]:
    """(W_b, W_b · loss_b, W_b · gradient_b): sums of these over blocks give the totals."""
    weight, fused = block.total_weight(), FusedBackend(1)
    grad = np.zeros((coef.shape[0], block.d + 1))
    if weight == 0.0:
        return 0.0, 0.0, grad
    rows = fused.zero_targets(block) if zero_targets else block
    loss = fused.loss_gradient(rows, weight, Linear(coef, intercept), grad)
    return weight, weight * loss, weight * grad


def _block_compensated(
    block: Rows, coef: np.ndarray, intercept: np.ndarray, zero_targets: bool
) -> tuple[float, np.ndarray]:
    """(W_b, the block's double-double sums (k, 2, d + 2) of the compensated pass)."""
    weight = block.total_weight()
    if weight == 0.0:
        return 0.0, np.zeros((coef.shape[0], 2, block.d + 2))
    rows = FusedBackend(1).zero_targets(block) if zero_targets else block
    return weight, compensated_sums(rows, Linear(coef, intercept), 1)


def _add_compensated(*parts: tuple[float, np.ndarray]) -> tuple[float, np.ndarray]:
    """Add blocks' weights, and their double-double sums as double-double (a node of the tree)."""
    weight, total = parts[0][0], parts[0][1].copy()
    for w, sums in parts[1:]:
        weight += w
        kernels.add_compensated(total, sums)
    return weight, total


def _block_row_norms(block: Rows, scaling: Scaling, intercept: bool) -> tuple[float, float]:
    return FusedBackend(1).row_norm_bounds(block, scaling, intercept)


def _block_epoch(
    block: Rows, model: Model, rate: float, s: TrainSettings, scaling: Scaling, seed: int
) -> tuple[float, float, Model]:
    """One local epoch of the fused sgd/minibatch kernel on this block, from ``model``.
    Returns (W_b, W_b · the epoch's loss, the block's model)."""
    weight = block.total_weight()
    model = model.copy()
    if weight == 0.0:
        return 0.0, 0.0, model
    local = dataclasses.replace(s, random_state=seed, batch_size=min(s.batch_size, block.n))
    epoch = run.make_epoch(setup.Fit(FusedBackend(1), block, weight, local, scaling), None)
    loss = epoch(model, rate)
    return weight, weight * loss, model


def _add(*parts: Any) -> Any:
    """Sum tuples of numbers/arrays elementwise (a node of the reduction tree)."""
    return tuple(sum(items[1:], start=items[0]) for items in zip(*parts, strict=True))


#: The arrays of a :class:`Model` that the averaging of parallelized SGD weights and sums.
_MODEL_ARRAYS = ("coef", "intercept", "velocity", "l1_state")


class _WeightedModel(Model):
    """A model whose arrays are already weighted sums (so the tree does not reweight them)."""

    def __init__(self, model: Model) -> None:
        super().__init__(model.coef, model.intercept, model.velocity, model.l1_state, model.t)


def _add_weighted_models(*parts: tuple[float, float, Model]) -> tuple[float, float, Model]:
    unweighted = [
        p if isinstance(p[2], _WeightedModel) else (p[0], p[1], _scaled(p[2], p[0])) for p in parts
    ]
    total = sum(p[0] for p in unweighted)
    loss = sum(p[1] for p in unweighted)
    out = unweighted[0][2].copy()
    for name in _MODEL_ARRAYS:
        if getattr(out, name) is not None:
            setattr(out, name, sum(getattr(p[2], name) for p in unweighted))
    return total, loss, _WeightedModel(out)


def _scaled(model: Model, factor: float) -> Model:
    out = model.copy()
    for name in _MODEL_ARRAYS:
        if getattr(out, name) is not None:
            setattr(out, name, factor * getattr(out, name))
    return out


def _empty_moments(d: int, k: int, gram: bool) -> Moments:
    xx, xy, yy = (np.zeros((d, d)), np.zeros((d, k)), np.zeros(k)) if gram else (None,) * 3
    return Moments(0.0, np.zeros(d), np.zeros(k), xx, xy, yy, np.zeros(d))


def merge_moments(a: Moments, b: Moments) -> Moments:
    """Chan's merge of the centered moments of two disjoint sets of rows.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr.engines.memory import FusedBackend
    >>> from fastlr.dask import merge_moments
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(100, 3)) + 5, rng.normal(size=(100, 1))
    >>> from fastlr.kernels.records import Rows
    >>> whole = FusedBackend(1).moments(Rows(X, Y, None), True)
    >>> halves = (slice(0, 30), slice(30, 100))
    >>> parts = [FusedBackend(1).moments(Rows(X[r], Y[r], None), True) for r in halves]
    >>> bool(np.allclose(merge_moments(*parts).xx, whole.xx))
    True
    """
    if a.total_weight == 0.0:
        return b
    if b.total_weight == 0.0:
        return a
    W = a.total_weight + b.total_weight
    factor = a.total_weight * b.total_weight / W
    dx, dy = b.x_mean - a.x_mean, b.y_mean - a.y_mean
    x_mean = a.x_mean + dx * (b.total_weight / W)
    y_mean = a.y_mean + dy * (b.total_weight / W)
    squares = a.x_var * a.total_weight + b.x_var * b.total_weight + factor * dx * dx
    xx = xy = yy = None
    if a.xx is not None and b.xx is not None:
        assert a.xy is not None
        assert b.xy is not None
        assert a.yy is not None
        assert b.yy is not None
        xx = a.xx + b.xx + factor * np.outer(dx, dx)
        xy = a.xy + b.xy + factor * np.outer(dx, dy)
        yy = a.yy + b.yy + factor * dy * dy
        squares = np.diag(xx)
    return Moments(W, x_mean, y_mean, xx, xy, yy, np.maximum(squares, 0) / W)


def _merge_all(*parts: Moments) -> Moments:
    out = parts[0]
    for part in parts[1:]:
        out = merge_moments(out, part)
    return out


def _first_nonfinite(client: Any, array: Any) -> tuple[int, ...] | None:
    """Index of the first NaN/inf of a dask array, found on the workers."""
    import dask.array as da

    flat = array.reshape(array.shape[0], -1) if array.ndim > 1 else array[:, None]
    bad_rows = da.any(~da.isfinite(flat), axis=1)
    found, first = client.gather(client.compute([bad_rows.any(), bad_rows.argmax()]))
    if not found:
        return None
    row = int(first)
    line = np.asarray(client.compute(flat[row]).result())
    column = int(np.flatnonzero(~np.isfinite(line))[0])
    return (row,) if array.ndim == 1 else (row, column)


def reduce_tree(client: Any, parts: list[Any], reduce: Any) -> Any:
    """``reduce`` over the futures ``parts`` as a tree of :data:`FAN_IN`-input tasks on the
    workers; returns the root's result (the only one that reaches the client)."""
    while len(parts) > 1:
        parts = [
            client.submit(reduce, *parts[i : i + FAN_IN], pure=False)
            for i in range(0, len(parts), FAN_IN)
        ]
    return parts[0].result()


# --------------------------------------------------------------------------- the backend
class DaskBackend(OnFused):
    """:class:`fastlr.training.backend.Backend` whose passes over the data run on a Dask cluster.

    ``moments``, ``row_norm_bounds`` and ``loss_gradient`` map the fused kernels over the
    row blocks of a :class:`DaskRows` and reduce the results on the workers; everything that
    works on d-sized statistics (the update, the Gram loop) runs on the client with the fused
    backend ``fused`` (:class:`~fastlr.engines.memory.OnFused`). ``block_tasks`` counts the
    block visits (mapped tasks) so far.

    Examples
    --------
    >>> from fastlr.dask import DaskBackend
    >>> DaskBackend().block_tasks
    0
    """

    hogwild = None

    def __init__(self) -> None:
        self.fused = FusedBackend(1)
        self.block_tasks = 0

    # ---------------------------------------------------------------- distributed passes
    def map_reduce(self, rows: DaskRows, function: Any, reduce: Any, *args: Any) -> Any:
        """``reduce`` over ``function(block, *args)`` for every block, as a tree on the
        workers; returns the root's result (the only one that reaches the client)."""
        parts = rows.client.map(function, rows.blocks, *[[a] * len(rows.blocks) for a in args])
        self.block_tasks += len(parts)
        return reduce_tree(rows.client, parts, reduce)

    def moments(self, rows: DaskRows, gram: bool) -> Moments:
        return cast(Moments, self.map_reduce(rows, _block_moments, _merge_all, gram))

    def row_norm_bounds(
        self, rows: DaskRows, scaling: Scaling, intercept: bool
    ) -> tuple[float, float]:
        top, total = self.map_reduce(rows, _block_row_norms, _max_sum, scaling, intercept)
        return float(top), float(total)

    def loss_gradient(
        self, rows: DaskRows, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        coef, intercept = np.ascontiguousarray(model.coef), model.intercept.copy()
        weight, loss, total = self.map_reduce(
            rows, _block_loss_gradient, _add, coef, intercept, rows.zero
        )
        grad[...] = total / weight
        return float(loss / weight)

    def compensated_loss_gradient(
        self, rows: DaskRows, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        coef, intercept = np.ascontiguousarray(model.coef), model.intercept.copy()
        weight, total = self.map_reduce(
            rows, _block_compensated, _add_compensated, coef, intercept, rows.zero
        )
        return float(kernels.finish_compensated(total, weight, grad))

    def zero_targets(self, rows: DaskRows) -> DaskRows:
        """Y = 0 for the power iteration of the automatic step (no n-sized array)."""
        return dataclasses.replace(rows, zero=True, k=1)

    # ---------------------------------------------------------------- the error path
    def raise_if_not_finite(self, rows: DaskRows) -> None:
        for name, array in (("X", rows.array), ("y", rows.y_array)):
            where = _first_nonfinite(rows.client, array)
            if where is not None:
                raise nonfinite_error(name, where, _computed(rows.client, array[where]))

    def max_abs(self, rows: DaskRows) -> tuple[float, float]:
        import dask.array as da

        tops = [da.max(abs(a)) for a in (rows.array, rows.y_array)]
        big_x, big_y = rows.client.gather(rows.client.compute(tops))
        return float(big_x), float(big_y)

    def column_range(self, rows: DaskRows, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        picked = rows.array[:, columns]
        low, high = rows.client.gather(
            rows.client.compute([picked.min(axis=0), picked.max(axis=0)])
        )
        return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)

    # ---------------------------------------------------------------- local (d-sized) work
    # (gram_loss_gradient, update, gram_epochs: OnFused). sgd and mini-batch are parallelized
    # SGD (_train_averaged), not epochs of this backend:
    sgd = None
    minibatch = None


def _max_sum(*parts: tuple[float, float]) -> tuple[float, float]:
    return max(p[0] for p in parts), sum(p[1] for p in parts)


def _check_weights(rows: DaskRows) -> float:
    """Total weight; the weights must be finite and >= 0 with a positive sum."""
    import dask.array as da

    weights = rows.w_array
    if weights is None:
        return float(rows.n)
    low, total = rows.client.compute([da.min(weights), da.sum(weights)])
    low, total = float(low.result()), float(total.result())
    if not (math.isfinite(total) and low >= 0 and total > 0):
        raise ValueError("sample_weight must be finite, >= 0, with a positive sum")
    return total


def train(
    rows: DaskRows,
    s: TrainSettings,
    *,
    backend: DaskBackend | None = None,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> Trained:
    """Train on the blocks of ``rows`` (see :func:`scatter_blocks`) with settings ``s``.

    Batch mode goes through :func:`fastlr.training.run.train` with a :class:`DaskBackend`;
    sgd and minibatch run local epochs on each block and average the models.

    Examples
    --------
    >>> from fastlr.dask import train  # needs a cluster: see fastlr.dask.fit
    >>> callable(train)
    True
    """
    refuse_unsupported("dask", {"early_stopping": s.early_stopping, "hogwild": s.hogwild})
    backend = backend or DaskBackend()
    if s.mode == "batch":
        return run.train(backend, rows, s, init=init)
    return _train_averaged(backend, rows, s, init)


def _train_averaged(
    backend: DaskBackend,
    rows: DaskRows,
    s: TrainSettings,
    init: tuple[np.ndarray, np.ndarray] | None,
) -> Trained:
    """Parallelized SGD: every epoch, each block runs the fused epoch from the current model;
    the new model is the weighted average of the blocks' models."""
    smallest = min((c for c in rows.array.chunks[0] if c > 0), default=1)
    if s.mode == "minibatch" and s.batch_size > smallest:
        warnings.warn(
            f"batch_size={s.batch_size} is larger than the smallest row block ({smallest} "
            f"rows): every block uses batch_size={smallest}, and the step is set for it; "
            f"rechunk X to blocks of at least {s.batch_size} rows to keep batch_size",
            UserWarning,
            stacklevel=4,
        )
    total = rows.total_weight()
    begun = setup.start(backend, rows, total, s, init=init, batch_rows=max(1, smallest))
    s, scaling, model = begun.fit.s, begun.fit.scaling, begun.model
    seeds = np.random.default_rng(s.random_state)

    def epoch(m: Model, step: float) -> float:
        block_seeds = seeds.integers(0, 2**63 - 1, size=len(rows.blocks)).tolist()
        every = [[a] * len(rows.blocks) for a in (m, step, s, scaling)]
        parts = rows.client.map(_block_epoch, rows.blocks, *every, block_seeds, pure=False)
        backend.block_tasks += len(parts)
        weight, loss, summed = _add_weighted_models(
            reduce_tree(rows.client, parts, _add_weighted_models)
        )
        for name in _MODEL_ARRAYS:  # (velocity is never None)
            mine, weighted = getattr(m, name), getattr(summed, name)
            if mine is not None and weighted is not None:
                mine[...] = weighted / weight
        return float(loss / weight)

    loop = begun.epochs(epoch)(begun.rules(), s.epochs)
    return Trained(model, scaling, begun.rate, s.heavy_ball, loop, "fused")
