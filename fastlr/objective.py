"""The functional API: the objective and its gradient in one fused pass."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastlr._solvers import fused_pass, thread_count
from fastlr._validation import (
    as_coef,
    check_kernel_ready,
    check_number,
    max_abs,
    raise_if_not_finite,
)


def loss_and_gradient(
    X: np.ndarray,
    y: np.ndarray,
    coef: Any,
    intercept: float = 0.0,
    *,
    n_jobs: int | None = None,
) -> tuple[float, np.ndarray, float]:
    """Objective and gradient of linear least squares in one pass over ``X``.

    ``L = 1/(2n) · Σ r_i²`` with ``r = X @ coef + intercept - y``; the gradient is
    ``(Xᵀr / n, mean(r))``. Sums are accumulated in float64 for float32 and float64 input.

    Built for hot loops: ``X`` and ``y`` are read where they are and never copied, so they must
    already be C-contiguous float32/float64 numpy arrays (anything else raises, saying how to
    convert it once). Non-finite input is reported as a ValueError naming the first bad value.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
    y : ndarray of shape (n_samples,), float32 or float64
    coef : array-like of shape (n_features,)
    intercept : float, default=0.0
    n_jobs : int or None, default=None
        Threads for large inputs (``None``: numba's current setting). Any count gives the same
        bits.

    Returns
    -------
    loss : float
    grad_coef : ndarray of shape (n_features,), float64
    grad_intercept : float

    Examples
    --------
    >>> import numpy as np
    >>> import fastlr
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> y = np.array([1.0, 2.0])
    >>> loss, grad, grad_b = fastlr.loss_and_gradient(X, y, np.zeros(2))
    >>> loss, grad.tolist(), grad_b
    (1.25, [-3.5, -5.0], -1.5)
    """
    X, y = check_kernel_ready(X, y)
    coef = as_coef(coef, X.shape[1])
    intercept = check_number(intercept, "intercept")
    grad = np.empty(X.shape[1])
    loss, grad_intercept = fused_pass(X, y, coef, intercept, grad, thread_count(X, n_jobs))
    if not (math.isfinite(loss) and np.isfinite(grad).all()):
        raise_if_not_finite(X=X, y=y)
        raise FloatingPointError(
            f"the loss overflowed ({loss}); the values of X, y or coef are too large to square "
            f"in float64 (max |X| = {max_abs(X):g}, max |y| = {max_abs(y):g})"
        )
    return loss, grad, grad_intercept
