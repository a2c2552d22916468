"""The pure NumPy twin of fastlr: same objective, same modes, same data generator.

Written to be read, not to be fast. It is the oracle of the test suite (every kernel in
``fastlr.kernels`` has its twin here) and the baseline of the benchmarks. It never imports the
kernels, and it sums in float64 whatever the input dtype.

The twins of the epoch kernels (:func:`row_order`, :func:`update_parameters`, :func:`sgd_epoch`,
:func:`minibatch_epoch`) live beside the NumPy engine that runs them,
:class:`fastlr.engines.numpy.NumpyBackend`, and are re-exported here with it; this module holds
the twins of the objective and of the data generator, and the estimator.

The objective, for residuals ``r = X @ coef + intercept - y``::

    L = 1/(2n) · Σ r²        grad_coef = Xᵀr / n        grad_intercept = mean(r)

Examples
--------
>>> import numpy as np
>>> from fastlr import reference
>>> X, y, coef = reference.make_regression(200, 2, random_state=0)
>>> model = reference.LinearRegression().fit(X, y)
>>> bool(np.allclose(model.coef_, coef))
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fastlr import estimator
from fastlr._random import check_generated_target, regression_spec
from fastlr._reference_normals import normals
from fastlr.engines.numpy import (
    NUMPY,
    minibatch_epoch,
    row_order,
    sgd_epoch,
    update_parameters,
)
from fastlr.engines.numpy import NumpyBackend as NumpyBackend  # the engine, for tests
from fastlr.engines.protocol import EngineChoice

__all__ = [
    "LinearRegression",
    "loss_and_gradient",
    "make_regression",
    "minibatch_epoch",
    "predict",
    "row_order",
    "sgd_epoch",
    "update_parameters",
]


def predict(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    """``X @ coef + intercept`` in float64 (twin of the predict kernel).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    coef : ndarray of shape (n_features,)
    intercept : float

    Returns
    -------
    ndarray of shape (n_samples,), float64

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import reference
    >>> reference.predict(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32), [1.0, -1.0], 0.5)
    array([-0.5, -0.5])
    """
    prediction: np.ndarray = X.astype(np.float64, copy=False) @ coef + intercept
    return prediction


def loss_and_gradient(
    X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float = 0.0
) -> tuple[float, np.ndarray, float]:
    """``(L, Xᵀr / n, mean(r))`` at ``(coef, intercept)``: twin of the fused pass.

    Unlike :func:`fastlr.loss_and_gradient` it checks nothing and converts anything to float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    coef : ndarray of shape (n_features,)
    intercept : float, default=0.0

    Returns
    -------
    loss : float
        ``1/(2n) · Σ r²`` with ``r = X @ coef + intercept - y``.
    grad_coef : ndarray of shape (n_features,)
    grad_intercept : float

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import reference
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> loss, grad, grad_b = reference.loss_and_gradient(X, np.array([1.0, 2.0]), np.zeros(2))
    >>> loss, grad.tolist(), grad_b
    (1.25, [-3.5, -5.0], -1.5)
    """
    X = X.astype(np.float64, copy=False)
    r = X @ coef + intercept - y.astype(np.float64, copy=False)
    n = X.shape[0]
    return 0.5 * float(r @ r) / n, X.T @ r / n, float(r.mean())


def make_regression(
    n_samples: int,
    n_features: int,
    *,
    noise: float = 0.0,
    bias: float = 0.0,
    random_state: int | np.random.Generator | None = None,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twin of :func:`fastlr.make_regression`: the same counter-based stream, in NumPy.

    Draw ``k`` of a stream with key ``K`` is the SplitMix64 finalizer of
    ``K + (k + 1) · 0x9E3779B97F4A7C15``; each draw becomes a normal by a 256-layer ziggurat
    (:mod:`fastlr._reference_normals`); ``X[i, j]`` is value ``i · d + j`` of the ``key_x``
    stream and row ``i``'s noise value ``i`` of the ``key_noise`` stream. ``X`` is the kernel's
    bit for bit; ``y`` is computed from it by a matrix product (another order of the sums).

    Parameters and returns are those of :func:`fastlr.make_regression`.

    Examples
    --------
    >>> import numpy as np
    >>> import fastlr
    >>> from fastlr import reference
    >>> X, y, coef = reference.make_regression(5, 3, noise=1.0, random_state=7)
    >>> X_fast, y_fast, coef_fast = fastlr.make_regression(5, 3, noise=1.0, random_state=7)
    >>> bool(np.array_equal(X, X_fast) and np.allclose(y, y_fast)), bool((coef == coef_fast).all())
    (True, True)
    """
    spec = regression_spec(n_samples, n_features, noise, bias, random_state, dtype)
    n, d = spec.n_samples, spec.n_features
    X = normals(spec.key_x, np.arange(n * d, dtype=np.uint64)).reshape(n, d).astype(spec.dtype)
    with np.errstate(over="ignore"):  # a huge bias or noise is reported below
        y = X.astype(np.float64, copy=False) @ spec.coef + spec.bias
        if spec.noise != 0.0:
            y += spec.noise * normals(spec.key_noise, np.arange(n, dtype=np.uint64))
        y = y.astype(spec.dtype)
    check_generated_target(y, spec)
    return np.ascontiguousarray(X), y, spec.coef


class LinearRegression(estimator.LinearRegression):
    """NumPy twin of :class:`fastlr.LinearRegression`: same parameters, attributes and results.

    ``n_jobs`` and ``hogwild`` are accepted for parity and ignored (the reference is serial).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import reference
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> y = 3 * X[:, 0] + 1
    >>> model = reference.LinearRegression().fit(X, y)
    >>> np.round(model.coef_, 3), round(model.intercept_, 3)
    (array([3.]), 1.0)
    """

    _engines: ClassVar[EngineChoice] = NUMPY
