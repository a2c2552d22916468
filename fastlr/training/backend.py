"""What training asks of an engine: the typed :class:`Backend` protocol (the passes over the rows,
the error path's look at their values, the d-sized work, and the modes it runs as members or
None), generic in the rows ``R`` its passes take, and the records of an epoch call.

Training owns this interface and imports no engine: every engine (in memory, streaming, NumPy,
Dask; :mod:`fastlr.engines`) implements it, and the estimator hands one to
:func:`fastlr.training.run.train`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

from fastlr.kernels.records import Linear
from fastlr.training.loop import LoopRules, Model
from fastlr.training.settings import GramProblem, Moments, Scaling, TrainSettings


class Shaped(Protocol):
    """What training reads of the data itself: its size and total weight. Everything else (the
    passes, and the look at the values that names bad input) goes through the engine's
    :class:`Backend`."""

    @property
    def n(self) -> int:
        """Rows."""
        ...

    @property
    def d(self) -> int:
        """Features."""
        ...

    @property
    def k(self) -> int:
        """Outputs."""
        ...

    def total_weight(self) -> float:
        """The sum of the sample weights (n without weights)."""
        ...


#: The rows a backend's passes take: :class:`~fastlr.kernels.records.Rows` in memory (arrays or
#: file-backed maps), :class:`fastlr.engines.dask.DaskRows` (handles on a cluster's blocks).
R = TypeVar("R", bound=Shaped)


@dataclass(frozen=True)
class EpochData(Generic[R]):
    """What every call of one sgd or mini-batch epoch reads: the rows, the run's settings and
    scaling, the epoch's row order (:class:`~fastlr.training.loop.RowOrder`'s key; empty: rows
    in order) and the sum of iterates each update adds to (None: no averaging)."""

    rows: R
    s: TrainSettings
    scaling: Scaling
    order: np.ndarray
    average: np.ndarray | None


class StochasticEpoch(Protocol[R]):
    """A call of an sgd or mini-batch epoch over the positions [lo, hi) of ``data.order``,
    ``model`` updated in place; returns ``Σ w · r²`` over the rows visited."""

    def __call__(
        self, data: EpochData[R], model: Model, rate: float, lo: int, hi: int
    ) -> float: ...


class GramEpochs(Protocol):
    """Up to ``count`` epochs of the Gram loop in one compiled call, each epoch's loss written
    to ``history``; returns (epochs run, the loop's verdict)."""

    def __call__(
        self,
        problem: GramProblem,
        model: Model,
        rules: LoopRules,
        s: TrainSettings,
        count: int,
        history: np.ndarray,
    ) -> tuple[int, int]: ...


class Hogwild(Protocol[R]):
    """One lock-free parallel sgd epoch over all rows (``data.average`` unused); returns the sum
    of ``w · r²`` and the summed iterates (k, d + 2) when ``data.s.average``, else None."""

    def __call__(
        self, data: EpochData[R], model: Model, rate: float
    ) -> tuple[float, np.ndarray | None]: ...


class Backend(Protocol[R]):
    """The passes over the rows ``R`` of one engine (fused kernels, their NumPy twins, a
    cluster's blocks), the look at their values when something went wrong, and the d-sized
    work. A mode an engine cannot run is a member that is None (its capability)."""

    def moments(self, rows: R, gram: bool) -> Moments: ...

    def row_norm_bounds(
        self, rows: R, scaling: Scaling, intercept: bool
    ) -> tuple[float, float]: ...

    def loss_gradient(self, rows: R, total_weight: float, model: Linear, grad: np.ndarray) -> float:
        """The loss of ``model`` (units of X) on ``rows``, its gradient (k, d + 1) in ``grad``."""
        ...

    def compensated_loss_gradient(
        self, rows: R, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        """:meth:`loss_gradient` with the gradient summed in double-double (rounded once, as
        accurate as the data allow: :mod:`fastlr.kernels.compensated`), for refinement."""
        ...

    def zero_targets(self, rows: R) -> R:
        """The same X and weights with one output y = 0 (the power iteration's Hessian
        products), without an n x k copy where the engine can avoid it."""
        ...

    def raise_if_not_finite(self, rows: R) -> None:
        """Raise ValueError naming the first NaN/inf of X, then of y (the error path)."""
        ...

    def max_abs(self, rows: R) -> tuple[float, float]:
        """The largest magnitudes of X and of Y (error messages)."""
        ...

    def column_range(self, rows: R, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The smallest and largest values of the ``columns`` of X (the underflow check)."""
        ...

    def gram_loss_gradient(
        self, problem: GramProblem, coef: np.ndarray, intercept: np.ndarray, grad: np.ndarray
    ) -> float: ...

    def update(self, model: Model, grad: np.ndarray, rate: float, s: TrainSettings) -> None: ...

    @property
    def sgd(self) -> StochasticEpoch[R] | None:
        """One update per row (a method), or None where the engine runs sgd its own way."""

    @property
    def minibatch(self) -> StochasticEpoch[R] | None:
        """One update per batch of ``s.batch_size`` rows (a method), or None."""

    @property
    def gram_epochs(self) -> GramEpochs | None:
        """The compiled Gram loop (a method), or None where the backend has none."""

    @property
    def hogwild(self) -> Hogwild[R] | None:
        """The lock-free parallel sgd epoch (a method), or None."""
