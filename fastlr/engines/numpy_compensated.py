"""The NumPy twin of the compensated pass (:mod:`fastlr.kernels.compensated`): the loss and the
gradient with every product and sum split into its rounded value and its exact error, for the
reference's refinement.

Whole-array NumPy, written to be read. NumPy has no fused multiply-add, so a product's error is
Dekker's (each factor split into halves of 26 bits; exact unless a factor exceeds about
1e300); a column's terms are added as a tree of two-sums, their errors summed plainly. The
result is as accurate as the kernel's (rounded once from about twice float64's precision), in
another order: the two agree to a few ulps, not bit for bit.
"""

from __future__ import annotations

import numpy as np

#: Dekker's splitting constant for float64: 2**27 + 1.
_SPLIT = 134217729.0


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fl(a + b), its exact error)`` elementwise (Knuth)."""
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


def _halves(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = _SPLIT * a
    high = c - (c - a)
    return high, a - high


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fl(a · b), its exact error)`` elementwise (Dekker, without a fused multiply-add)."""
    p = a * b
    (ah, al), (bh, bl) = _halves(a), _halves(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _compensated_sum(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """The sums along axis 0 of ``high + low``: ``high`` added pairwise by two-sums, every
    error (and ``low``) summed plainly, the two rounded once at the end."""
    errors = low.sum(axis=0)
    while high.shape[0] > 1:
        half = high.shape[0] // 2
        s, e = _two_sum(high[:half], high[half : 2 * half])
        errors = errors + e.sum(axis=0)
        high = np.concatenate([s, high[2 * half :]])
    total: np.ndarray = high.sum(axis=0) + errors
    return total


def compensated_loss_gradient(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    coef: np.ndarray,
    intercept: np.ndarray,
    total_weight: float,
    grad: np.ndarray,
) -> float:
    """The loss of ``coef`` (k, d), ``intercept`` (k,) on ``X`` (n, d), ``Y`` (n, k); the
    gradient (k, d + 1) in ``grad``, residuals and sums compensated."""
    X64 = X.astype(np.float64, copy=False)
    loss = 0.0
    for o in range(coef.shape[0]):
        s, c = _two_sum(np.full(X.shape[0], float(intercept[o])), -Y[:, o].astype(np.float64))
        for j in range(X.shape[1]):
            p, e = _two_product(X64[:, j], np.full(X.shape[0], coef[o, j]))
            s, t = _two_sum(s, p)
            c = c + (t + e)
        r, r_low = _two_sum(s, c)
        if sample_weight is None:
            wr, wr_low = r, r_low
        else:
            wr, e = _two_product(sample_weight, r)
            wr_low = e + sample_weight * r_low
        P, E = _two_product(wr[:, None] * np.ones_like(X64), X64)
        grad[o, :-1] = _compensated_sum(P, E + wr_low[:, None] * X64) / total_weight
        grad[o, -1] = _compensated_sum(wr[:, None], wr_low[:, None])[0] / total_weight
        loss += float((wr * r).sum())
    return 0.5 * loss / total_weight
