"""Slow, obvious gradient-descent loops written from the math: the independent oracle.

This module imports nothing from fastlr, only NumPy. ``fastlr.reference`` shares the estimator's
training loop (the step, the schedule, the stopping rule, the momentum set-up), so a test that
holds the fused estimator against it checks the kernels only: a bug in that shared loop would be
in both. These loops are written again from the objective, in float64, one textbook update at a
time, so they can catch such a bug.

Objective (``fastlr`` DESIGN.md, the estimator's docstring): with ``r = X w + b - y``,

    L(w, b) = 1/(2n) · Σ r_i²  +  alpha/2 · ‖w‖²      (alpha = 0 unless an L2 penalty is asked)

so ``∇_w L = Xᵀr / n + alpha·w`` and ``∂_b L = mean(r)``. Without an intercept, ``b`` stays 0.
Everything starts from ``w = 0, b = 0``, with a constant step ``lr``, no standardization and
rows visited in order 0..n-1 every epoch.

Conventions of ``losses`` (one value per epoch, as ``loss_history_``):

- batch: ``L`` at the *start* of the epoch, before its update (so ``losses[0] = L(0, 0)``);
- mini-batch and sgd: the loss measured along the way, ``1/(2n) · Σ r_i²`` with each residual
  taken *before* the update that uses it, plus the penalty ``alpha/2 · ‖w‖²`` at the model that
  ends the epoch.

Mini-batches are consecutive blocks ``[0, B), [B, 2B), ...`` of the rows; the last one holds the
``n mod B`` rows left over (it is not dropped or padded), and each batch's gradient is the *mean*
over its rows: ``X_bᵀ r_b / |b| + alpha·w``. An sgd step is that with a batch of one row.

Momentum is Polyak's heavy ball with a constant coefficient ``m``, written in its textbook form
``θ_{t+1} = θ_t - lr·g_t + m·(θ_t - θ_{t-1})`` (θ = (w, b), one step per update; it carries over
from batch to batch and epoch to epoch). ``nesterov=True`` is PyTorch's formulation:
``v ← m·v + g``, ``θ ← θ - lr·(g + m·v)``.

With ``average=True`` (sgd and mini-batch), the iterates after each update of an epoch are
averaged and the epoch ends at that average (Polyak-Ruppert over the epoch).
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np


class Fit(NamedTuple):
    """What every oracle returns; ``path`` holds the model after each epoch."""

    coef: np.ndarray
    intercept: float
    losses: list[float]
    path: list[tuple[np.ndarray, float]]


def _as64(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).ravel()


def loss_and_gradient(
    X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float = 0.0
) -> tuple[float, np.ndarray, float]:
    """``L = 1/(2n) Σ r²``, ``Xᵀr / n`` and ``mean(r)`` for ``r = X coef + intercept - y``,
    as three plain sums over the rows."""
    X, y = _as64(X, y)
    n, d = X.shape
    loss = 0.0
    grad = np.zeros(d)
    grad_b = 0.0
    for i in range(n):
        r = float(X[i] @ coef) + intercept - y[i]
        loss += r * r
        grad += r * X[i]
        grad_b += r
    return loss / (2 * n), grad / n, grad_b / n


def objective(
    X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float, alpha: float = 0.0
) -> float:
    """``L(w, b)`` with the L2 term ``alpha/2 ‖w‖²``."""
    X, y = _as64(X, y)
    r = X @ coef + intercept - y
    return float(r @ r / (2 * len(y)) + 0.5 * alpha * coef @ coef)


def _descend(
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    epochs: int,
    batch_size: int,
    fit_intercept: bool,
    alpha: float,
    momentum: float,
    nesterov: bool,
    average: bool,
    along_the_way: bool,
) -> Fit:
    """Mini-batch descent; batch is one batch of n rows, sgd batches of one row."""
    X, y = _as64(X, y)
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    w_prev, b_prev = w.copy(), b  # heavy ball: the previous iterate
    v_w, v_b = np.zeros(d), 0.0  # Nesterov (PyTorch): the velocity
    losses: list[float] = []
    path: list[tuple[np.ndarray, float]] = []
    for _ in range(epochs):
        if not along_the_way:
            losses.append(objective(X, y, w, b, alpha))
        squares = 0.0
        sum_w, sum_b, updates = np.zeros(d), 0.0, 0
        for start in range(0, n, batch_size):
            rows = slice(start, min(start + batch_size, n))
            r = X[rows] @ w + b - y[rows]
            squares += float(r @ r)
            g_w = X[rows].T @ r / len(r) + alpha * w
            g_b = float(r.mean()) if fit_intercept else 0.0
            if nesterov:
                v_w, v_b = momentum * v_w + g_w, momentum * v_b + g_b
                w, b = w - lr * (g_w + momentum * v_w), b - lr * (g_b + momentum * v_b)
            else:
                w_new = w - lr * g_w + momentum * (w - w_prev)
                b_new = b - lr * g_b + momentum * (b - b_prev)
                w_prev, b_prev = w, b
                w, b = w_new, b_new
            sum_w, sum_b, updates = sum_w + w, sum_b + b, updates + 1
        if average:
            w, b = sum_w / updates, sum_b / updates
        if along_the_way:
            losses.append(squares / (2 * n) + 0.5 * alpha * float(w @ w))
        path.append((w.copy(), b))
    return Fit(w, b, losses, path)


def batch_gd(
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    epochs: int,
    fit_intercept: bool = True,
    *,
    alpha: float = 0.0,
    momentum: float = 0.0,
    nesterov: bool = False,
) -> Fit:
    """Full-batch gradient descent: one step along ``∇L`` per epoch; ``losses[e]`` is ``L``
    before epoch e's step."""
    return _descend(
        X, y, lr, epochs, len(X), fit_intercept, alpha, momentum, nesterov, False, False
    )


def minibatch_gd(
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    epochs: int,
    batch_size: int,
    fit_intercept: bool = True,
    *,
    alpha: float = 0.0,
    momentum: float = 0.0,
    nesterov: bool = False,
    average: bool = False,
) -> Fit:
    """One step along each consecutive batch's mean gradient (the last batch may be short)."""
    return _descend(
        X, y, lr, epochs, batch_size, fit_intercept, alpha, momentum, nesterov, average, True
    )


def sgd(
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    epochs: int,
    fit_intercept: bool = True,
    *,
    alpha: float = 0.0,
    average: bool = False,
) -> Fit:
    """One step per row, in order: ``w ← w - lr·(r_i x_i + alpha·w)``, ``b ← b - lr·r_i``,
    written as the per-sample loop of the textbook."""
    X, y = _as64(X, y)
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    losses: list[float] = []
    path: list[tuple[np.ndarray, float]] = []
    for _ in range(epochs):
        squares = 0.0
        sum_w, sum_b = np.zeros(d), 0.0
        for i in range(n):
            r = float(X[i] @ w) + b - y[i]
            squares += r * r
            w = w - lr * (r * X[i] + alpha * w)
            if fit_intercept:
                b = b - lr * r
            sum_w, sum_b = sum_w + w, sum_b + b
        if average:
            w, b = sum_w / n, sum_b / n
        losses.append(squares / (2 * n) + 0.5 * alpha * float(w @ w))
        path.append((w.copy(), b))
    return Fit(w, b, losses, path)


def least_squares(X: np.ndarray, y: np.ndarray, fit_intercept: bool = True) -> Fit:
    """The minimizer of ``L`` by ``np.linalg.lstsq`` (on centred data with an intercept:
    ``w = lstsq(X - x̄, y - ȳ)``, ``b = ȳ - x̄·w``); ``losses`` is ``[L(w, b)]``."""
    X, y = _as64(X, y)
    if fit_intercept:
        x_mean, y_mean = X.mean(axis=0), y.mean()
        w = np.linalg.lstsq(X - x_mean, y - y_mean, rcond=None)[0]
        b = float(y_mean - x_mean @ w)
    else:
        w = np.linalg.lstsq(X, y, rcond=None)[0]
        b = 0.0
    return Fit(w, b, [objective(X, y, w, b)], [(w.copy(), b)])


def exact_gradient(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    coef: np.ndarray,
    intercept: np.ndarray,
) -> np.ndarray:
    """``Σ w·r·x`` and ``Σ w·r`` (k, d + 1) for ``r = X coefᵀ + intercept - Y`` (k outputs), in
    exact rational arithmetic on the floats given, rounded once to float64 at the end."""
    n, d = X.shape
    k = coef.shape[0]
    exact = [[Fraction(float(v)) for v in row] for row in X]
    weights = (
        [Fraction(1)] * n if sample_weight is None else [Fraction(float(v)) for v in sample_weight]
    )
    out = np.empty((k, d + 1))
    for o in range(k):
        w = [Fraction(float(v)) for v in coef[o]]
        b = Fraction(float(intercept[o]))
        sums = [Fraction(0)] * (d + 1)
        for i in range(n):
            r = b + sum(x * c for x, c in zip(exact[i], w, strict=True)) - Fraction(float(Y[i, o]))
            wr = weights[i] * r
            for j in range(d):
                sums[j] += wr * exact[i][j]
            sums[d] += wr
        out[o] = [float(v) for v in sums]
    return out
