"""The interface every engine (in memory, streaming, NumPy, Dask) gives the training code."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from fastlr.training.loop import Model
from fastlr.training.settings import GramProblem, Moments, Scaling, TrainSettings


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

    def sgd(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        model: Model,
        rate: float,
        order: np.ndarray,
        lo: int,
        hi: int,
        s: TrainSettings,
        scaling: Scaling,
        average: np.ndarray | None,
    ) -> float: ...

    def minibatch(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        model: Model,
        rate: float,
        order: np.ndarray,
        lo: int,
        hi: int,
        s: TrainSettings,
        scaling: Scaling,
        average: np.ndarray | None,
    ) -> float: ...

    @property
    def gram_epochs(self) -> Any:
        """The compiled Gram loop (a method), or None where the backend has none."""

    @property
    def hogwild(self) -> Any:
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
