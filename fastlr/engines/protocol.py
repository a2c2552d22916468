"""What the estimator asks of the engine that holds its data (:class:`Engine`, picked from the
input by an :class:`EngineChoice`); the passes of a run are a
:class:`~fastlr.training.backend.Backend`, the interface training defines."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from fastlr.kernels.records import Rows
from fastlr.training.backend import Backend
from fastlr.training.settings import TrainSettings


class Engine(Protocol):
    """What an estimator asks of the engine that holds its data: the passes for a run, and
    predictions."""

    @property
    def n_threads(self) -> int:
        """Threads the passes use (the settings of a run are resolved with it)."""
        ...

    def backend(self, X: np.ndarray, settings: TrainSettings) -> Backend[Rows]:
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
