"""The epoch loop shared by the fused solvers and the NumPy reference.

A mode supplies a *step*: ``step(params) -> (loss, grad_norm)`` runs one epoch, updating
``params`` in place. :func:`run_epochs` owns everything around it: the history, the stopping rule,
progress lines and the non-finite check. No kernels here, so :mod:`fastlr.reference` can use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fastlr._base import FitResult, Progress, Settings
from fastlr._random import RandomState
from fastlr._validation import max_abs, raise_if_not_finite
from fastlr.exceptions import DivergenceError


@dataclass
class Params:
    """The model being trained: float64 coefficients (updated in place) and the intercept."""

    coef: np.ndarray
    intercept: float


EpochStep = Callable[[Params], tuple[float, float]]


#: A loss this many times the first epoch's means the steps diverge (stable runs never rise so).
DIVERGENCE_GROWTH = 100.0


def improvement_below_tol(best: float, current: float, tol: float | None) -> bool:
    """True when ``current`` beats the best loss so far by no more than ``tol`` relative to it.

    ``tol=None`` never stops. A loss that went up is no improvement; :func:`run_epochs` then
    checks it is not above the first epoch's, which would mean the steps are too large.

    Examples
    --------
    >>> improvement_below_tol(1.0, 0.99999, 1e-3)
    True
    >>> improvement_below_tol(1.0, 0.5, 1e-3)
    False
    >>> improvement_below_tol(1.0, 1.5, 1e-3)
    True
    >>> improvement_below_tol(0.0, 0.0, 1e-3)
    True
    >>> improvement_below_tol(1.0, 0.0, None)
    False
    """
    if tol is None:
        return False
    return best - current <= tol * best


#: Rounds of the Feistel network that shuffles the rows of an epoch.
SHUFFLE_ROUNDS = 4


class RowOrder:
    """The key of each epoch's row order: empty (rows in order) or a fresh random permutation.

    A shuffled epoch gets ``[half_bits, key_1, ..., key_4]``: the kernels (and
    :func:`fastlr.reference.row_order`) turn position ``k`` into a row with a keyed Feistel
    permutation, so no n-sized index array is stored or reshuffled. Seeded alike, the fused
    solvers and the reference visit rows in the same order.
    """

    def __init__(self, n_samples: int, shuffle: bool, random_state: RandomState) -> None:
        self._rng = np.random.default_rng(random_state) if shuffle else None
        bits = max(1, (n_samples - 1).bit_length())
        self._half_bits = (bits + bits % 2) // 2  # each half of an even-bit domain >= n

    def next(self) -> np.ndarray:
        if self._rng is None:
            return np.empty(0, dtype=np.uint64)
        keys = self._rng.integers(0, 2**64, size=SHUFFLE_ROUNDS, dtype=np.uint64)
        return np.concatenate([np.array([self._half_bits], dtype=np.uint64), keys])


def mean_update_norm(before: Params, after: Params, learning_rate: float, n_updates: int) -> float:
    """Norm of the average gradient of an epoch of ``n_updates`` constant-step updates."""
    coef_change = float(np.linalg.norm(before.coef - after.coef))
    return math.hypot(coef_change, before.intercept - after.intercept) / (learning_rate * n_updates)


def n_batches(n_samples: int, batch_size: int) -> int:
    """Updates per mini-batch epoch (the last batch may be smaller)."""
    return -(-n_samples // batch_size)


def run_epochs(
    step: EpochStep,
    X: np.ndarray,
    y: np.ndarray,
    settings: Settings,
    progress: Progress | None,
    *,
    monotone: bool,
) -> FitResult:
    """Run up to ``settings.max_iter`` epochs from zero coefficients; stop early on ``tol``.

    ``monotone`` says the mode's loss cannot rise while the step is stable (full-batch descent
    with a constant step), so any rise beyond rounding is reported as divergence at once.
    Every mode raises :class:`DivergenceError` when the loss or the coefficients overflow, when
    the loss grows past ``DIVERGENCE_GROWTH`` times the first epoch's, or when the run ends
    above the first epoch's loss: a model worse than where it started is never returned.
    """
    params = Params(coef=np.zeros(X.shape[1]), intercept=0.0)
    history = np.empty(settings.max_iter)
    best = math.inf
    n_iter = 0
    converged = False
    for epoch in range(settings.max_iter):
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            loss, grad_norm = step(params)
        n_iter = epoch + 1
        first = history[0] if epoch else loss
        problem = _divergence(loss, grad_norm, best, first, monotone)
        if problem is not None:
            if not math.isfinite(loss):
                raise_if_not_finite(X=X, y=y)  # names a NaN/inf in the input when there is one
            _raise_divergence(X, n_iter, problem, settings.learning_rate)
        history[epoch] = loss
        if progress is not None:
            progress(n_iter, loss, grad_norm)
        if epoch > 0 and improvement_below_tol(best, loss, settings.tol):
            converged = True
            break
        best = min(best, loss)
    if not (np.isfinite(params.coef).all() and math.isfinite(params.intercept)):
        _raise_divergence(X, n_iter, "the last step overflowed", settings.learning_rate)
    if history[n_iter - 1] > history[0]:
        what = f"the loss ended at {history[n_iter - 1]:g}, above the first epoch's {history[0]:g}"
        _raise_divergence(X, n_iter, what, settings.learning_rate)
    return FitResult(
        params.coef,
        params.intercept,
        history[:n_iter].copy(),
        n_iter,
        converged=converged or settings.tol is None,
    )


#: Batch mode: a rise above ``best * (1 + RISE_RTOL) + RISE_ATOL * first`` is not rounding.
RISE_RTOL = 1e-9
RISE_ATOL = 1e-20


def _divergence(
    loss: float, grad_norm: float, best: float, first: float, monotone: bool
) -> str | None:
    """Why this epoch shows divergence, or None."""
    if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        return f"the loss ({loss:g}) or its gradient (norm {grad_norm:g}) overflowed"
    if loss > DIVERGENCE_GROWTH * first:
        return f"the loss grew to {loss:g}, {loss / first:.3g} times the first epoch's"
    if monotone and loss > best * (1 + RISE_RTOL) + RISE_ATOL * first:
        return (
            f"the loss rose from {best:g} to {loss:g} (full-batch descent with a stable step "
            "never raises it)"
        )
    return None


def _raise_divergence(X: np.ndarray, epoch: int, what: str, learning_rate: float) -> None:
    raise DivergenceError(
        f"training diverged at epoch {epoch}: {what} with "
        f"learning_rate={learning_rate:g}. Try a smaller step, e.g. learning_rate="
        f"{learning_rate / 10:g}, or scale the features (max |X| = {max_abs(X):g})."
    )
