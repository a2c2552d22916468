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

from typing import TYPE_CHECKING, Any

from fastlr._fitted import fit_on_dask
from fastlr._fitted import is_dask_array as is_dask_array
from fastlr._fitted import predict_on_dask as predict
from fastlr._fitted import train_on_dask as fit_estimator
from fastlr.engines.dask import FAN_IN as FAN_IN
from fastlr.engines.dask import DaskBackend, merge_moments, train
from fastlr.engines.dask_blocks import scatter_blocks

if TYPE_CHECKING:
    pass

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
    fit_on_dask(estimator, X, y, sample_weight, coef_init, intercept_init, client)
    return estimator
