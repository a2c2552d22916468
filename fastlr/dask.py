"""Training on a Dask cluster with the same fused kernels: data stays on the workers.

``X`` is a ``dask.array`` of shape (n, d) chunked by rows, ``y`` one of shape (n,) or (n, k).
:func:`fit` packs each row block of X with its rows of y (and of ``sample_weight``) into one
future that stays on its worker; every pass over the data then maps a small function over those
futures and reduces the per-block results with a tree of additions on the workers, so only
d-sized vectors (and, once, the (d, d) moment matrix) travel to the client:

- batch, sufficient-statistics path: one distributed pass of per-block centered moments
  (``FusedBackend.moments``), merged with Chan's formula; then the compiled Gram loop runs on
  the client, O(d²) per iteration, without touching the data again;
- batch, data path: one distributed fused pass (loss and gradient) per iteration;
- sgd and minibatch: each epoch runs the fused epoch kernel on every block locally, from the
  same starting model, and the client averages the resulting models weighted by the blocks'
  weights (parallelized SGD, Zinkevich et al. 2010).

The batch paths are driven by :func:`fastlr.training.run.train` through :class:`DaskBackend`, so
scaling, step size, stopping and the choice of path are those of the in-memory estimator.
``fastlr.LinearRegression().fit(X, y)`` calls :func:`fit` when X is a dask array.
Requires ``dask[array]`` and ``distributed`` (``pip install fastlr[dask]``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from typing import Any

import numpy as np

from fastlr.training import run, setup
from fastlr.training.loop import LoopRules, Model, run_epochs
from fastlr.training.settings import GramProblem, Moments, Scaling, Trained, TrainSettings

__all__ = [
    "DaskBackend",
    "fit",
    "fit_estimator",
    "is_dask_array",
    "merge_moments",
    "predict",
    "scatter_blocks",
    "train",
]

#: Partial results merged per task of the reduction tree.
FAN_IN = 8


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (checked without importing dask).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr.dask import is_dask_array
    >>> is_dask_array(np.zeros((2, 2)))
    False
    """
    return any(
        c.__name__ == "Array" and c.__module__.startswith("dask.array") for c in type(X).__mro__
    )


# --------------------------------------------------------------------------- handles
class DaskRows:
    """What :func:`fastlr.training.run.train` sees of X: its shape and dtype, and the blocks.

    ``blocks`` are futures of ``(X_block, Y_block, weight_block or None)`` on the workers.
    The few array operations that training does on its error paths (finding a NaN, the
    largest value, columns of tiny values) run as small distributed reductions.
    """

    ndim = 2

    def __init__(self, client: Any, blocks: list[Any], array: Any, k: int) -> None:
        self.client = client
        self.blocks = blocks
        self.array = array  # the (persisted) dask array, for error-path reductions
        self.shape: tuple[int, int] = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)
        self.size = self.shape[0] * self.shape[1]
        self.k = k
        self.y_array: Any = None  # y (n,) or (n, k) as a dask array
        self.w_array: Any = None  # the sample weights as a dask array, or None

    def first_nonfinite(self) -> tuple[int, ...] | None:
        """Index of the first NaN/inf (a distributed scan), or None."""
        return _first_nonfinite(self.client, self.array)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple) and all(isinstance(i, (int, np.integer)) for i in key):
            return self.client.compute(self.array[key]).result()
        return _Lazy(self.client, self.array[key])

    def max(self, axis: int | None = None) -> Any:
        return self.client.compute(self.array.max(axis=axis)).result()

    def min(self, axis: int | None = None) -> Any:
        return self.client.compute(self.array.min(axis=axis)).result()


class _Lazy(DaskRows):
    """A slice of a :class:`DaskRows` (error paths only): reductions computed on the workers."""

    def __init__(self, client: Any, array: Any) -> None:
        self.client = client
        self.array = array
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)
        self.blocks = []

    def reshape(self, *shape: int) -> _Lazy:
        return _Lazy(self.client, self.array.reshape(*shape))


@dataclasses.dataclass
class DaskTargets:
    """Y as :func:`fastlr.training.run.train` sees it: (n, k), the blocks live with X's."""

    rows: DaskRows
    zero: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows.shape[0], 1 if self.zero else self.rows.k)

    def _array(self) -> Any:
        y = self.rows.y_array
        return y.reshape(y.shape[0], -1)

    def __getitem__(self, key: Any) -> Any:  # error messages: a value or a column
        if isinstance(key, tuple) and all(isinstance(i, (int, np.integer)) for i in key):
            return self.rows.client.compute(self._array()[key]).result()
        return _Lazy(self.rows.client, self._array()[key])

    def first_nonfinite(self) -> tuple[int, ...] | None:
        """Index of the first NaN/inf of y (a distributed scan), or None."""
        return _first_nonfinite(self.rows.client, self._array())

    def max(self) -> Any:
        return self.rows.client.compute(self._array().max()).result()

    def min(self) -> Any:
        return self.rows.client.compute(self._array().min()).result()


@dataclasses.dataclass
class DaskWeights:
    """The sample weights' handle: their total is all that training reads on the client."""

    total: float

    def sum(self) -> float:
        return self.total


# --------------------------------------------------------------------------- per-block work
def _block_weight(block: tuple[np.ndarray, np.ndarray, np.ndarray | None]) -> float:
    X, _, w = block
    return float(X.shape[0] if w is None else w.sum())


def _pack(X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple[Any, ...]:
    from fastlr._validation import as_float_matrix

    X = as_float_matrix(X)
    Y = np.ascontiguousarray(y.reshape(y.shape[0], -1))
    if Y.dtype not in (np.float32, np.float64):
        Y = Y.astype(np.float64)
    weights = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
    return X, Y, weights


def _block_moments(block: tuple[Any, ...], gram: bool) -> Moments:
    from fastlr.engines.memory import FusedBackend

    X, Y, w = block
    if _block_weight(block) == 0.0:
        return _empty_moments(X.shape[1], Y.shape[1], gram)
    return FusedBackend(1).moments(X, Y, w, gram)


def _block_loss_gradient(
    block: tuple[Any, ...], coef: np.ndarray, intercept: np.ndarray, zero_targets: bool
) -> tuple[float, float, np.ndarray]:
    """(W_b, W_b · loss_b, W_b · gradient_b): sums of these over blocks give the totals."""
    from fastlr.engines.memory import FusedBackend

    X, Y, w = block
    weight = _block_weight(block)
    grad = np.zeros((coef.shape[0], X.shape[1] + 1))
    if weight == 0.0:
        return 0.0, 0.0, grad
    if zero_targets:
        Y = np.zeros((X.shape[0], 1), dtype=X.dtype)
    loss = FusedBackend(1).loss_gradient(X, Y, w, weight, coef, intercept, grad)
    return weight, weight * loss, weight * grad


def _block_row_norms(
    block: tuple[Any, ...], scaling: Scaling, intercept: bool
) -> tuple[float, float]:
    from fastlr.engines.memory import FusedBackend

    X, _, w = block
    return FusedBackend(1).row_norm_bounds(X, w, scaling, intercept)


def _block_epoch(
    block: tuple[Any, ...],
    model: Model,
    rate: float,
    s: TrainSettings,
    scaling: Scaling,
    seed: int,
) -> tuple[float, float, Model]:
    """One local epoch of the fused sgd/minibatch kernel on this block, from ``model``.
    Returns (W_b, W_b · the epoch's loss, the block's model)."""
    from fastlr.engines.memory import FusedBackend

    X, Y, w = block
    weight = _block_weight(block)
    model = model.copy()
    if weight == 0.0:
        return 0.0, 0.0, model
    local = dataclasses.replace(s, random_state=seed, batch_size=min(s.batch_size, X.shape[0]))
    epoch = run.make_epoch(FusedBackend(1), X, Y, w, weight, local, scaling, None)
    loss = epoch(model, rate)
    return weight, weight * loss, model


def _add(*parts: Any) -> Any:
    """Sum tuples of numbers/arrays elementwise (a node of the reduction tree)."""
    return tuple(sum(items[1:], start=items[0]) for items in zip(*parts, strict=True))


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
    for name in ("coef", "intercept", "velocity", "l1_state"):
        if getattr(out, name) is not None:
            setattr(out, name, sum(getattr(p[2], name) for p in unweighted))
    return total, loss, _WeightedModel(out)


def _scaled(model: Model, factor: float) -> Model:
    out = model.copy()
    for name in ("coef", "intercept", "velocity", "l1_state"):
        if getattr(out, name) is not None:
            setattr(out, name, factor * getattr(out, name))
    return out


def _empty_moments(d: int, k: int, gram: bool) -> Moments:
    return Moments(
        0.0,
        np.zeros(d),
        np.zeros(k),
        np.zeros((d, d)) if gram else None,
        np.zeros((d, k)) if gram else None,
        np.zeros(k) if gram else None,
        np.zeros(d),
    )


def merge_moments(a: Moments, b: Moments) -> Moments:
    """Chan's merge of the centered moments of two disjoint sets of rows.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr.engines.memory import FusedBackend
    >>> from fastlr.dask import merge_moments
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(100, 3)) + 5, rng.normal(size=(100, 1))
    >>> whole = FusedBackend(1).moments(X, Y, None, True)
    >>> parts = [FusedBackend(1).moments(X[r], Y[r], None, True) for r in (slice(0, 30), slice(30, 100))]
    >>> bool(np.allclose(merge_moments(*parts).xx, whole.xx))
    True
    """  # noqa: E501
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


# --------------------------------------------------------------------------- the backend
class DaskBackend:
    """:class:`fastlr.engines.protocol.Backend` whose passes over the data run on a Dask cluster.

    ``moments``, ``row_norm_bounds`` and ``loss_gradient`` map the fused kernels over the
    row blocks of a :class:`DaskRows` and reduce the results on the workers; everything that
    works on d-sized statistics (the update, the Gram loop) runs on the client with the fused
    backend. ``block_tasks`` counts the block visits (mapped tasks) so far.

    Examples
    --------
    >>> from fastlr.dask import DaskBackend
    >>> DaskBackend().block_tasks
    0
    """

    hogwild = None

    def __init__(self) -> None:
        from fastlr.engines.memory import FusedBackend

        self.local = FusedBackend(1)
        self.block_tasks = 0

    # ---------------------------------------------------------------- distributed passes
    def map_reduce(self, rows: DaskRows, function: Any, reduce: Any, *args: Any) -> Any:
        """``reduce`` over ``function(block, *args)`` for every block, as a tree on the
        workers; returns the root's result (the only one that reaches the client)."""
        client = rows.client
        parts = client.map(function, rows.blocks, *[[a] * len(rows.blocks) for a in args])
        self.block_tasks += len(parts)
        while len(parts) > 1:
            parts = [
                client.submit(reduce, *parts[i : i + FAN_IN], pure=False)
                for i in range(0, len(parts), FAN_IN)
            ]
        return parts[0].result()

    def moments(self, X: Any, Y: Any, sample_weight: Any, gram: bool) -> Moments:
        moments: Moments = self.map_reduce(X, _block_moments, _merge_all, gram)
        return moments

    def row_norm_bounds(
        self, X: Any, sample_weight: Any, scaling: Scaling, intercept: bool
    ) -> tuple[float, float]:
        top, total = self.map_reduce(X, _block_row_norms, _max_sum, scaling, intercept)
        return float(top), float(total)

    def loss_gradient(
        self,
        X: Any,
        Y: Any,
        sample_weight: Any,
        total_weight: float,
        coef: np.ndarray,
        intercept: np.ndarray,
        grad: np.ndarray,
    ) -> float:
        zero = isinstance(Y, DaskTargets) and Y.zero
        weight, loss, total = self.map_reduce(
            X, _block_loss_gradient, _add, np.ascontiguousarray(coef), intercept.copy(), zero
        )
        grad[...] = total / weight
        return float(loss / weight)

    def zero_targets(self, X: DaskRows) -> DaskTargets:
        """Y = 0 for the power iteration of the automatic step (no n-sized array)."""
        return DaskTargets(X, zero=True)

    # ---------------------------------------------------------------- local (d-sized) work
    def gram_loss_gradient(
        self, problem: GramProblem, coef: np.ndarray, intercept: np.ndarray, grad: np.ndarray
    ) -> float:
        return self.local.gram_loss_gradient(problem, coef, intercept, grad)

    def update(self, model: Model, grad: np.ndarray, rate: float, s: TrainSettings) -> None:
        self.local.update(model, grad, rate, s)

    def gram_epochs(self, *args: Any) -> tuple[int, int]:
        return self.local.gram_epochs(*args)

    def sgd(self, *args: Any) -> float:
        raise NotImplementedError("stochastic modes on Dask run through fastlr.dask.fit")

    minibatch = sgd


def _max_sum(*parts: tuple[float, float]) -> tuple[float, float]:
    return max(p[0] for p in parts), sum(p[1] for p in parts)


# --------------------------------------------------------------------------- data and training
def _get_client(client: Any) -> Any:
    if client is not None:
        return client
    from distributed import get_client

    try:
        return get_client()
    except ValueError as error:
        raise ValueError(
            "fastlr.dask needs a distributed Client: start one (distributed.Client(...)) or "
            "pass client=..."
        ) from error


def scatter_blocks(client: Any, X: Any, y: Any, sample_weight: Any = None) -> DaskRows:
    """Pack the row blocks of ``X`` with their rows of ``y`` (and ``sample_weight``) into one
    future each, computed and kept on the workers (nothing comes back to the client).

    Examples
    --------
    Not run as a doctest (it needs a cluster and the optional dask):

    >>> from fastlr.dask import scatter_blocks
    >>> import dask.array as da  # doctest: +SKIP
    >>> from distributed import Client  # doctest: +SKIP
    >>> client = Client(processes=False)  # doctest: +SKIP
    >>> rows = scatter_blocks(client, da.ones((100, 3), chunks=25), da.ones(100, chunks=25))  # doctest: +SKIP
    >>> len(rows.blocks), rows.shape  # doctest: +SKIP
    (4, (100, 3))
    """  # noqa: E501
    import dask.array as da

    X = da.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X needs at least one sample and one feature; got shape {X.shape}")
    X = X.rechunk({1: -1})
    y = da.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have {X.shape[0]} rows (as X); got shape {y.shape}")
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(f"y must have at least one output column; got shape {y.shape}")
    _check_real("X", X)
    _check_real("y", y)
    y = y.rechunk({0: X.chunks[0]} | ({1: -1} if y.ndim == 2 else {}))
    k = 1 if y.ndim == 1 else y.shape[1]
    xs = X.to_delayed().ravel().tolist()
    ys = y.to_delayed().ravel().tolist()
    w = None
    if sample_weight is None:
        ws: list[Any] = [None] * len(xs)
    else:
        if np.ndim(sample_weight) == 0:
            w = da.full(X.shape[0], float(sample_weight), chunks=(X.chunks[0],))
        else:
            w = da.asarray(sample_weight)
            _check_real("sample_weight", w)
            w = w.astype(np.float64)
        if w.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight must be a scalar or 1-D with {X.shape[0]} values; got {w.shape}"
            )
        ws = w.rechunk({0: X.chunks[0]}).to_delayed().ravel().tolist()
    # Empty row blocks (boolean filtering leaves them) are skipped: each task gets rows.
    filled = [i for i, rows_in in enumerate(X.chunks[0]) if rows_in > 0]
    xs, ys, ws = [xs[i] for i in filled], [ys[i] for i in filled], [ws[i] for i in filled]
    x_blocks, y_blocks = client.compute(xs), client.compute(ys)
    w_blocks = client.compute(ws) if sample_weight is not None else ws
    blocks = client.map(_pack, x_blocks, y_blocks, w_blocks, pure=False)
    rows = DaskRows(client, blocks, X, k)
    rows.y_array, rows.w_array = y, w
    return rows


def _check_real(name: str, array: Any) -> None:
    """Refuse, on the client, a dtype that the blocks could only be cast from with a loss."""
    if np.dtype(array.dtype).kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float); got {array.dtype}")


def _check_weights(rows: DaskRows) -> float:
    """Total weight; the weights must be finite and >= 0 with a positive sum."""
    import dask.array as da

    weights = rows.w_array
    if weights is None:
        return float(rows.shape[0])
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
    if s.early_stopping:
        raise ValueError("early_stopping=True is not supported on Dask arrays")
    backend = backend or DaskBackend()
    total = _check_weights(rows)
    weights = None if rows.w_array is None else DaskWeights(total)
    Y = DaskTargets(rows)
    if s.mode == "batch":
        return run.train(backend, rows, Y, weights, s, init=init)  # type: ignore[arg-type]
    return _train_averaged(backend, rows, Y, weights, total, s, init)


def _train_averaged(
    backend: DaskBackend,
    rows: DaskRows,
    Y: DaskTargets,
    weights: DaskWeights | None,
    total: float,
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
    s = dataclasses.replace(
        s,
        batch_size=min(s.batch_size, max(1, smallest)),
        max_iter=setup.epoch_budget(rows, s, False),  # type: ignore[arg-type]
        momentum=0.0 if s.momentum is None else s.momentum,
    )
    scaling, _, _, model, rate = setup._start(
        backend,
        rows,  # type: ignore[arg-type]
        Y,  # type: ignore[arg-type]
        weights,  # type: ignore[arg-type]
        total,
        s,
        gram=False,
    )
    if init is not None:
        model.coef[...], model.intercept[...] = scaling.to_training(*init)
    rules = LoopRules(rate, s.schedule, s.power_t, -1.0 if s.tol is None else s.tol,
                      s.n_iter_no_change, False, 1e-20)  # fmt: skip
    seeds = np.random.default_rng(s.random_state)

    def epoch(m: Model, step: float) -> float:
        block_seeds = seeds.integers(0, 2**63 - 1, size=len(rows.blocks)).tolist()
        client = rows.client
        parts = client.map(
            _block_epoch,
            rows.blocks,
            [m] * len(rows.blocks),
            [step] * len(rows.blocks),
            [s] * len(rows.blocks),
            [scaling] * len(rows.blocks),
            block_seeds,
            pure=False,
        )
        backend.block_tasks += len(parts)
        while len(parts) > 1:
            parts = [
                client.submit(_add_weighted_models, *parts[i : i + FAN_IN], pure=False)
                for i in range(0, len(parts), FAN_IN)
            ]
        weight, loss, summed = _add_weighted_models(parts[0].result())
        m.coef[...] = summed.coef / weight
        m.intercept[...] = summed.intercept / weight
        m.velocity[...] = summed.velocity / weight
        if m.l1_state is not None and summed.l1_state is not None:
            m.l1_state[...] = summed.l1_state / weight
        return float(loss / weight)

    loop = run_epochs(
        epoch,
        model,
        rules,
        s.epochs,
        to_user_units=lambda m: scaling.to_user(m.coef, m.intercept),
        on_nonfinite=lambda: setup.name_bad_input(rows, Y),  # type: ignore[arg-type]
    )
    return Trained(model, scaling, rate, s.heavy_ball, loop, "fused")


def fit(
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    coef_init: Any = None,
    intercept_init: Any = None,
    *,
    client: Any = None,
) -> Any:
    """Fit a :class:`fastlr.LinearRegression` on dask arrays, its data kept on the workers.

    Parameters
    ----------
    estimator : fastlr.LinearRegression
        Its parameters are used as for an in-memory fit (``early_stopping``, ``callback``
        and ``hogwild`` are not supported here); its fitted attributes are set.
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows (column chunks are merged). Each block is packed once with its rows
        of ``y`` and kept on its worker; no block is brought to the client.
    y : dask.array.Array of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : dask.array.Array, scalar or None
    coef_init, intercept_init : array-like or None
        Starting point, in the units of X.
    client : distributed.Client or None
        The cluster; None: the current client (``distributed.get_client()``).

    Returns
    -------
    estimator

    Notes
    -----
    Batch mode is the in-memory algorithm exactly (the sums are split by blocks, so results
    agree to rounding): the sufficient-statistics path reads the data once and then iterates
    on the client; the data path runs one distributed fused pass per iteration. ``sgd`` and
    ``minibatch`` average per-block epochs (parallelized SGD): an approximation whose noise
    floor and speed differ from the sequential run, not the same iterates.

    Examples
    --------
    A cluster takes seconds to start (and dask is optional), so these lines are not run as
    doctests:

    >>> import fastlr
    >>> import dask.array as da  # doctest: +SKIP
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> X, y, coef = fastlr.make_regression(100_000, 10, noise=0.1, random_state=0)
    >>> Xd = da.from_array(X, chunks=(25_000, 10))  # doctest: +SKIP
    >>> yd = da.from_array(y, chunks=25_000)  # doctest: +SKIP
    >>> model = fastlr.LinearRegression().fit(Xd, yd)  # doctest: +SKIP
    >>> bool(abs(model.coef_ - coef).max() < 0.01)  # doctest: +SKIP
    True
    """
    return fit_estimator(
        estimator, X, y, sample_weight, coef_init, intercept_init, client=client, stacklevel=3
    )


def fit_estimator(
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    coef_init: Any = None,
    intercept_init: Any = None,
    *,
    client: Any = None,
    stacklevel: int = 2,
) -> Any:
    """:func:`fit`, with the stack level of its ``ConvergenceWarning`` (the caller's line).

    Examples
    --------
    >>> from fastlr.dask import fit_estimator  # see fastlr.dask.fit
    >>> callable(fit_estimator)
    True
    """
    from fastlr._base import fit_caution
    from fastlr.exceptions import ConvergenceWarning

    for name in ("early_stopping", "hogwild"):
        if getattr(estimator, name, False):
            raise ValueError(f"{name}=True is not supported on Dask arrays")
    if getattr(estimator, "callback", None) is not None:
        raise ValueError("callback is not supported on Dask arrays")
    estimator._check_common()
    settings = estimator._settings(1)
    client = _get_client(client)
    rows = scatter_blocks(client, X, y, sample_weight)
    two_d = rows.y_array.ndim == 2
    d = rows.shape[1]
    init = estimator._initial_model(d, rows.k, coef_init, intercept_init)
    backend = DaskBackend()
    try:
        trained = train(rows, settings, backend=backend, init=init)
    finally:
        # Released by dropping the futures, not cancelled: cancelling a block whose task
        # failed also cancelled the user's persisted X and y it was computed from.
        rows.blocks = []
    loop = trained.loop
    caution = fit_caution(trained, settings)
    if caution is not None:
        warnings.warn(caution, ConvergenceWarning, stacklevel=stacklevel)
    estimator._publish(trained, two_d, d, loop.history, append=False)
    estimator.validation_loss_history_ = None
    estimator.n_iter_ = loop.n_iter
    estimator.block_tasks_ = backend.block_tasks
    return estimator


def predict(estimator: Any, X: Any) -> Any:
    """Predictions of a fitted model for a dask array ``X``: a lazy dask array, one block of
    predictions per row block of X, computed where the block lives.

    Parameters
    ----------
    estimator : fastlr.LinearRegression
        Fitted (on dask arrays or in memory).
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows (column chunks are merged).

    Returns
    -------
    dask.array.Array of shape (n_samples,) or (n_samples, n_outputs)
        In X's float dtype, as :meth:`fastlr.LinearRegression.predict`, which runs on each
        block (a NaN in a block raises its error when the result is computed).

    Examples
    --------
    >>> import fastlr
    >>> import dask.array as da  # doctest: +SKIP
    >>> X, y, coef = fastlr.make_regression(1000, 3, random_state=0)
    >>> model = fastlr.LinearRegression().fit(X, y)
    >>> Xd = da.from_array(X, chunks=(250, 3))  # doctest: +SKIP
    >>> bool((model.predict(Xd).compute() == model.predict(X)).all())  # doctest: +SKIP
    True
    """
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features); got a dask array of shape {X.shape}"
        )
    estimator._check_n_features(X.shape[1])
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    on_workers = copy.copy(estimator)
    on_workers.callback = None  # the model travels to the workers; a callback need not pickle
    dtype = np.dtype(np.float32) if X.dtype in (np.float16, np.float32) else np.dtype(np.float64)
    if estimator._two_d:
        k = np.shape(estimator.coef_)[0]
        return X.map_blocks(_predict_block, on_workers, dtype=dtype, chunks=(X.chunks[0], (k,)))
    return X.map_blocks(_predict_block, on_workers, dtype=dtype, drop_axis=1)


def _predict_block(block: np.ndarray, model: Any, block_info: Any = None) -> np.ndarray:
    """``model.predict`` of one row block; a NaN/inf is named by its index in the whole X."""
    try:
        return np.asarray(model.predict(block))
    except ValueError:
        bad = np.argwhere(~np.isfinite(np.asarray(block, dtype=np.float64)))
        start = (block_info or {}).get(0, {}).get("array-location", [(math.nan,)])[0][0]
        if not bad.size or not math.isfinite(start):
            raise
        i, j = (int(v) for v in bad[0])
        raise ValueError(
            f"X contains {block[i, j]} at index ({int(start) + i}, {j}); fastlr needs finite "
            "values (drop or impute NaN/inf first)"
        ) from None
