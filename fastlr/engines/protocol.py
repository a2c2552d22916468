"""The interface every engine (in memory, streaming, NumPy, Dask) gives the training code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fastlr.kernels.records import Rows
from fastlr.training.loop import LoopRules, Model
from fastlr.training.settings import GramProblem, Moments, Scaling, TrainSettings


@dataclass(frozen=True)
class EpochData:
    """What every call of one sgd or mini-batch epoch reads: the rows, the run's settings and
    scaling, the epoch's row order (:class:`~fastlr.training.loop.RowOrder`'s key; empty: rows
    in order) and the sum of iterates each update adds to (None: no averaging)."""

    rows: Rows
    s: TrainSettings
    scaling: Scaling
    order: np.ndarray
    average: np.ndarray | None


class StochasticEpoch(Protocol):
    """A call of an sgd or mini-batch epoch over the positions [lo, hi) of ``data.order``,
    ``model`` updated in place; returns ``Σ w · r²`` over the rows visited."""

    def __call__(self, data: EpochData, model: Model, rate: float, lo: int, hi: int) -> float: ...


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


class Hogwild(Protocol):
    """One lock-free parallel sgd epoch over all rows (``data.average`` unused); returns the sum
    of ``w · r²`` and the summed iterates (k, d + 2) when ``data.s.average``, else None."""

    def __call__(
        self, data: EpochData, model: Model, rate: float
    ) -> tuple[float, np.ndarray | None]: ...


class Backend(Protocol):
    """The passes over the data: fused kernels or their NumPy twins."""

    def moments(
        self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, gram: bool
    ) -> Moments: ...

    def row_norm_bounds(
        self, X: np.ndarray, sample_weight: np.ndarray | None, scaling: Scaling, intercept: bool
    ) -> tuple[float, float]: ...

    def loss_gradient(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        total_weight: float,
        coef: np.ndarray,
        intercept: np.ndarray,
        grad: np.ndarray,
    ) -> float: ...

    def gram_loss_gradient(
        self, problem: GramProblem, coef: np.ndarray, intercept: np.ndarray, grad: np.ndarray
    ) -> float: ...

    def update(self, model: Model, grad: np.ndarray, rate: float, s: TrainSettings) -> None: ...

    @property
    def sgd(self) -> StochasticEpoch:
        """One update per row (a method)."""

    @property
    def minibatch(self) -> StochasticEpoch:
        """One update per batch of ``s.batch_size`` rows (a method)."""

    @property
    def gram_epochs(self) -> GramEpochs | None:
        """The compiled Gram loop (a method), or None where the backend has none."""

    @property
    def hogwild(self) -> Hogwild | None:
        """The lock-free parallel sgd epoch (a method), or None."""


class Engine(Protocol):
    """What an estimator asks of the engine that holds its data: the passes for a run, and
    predictions."""

    @property
    def n_threads(self) -> int:
        """Threads the passes use (the settings of a run are resolved with it)."""
        ...

    def backend(self, X: np.ndarray, settings: TrainSettings) -> Backend:
        """The passes over ``X`` for a run with ``settings`` (raises what the data cannot do)."""
        ...

    def predict(
        self, X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, out: np.ndarray
    ) -> None:
        """Write ``X @ coef.T + intercept`` (summed in float64) into ``out``."""
        ...


class EngineChoice(Protocol):
    """How an estimator picks its engine from the input: one call, no subclass hooks."""

    #: Whether a dask array trains on its cluster (:mod:`fastlr.dask`).
    dask: bool

    def for_array(self, X: np.ndarray, n_jobs: int | None) -> Engine:
        """The engine for ``X`` (in memory, or a file-backed array to stream)."""
        ...
