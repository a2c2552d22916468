"""How a backend calls an epoch: the model, the settings and the scaling unpacked into the flat
arguments the epoch functions take (one place, for the kernels and for their NumPy twins)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fastlr.engines.protocol import EpochData
from fastlr.training.loop import Model
from fastlr.training.settings import TrainSettings


class EpochCalls:
    """The update and the epochs of a :class:`~fastlr.engines.protocol.Backend`: ``model``,
    settings and scaling unpacked into the flat arguments of ``update_parameters``,
    ``sgd_epoch`` and ``minibatch_epoch``.

    The kernels take the same arguments as their NumPy twins: a backend names the three
    functions (the kernels in :class:`fastlr.engines.memory.FusedBackend`, the twins in
    :class:`fastlr.engines.numpy.NumpyBackend`), as static methods.
    """

    update_parameters: Callable[..., None]
    sgd_epoch: Callable[..., float]
    minibatch_epoch: Callable[..., float]

    def update(self, model: Model, grad: np.ndarray, rate: float, s: TrainSettings) -> None:
        self.update_parameters(
            model.coef,
            model.intercept,
            grad,
            rate,
            s.l2,
            s.l1,
            s.heavy_ball,
            s.nesterov,
            model.velocity,
            s.fit_intercept,
        )

    def sgd(self, data: EpochData, model: Model, rate: float, lo: int, hi: int) -> float:
        X, Y, sample_weight, s, scaling = data.X, data.Y, data.sample_weight, data.s, data.scaling
        order, average = data.order, data.average
        return float(
            self.sgd_epoch(
                X,
                Y,
                sample_weight,
                model.coef,
                model.intercept,
                rate,
                order,
                lo,
                hi,
                s.fit_intercept,
                scaling.shift,
                scaling.scale,
                1.0 - rate * s.l2,
                rate * s.l1,
                model.l1_state,
                average,
            )
        )

    def minibatch(self, data: EpochData, model: Model, rate: float, lo: int, hi: int) -> float:
        X, Y, sample_weight, s, scaling = data.X, data.Y, data.sample_weight, data.s, data.scaling
        order, average = data.order, data.average
        return float(
            self.minibatch_epoch(
                X,
                Y,
                sample_weight,
                model.coef,
                model.intercept,
                rate,
                order,
                lo,
                hi,
                s.batch_size,
                s.fit_intercept,
                scaling.shift,
                scaling.scale,
                s.l2,
                s.l1,
                s.heavy_ball,
                s.nesterov,
                model.velocity,
                average,
            )
        )
