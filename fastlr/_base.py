"""What :class:`fastlr.LinearRegression` and its NumPy twin share: parameters, checks, protocol.

Subclasses provide two methods: ``_train(X, y, settings, progress) -> FitResult`` and
``_predict(X, coef, intercept, out)``. Everything a user touches (parameter checking, the
scikit-learn protocol, fitted attributes, progress lines, R²) lives here once, so the fast path
and the reference cannot drift apart in behaviour.
"""

from __future__ import annotations

import inspect
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastlr._random import RandomState, check_random_state
from fastlr._validation import (
    as_float_matrix,
    as_float_target,
    check_bool,
    check_choice,
    check_number,
)
from fastlr.exceptions import ConvergenceWarning, NotFittedError

MODES = ("batch", "minibatch", "sgd")

#: ``progress(epoch, loss, grad_norm)``, called after every epoch (epoch counts from 1).
Progress = Callable[[int, float, float], None]


@dataclass(frozen=True)
class Settings:
    """The estimator's parameters, checked and reduced to plain values."""

    mode: str
    learning_rate: float
    max_iter: int
    tol: float | None
    batch_size: int
    shuffle: bool
    random_state: RandomState
    fit_intercept: bool
    n_jobs: int | None
    verbose: int


@dataclass
class FitResult:
    """What a training loop hands back; the estimator turns it into fitted attributes."""

    coef: np.ndarray
    intercept: float
    loss_history: np.ndarray
    n_iter: int
    converged: bool


class LinearRegressionBase:
    """Shared body of the fused estimator and the NumPy reference (see the subclasses)."""

    def __init__(
        self,
        mode: str = "batch",
        *,
        learning_rate: float = 0.01,
        max_iter: int = 1000,
        tol: float | None = 1e-4,
        batch_size: int = 256,
        shuffle: bool = True,
        random_state: RandomState = None,
        fit_intercept: bool = True,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.mode = mode
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn protocol
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(LinearRegressionBase.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters as a dict (scikit-learn protocol)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> LinearRegressionBase:
        """Set constructor parameters by name (scikit-learn protocol); returns ``self``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r}; valid parameters: {', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(LinearRegressionBase.__init__).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ------------------------------------------------------------------ checks
    def _settings(self) -> Settings:
        from fastlr._threading import resolve_n_jobs

        if self.n_jobs is not None:
            resolve_n_jobs(self.n_jobs)  # raise early, with the message naming n_jobs
        return Settings(
            mode=check_choice(self.mode, "mode", MODES),
            learning_rate=check_number(self.learning_rate, "learning_rate", low=0, low_open=True),
            max_iter=check_number(self.max_iter, "max_iter", integer=True, low=1),
            tol=check_number(self.tol, "tol", low=0, allow_none=True),
            batch_size=check_number(self.batch_size, "batch_size", integer=True, low=1),
            shuffle=check_bool(self.shuffle, "shuffle"),
            random_state=check_random_state(self.random_state),
            fit_intercept=check_bool(self.fit_intercept, "fit_intercept"),
            n_jobs=self.n_jobs,
            verbose=check_number(self.verbose, "verbose", integer=True, low=0),
        )

    # ------------------------------------------------------------------ fit / predict / score
    def fit(self, X: Any, y: Any) -> LinearRegressionBase:
        """Train on ``X`` (n_samples, n_features) and ``y`` (n_samples,) or (n_samples, 1).

        C-contiguous float32/float64 ``X`` is used as it is; any other real array (ints, float16,
        Fortran order, strided views) is converted once to a C-contiguous float copy. A failed
        ``fit`` leaves a previously fitted model unchanged.
        """
        settings = self._settings()
        X = as_float_matrix(X)
        y_flat, column = as_float_target(y, X.shape[0])
        result = self._train(X, y_flat, settings, _progress_printer(settings))
        if not result.converged:
            warnings.warn(
                f"stopped after max_iter={settings.max_iter} epochs before the loss settled "
                f"within tol={settings.tol:g}; raise max_iter or learning_rate, or pass tol=None "
                "to run a fixed number of epochs",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.coef_ = result.coef.reshape(1, -1) if column else result.coef
        self.intercept_ = np.array([result.intercept]) if column else float(result.intercept)
        self.loss_history_ = result.loss_history
        self.n_iter_ = result.n_iter
        self.n_features_in_ = X.shape[1]
        self._target_is_column = column
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``X @ coef_ + intercept_``, summed in float64, returned in X's float dtype."""
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, y) first"
            )
        X = as_float_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but this model was fitted with {self.n_features_in_}"
            )
        coef = np.ascontiguousarray(self.coef_, dtype=np.float64).reshape(-1)
        intercept = float(np.asarray(self.intercept_).reshape(-1)[0])
        out = np.empty(X.shape[0], dtype=X.dtype)
        self._predict(X, coef, intercept, out)
        return out.reshape(-1, 1) if self._target_is_column else out

    def score(self, X: Any, y: Any) -> float:
        """Coefficient of determination R² of ``predict(X)`` against ``y`` (1 is perfect)."""
        prediction = self.predict(X).reshape(-1).astype(np.float64)
        y_flat, _ = as_float_target(y, prediction.shape[0])
        target = y_flat.astype(np.float64)
        residual = float(np.sum((target - prediction) ** 2))
        total = float(np.sum((target - target.mean()) ** 2))
        if total == 0.0:
            return 1.0 if residual == 0.0 else 0.0
        return 1.0 - residual / total

    # ------------------------------------------------------------------ subclass hooks
    def _train(
        self, X: np.ndarray, y: np.ndarray, settings: Settings, progress: Progress | None
    ) -> FitResult:
        raise NotImplementedError

    def _predict(self, X: np.ndarray, coef: np.ndarray, intercept: float, out: np.ndarray) -> None:
        raise NotImplementedError


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):
        return False


def _progress_printer(settings: Settings) -> Progress | None:
    """Progress lines like the first seed's: about ten per fit at verbose=1, every epoch at 2."""
    if settings.verbose == 0:
        return None
    every = 1 if settings.verbose >= 2 else max(1, settings.max_iter // 10)
    start = time.perf_counter()
    width = len(str(settings.max_iter))

    def progress(epoch: int, loss: float, grad_norm: float) -> None:
        if epoch == 1 or epoch % every == 0 or epoch == settings.max_iter:
            print(
                f"epoch {epoch:>{width}}/{settings.max_iter}  loss {loss:.6e}  "
                f"|grad| {grad_norm:.3e}  elapsed {time.perf_counter() - start:.2f} s",
                file=sys.stdout,
                flush=True,
            )

    return progress
