"""The public estimator: scikit-learn conventions over the fused kernels."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from fastlr._base import LinearRegressionBase
from fastlr.engines import memory, streaming
from fastlr.engines.protocol import Backend
from fastlr.training import run as _training
from fastlr.training.loop import EpochInfo, Progress
from fastlr.training.settings import Trained, TrainSettings


class LinearRegression(LinearRegressionBase):
    """Linear regression trained by gradient descent with fused Numba kernels.

    Minimizes ``L(w, b) = 1/(2W) · Σ w_i ‖x_i·w + b - y_i‖² + alpha·(r‖w‖₁ + (1-r)/2·‖w‖²)``
    (``w_i`` the sample weights, W their sum, r = ``l1_ratio``; the penalty only with
    ``penalty``). With the
    defaults it converges without tuning: the features are standardized inside the kernels (X
    is never copied), the step comes from the problem's curvature, and full-batch training on
    many rows runs on the sufficient statistics XᵀX, Xᵀy (one pass, then O(d²) per epoch).

    Parameters
    ----------
    mode : {"batch", "minibatch", "sgd"}, default="batch"
        ``"batch"``: one step per epoch along the full gradient. ``"minibatch"``: one step per
        batch of ``batch_size`` rows of a shuffled order. ``"sgd"``: one step per sample.
    learning_rate : "auto" or float, default="auto"
        The (initial) step. ``"auto"``: batch, 1 / the largest eigenvalue of the Hessian (from
        the Gram matrix, or by power iteration on the fused pass); sgd, 1 / the largest
        ``w_i (‖z_i‖² + 1)``; mini-batch, 1 / (mean of that + largest / batch_size), as SAG
        does. A float is used as given (in training coordinates: standardized ones by default).
    max_iter : int or None, default=None
        Epochs (full passes over the data, or sufficient-statistics iterations), in every mode.
        ``None``: 1000 passes over the data; on the sufficient-statistics path, as many O(d²)
        iterations as 1000 passes would cost (``1000 * n / d``, at most 1,000,000).
    tol : float or None, default=1e-4
        An epoch *improves* when its loss beats the best so far by more than ``tol`` times the
        best. Training stops after ``n_iter_no_change`` epochs in a row without improvement.
        On the sufficient-statistics path a loss plateau is not enough (along a nearly
        collinear direction the loss barely moves while the coefficients are far off): there
        training stops once ``|w - w*| <= 2 |gradient| / smallest eigenvalue`` certifies the
        coefficients to 1e-10 relative (or to float64's floor ``eps * condition number``), or
        once that bound stops shrinking. ``None`` runs all ``max_iter`` epochs. Using every
        epoch before converging warns (``ConvergenceWarning``).
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping (or, with ``schedule="adaptive"``, before
        the step is divided by 5).
    batch_size : int, default=256
        Rows per update in ``"minibatch"`` mode (the last batch may be smaller).
    shuffle : bool, default=True
        Visit rows in a fresh random order every epoch (``"minibatch"`` and ``"sgd"``).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the shuffling and the early-stopping split; an int makes the fit reproducible.
    fit_intercept : bool, default=True
        Learn ``b``; when False it stays 0.
    standardize : bool, default=True
        Train on ``z = (x - mean) / std`` computed in one pass and applied inside the kernels
        (without an intercept: ``x / rms``); ``coef_``/``intercept_`` are reported in the units
        of X. Constant columns keep a scale of 1. Penalties apply in these coordinates, as in
        glmnet.
    schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        Step of epoch t (counted over the model's life): ``learning_rate``;
        ``learning_rate / t**power_t``; or ``learning_rate`` divided by 5 each time
        ``n_iter_no_change`` epochs pass without improvement (stopping once it is below 1e-6 of
        the first step). The step is constant within an epoch.
    power_t : float, default=0.25
        Exponent of ``"invscaling"``.
    momentum : "auto" or float in [0, 1), default="auto"
        Heavy-ball momentum for batch and mini-batch. ``"auto"``: on the sufficient-statistics
        path with the automatic step (constant schedule, no L1), Nesterov's momentum tuned to
        the condition number ``k`` of the Hessian, ``(sqrt(k) - 1) / (sqrt(k) + 1)`` with step
        1 / its largest eigenvalue: about ``sqrt(k)`` epochs per e-fold instead of ``k``.
        Elsewhere ``"auto"`` means 0.
    nesterov : bool, default=False
        Nesterov momentum (PyTorch's formulation) instead of heavy ball (needs a number for
        ``momentum``).
    penalty : {None, "l2", "l1", "elasticnet"}, default=None
        Regularization. L1 is a proximal (soft-threshold) step in batch and mini-batch, and the
        cumulative penalty of Tsuruoka et al. (2009) in sgd.
    alpha : float, default=1e-4
        Strength of the penalty.
    l1_ratio : float in [0, 1], default=0.15
        Share of L1 in ``"elasticnet"``.
    average : bool or None, default=None
        Report the average of each epoch's iterates (Polyak-Ruppert), which removes most of
        the noise of constant-step stochastic updates. ``None``: on for sgd and mini-batch.
    solver : {"auto", "gram", "fused"}, default="auto"
        Batch mode only. ``"gram"``: one pass computes XᵀX, Xᵀy and the means, then each epoch
        costs O(d²), whatever n (same iterates as the data path, up to rounding). ``"fused"``:
        one fused pass per epoch. ``"auto"`` picks Gram when d <= 2048, n >= 2d and
        max_iter (if given) >= d.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (at random; they get weight 0 in training,
        so X is not copied, and a copy of them is scored), judge each epoch on their loss, and
        restore the coefficients of the best epoch at the end.
    validation_fraction : float in (0, 1), default=0.1
    warm_start : bool, default=False
        ``fit`` starts from the last fit's coefficients.
    callback : callable or None, default=None
        ``callback(info)`` after every epoch with an :class:`fastlr.EpochInfo` (epoch, loss,
        validation loss, step, coef, intercept in the units of X); returning False stops.
    hogwild : bool, default=False
        sgd with ``n_jobs > 1`` threads updating shared coefficients without locks (Hogwild!).
        Faster on many cores, but not bit-reproducible; the default sgd is deterministic.
    n_jobs : int or None, default=None
        Threads of the parallel passes, set for the call and restored after (``None``: numba's
        current setting; ``-1``: all). Results are bit-identical for any thread count.
    verbose : int, default=0
        0 is silent; 1 prints about ten progress lines; 2 prints one per epoch.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_outputs, n_features)
        Coefficients (float64) in the units of X. Two-dimensional when ``y`` was.
    intercept_ : float or ndarray of shape (n_outputs,)
    loss_history_ : ndarray of shape (n_iter_,)
        The objective of each epoch. Batch: at the start of the epoch. Sgd and mini-batch: the
        mean of ``r²/2`` over the epoch, each residual taken before its own update.
    validation_loss_history_ : ndarray or None
        The held-out loss of each epoch, with ``early_stopping=True``.
    n_iter_ : int
        Epochs run by the last ``fit`` (or 1 after ``partial_fit``).
    t_ : int
        Epochs run over the model's life (the schedules' clock).
    learning_rate_ : float
        The step used (the automatic one when ``learning_rate="auto"``).
    momentum_ : float
        The momentum used (the tuned one when ``momentum="auto"``).
    solver_ : str
        ``"gram"`` or ``"fused"``: the path the last fit took.
    converged_ : bool
        Whether the last fit finished: its stopping rule was met, its coefficients were
        certified (sufficient-statistics path) and an sgd or mini-batch plateau was not found
        short of least squares. False always comes with a ``ConvergenceWarning``.
    certified_digits_ : float
        Sufficient-statistics path: the certified number of correct significant digits of
        every coefficient and the intercept, in the units of X (relative error at most
        ``10**-certified_digits_``), after refining the solution against the data. NaN where
        nothing is certified (other paths, or a problem beyond float64, which warns).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit`` (an object array of str). Defined only when
        X was a DataFrame whose column names are all strings; ``predict``, ``score`` and later
        ``partial_fit`` calls then check a DataFrame's columns against them (a ValueError
        when they differ) and warn on an array, as scikit-learn's estimators do.

    A ``dask.array`` X (with y a dask array) is trained on the Dask cluster of the current
    ``distributed`` client, its blocks kept on the workers: see :func:`fastlr.dask.fit`;
    ``predict`` of a dask array returns a lazy dask array (:func:`fastlr.dask.predict`).

    Examples
    --------
    >>> import fastlr
    >>> X, y, coef = fastlr.make_regression(1000, 3, noise=0.1, random_state=0)
    >>> model = fastlr.LinearRegression().fit(X, y)
    >>> bool(abs(model.coef_ - coef).max() < 0.01)
    True
    >>> round(model.score(X, y), 4)
    1.0
    """

    def _fit_elsewhere(
        self, X: Any, y: Any, sample_weight: Any, coef_init: Any, intercept_init: Any
    ) -> LinearRegression | None:
        """A dask array X goes to :func:`fastlr.dask.fit` (dask is imported only then)."""
        if not _is_dask_array(X):
            return None
        from fastlr import dask as on_dask

        on_dask.fit_estimator(self, X, y, sample_weight, coef_init, intercept_init, stacklevel=4)
        return self

    def _predict_elsewhere(self, X: Any) -> Any:
        """A dask array X gets a lazy dask array of predictions (:func:`fastlr.dask.predict`)."""
        if not _is_dask_array(X):
            return None
        from fastlr import dask as on_dask

        return on_dask.predict(self, X)

    def _threads_for(self, X: np.ndarray) -> int:
        return memory.thread_count(X, self.n_jobs)

    def _train(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        settings: TrainSettings,
        *,
        init: tuple[np.ndarray, np.ndarray] | None,
        progress: Progress | None,
        callback: Callable[[EpochInfo], Any] | None,
    ) -> Trained:
        backend = _backend(X, settings)
        return _training.train(
            backend, X, Y, sample_weight, settings, init=init, progress=progress, callback=callback
        )

    def _partial(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        settings: TrainSettings,
        previous: Trained | None,
        progress: Progress | None,
    ) -> Trained:
        backend = _backend(X, settings)
        return _training.partial(backend, X, Y, sample_weight, settings, previous, progress)

    def _predict(
        self, X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, out: np.ndarray
    ) -> None:
        threads = memory.thread_count(X, self.n_jobs)
        if streaming.streams(X):
            streaming.predict_blocks(X, coef, intercept, out, threads)
        else:
            memory.predict_into(X, coef, intercept, out, threads)


def _backend(X: np.ndarray, settings: TrainSettings) -> Backend:
    """The kernels' backend: streaming a file-backed X block by block, or on X in memory."""
    if not streaming.streams(X):
        return memory.FusedBackend(settings.n_threads)
    if settings.early_stopping:
        raise ValueError(
            "early_stopping holds a copy of validation_fraction of the rows in memory, which "
            "an out-of-core fit avoids: keep a validation file apart and score it in a callback, "
            "or load X into memory"
        )
    return streaming.StreamingBackend(settings.n_threads)


def _is_dask_array(X: Any) -> bool:
    """Whether X is a dask array; without dask.array imported it cannot be one, and then
    neither it nor :mod:`fastlr.dask` is imported (a cold start saves both)."""
    if "dask.array" not in sys.modules:
        return False
    from fastlr.dask import is_dask_array

    return is_dask_array(X)
