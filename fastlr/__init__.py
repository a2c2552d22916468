"""fastlr: linear regression by gradient descent with fused Numba kernels.

Public surface: :class:`LinearRegression`, :func:`loss_and_gradient`, :func:`make_regression`,
:func:`load` (a model written by ``LinearRegression.save``), :func:`iter_chunks` (a data file in
chunks, for ``partial_fit``), and :mod:`fastlr.reference`, the pure NumPy twin of the first
three. For hot loops, :func:`loss_and_gradient`, :func:`predict` and :func:`minibatch_step` are
also callable from users' own ``@numba.njit`` code.
"""

from fastlr._loop import EpochInfo
from fastlr._persist import load
from fastlr._version import __version__
from fastlr.datafiles import iter_chunks
from fastlr.datasets import make_regression
from fastlr.estimator import LinearRegression
from fastlr.exceptions import (
    ConvergenceWarning,
    DivergenceError,
    FitInterruptedWarning,
    NotFittedError,
)
from fastlr.objective import loss_and_gradient, minibatch_step, predict

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
