"""The pure NumPy twin of fastlr: same objective, same modes, same data generator.

Written to be read, not to be fast. It is the oracle of the test suite (every kernel in
``fastlr._kernels`` has its twin here) and the baseline of the benchmarks. It never imports the
kernels, and it sums in float64 whatever the input dtype.

The objective, for residuals ``r = X @ coef + intercept - y``::

    L = 1/(2n) · Σ r²        grad_coef = Xᵀr / n        grad_intercept = mean(r)

Examples
--------
>>> import numpy as np
>>> from fastlr import reference
>>> X, y, coef = reference.make_regression(200, 2, random_state=0)
>>> model = reference.LinearRegression(learning_rate=0.5, max_iter=500).fit(X, y)
>>> bool(np.allclose(model.coef_, coef))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastlr._base import FitResult, LinearRegressionBase, Progress, Settings
from fastlr._loop import Params, RowOrder, mean_update_norm, n_batches, run_epochs
from fastlr._random import regression_spec

__all__ = [
    "LinearRegression",
    "loss_and_gradient",
    "make_regression",
    "minibatch_epoch",
    "predict",
    "row_order",
    "sgd_epoch",
]


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)


def row_order(n: int, shuffle: np.ndarray) -> np.ndarray:
    """The rows an epoch visits, in order: twin of the kernels' keyed permutation.

    An empty ``shuffle`` means 0, 1, ..., n - 1. Otherwise ``shuffle = [h, k1, k2, k3, k4]``
    and each position goes through a 4-round Feistel network on ``2h``-bit numbers (halves of
    ``h`` bits), again and again until it lands below ``n`` (cycle walking): a permutation.
    """
    positions = np.arange(n, dtype=np.uint64)
    if shuffle.size == 0:
        return positions.astype(np.intp)
    half, k1, k2, k3, k4 = shuffle
    mask = (np.uint64(1) << half) - np.uint64(1)

    def round_function(half_value: np.ndarray, key: np.uint64) -> np.ndarray:
        z = (half_value ^ key) * _MIX1  # wraps mod 2**64, like the kernels' uint64
        mixed: np.ndarray = (z ^ (z >> np.uint64(32))) & mask
        return mixed

    def feistel(x: np.ndarray) -> np.ndarray:
        left, right = x >> half, x & mask
        left ^= round_function(right, k1)
        right ^= round_function(left, k2)
        left ^= round_function(right, k3)
        right ^= round_function(left, k4)
        combined: np.ndarray = (left << half) | right
        return combined

    rows = feistel(positions)
    outside = rows >= n
    while outside.any():
        rows[outside] = feistel(rows[outside])
        outside = rows >= n
    return rows.astype(np.intp)


def predict(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    """``X @ coef + intercept`` in float64."""
    prediction: np.ndarray = X.astype(np.float64, copy=False) @ coef + intercept
    return prediction


def loss_and_gradient(
    X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float = 0.0
) -> tuple[float, np.ndarray, float]:
    """``(L, Xᵀr / n, mean(r))`` at ``(coef, intercept)``: twin of the fused pass."""
    X = X.astype(np.float64, copy=False)
    r = X @ coef + intercept - y.astype(np.float64, copy=False)
    n = X.shape[0]
    return 0.5 * float(r @ r) / n, X.T @ r / n, float(r.mean())


def sgd_epoch(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    intercept: float,
    learning_rate: float,
    shuffle: np.ndarray,
    fit_intercept: bool,
) -> tuple[float, np.ndarray, float]:
    """One update per sample, in :func:`row_order`. Returns (mean r²/2 before each update, new
    coef, new intercept)."""
    coef = np.array(coef, dtype=np.float64)  # a copy: the caller's array is left alone
    total = 0.0
    for i in row_order(X.shape[0], shuffle):
        x = X[i].astype(np.float64, copy=False)
        r = x @ coef + intercept - float(y[i])
        total += r * r
        coef -= learning_rate * r * x
        if fit_intercept:
            intercept -= learning_rate * r
    return 0.5 * total / X.shape[0], coef, intercept


def minibatch_epoch(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    intercept: float,
    learning_rate: float,
    shuffle: np.ndarray,
    batch_size: int,
    fit_intercept: bool,
) -> tuple[float, np.ndarray, float]:
    """One gradient step per batch of :func:`row_order`. Returns (mean r²/2, new coef, new
    intercept)."""
    coef = np.array(coef, dtype=np.float64)
    rows = row_order(X.shape[0], shuffle)
    total = 0.0
    for start in range(0, rows.size, batch_size):
        batch = rows[start : start + batch_size]
        loss, grad_coef, grad_intercept = loss_and_gradient(X[batch], y[batch], coef, intercept)
        total += loss * 2 * batch.size  # back from the batch mean to its sum of r²
        coef -= learning_rate * grad_coef
        if fit_intercept:
            intercept -= learning_rate * grad_intercept
    return 0.5 * total / X.shape[0], coef, intercept


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

    Value ``k`` of a stream with key ``K`` is the SplitMix64 finalizer of
    ``K + (k + 1) · 0x9E3779B97F4A7C15``; pairs of uniforms become normals by Box-Muller; row
    ``i`` of X holds pairs ``i · ceil(d / 2) + p``.
    """
    spec = regression_spec(n_samples, n_features, noise, bias, random_state, dtype)
    n, d = spec.n_samples, spec.n_features
    pairs = (d + 1) // 2
    z0, z1 = _normal_pairs(spec.key_x, np.arange(n * pairs, dtype=np.uint64))
    X = np.stack([z0, z1], axis=-1).reshape(n, 2 * pairs)[:, :d].astype(spec.dtype)
    y = X.astype(np.float64, copy=False) @ spec.coef + spec.bias
    if spec.noise != 0.0:
        y += spec.noise * _normal_pairs(spec.key_noise, np.arange(n, dtype=np.uint64))[0]
    return np.ascontiguousarray(X), y.astype(spec.dtype), spec.coef


def _uniforms(key: np.uint64, counters: np.ndarray) -> np.ndarray:
    z = key + (counters + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)  # wraps mod 2**64
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    uniforms: np.ndarray = (z >> np.uint64(11)).astype(np.float64) / 2.0**53
    return uniforms


def _normal_pairs(key: np.uint64, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u1 = _uniforms(key, np.uint64(2) * pairs)
    u2 = _uniforms(key, np.uint64(2) * pairs + np.uint64(1))
    radius = np.sqrt(-2.0 * np.log1p(-u1))
    return radius * np.cos(2.0 * np.pi * u2), radius * np.sin(2.0 * np.pi * u2)


class LinearRegression(LinearRegressionBase):
    """NumPy twin of :class:`fastlr.LinearRegression`: same parameters, attributes and results.

    ``n_jobs`` is accepted for parity and ignored (NumPy's BLAS picks its own threads).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import reference
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> y = 3 * X[:, 0] + 1
    >>> model = reference.LinearRegression(learning_rate=0.02, max_iter=5000, tol=None)
    >>> model = model.fit(X, y)
    >>> np.round(model.coef_, 3), round(model.intercept_, 3)
    (array([3.]), 1.0)
    """

    def _train(
        self, X: np.ndarray, y: np.ndarray, settings: Settings, progress: Progress | None
    ) -> FitResult:
        lr, fit_intercept = settings.learning_rate, settings.fit_intercept
        rows = RowOrder(X.shape[0], settings.shuffle, settings.random_state)

        def batch(params: Params) -> tuple[float, float]:
            loss, grad_coef, grad_intercept = loss_and_gradient(X, y, params.coef, params.intercept)
            grad_intercept = grad_intercept if fit_intercept else 0.0
            params.coef -= lr * grad_coef
            params.intercept -= lr * grad_intercept
            return loss, float(np.hypot(np.linalg.norm(grad_coef), grad_intercept))

        def sgd(params: Params) -> tuple[float, float]:
            before = Params(params.coef.copy(), params.intercept)
            loss, params.coef[:], params.intercept = sgd_epoch(
                X, y, params.coef, params.intercept, lr, rows.next(), fit_intercept
            )
            return loss, mean_update_norm(before, params, lr, X.shape[0])

        def minibatch(params: Params) -> tuple[float, float]:
            before = Params(params.coef.copy(), params.intercept)
            loss, params.coef[:], params.intercept = minibatch_epoch(
                X,
                y,
                params.coef,
                params.intercept,
                lr,
                rows.next(),
                settings.batch_size,
                fit_intercept,
            )
            n_updates = n_batches(X.shape[0], settings.batch_size)
            return loss, mean_update_norm(before, params, lr, n_updates)

        step = {"batch": batch, "sgd": sgd, "minibatch": minibatch}[settings.mode]
        return run_epochs(step, X, y, settings, progress, monotone=settings.mode == "batch")

    def _predict(self, X: np.ndarray, coef: np.ndarray, intercept: float, out: np.ndarray) -> None:
        out[:] = predict(X, coef, intercept)
