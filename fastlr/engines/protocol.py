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
