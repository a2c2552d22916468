"""What a training run is given and gives back: its final settings, the data's moments, the
trained outcome (the scaling to training coordinates and the centred Gram problem are kernel
records, :mod:`fastlr.kernels.records`, re-exported here)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastlr.kernels.records import GramProblem, Linear, Momentum, Penalty, Scaling
from fastlr.training.accuracy import Accuracy
from fastlr.training.loop import LoopResult, Model

__all__ = [
    "DEFAULT_MAX_ITER",
    "GRAM_MAX_ITER",
    "UNSUPPORTED",
    "GramProblem",
    "Moments",
    "Scaling",
    "TrainSettings",
    "Trained",
    "refuse_unsupported",
]

#: Epochs over the data when ``max_iter`` is None (the default)...
DEFAULT_MAX_ITER = 1000

#: ...and, on the sufficient-statistics path, as many O(d²) iterations as those epochs would cost
#: (``DEFAULT_MAX_ITER * n / d``), at least DEFAULT_MAX_ITER and at most this.
GRAM_MAX_ITER = 1_000_000


_HOGWILD = "hogwild=True applies to mode='sgd' only"
_ON_DASK = "{} is not supported on Dask arrays"

#: The one table of what a mode or an engine cannot take: (option, where) -> what to say, where
#: ``where`` is a mode, ``"file"`` (an X streamed from a file) or ``"dask"`` (a cluster's blocks).
#: :func:`refuse_unsupported` is the one place that refuses them.
UNSUPPORTED = {
    ("momentum", "sgd"): (
        "momentum applies to mode='batch' and mode='minibatch'; with mode='sgd' leave "
        "momentum='auto' or 0 (or use mode='minibatch' with a small batch_size)"
    ),
    ("average", "batch"): "average=True applies to mode='sgd' and mode='minibatch'",
    ("hogwild", "batch"): _HOGWILD,
    ("hogwild", "minibatch"): _HOGWILD,
    ("early_stopping", "file"): (
        "early_stopping holds a copy of validation_fraction of the rows in memory, which an "
        "out-of-core fit avoids: keep a validation file apart and score it in a callback, or "
        "load X into memory"
    ),
    ("early_stopping", "dask"): _ON_DASK.format("early_stopping=True"),
    ("hogwild", "dask"): _ON_DASK.format("hogwild=True"),
    ("callback", "dask"): _ON_DASK.format("callback"),
}


def refuse_unsupported(where: str, asked: dict[str, bool]) -> None:
    """Raise ValueError for the first option in ``asked`` (name -> asked for) that the mode or
    engine ``where`` cannot take (:data:`UNSUPPORTED`).

    Examples
    --------
    >>> refuse_unsupported("sgd", {"momentum": False, "average": True})
    >>> refuse_unsupported("batch", {"average": True})
    Traceback (most recent call last):
    ...
    ValueError: average=True applies to mode='sgd' and mode='minibatch'
    """
    for option, wanted in asked.items():
        message = UNSUPPORTED.get((option, where))
        if wanted and message is not None:
            raise ValueError(message)


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

    # (built once per settings: a run's every epoch call passes them)
    @functools.cached_property
    def penalty(self) -> Penalty:
        """The kernels' record of ``l2`` and ``l1``."""
        return Penalty(self.l2, self.l1)

    @functools.cached_property
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
    #: The refined model in the units of X (sufficient-statistics path: refined in those
    #: units, not only converted to them), or None: then it is ``model`` through ``scaling``.
    user: Linear | None = None

    def in_user_units(self) -> Linear:
        """The model in the units of X."""
        if self.user is not None:
            return Linear(self.user.coef.copy(), self.user.intercept.copy())
        return self.scaling.to_user(self.model.coef, self.model.intercept)
