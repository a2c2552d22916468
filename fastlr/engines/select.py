"""The kernels' engines, chosen from X: a file-backed X is streamed block by block
(:mod:`fastlr.engines.streaming`), any other runs in memory (:mod:`fastlr.engines.memory`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastlr.engines import memory, streaming
from fastlr.kernels.records import Rows
from fastlr.training.backend import Backend
from fastlr.training.settings import TrainSettings, refuse_unsupported


@dataclass(frozen=True)
class KernelEngine:
    """The jitted kernels on one X, with ``n_threads`` threads."""

    n_threads: int

    def backend(self, X: np.ndarray, settings: TrainSettings) -> Backend[Rows]:
        if not streaming.streams(X):
            return memory.FusedBackend(self.n_threads)
        refuse_unsupported("file", {"early_stopping": settings.early_stopping})
        return streaming.StreamingBackend(self.n_threads)

    def predict(
        self, X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, out: np.ndarray
    ) -> None:
        if streaming.streams(X):
            streaming.predict_blocks(X, coef, intercept, out, self.n_threads)
        else:
            memory.predict_into(X, coef, intercept, out, self.n_threads)


class KernelEngines:
    """:class:`fastlr.LinearRegression`'s choice: the kernels, and dask arrays on their cluster."""

    dask = True

    def for_array(self, X: np.ndarray, n_jobs: int | None) -> KernelEngine:
        return KernelEngine(memory.thread_count(X, n_jobs))


#: The engine choice of :class:`fastlr.LinearRegression`.
KERNELS = KernelEngines()
