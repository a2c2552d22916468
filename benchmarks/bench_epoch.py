"""asv: one batch epoch and one fit, fastlr against its NumPy reference.

Kernels are compiled in ``setup`` so the timings are steady-state.
"""

from __future__ import annotations

import numpy as np

import fastlr
from fastlr import reference

IMPLEMENTATIONS = {"fastlr": fastlr, "numpy-reference": reference}


class BatchEpoch:
    params = (list(IMPLEMENTATIONS), ["float32", "float64"], [(1_000_000, 20), (100_000, 200)])
    param_names = ["implementation", "dtype", "shape"]

    def setup(self, implementation: str, dtype: str, shape: tuple[int, int]) -> None:
        n, d = shape
        self.X, self.y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0, dtype=dtype)
        self.coef = np.full(d, 0.5)
        self.loss_and_gradient = IMPLEMENTATIONS[implementation].loss_and_gradient
        self.loss_and_gradient(self.X, self.y, self.coef, 0.1)  # compile, or load from cache

    def time_epoch(self, implementation: str, dtype: str, shape: tuple[int, int]) -> None:
        self.loss_and_gradient(self.X, self.y, self.coef, 0.1)


class Fit:
    params = (list(IMPLEMENTATIONS), ["batch", "minibatch", "sgd"])
    param_names = ["implementation", "mode"]
    rates = {"batch": 0.5, "minibatch": 0.05, "sgd": 0.005}

    def setup(self, implementation: str, mode: str) -> None:
        self.X, self.y, _ = fastlr.make_regression(20_000, 10, noise=1.0, random_state=0)
        self.make = lambda: IMPLEMENTATIONS[implementation].LinearRegression(
            mode=mode, learning_rate=self.rates[mode], max_iter=3, tol=None, random_state=0
        )
        self.make().fit(self.X, self.y)

    def time_fit(self, implementation: str, mode: str) -> None:
        self.make().fit(self.X, self.y)

    def track_final_loss(self, implementation: str, mode: str) -> float:
        return float(self.make().fit(self.X, self.y).loss_history_[-1])
