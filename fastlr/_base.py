"""What :class:`fastlr.LinearRegression` and its NumPy twin share: parameters, checks, protocol.

Subclasses provide two methods: ``_train(X, y, settings, progress) -> FitResult`` and
``_predict(X, coef, intercept, out)``. Everything a user touches (parameter checking, the
scikit-learn protocol, fitted attributes, progress lines, R²) lives here once, so the fast path
and the reference cannot drift apart in behaviour.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from fastlr._feature_names import check_column_names, feature_names
from fastlr._progress import finish, progress_printer
from fastlr._random import RandomState, check_random_state
from fastlr._validation import (
    as_coef,
    as_float_matrix,
    as_float_target,
    as_sample_weight,
    check_bool,
    check_choice,
    check_number,
    max_abs,
    raise_if_not_finite,
)
from fastlr.datafiles import check_streamable, is_streamable, open_npy
from fastlr.exceptions import ConvergenceWarning, not_fitted
from fastlr.training import rules as _rules
from fastlr.training.loop import EpochInfo, Progress
from fastlr.training.run import SHORTFALL_WARN
from fastlr.training.settings import Trained, TrainSettings

MODES = ("batch", "minibatch", "sgd")
PENALTIES = (None, "l2", "l1", "elasticnet")
SOLVERS = ("auto", "gram", "fused")


class LinearRegressionBase:
    """Shared body of the fused estimator and the NumPy reference (see the subclasses)."""

    def __init__(
        self,
        mode: str = "batch",
        *,
        learning_rate: float | str = "auto",
        max_iter: int | None = None,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        batch_size: int = 256,
        shuffle: bool = True,
        random_state: RandomState = None,
        fit_intercept: bool = True,
        standardize: bool = True,
        schedule: str = "constant",
        power_t: float = 0.25,
        momentum: float | str = "auto",
        nesterov: bool = False,
        penalty: str | None = None,
        alpha: float = 1e-4,
        l1_ratio: float = 0.15,
        average: bool | None = None,
        solver: str = "auto",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        warm_start: bool = False,
        callback: Callable[[EpochInfo], Any] | None = None,
        hogwild: bool = False,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.mode = mode
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.schedule = schedule
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.average = average
        self.solver = solver
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.callback = callback
        self.hogwild = hogwild
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn protocol
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(LinearRegressionBase.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters as a dict (scikit-learn protocol).

        Parameters
        ----------
        deep : bool, default=True
            Accepted for scikit-learn; no parameter holds a nested estimator, so it changes
            nothing.

        Returns
        -------
        dict
            Every ``__init__`` parameter by name, as currently set.

        Examples
        --------
        >>> import fastlr
        >>> params = fastlr.LinearRegression(mode="sgd", learning_rate=0.01).get_params()
        >>> params["mode"], params["learning_rate"], params["max_iter"]
        ('sgd', 0.01, None)
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> LinearRegressionBase:
        """Set constructor parameters by name (scikit-learn protocol).

        Values are checked when ``fit`` runs, so an invalid one is reported there, naming it.

        Parameters
        ----------
        **params
            Parameter names and their new values.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a name that is not a parameter (the message lists the valid ones).

        Examples
        --------
        >>> import fastlr
        >>> model = fastlr.LinearRegression().set_params(penalty="l2", alpha=0.1)
        >>> model
        LinearRegression(penalty='l2', alpha=0.1)
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r}; valid parameters: {', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """Estimator tags for scikit-learn >= 1.6 (a regressor; 1-D or 2-D ``y``).

        scikit-learn is imported here, not at module level: only scikit-learn calls this, so
        fastlr does not depend on it.
        """
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True, multi_output=True, single_output=True),
            regressor_tags=RegressorTags(),
            input_tags=InputTags(two_d_array=True),
        )

    def __repr__(self) -> str:
        defaults = inspect.signature(LinearRegressionBase.__init__).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ------------------------------------------------------------------ checks
    def _settings(self, n_threads: int = 1) -> TrainSettings:
        mode = check_choice(self.mode, "mode", MODES)
        if isinstance(self.learning_rate, str):
            check_choice(self.learning_rate, "learning_rate", ("auto",))
            learning_rate = None
        else:
            learning_rate = check_number(self.learning_rate, "learning_rate", low=0, low_open=True)
        schedule = check_choice(self.schedule, "schedule", tuple(_rules.SCHEDULES))
        momentum: float | None = None
        if isinstance(self.momentum, str):
            check_choice(self.momentum, "momentum", ("auto",))
        else:
            momentum = check_number(self.momentum, "momentum", low=0)
            if momentum >= 1:
                raise ValueError(f"momentum must be 'auto' or in [0, 1); got {self.momentum!r}")
        nesterov = check_bool(self.nesterov, "nesterov")
        if momentum is not None and momentum > 0 and mode == "sgd":
            raise ValueError(
                "momentum applies to mode='batch' and mode='minibatch'; with mode='sgd' leave "
                "momentum='auto' or 0 (or use mode='minibatch' with a small batch_size)"
            )
        if nesterov and not (momentum is not None and momentum > 0):
            raise ValueError(f"nesterov=True needs a momentum in (0, 1); got {self.momentum!r}")
        if self.penalty not in PENALTIES:
            raise ValueError(
                f"penalty must be one of None, 'l2', 'l1', 'elasticnet'; got {self.penalty!r}"
            )
        alpha = check_number(self.alpha, "alpha", low=0)
        l1_ratio = check_number(self.l1_ratio, "l1_ratio", low=0)
        if l1_ratio > 1:
            raise ValueError(f"l1_ratio must be in [0, 1]; got {self.l1_ratio!r}")
        ratio = {None: None, "l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[self.penalty]
        l1 = 0.0 if ratio is None else alpha * ratio
        l2 = 0.0 if ratio is None else alpha * (1.0 - ratio)
        if self.average is not None:
            check_bool(self.average, "average")
        average = mode != "batch" if self.average is None else bool(self.average)
        if average and mode == "batch":
            raise ValueError("average=True applies to mode='sgd' and mode='minibatch'")
        hogwild = check_bool(self.hogwild, "hogwild")
        if hogwild and mode != "sgd":
            raise ValueError("hogwild=True applies to mode='sgd' only")
        validation_fraction = check_number(
            self.validation_fraction, "validation_fraction", low=0, low_open=True
        )
        if validation_fraction >= 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1); got {self.validation_fraction!r}"
            )
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be None or a callable; got {self.callback!r}")
        check_bool(self.warm_start, "warm_start")
        return TrainSettings(
            mode=mode,
            learning_rate=learning_rate,
            max_iter=check_number(self.max_iter, "max_iter", integer=True, low=1, allow_none=True),
            tol=check_number(self.tol, "tol", low=0, allow_none=True),
            n_iter_no_change=check_number(
                self.n_iter_no_change, "n_iter_no_change", integer=True, low=1
            ),
            batch_size=check_number(self.batch_size, "batch_size", integer=True, low=1),
            shuffle=check_bool(self.shuffle, "shuffle"),
            random_state=check_random_state(self.random_state),
            fit_intercept=check_bool(self.fit_intercept, "fit_intercept"),
            standardize=check_bool(self.standardize, "standardize"),
            schedule=_rules.SCHEDULES[schedule],
            power_t=check_number(self.power_t, "power_t", low=0),
            momentum=momentum,
            nesterov=nesterov,
            l2=l2,
            l1=l1,
            average=average,
            solver=check_choice(self.solver, "solver", SOLVERS),
            early_stopping=check_bool(self.early_stopping, "early_stopping"),
            validation_fraction=validation_fraction,
            hogwild=hogwild,
            n_threads=n_threads,
        )

    def _check_common(self) -> int:
        """Check ``n_jobs`` and ``verbose`` (the parameters the subclasses read themselves)."""
        from fastlr._threading import resolve_n_jobs

        if self.n_jobs is not None:
            resolve_n_jobs(self.n_jobs)  # raise early, with the message naming n_jobs
        return int(check_number(self.verbose, "verbose", integer=True, low=0))

    # ------------------------------------------------------------------ fit / predict / score
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        coef_init: Any = None,
        intercept_init: Any = None,
    ) -> LinearRegressionBase:
        """Train on ``X`` and ``y`` from zero (or ``coef_init``, or the last fit with
        ``warm_start=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), .npy path, or dask array
            Real numbers: float, int, bool, or an object array of numbers. Must be finite.
            A ``.npy`` path or an ``np.memmap`` is streamed from the file (see Notes); a
            ``dask.array`` is trained on its cluster (:func:`fastlr.dask.fit`). A DataFrame
            (anything with ``columns``) whose column names are all strings sets
            ``feature_names_in_``; any other X (an array, a path, a dask array, a DataFrame
            with integer column names) removes it.
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
        What is copied. A C-contiguous float32 or float64 ``X`` with native byte order is read
        where it is, never copied (read-only arrays and memory maps included). Any other ``X``
        (Fortran order, a strided view such as ``X[::2]``, non-native byte order, int, bool,
        a list, an object array) is converted once into a C-contiguous copy: float16 becomes
        float32, everything else float64. ``y`` follows the same rule (a 1-D ``y`` is viewed
        as one column, not copied). ``sample_weight``, ``coef_init`` and ``intercept_init``
        are always copied to float64. ``early_stopping=True`` also copies the held-out rows
        (``validation_fraction`` of X). The NumPy reference, unlike the fused estimator,
        copies X into float64 training coordinates as it goes.

        Data bigger than memory: ``X`` (and ``y``) may be the path of a ``.npy`` file or an
        ``np.memmap`` (``np.load(path, mmap_mode="r")``); the fit then streams the file in blocks
        of rows through the same kernels, holding about one block in memory, with the same
        coefficients as in memory (sgd and mini-batch with ``shuffle=True`` shuffle the blocks
        and the rows within each: see the README, "Data bigger than memory"). A ``.npy`` path
        must hold a C-ordered float32/float64 array, read in place; an ``np.memmap`` of any
        other dtype or layout is converted in memory like any other array. ``early_stopping``
        is not available out of core.

        Nothing passed in is modified, and a ``fit`` that raises leaves a previously fitted
        model exactly as it was (every fitted attribute).

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
        routed = self._fit_elsewhere(X, y, sample_weight, coef_init, intercept_init)
        if routed is not None:
            self._set_feature_names(None)  # a dask array has no column names
            return routed
        names = feature_names(X)
        verbose = self._check_common()
        X = data_matrix(X)
        Y, two_d = data_target(y, X.shape[0])
        settings = self._settings(self._threads_for(X))
        weights = as_sample_weight(sample_weight, X.shape[0])
        init = self._initial_model(X.shape[1], Y.shape[1], coef_init, intercept_init)
        progress = progress_printer(settings.max_iter, verbose)
        try:
            trained = self._train(
                X,
                Y,
                weights,
                settings,
                init=init,
                progress=progress,
                callback=_in_user_shape(self.callback, two_d),
            )
        finally:
            finish(progress)
        loop = trained.loop
        caution = fit_caution(trained, settings)
        if caution is not None:
            warnings.warn(caution, ConvergenceWarning, stacklevel=2)
        self._publish(trained, two_d, X.shape[1], loop.history, append=False)
        self._set_feature_names(names)
        self.validation_loss_history_ = loop.validation_history
        self.n_iter_ = loop.n_iter
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearRegressionBase:
        """One epoch over the chunk ``(X, y)`` in ``mode``, continuing the model so far.

        The first call (on an unfitted model) fixes the standardization and the automatic step
        from its chunk; later chunks must have the same number of features and outputs. Chunks
        from any iterator will do, e.g. :func:`fastlr.iter_chunks` over a file bigger than
        memory; like ``fit``, ``partial_fit`` streams a chunk that is an ``np.memmap``. The
        schedule's epoch counter and the momentum carry over from call to call (and from a
        previous ``fit``).

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
            the model's. A failed call leaves the model as it was.

        Warns
        -----
        UserWarning
            As ``predict``, when the chunk has column names and the model has none, or the
            reverse.

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
        verbose = self._check_common()
        previous = getattr(self, "_trained", None)
        if previous is None:
            names = feature_names(X)
        else:
            self._check_column_names(X)
        X = data_matrix(X)
        Y, two_d = data_target(y, X.shape[0])
        settings = self._settings(self._threads_for(X))
        weights = as_sample_weight(sample_weight, X.shape[0])
        if previous is not None:
            self._check_n_features(X.shape[1])
            k = previous.model.coef.shape[0]
            if Y.shape[1] != k:
                raise ValueError(
                    f"y has {Y.shape[1]} outputs, but {type(self).__name__} is expecting {k} "
                    "(the outputs of the previous fit)"
                )
        trained = self._partial(X, Y, weights, settings, previous, progress_printer(1, verbose))
        history = trained.loop.history
        self._publish(trained, two_d, X.shape[1], history, append=previous is not None)
        if previous is None:
            self._set_feature_names(names)
        self.n_iter_ = trained.loop.n_iter
        return self

    def _initial_model(
        self, d: int, k: int, coef_init: Any, intercept_init: Any
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Where descent starts, in the units of X: coef_init/intercept_init, the last fit
        (warm_start) or None (zeros)."""
        if coef_init is None and intercept_init is None:
            if self.warm_start and hasattr(self, "coef_"):
                coef = np.asarray(self.coef_, dtype=np.float64).reshape(-1, d)
                if coef.shape[0] != k or coef.shape[1] != d:
                    raise ValueError(
                        f"warm_start: the fitted coef_ has shape {np.shape(self.coef_)}, which "
                        f"does not match {k} output(s) and {d} features"
                    )
                return coef.copy(), np.asarray(self.intercept_, dtype=np.float64).reshape(k).copy()
            return None
        coef = np.zeros((k, d))
        if coef_init is not None:
            coef = as_coef(coef_init, k * d, "coef_init", f"{k} output(s) x {d} features")
            coef = coef.reshape(k, d)
        intercept = np.zeros(k)
        if intercept_init is not None:
            intercept = as_coef(intercept_init, k, "intercept_init", "one per output")
        return coef, intercept

    def _publish(
        self, trained: Trained, two_d: bool, d: int, history: np.ndarray, append: bool
    ) -> None:
        """Fitted attributes from a run, in the units of X."""
        coef, intercept = trained.scaling.to_user(trained.model.coef, trained.model.intercept)
        self.coef_ = coef if two_d else coef[0]
        self.intercept_ = intercept if two_d else float(intercept[0])
        old = getattr(self, "loss_history_", None)
        self.loss_history_ = (
            np.concatenate([old, history]) if append and old is not None else history
        )
        self.n_features_in_ = d
        self.learning_rate_ = trained.learning_rate
        self.momentum_ = trained.momentum
        self.solver_ = trained.path
        accuracy = trained.accuracy
        shortfall = trained.shortfall
        self.converged_ = (
            bool(trained.loop.converged)
            and (accuracy is None or accuracy.certified)
            and (shortfall is None or shortfall <= SHORTFALL_WARN)
        )
        self.certified_digits_ = math.nan if accuracy is None else accuracy.digits
        self.t_ = trained.model.t
        self._trained = trained
        self._two_d = two_d

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
        routed = self._predict_elsewhere(X)
        if routed is not None:
            return routed  # type: ignore[no-any-return]  # (a dask array for a dask array)
        self._check_column_names(X)
        X = data_matrix(X)
        self._check_n_features(X.shape[1])
        coef = np.ascontiguousarray(self.coef_, dtype=np.float64).reshape(-1, X.shape[1])
        intercept = np.asarray(self.intercept_, dtype=np.float64).reshape(-1)
        out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite output is named below
            self._predict(X, coef, intercept, out)
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

    def _set_feature_names(self, names: np.ndarray | None) -> None:
        """Set ``feature_names_in_`` after a fit, or delete it when the data had no names."""
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_column_names(self, X: Any) -> None:
        """Check the column names of ``X`` against ``feature_names_in_``, as scikit-learn's
        ``_check_feature_names(reset=False)`` does (the same warnings and error)."""
        check_column_names(getattr(self, "feature_names_in_", None), X, type(self).__name__)

    def _check_n_features(self, n_features: int) -> None:
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )

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

    # ------------------------------------------------------------------ subclass hooks
    def _threads_for(self, X: np.ndarray) -> int:
        return 1

    def _fit_elsewhere(
        self, X: Any, y: Any, sample_weight: Any, coef_init: Any, intercept_init: Any
    ) -> LinearRegressionBase | None:
        """A fit this estimator hands to another engine (the fused one: dask arrays), or None."""
        return None

    def _predict_elsewhere(self, X: Any) -> Any:
        """Predictions this estimator hands to another engine (dask arrays), or None."""
        return None

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
        raise NotImplementedError

    def _partial(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        settings: TrainSettings,
        previous: Trained | None,
        progress: Progress | None,
    ) -> Trained:
        raise NotImplementedError

    def _predict(
        self, X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, out: np.ndarray
    ) -> None:
        raise NotImplementedError


def data_matrix(X: Any) -> np.ndarray:
    """``X`` for the kernels: a ``.npy`` path is mapped read-only and checked, a C-ordered
    float ``np.memmap`` is kept (both are then streamed), anything else (other memmaps
    included) is :func:`fastlr._validation.as_float_matrix`'s."""
    if isinstance(X, (str, os.PathLike)):
        X = open_npy(X, "X")
    if not isinstance(X, np.memmap) or not is_streamable(X):
        return as_float_matrix(X)  # a memmap of ints or a strided one: converted like any array
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features) with at least one sample and one feature; "
            f"{_file_name(X)} holds shape {X.shape}"
        )
    check_streamable(X, "X")
    return X


def data_target(y: Any, n_samples: int) -> tuple[np.ndarray, bool]:
    """``y`` as (n, k) and whether it was 2-D, as :func:`fastlr._validation.as_float_target`;
    a ``.npy`` path or an ``np.memmap`` is read in place (checked as :func:`data_matrix`)."""
    if isinstance(y, (str, os.PathLike)):
        y = open_npy(y, "y")
    if not isinstance(y, np.memmap) or not is_streamable(y):
        return as_float_target(y, n_samples)
    if y.ndim not in (1, 2) or y.shape[0] != n_samples or (y.ndim == 2 and y.shape[1] == 0):
        raise ValueError(
            f"y must be 1-D (n_samples,) or 2-D (n_samples, n_outputs) with one row per sample "
            f"of X ({n_samples}); {_file_name(y)} holds shape {y.shape}"
        )
    check_streamable(y, "y")
    return y.reshape(n_samples, -1), y.ndim == 2


def _file_name(array: np.memmap) -> str:
    return repr(array.filename) if array.filename else "the memmap"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):
        return False


def _in_user_shape(
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
