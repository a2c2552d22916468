"""fastlr: linear regression by gradient descent with fused Numba kernels.

Public surface: :class:`LinearRegression`, :func:`loss_and_gradient`, :func:`make_regression`,
:func:`load` (a model written by ``LinearRegression.save``), :func:`iter_chunks` (a data file in
chunks, for ``partial_fit``), and :mod:`fastlr.reference`, the pure NumPy twin of the first
three. For hot loops, :func:`loss_and_gradient`, :func:`predict` and :func:`minibatch_step` are
also callable from users' own ``@numba.njit`` code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fastlr._version import __version__
from fastlr.estimator import LinearRegression
from fastlr.exceptions import (
    ConvergenceWarning,
    DivergenceError,
    FitInterruptedWarning,
    NotFittedError,
)
from fastlr.objective import loss_and_gradient, minibatch_step, predict
from fastlr.training.loop import EpochInfo

if TYPE_CHECKING:
    from fastlr._persist import load
    from fastlr.datafiles import iter_chunks
    from fastlr.datasets import make_regression

#: Public names whose modules load on first use: a program that only fits and predicts does not
#: pay for the generator's kernels, the chunked file reader or the model-file format at import.
_LAZY = {
    "load": "fastlr._persist",
    "iter_chunks": "fastlr.datafiles",
    "make_regression": "fastlr.datasets",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastlr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ConvergenceWarning",
    "DivergenceError",
    "EpochInfo",
    "FitInterruptedWarning",
    "LinearRegression",
    "NotFittedError",
    "__version__",
    "iter_chunks",
    "load",
    "loss_and_gradient",
    "make_regression",
    "minibatch_step",
    "predict",
]
