"""Synthetic regression data, generated in parallel from a counter-based random stream."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastlr import _kernels as kernels
from fastlr._random import check_generated_target, regression_spec
from fastlr._threading import parallel_launch


def make_regression(
    n_samples: int,
    n_features: int,
    *,
    noise: float = 0.0,
    bias: float = 0.0,
    random_state: int | np.random.Generator | None = None,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random linear regression problem: ``y = X @ coef + bias + noise · N(0, 1)``.

    ``X`` has independent standard normal entries; ``coef`` is drawn uniformly from [0, 100).
    Every value is a pure function of the seed and its position (a counter-based generator), so
    the same ``random_state`` gives the same bytes on any number of threads. Generation runs on
    all of numba's threads and writes ``X`` and ``y`` once, in ``dtype``.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of ``X``, both >= 1.
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to ``y``, >= 0.
    bias : float, default=0.0
        The true intercept.
    random_state : int, numpy.random.Generator or None, default=None
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        dtype of ``X`` and ``y`` (``y`` is computed in float64 from the stored ``X``, then cast).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    coef : ndarray of shape (n_features,), float64
        The true coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> import fastlr
    >>> X, y, coef = fastlr.make_regression(4, 2, bias=1.0, random_state=0)
    >>> X.shape, y.shape, coef.shape
    ((4, 2), (4,), (2,))
    >>> bool(np.allclose(X @ coef + 1.0, y))
    True
    """
    spec = regression_spec(n_samples, n_features, noise, bias, random_state, dtype)
    X = np.empty((spec.n_samples, spec.n_features), dtype=spec.dtype)
    y = np.empty(spec.n_samples, dtype=spec.dtype)
    with parallel_launch():
        kernels.fill_regression(X, y, spec.coef, spec.bias, spec.noise, spec.key_x, spec.key_noise)
    check_generated_target(y, spec)
    return X, y, spec.coef
