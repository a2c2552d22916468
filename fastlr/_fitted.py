"""A fitted model: what a run leaves on the estimator (``coef_``, ``intercept_``, ...), and what the
estimator does with it (``predict``, ``score``, ``save``)."""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fastlr._feature_names import check_column_names
from fastlr._inputs import data_matrix, data_target
from fastlr._validation import as_coef, as_sample_weight, max_abs, raise_if_not_finite
from fastlr.exceptions import ConvergenceWarning, not_fitted
from fastlr.training.loop import EpochInfo
from fastlr.training.run import SHORTFALL_WARN
from fastlr.training.settings import Trained, TrainSettings, refuse_unsupported

if TYPE_CHECKING:
    from fastlr.engines.protocol import EngineChoice


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (checked without importing dask: a program that
    never imported it cannot hold one, and a cold start imports neither it nor fastlr.dask).

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


def fit_on_dask(
    model: Any, X: Any, y: Any, weights: Any, coef_init: Any, intercept: Any, client: Any = None
) -> None:
    """Fit ``model`` on the cluster of a dask array X (:func:`train_on_dask`), warning at the
    line that called ``fit`` or :func:`fastlr.dask.fit` (both call this directly); a dask array
    has no column names, so stale ones go."""
    train_on_dask(model, X, y, weights, coef_init, intercept, client=client, stacklevel=4)
    set_feature_names(model, None)


class FittedModel:
    """``predict``, ``score`` and ``save`` of a fitted :class:`fastlr.LinearRegression`."""

    #: How this estimator picks the engine that runs its passes (see fastlr.engines.select).
    _engines: ClassVar[EngineChoice]
    n_jobs: int | None
    callback: Any

    # The fitted attributes (set by :func:`publish`; absent before a fit, as scikit-learn wants).
    coef_: np.ndarray
    intercept_: Any  # a float for a 1-D y, an array of one per output for a 2-D y
    loss_history_: np.ndarray
    validation_loss_history_: np.ndarray | None
    n_features_in_: int
    feature_names_in_: np.ndarray
    n_iter_: int
    t_: int
    learning_rate_: float
    momentum_: float
    solver_: str
    converged_: bool
    certified_digits_: float
    block_tasks_: int  # a fit on dask arrays only: the tasks its passes ran
    _trained: Trained
    _two_d: bool

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``X @ coef_.T + intercept_``, summed in float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), .npy path, or dask array
            Finite real numbers, converted like ``fit``'s; a path or memmap is streamed.
            A DataFrame's column names are checked against ``feature_names_in_``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            In X's float dtype (float32 for float32 or float16 X, float64 otherwise); 2-D
            when the model was fitted on a 2-D ``y``.
            For a ``dask.array`` X (with :class:`fastlr.LinearRegression`), a lazy dask array
            of the same (see :func:`fastlr.dask.predict`).

        Raises
        ------
        NotFittedError
            Before ``fit`` (also scikit-learn's ``NotFittedError`` when scikit-learn is loaded).
        ValueError
            For a different number of features than at fit, NaN/inf in X (named), or
            column names that differ from ``feature_names_in_`` (listing the names unseen at
            fit and those missing, or saying that the order changed), as scikit-learn.
        FloatingPointError
            When a prediction overflows the output dtype.

        Warns
        -----
        UserWarning
            When X has column names but the model was fitted without, or the model was fitted
            with names and X has none (an array); scikit-learn's warnings, worded alike.

        Examples
        --------
        >>> import numpy as np
        >>> import fastlr
        >>> X = np.array([[1.0], [2.0], [3.0]])
        >>> model = fastlr.LinearRegression().fit(X, [3.0, 5.0, 7.0])
        >>> model.predict([[4.0], [10.0]]).round(6)
        array([ 9., 21.])
        >>> model.predict(np.array([[4.0]], dtype=np.float32)).dtype
        dtype('float32')
        """
        if not self.__sklearn_is_fitted__():
            raise not_fitted(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")
        if self._engines.dask and is_dask_array(X):
            return predict_on_dask(self, X)  # type: ignore[no-any-return]  # (a dask array)
        check_columns(self, X)
        X = data_matrix(X)
        check_n_features(self, X.shape[1])
        coef = np.ascontiguousarray(self.coef_, dtype=np.float64).reshape(-1, X.shape[1])
        intercept = np.asarray(self.intercept_, dtype=np.float64).reshape(-1)
        out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite output is named below
            self._engines.for_array(X, self.n_jobs).predict(X, coef, intercept, out)
        if not np.isfinite(out).all():  # found after the fact: valid input pays one scan of out
            raise_if_not_finite(X=X)
            raise FloatingPointError(
                f"the predictions overflowed {out.dtype} (max |X| = {max_abs(X):g}); "
                + ("pass X as float64" if out.dtype != np.float64 else "rescale X")
            )
        return out if self._two_d else out[:, 0]

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` or ``partial_fit`` has succeeded (scikit-learn's ``check_is_fitted``).

        Examples
        --------
        >>> import fastlr
        >>> model = fastlr.LinearRegression()
        >>> model.__sklearn_is_fitted__()
        False
        >>> model.fit([[0.0], [1.0]], [1.0, 3.0]).__sklearn_is_fitted__()
        True
        """
        return hasattr(self, "coef_")

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R² of ``predict(X)`` against ``y``.

        ``1 - Σ w (y - ŷ)² / Σ w (y - ȳ)²``: 1 is perfect, 0 is no better than predicting the
        mean, and it can be negative. Averaged over outputs (scikit-learn's ``r2_score``
        with ``multioutput="uniform_average"``); a constant ``y`` scores 1 if predicted
        exactly, else 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : float or array-like of shape (n_samples,), default=None

        Returns
        -------
        float

        Raises
        ------
        ValueError
            For NaN/inf in X or y (named), mismatched lengths, a ``y`` with another
            number of outputs than the model predicts, or column names of X that differ from
            ``feature_names_in_`` (as ``predict``, which also warns alike).

        Examples
        --------
        >>> import numpy as np
        >>> import fastlr
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> model = fastlr.LinearRegression().fit(X, [0.0, 1.0, 2.0, 3.0])
        >>> round(model.score(X, [0.0, 1.0, 2.0, 3.0]), 6)
        1.0
        >>> round(model.score(X, [1.0, 1.0, 2.0, 2.0]), 6)  # worse than the mean
        -1.0
        """
        prediction = np.asarray(self.predict(X))  # (a dask array's n predictions, computed)
        prediction = prediction.reshape(prediction.shape[0], -1).astype(np.float64)
        Y, two_d = data_target(y, prediction.shape[0])
        if Y.shape[1] != prediction.shape[1]:
            raise ValueError(
                f"y has {Y.shape[1]} output(s), but this model predicts {prediction.shape[1]}"
            )
        target = Y.astype(np.float64)
        weights = as_sample_weight(sample_weight, prediction.shape[0])
        w = np.ones(target.shape[0]) if weights is None else weights
        with np.errstate(over="ignore", invalid="ignore"):  # reported below
            residual = (w[:, None] * (target - prediction) ** 2).sum(axis=0)
            mean = np.average(target, axis=0, weights=w)
            total = (w[:, None] * (target - mean) ** 2).sum(axis=0)
            scores = np.where(
                total > 0,
                1.0 - residual / np.where(total > 0, total, 1.0),
                np.where(residual == 0, 1.0, 0.0),
            )
        if not (np.isfinite(residual).all() and np.isfinite(total).all()):
            # a NaN/inf in y, or values too large to square
            raise_if_not_finite(y=Y if two_d else Y[:, 0])
            raise FloatingPointError(
                f"R² overflowed: max |y| = {max_abs(Y):g} is too large to square in float64"
            )
        return float(scores.mean())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to ``path``; :func:`fastlr.load` reads it back.

        The file is an ``.npz`` archive of plain arrays plus the parameters as JSON: loading it
        never unpickles or runs anything. It holds every fitted attribute and the training
        state, so the loaded model predicts the same numbers and ``partial_fit`` continues
        exactly as it would have here. The write goes to a temporary file beside ``path``,
        synced and then renamed over it: a crash mid-save leaves an existing file as it was.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write, used exactly as given (no ``.npz`` is appended).

        Raises
        ------
        NotFittedError
            When the model has not been fitted.

        Warns
        -----
        UserWarning
            When a parameter cannot be stored (a ``callback``, or a ``random_state`` that is
            neither None, an int nor a numpy Generator): it is saved as None, and the warning
            names it. A Generator is saved with its bit generator's state.

        Examples
        --------
        >>> import os, tempfile
        >>> import fastlr
        >>> X, y, _ = fastlr.make_regression(200, 2, random_state=0)
        >>> model = fastlr.LinearRegression(mode="sgd", random_state=0).fit(X, y)
        >>> folder = tempfile.TemporaryDirectory()
        >>> model.save(os.path.join(folder.name, "model.npz"))
        >>> fastlr.load(os.path.join(folder.name, "model.npz"))
        LinearRegression(mode='sgd', random_state=0)
        >>> folder.cleanup()
        """
        from fastlr._persist import save

        save(self, path)


def initial_model(
    model: Any, d: int, k: int, coef_init: Any, intercept_init: Any
) -> tuple[np.ndarray, np.ndarray] | None:
    """Where descent starts, in the units of X: coef_init/intercept_init, the last fit
    (warm_start) or None (zeros)."""
    if coef_init is None and intercept_init is None:
        if model.warm_start and hasattr(model, "coef_"):
            coef = np.asarray(model.coef_, dtype=np.float64).reshape(-1, d)
            if coef.shape[0] != k or coef.shape[1] != d:
                raise ValueError(
                    f"warm_start: the fitted coef_ has shape {np.shape(model.coef_)}, which "
                    f"does not match {k} output(s) and {d} features"
                )
            return coef.copy(), np.asarray(model.intercept_, dtype=np.float64).reshape(k).copy()
        return None
    coef = np.zeros((k, d))
    if coef_init is not None:
        coef = as_coef(coef_init, k * d, "coef_init", f"{k} output(s) x {d} features")
        coef = coef.reshape(k, d)
    intercept = np.zeros(k)
    if intercept_init is not None:
        intercept = as_coef(intercept_init, k, "intercept_init", "one per output")
    return coef, intercept


def publish(model: Any, trained: Trained, two_d: bool, d: int, append: bool) -> None:
    """Fitted attributes from a run, in the units of X (``append``: the run's loss history
    continues the model's, as a later ``partial_fit`` chunk does)."""
    history = trained.loop.history
    coef, intercept = trained.in_user_units()
    model.coef_ = coef if two_d else coef[0]
    model.intercept_ = intercept if two_d else float(intercept[0])
    old = getattr(model, "loss_history_", None)
    model.loss_history_ = np.concatenate([old, history]) if append and old is not None else history
    model.n_features_in_ = d
    model.learning_rate_ = trained.learning_rate
    model.momentum_ = trained.momentum
    model.solver_ = trained.path
    accuracy = trained.accuracy
    shortfall = trained.shortfall
    model.converged_ = (
        bool(trained.loop.converged)
        and (accuracy is None or accuracy.certified)
        and (shortfall is None or shortfall <= SHORTFALL_WARN)
    )
    model.certified_digits_ = math.nan if accuracy is None else accuracy.digits
    model.t_ = trained.model.t
    model.n_iter_ = trained.loop.n_iter
    model._trained = trained
    model._two_d = two_d


def set_feature_names(model: Any, names: np.ndarray | None) -> None:
    """Set ``feature_names_in_`` after a fit, or delete it when the data had no names."""
    if names is not None:
        model.feature_names_in_ = names
    elif hasattr(model, "feature_names_in_"):
        del model.feature_names_in_


def check_columns(model: Any, X: Any) -> None:
    """Check the column names of ``X`` against ``feature_names_in_``, as scikit-learn's
    ``_check_feature_names(reset=False)`` does (the same warnings and error)."""
    check_column_names(getattr(model, "feature_names_in_", None), X, type(model).__name__)


def check_n_features(model: Any, n_features: int) -> None:
    if n_features != model.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(model).__name__} is expecting "
            f"{model.n_features_in_} features as input"
        )


def in_user_shape(
    callback: Callable[[EpochInfo], Any] | None, two_d: bool
) -> Callable[[EpochInfo], Any] | None:
    """The callback, seeing coef and intercept shaped like ``coef_`` and ``intercept_``."""
    if callback is None or two_d:
        return callback
    user_callback = callback

    def shaped(info: EpochInfo) -> Any:
        return user_callback(
            dataclasses.replace(
                info, coef=info.coef[0], intercept=float(np.asarray(info.intercept).reshape(-1)[0])
            )
        )

    return shaped


def fit_caution(trained: Trained, settings: TrainSettings) -> str | None:
    """What a fit must tell its user (a ConvergenceWarning), or None: coefficients float64
    could not certify, an sgd or mini-batch plateau short of least squares, or the epoch budget
    spent before the stopping rule was met."""
    loop = trained.loop
    if loop.stopped_by_user:
        return None
    if trained.accuracy is not None and trained.accuracy.warning is not None:
        return trained.accuracy.warning
    shortfall = trained.shortfall
    if shortfall is not None and shortfall > SHORTFALL_WARN:
        return (
            f"the {settings.mode} fit stopped on a plateau of its loss {shortfall:.1e} x "
            f"var(y)/2 above the least-squares optimum of these data (R² about {shortfall:.1e} "
            "below the best) after dividing its step by 4 up to 6 times: raise max_iter or "
            "lower tol, or use mode='batch', which solves this problem exactly"
        )
    if not loop.converged:
        return (
            f"stopped after max_iter={loop.n_iter} epochs before converging with "
            f"tol={settings.tol:g} (n_iter_no_change={settings.n_iter_no_change}); raise "
            "max_iter, or pass tol=None to run a fixed number of epochs"
        )
    return None


def warn_of_caution(trained: Trained, settings: TrainSettings, stacklevel: int) -> None:
    """Warn (ConvergenceWarning) with :func:`fit_caution`'s message, if there is one."""
    caution = fit_caution(trained, settings)
    if caution is not None:
        warnings.warn(caution, ConvergenceWarning, stacklevel=stacklevel)


# --------------------------------------------------------------------------- on a Dask cluster
def train_on_dask(
    estimator: Any,  # a LinearRegression (typed loosely: this module sits below the estimator)
    X: Any,
    y: Any,
    sample_weight: Any = None,
    coef_init: Any = None,
    intercept_init: Any = None,
    *,
    client: Any = None,
    stacklevel: int = 2,
) -> Any:
    """:func:`fastlr.dask.fit`, with the stack level of its ``ConvergenceWarning`` as
    :func:`warnings.warn` counts it from here (2: the caller's line).

    Examples
    --------
    >>> from fastlr.dask import fit_estimator  # see fastlr.dask.fit
    >>> callable(fit_estimator)
    True
    """
    from fastlr._settings import check_verbose, resolve_settings
    from fastlr.engines.dask import DaskBackend, train
    from fastlr.engines.dask_blocks import get_client, scatter_blocks

    asked = {"early_stopping": estimator.early_stopping, "hogwild": estimator.hogwild}
    refuse_unsupported("dask", asked | {"callback": estimator.callback is not None})
    check_verbose(estimator)
    settings = resolve_settings(estimator, 1)
    client = get_client(client)
    rows = scatter_blocks(client, X, y, sample_weight)
    two_d, d = rows.y_array.ndim == 2, rows.d
    init = initial_model(estimator, d, rows.k, coef_init, intercept_init)
    backend = DaskBackend()
    try:
        trained = train(rows, settings, backend=backend, init=init)
    finally:
        # Released by dropping the futures, not cancelled: cancelling a block whose task
        # failed also cancelled the user's persisted X and y it was computed from.
        rows.blocks = []
    warn_of_caution(trained, settings, stacklevel=stacklevel + 1)
    publish(estimator, trained, two_d, d, append=False)
    estimator.validation_loss_history_ = None
    estimator.block_tasks_ = backend.block_tasks
    return estimator


def predict_on_dask(estimator: FittedModel, X: Any) -> Any:
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
    check_n_features(estimator, X.shape[1])
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    on_workers = copy.copy(estimator)
    on_workers.callback = None  # the model travels to the workers; a callback need not pickle
    dtype = np.dtype(np.float32) if X.dtype in (np.float16, np.float32) else np.dtype(np.float64)
    if estimator._two_d:
        k = np.shape(estimator.coef_)[0]
        return X.map_blocks(
            _predict_dask_block, on_workers, dtype=dtype, chunks=(X.chunks[0], (k,))
        )
    return X.map_blocks(_predict_dask_block, on_workers, dtype=dtype, drop_axis=1)


def _predict_dask_block(block: np.ndarray, model: Any, block_info: Any = None) -> np.ndarray:
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
