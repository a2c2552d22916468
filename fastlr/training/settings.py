"""What a training run is given and gives back: its final settings, the scaling to training
coordinates, the data's moments, the centred Gram problem, the trained outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fastlr.training.accuracy import Accuracy
from fastlr.training.loop import LoopResult, Model

#: Epochs over the data when ``max_iter`` is None (the default)...
DEFAULT_MAX_ITER = 1000

#: ...and, on the sufficient-statistics path, as many O(d²) iterations as those epochs would cost
#: (``DEFAULT_MAX_ITER * n / d``), at least DEFAULT_MAX_ITER and at most this.
GRAM_MAX_ITER = 1_000_000


@dataclass(frozen=True)
class TrainSettings:
    """What training needs, as plain values (the estimator maps its parameters to these)."""

    mode: str
    learning_rate: float | None  # None: automatic
    max_iter: int | None  # None: epoch_budget's
    tol: float | None
    n_iter_no_change: int
    batch_size: int
    shuffle: bool
    random_state: Any
    fit_intercept: bool
    standardize: bool
    schedule: int
    power_t: float
    momentum: float | None  # None: tuned on the sufficient-statistics path, else 0
    nesterov: bool
    l2: float
    l1: float
    average: bool
    solver: str  # "auto" | "gram" | "fused"
    early_stopping: bool
    validation_fraction: float
    hogwild: bool
    n_threads: int

    @property
    def epochs(self) -> int:
        """``max_iter`` once :func:`train` has resolved None."""
        assert self.max_iter is not None, "resolved by train()"
        return self.max_iter

    @property
    def heavy_ball(self) -> float:
        """``momentum`` once :func:`resolve_momentum` has resolved None (automatic)."""
        assert self.momentum is not None, "resolved by resolve_momentum()"
        return self.momentum


@dataclass(frozen=True)
class Scaling:
    """Training coordinates ``z = (x - shift) * scale``; both None for raw coordinates."""

    shift: np.ndarray | None
    scale: np.ndarray | None

    def to_user(self, coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same model in the units of X: ``coef * scale`` and ``b - (coef * scale)·shift``."""
        if self.shift is None or self.scale is None:
            return coef.copy(), intercept.copy()
        raw = coef * self.scale
        return raw, intercept - raw @ self.shift

    def to_training(self, coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`to_user`."""
        if self.shift is None or self.scale is None:
            return coef.copy(), intercept.copy()
        return coef / self.scale, intercept + coef @ self.shift

    def gradient_to_training(self, grad: np.ndarray) -> np.ndarray:
        """A raw-unit gradient (k, d + 1) at the model's raw twin -> training coordinates."""
        if self.shift is None or self.scale is None:
            return grad
        out: np.ndarray = grad.copy()
        out[:, :-1] = self.scale * (grad[:, :-1] - np.outer(grad[:, -1], self.shift))
        return out


@dataclass(frozen=True)
class Moments:
    """Weighted first and second moments of X and Y, centered (one pass, Chan's merge)."""

    total_weight: float
    x_mean: np.ndarray  # (d,)
    y_mean: np.ndarray  # (k,)
    xx: np.ndarray | None  # (d, d) Σ w (x - x̄)(x - x̄)ᵀ, or None (diagonal only)
    xy: np.ndarray | None  # (d, k) Σ w (x - x̄)(y - ȳ)
    yy: np.ndarray | None  # (k,) Σ w (y - ȳ)²
    x_var: np.ndarray  # (d,) Σ w (x - x̄)² / W


@dataclass(frozen=True)
class GramProblem:
    """The least-squares problem in training coordinates, as sufficient statistics."""

    H: np.ndarray  # E_w[z zᵀ]
    C: np.ndarray  # E_w[z (y - ȳ)ᵀ]
    mean_z: np.ndarray
    y_mean: np.ndarray
    y_var: np.ndarray


@dataclass
class Trained:
    """A training run's outcome, in training coordinates plus the scaling to undo them."""

    model: Model
    scaling: Scaling
    learning_rate: float
    momentum: float
    loop: LoopResult
    path: str
    #: The certificate of the coefficients in the units of X (sufficient-statistics path), or
    #: None where none was computed.
    accuracy: Accuracy | None = None
    #: sgd and mini-batch: how far below the least-squares optimum the fit ended (about the R²
    #: it lacks), or None where it was not checked.
    shortfall: float | None = None
