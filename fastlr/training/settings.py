"""What a training run is given and gives back: its final settings, the data's moments, the
trained outcome (the scaling to training coordinates and the centred Gram problem are kernel
records, :mod:`fastlr.kernels.records`, re-exported here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fastlr.kernels.records import GramProblem, Momentum, Penalty, Scaling
from fastlr.training.accuracy import Accuracy
from fastlr.training.loop import LoopResult, Model

__all__ = [
    "DEFAULT_MAX_ITER",
    "GRAM_MAX_ITER",
    "GramProblem",
    "Moments",
    "Scaling",
    "TrainSettings",
    "Trained",
]

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

    @property
    def penalty(self) -> Penalty:
        """The kernels' record of ``l2`` and ``l1``."""
        return Penalty(self.l2, self.l1)

    @property
    def momentum_rule(self) -> Momentum:
        """The kernels' record of the resolved momentum and ``nesterov``."""
        return Momentum(self.heavy_ball, self.nesterov)


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
