"""The public estimator: scikit-learn conventions over the fused kernels."""

from __future__ import annotations

import numpy as np

from fastlr import _solvers
from fastlr._base import FitResult, LinearRegressionBase, Progress, Settings


class LinearRegression(LinearRegressionBase):
    """Linear regression trained by gradient descent with fused Numba kernels.

    Minimizes ``L(w, b) = 1/(2n) · Σ (x_i·w + b - y_i)²`` from zero coefficients.

    Parameters
    ----------
    mode : {"batch", "minibatch", "sgd"}, default="batch"
        ``"batch"``: one step per epoch along the full gradient (one fused, parallel pass over X).
        ``"minibatch"``: one step per batch of ``batch_size`` rows of a shuffled order.
        ``"sgd"``: one step per sample.
    learning_rate : float, default=0.01
        Constant step size, > 0. The stable range depends on the scale of X: for batch it must
        stay below 2 / (largest eigenvalue of the covariance of [X, 1]); for sgd below about
        2 / (largest squared row norm).
    max_iter : int, default=1000
        Epochs (full passes over the data), in every mode.
    tol : float or None, default=1e-4
        Stop when an epoch fails to beat the best loss so far by ``tol`` times that loss. ``None``
        runs all ``max_iter`` epochs. Using every epoch before that warns (``ConvergenceWarning``).
    batch_size : int, default=256
        Rows per update in ``"minibatch"`` mode (the last batch may be smaller).
    shuffle : bool, default=True
        Visit rows in a fresh random order every epoch (``"minibatch"`` and ``"sgd"``).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the shuffling; an int makes the fit reproducible.
    fit_intercept : bool, default=True
        Learn ``b``; when False it stays 0.
    n_jobs : int or None, default=None
        Threads of the parallel batch pass, set for the call and restored after (``None``: numba's
        current setting; ``-1``: all). Results are bit-identical for any thread count.
    verbose : int, default=0
        0 is silent; 1 prints about ten progress lines (epoch, loss, gradient norm, elapsed
        time); 2 prints one per epoch.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (1, n_features)
        Coefficients (float64). Two-dimensional when ``y`` was a column (n_samples, 1).
    intercept_ : float or ndarray of shape (1,)
    loss_history_ : ndarray of shape (n_iter_,)
        The objective of each epoch. Batch: ``L`` at the start of the epoch. Sgd and mini-batch:
        the mean of ``r²/2`` over the epoch, each residual taken before its own update.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int

    Examples
    --------
    >>> import fastlr
    >>> X, y, coef = fastlr.make_regression(1000, 3, noise=0.1, random_state=0)
    >>> model = fastlr.LinearRegression(learning_rate=0.5, max_iter=100).fit(X, y)
    >>> bool(abs(model.coef_ - coef).max() < 0.01)
    True
    >>> round(model.score(X, y), 4)
    1.0
    """

    def _train(
        self, X: np.ndarray, y: np.ndarray, settings: Settings, progress: Progress | None
    ) -> FitResult:
        return _solvers.train(X, y, settings, progress)

    def _predict(self, X: np.ndarray, coef: np.ndarray, intercept: float, out: np.ndarray) -> None:
        _solvers.predict_into(X, coef, intercept, out, _solvers.thread_count(X, self.n_jobs))
