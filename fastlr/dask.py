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
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlr._fitted import is_dask_array as is_dask_array
from fastlr.engines.dask import FAN_IN as FAN_IN
from fastlr.engines.dask import DaskBackend, DaskRows, merge_moments, pack_block, train
from fastlr.engines.dask import DaskTargets as DaskTargets
from fastlr.engines.dask import DaskWeights as DaskWeights

if TYPE_CHECKING:
    from fastlr._fitted import FittedModel
    from fastlr.estimator import LinearRegression

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
    blocks = client.map(pack_block, x_blocks, y_blocks, w_blocks, pure=False)
    rows = DaskRows(client, blocks, X, k)
    rows.y_array, rows.w_array = y, w
    return rows


def _check_real(name: str, array: Any) -> None:
    """Refuse, on the client, a dtype that the blocks could only be cast from with a loss."""
    if np.dtype(array.dtype).kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float); got {array.dtype}")


# --------------------------------------------------------------------------- entry points
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
    estimator: LinearRegression,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    coef_init: Any = None,
    intercept_init: Any = None,
    *,
    client: Any = None,
    stacklevel: int = 2,
) -> LinearRegression:
    """:func:`fit`, with the stack level of its ``ConvergenceWarning`` (the caller's line).

    Examples
    --------
    >>> from fastlr.dask import fit_estimator  # see fastlr.dask.fit
    >>> callable(fit_estimator)
    True
    """
    from fastlr._fitted import initial_model, publish, warn_of_caution
    from fastlr._settings import check_verbose, resolve_settings

    refused = {"early_stopping": estimator.early_stopping, "hogwild": estimator.hogwild}
    for name, asked in refused.items():
        if asked:
            raise ValueError(f"{name}=True is not supported on Dask arrays")
    if estimator.callback is not None:
        raise ValueError("callback is not supported on Dask arrays")
    check_verbose(estimator)
    settings = resolve_settings(estimator, 1)
    client = _get_client(client)
    rows = scatter_blocks(client, X, y, sample_weight)
    two_d = rows.y_array.ndim == 2
    d = rows.shape[1]
    init = initial_model(estimator, d, rows.k, coef_init, intercept_init)
    backend = DaskBackend()
    try:
        trained = train(rows, settings, backend=backend, init=init)
    finally:
        # Released by dropping the futures, not cancelled: cancelling a block whose task
        # failed also cancelled the user's persisted X and y it was computed from.
        rows.blocks = []
    warn_of_caution(trained, settings, stacklevel=stacklevel + 1)
    publish(estimator, trained, two_d, d, trained.loop.history, append=False)
    estimator.validation_loss_history_ = None
    estimator.block_tasks_ = backend.block_tasks
    return estimator


def predict(estimator: FittedModel, X: Any) -> Any:
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
    from fastlr._fitted import check_n_features

    check_n_features(estimator, X.shape[1])
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
