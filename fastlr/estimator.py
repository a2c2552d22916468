"""The public estimator, :class:`LinearRegression`: parameters (:mod:`fastlr._params`) resolved
once into settings (:mod:`fastlr._settings`), an engine picked from the input
(:mod:`fastlr.engines.select`), a run of the training code (:mod:`fastlr.training.run`), and
the fitted model it leaves (:mod:`fastlr._fitted`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from fastlr._feature_names import feature_names
from fastlr._fitted import (
    FittedModel,
    check_columns,
    check_n_features,
    fit_on_dask,
    in_user_shape,
    initial_model,
    is_dask_array,
    publish,
    set_feature_names,
    warn_of_caution,
)
from fastlr._inputs import data_matrix, data_target
from fastlr._params import Parameters
from fastlr._progress import finish, progress_printer
from fastlr._settings import check_verbose, resolve_settings
from fastlr._validation import as_sample_weight
from fastlr.engines.protocol import Engine, EngineChoice
from fastlr.engines.select import KERNELS
from fastlr.kernels.records import Rows
from fastlr.training import run
from fastlr.training.settings import Trained, TrainSettings
from fastlr.training.setup import split_validation

if TYPE_CHECKING:
    from typing_extensions import Self


class LinearRegression(FittedModel, Parameters):
    """Linear regression trained by gradient descent with fused Numba kernels.

    Minimizes ``L(w, b) = 1/(2W) · Σ w_i ‖x_i·w + b - y_i‖² + alpha·(r‖w‖₁ + (1-r)/2·‖w‖²)``
    (``w_i`` the sample weights, W their sum, r = ``l1_ratio``; the penalty only with
    ``penalty``). With the defaults it converges without tuning: the features are standardized
    inside the kernels (X is never copied), the step comes from the problem's curvature, and
    full-batch training on many rows runs on the sufficient statistics XᵀX, Xᵀy (one pass, then
    O(d²) per epoch).

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
        best; training stops after ``n_iter_no_change`` epochs in a row without improvement.
        On the sufficient-statistics path a plateau is not enough (along a nearly collinear
        direction the loss barely moves while the coefficients are far off): training stops
        once ``|w - w*| <= 2 |gradient| / smallest eigenvalue`` certifies the coefficients to
        1e-10 relative (or float64's floor ``eps * condition number``), or that bound stops
        shrinking. ``None`` runs all ``max_iter`` epochs; spending them all warns.
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
    n_iter_, t_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``); over the model's life (the
        schedules' clock).
    learning_rate_, momentum_ : float
        The step and momentum used (the automatic or tuned ones with ``"auto"``).
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
        The column names (str) of a DataFrame X, when all were strings. ``predict``, ``score``
        and later ``partial_fit`` calls check a DataFrame's columns against them (ValueError
        when they differ) and warn on an array, as scikit-learn's estimators do.

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

    _engines: ClassVar[EngineChoice] = KERNELS

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        coef_init: Any = None,
        intercept_init: Any = None,
    ) -> Self:
        """Train on ``X`` and ``y`` from zero (or ``coef_init``, or the last fit with
        ``warm_start=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), .npy path, or dask array
            Finite real numbers (float, int, bool, or an object array of numbers). A ``.npy``
            path or an ``np.memmap`` is streamed (see Notes); a ``dask.array`` trains on its
            cluster (:func:`fastlr.dask.fit`). A DataFrame (anything with ``columns``) whose
            column names are all strings sets ``feature_names_in_``; any other X removes it.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or .npy path
            The target; a 2-D ``y`` fits one model per column (``coef_`` is then 2-D).
        sample_weight : float or array-like of shape (n_samples,), default=None
            Weight of each sample's squared residual: finite, >= 0, with a positive sum.
        coef_init : array-like of shape (n_features,) or (n_outputs, n_features), default=None
            Starting coefficients, in the units of X.
        intercept_init : float or array-like of shape (n_outputs,), default=None
            Starting intercept(s).

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For invalid parameters or input; the message names the parameter or array, what
            is wrong (for NaN/inf: the first bad value and its index) and what is accepted.
            TypeError also for column names that mix strings and other types.
        DivergenceError
            When training diverges or the data are too large to square in float64.

        Warns
        -----
        ConvergenceWarning
            When ``max_iter`` epochs end before the stopping rule of ``tol`` is met.

        Notes
        -----
        Copies: a C-contiguous, native-order float32 or float64 ``X`` (read-only arrays and
        memory maps included) is read in place; any other (Fortran order, a strided view,
        int, bool, a list, an object array) is converted once to C order, float16 to float32,
        the rest to float64. ``y`` likewise (a 1-D ``y`` is viewed as one column, not copied);
        ``sample_weight``, ``coef_init`` and ``intercept_init`` are copied to float64;
        ``early_stopping`` copies the held-out rows. Nothing passed in is modified, and a
        ``fit`` that raises leaves a fitted model exactly as it was. (The NumPy reference
        copies X into float64 training coordinates as it goes.)

        Out of core: a ``.npy`` path (a C-ordered float32/float64 array) or such an
        ``np.memmap`` is streamed in blocks through the same kernels, holding about one block
        in memory, with the same coefficients as in memory (README, "Data bigger than
        memory"); a memmap of another dtype or layout is converted like any array.
        ``early_stopping`` is not available out of core.

        Examples
        --------
        >>> import numpy as np
        >>> import fastlr
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 5.0]])
        >>> y = X @ [2.0, -1.0] + 0.5
        >>> model = fastlr.LinearRegression().fit(X, y)
        >>> np.round(model.coef_, 6), round(model.intercept_, 6)
        (array([ 2., -1.]), 0.5)

        Integer input is converted (once), and a 2-D ``y`` fits one model per column:

        >>> Y = np.column_stack([y, 3 * y])
        >>> np.round(fastlr.LinearRegression().fit(X.astype(int), Y).coef_, 6)
        array([[ 2., -1.],
               [ 6., -3.]])
        """
        if self._engines.dask and is_dask_array(X):
            fit_on_dask(self, X, y, sample_weight, coef_init, intercept_init)
            return self
        names, verbose = feature_names(X), check_verbose(self)
        rows, two_d, engine, settings = _prepare(self, X, y, sample_weight)
        init = initial_model(self, rows.d, rows.k, coef_init, intercept_init)
        progress = progress_printer(settings.max_iter, verbose)
        try:
            backend, cb = engine.backend(rows.X, settings), in_user_shape(self.callback, two_d)
            rows, held = split_validation(rows, settings)
            trained = run.train(
                backend, rows, settings, validation=held, init=init, progress=progress, callback=cb
            )
        finally:
            finish(progress)
        warn_of_caution(trained, settings, stacklevel=3)
        publish(self, trained, two_d, rows.d, append=False)
        set_feature_names(self, names)
        self.validation_loss_history_ = trained.loop.validation_history
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> Self:
        """One epoch over the chunk ``(X, y)`` in ``mode``, continuing the model so far.

        The first call (on an unfitted model) fixes the standardization and the automatic step
        from its chunk; later chunks must have the same features and outputs. Chunks from any
        iterator will do (e.g. :func:`fastlr.iter_chunks` over a file bigger than memory; an
        ``np.memmap`` chunk is streamed). The schedule's epoch counter and the momentum carry
        over between calls (and from a previous ``fit``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The chunk; converted like ``fit``'s (see its Notes on copies). The first call
            sets ``feature_names_in_`` from a DataFrame's column names, as ``fit`` does;
            later calls check them as ``predict`` does.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : float or array-like of shape (n_samples,), default=None

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError, DivergenceError
            As ``fit``; also when the chunk's features, column names or outputs differ from
            the model's. A failed call leaves the model as it was. Warns as ``predict`` when
            the chunk has column names and the model has none, or the reverse.

        Examples
        --------
        >>> import numpy as np
        >>> import fastlr
        >>> X, y, coef = fastlr.make_regression(3000, 2, random_state=0)
        >>> model = fastlr.LinearRegression(mode="sgd", random_state=0)
        >>> for chunk in range(3):
        ...     rows = slice(1000 * chunk, 1000 * (chunk + 1))
        ...     model = model.partial_fit(X[rows], y[rows])
        >>> model.t_, bool(np.allclose(model.coef_, coef, rtol=1e-3))
        (3, True)
        """
        verbose = check_verbose(self)
        previous: Trained | None = getattr(self, "_trained", None)
        if previous is None:
            names = feature_names(X)
        else:
            check_columns(self, X)
        rows, two_d, engine, settings = _prepare(self, X, y, sample_weight)
        if previous is not None:
            _check_same_shape(self, previous, rows.d, rows.k)
        backend, progress = engine.backend(rows.X, settings), progress_printer(1, verbose)
        trained = run.partial(backend, rows, settings, previous, progress)
        publish(self, trained, two_d, rows.d, append=previous is not None)
        if previous is None:
            set_feature_names(self, names)
        return self


def _prepare(
    model: LinearRegression, X: Any, y: Any, sample_weight: Any
) -> tuple[Rows, bool, Engine, TrainSettings]:
    """The checked inputs of a run (X, Y as (n, k), the weights), whether y was 2-D, the engine
    picked from X and the settings resolved for it."""
    X = data_matrix(X)
    Y, two_d = data_target(y, X.shape[0])
    engine = model._engines.for_array(X, model.n_jobs)
    settings = resolve_settings(model, engine.n_threads)
    return Rows(X, Y, as_sample_weight(sample_weight, X.shape[0])), two_d, engine, settings


def _check_same_shape(model: Any, previous: Trained, d: int, k: int) -> None:
    """A later chunk of ``partial_fit`` has the features and outputs of the first."""
    check_n_features(model, d)
    fitted = previous.model.coef.shape[0]
    if k != fitted:
        raise ValueError(
            f"y has {k} outputs, but {type(model).__name__} is expecting {fitted} "
            "(the outputs of the previous fit)"
        )
