"""How a backend calls an epoch: the model, the settings and the scaling turned into the records
the epoch functions take (:mod:`fastlr.kernels.records`; one place, for the kernels and for
their NumPy twins)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fastlr.kernels.records import Iterate, Rows
from fastlr.training.backend import EpochData
from fastlr.training.loop import Model
from fastlr.training.settings import TrainSettings


class EpochCalls:
    """The update and the epochs of a :class:`~fastlr.training.backend.Backend`: ``model``,
    settings and scaling turned into the records that ``update_parameters``, ``sgd_epoch`` and
    ``minibatch_epoch`` take.

    The kernels take the same arguments as their NumPy twins: a backend names the three
    functions (the kernels in :class:`fastlr.engines.memory.FusedBackend`, the twins in
    :class:`fastlr.engines.numpy.NumpyBackend`), as static methods.
    """

    update_parameters: Callable[..., None]
    sgd_epoch: Callable[..., float]
    minibatch_epoch: Callable[..., float]

    def update(self, model: Model, grad: np.ndarray, rate: float, s: TrainSettings) -> None:
        self.update_parameters(
            model.iterate(), grad, rate, s.penalty, s.momentum_rule, s.fit_intercept
        )

    def sgd(self, data: EpochData[Rows], model: Model, rate: float, lo: int, hi: int) -> float:
        s = data.s
        options = (s.fit_intercept, data.scaling, s.penalty)
        return float(self.sgd_epoch(*_visit(data, model, rate, lo, hi), *options))

    def minibatch(
        self, data: EpochData[Rows], model: Model, rate: float, lo: int, hi: int
    ) -> float:
        s = data.s
        options = (s.batch_size, s.fit_intercept, data.scaling, s.penalty, s.momentum_rule)
        return float(self.minibatch_epoch(*_visit(data, model, rate, lo, hi), *options))


def _visit(
    data: EpochData[Rows], model: Model, rate: float, lo: int, hi: int
) -> tuple[Rows, Iterate, float, np.ndarray, int, int]:
    """The arguments both epoch functions start with: the rows, the model's arrays, the step
    and the epoch positions [lo, hi) of the row order."""
    return data.rows, model.iterate(data.average), rate, data.order, lo, hi
