"""The rules of an epoch: its step size, its verdict (go on, converged, diverged) and the update.

Plain Python that numba can also compile. :mod:`fastlr.training.loop` runs these functions as
they are, once per epoch; :func:`fastlr.kernels.gram_epochs` compiles the same source
(:mod:`fastlr.kernels.rules`) to run thousands of sufficient-statistics iterations without
returning to Python. One source, so the two loops cannot
disagree on when to stop or how to step. No numba import here: the NumPy reference uses it too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # records only: this module stays importable without numba
    from fastlr.kernels.records import Iterate, Momentum, Penalty

# Schedules, as the integers the kernels see.
CONSTANT, INVSCALING, ADAPTIVE = 0, 1, 2
SCHEDULES = {"constant": CONSTANT, "invscaling": INVSCALING, "adaptive": ADAPTIVE}

# Verdicts of an epoch.
CONTINUE, CONVERGED, NONFINITE, GREW, ROSE = 0, 1, 2, 3, 4

#: A loss this many times the first epoch's means the steps diverge (stable runs never rise so).
DIVERGENCE_GROWTH = 100.0
#: Batch descent with a stable step never raises the loss: a rise above
#: ``best * (1 + RISE_RTOL) + rise_atol * first`` is divergence, not rounding.
RISE_RTOL = 1e-9
#: The adaptive schedule divides the step by this factor on a plateau...
ADAPTIVE_FACTOR = 5.0
#: ...and stops once the step has been divided this many times (below 1e-6 of the first step).
ADAPTIVE_MAX_REDUCTIONS = 9

#: The sufficient-statistics path stops once the coefficients are certified to this relative
#: error (or to the rounding floor of float64 for the problem's conditioning, if that is larger)...
CERTIFIED_RTOL = 1e-10
#: ...the rounding floor being this many times machine epsilon times the condition number...
ROUNDING_MARGIN = 1.0
#: ...and problems worse conditioned than this (float64 gives no 4 digits) are not certified.
MAX_CERTIFIED_CONDITION = 1e12
#: Without a new halving of the certified error for this many times the epochs the method needs
#: per e-fold (sqrt(kappa) with the tuned momentum, kappa without), the error sits at rounding.
STALL_FOLDS = 10.0

# Slots of the loop state (a float64 array of STATE_SIZE, so kernels can carry it too).
FIRST, BEST, BAD_EPOCHS, REDUCTIONS = 0, 1, 2, 3
# The certificate of the sufficient-statistics path: the extreme eigenvalues of the Hessian, the
# error bound of the current epoch, its target, its best value so far and the epochs since then.
TOP, BOTTOM, GAP, GAP_TARGET, BEST_GAP, STALL, PATIENCE = 4, 5, 6, 7, 8, 9, 10
STATE_SIZE = 11


def new_state() -> np.ndarray:
    """A fresh loop state: no first loss yet, best = inf, no bad epochs, no step reductions,
    no certificate (its slots NaN: the loss decides when to stop)."""
    state = np.zeros(STATE_SIZE)
    state[FIRST] = np.nan
    state[BEST] = np.inf
    state[TOP:] = np.nan
    return state


def tuned_momentum(top: float, bottom: float) -> tuple[float, float]:
    """Nesterov's constant-momentum method for a quadratic whose Hessian has eigenvalues in
    [bottom, top]: step ``1 / top`` and momentum ``(sqrt(k) - 1) / (sqrt(k) + 1)``
    (``k = top / bottom``). The excess loss shrinks by ``1 - 1 / sqrt(k)`` per epoch against
    ``1 - 1 / k`` for plain descent, and never rises above twice its start (Polyak's heavy ball
    is twice as fast in the limit, but its loss can first grow by orders of magnitude).

    Examples
    --------
    >>> tuned_momentum(1.0, 1.0)
    (1.0, 0.0)
    >>> step, momentum = tuned_momentum(100.0, 1.0)
    >>> round(step, 6), round(momentum, 6)
    (0.01, 0.818182)
    """
    root = math.sqrt(top / bottom)
    return 1.0 / top, (root - 1.0) / (root + 1.0)


def certify(state: np.ndarray, top: float, bottom: float, tuned: bool) -> bool:
    """Arm the certificate of the sufficient-statistics path: the Hessian's eigenvalues lie in
    [bottom, top], ``tuned`` when the momentum is :func:`tuned_momentum`'s. Returns False (and
    arms nothing) for a problem too ill-conditioned to certify."""
    if not (bottom > 0.0 and top >= bottom and top <= MAX_CERTIFIED_CONDITION * bottom):
        return False
    kappa = top / bottom
    state[TOP] = top
    state[BOTTOM] = bottom
    floor = ROUNDING_MARGIN * float(np.finfo(np.float64).eps) * kappa
    state[GAP_TARGET] = max(CERTIFIED_RTOL, floor)
    state[BEST_GAP] = np.inf
    state[STALL] = 0.0
    state[PATIENCE] = STALL_FOLDS * (math.sqrt(kappa) if tuned else kappa)
    return True


def certified_gap(
    coef: np.ndarray,
    intercept: np.ndarray,
    grad: np.ndarray,
    l2: float,
    l1: float,
    fit_intercept: bool,
    state: np.ndarray,
) -> float:
    """A bound on ``|w - w*| / |w|``, all parameters together, from the gradient ``grad`` of the
    squared loss at ``w = (coef, intercept)``; NaN when the certificate is not armed.

    The objective is ``bottom``-strongly convex and ``top``-smooth, so the proximal gradient map
    ``G = (w - prox(w - ∇f / top)) · top`` (the gradient itself without L1) satisfies
    ``|w - w*| <= 2 |G| / bottom``.
    """
    bottom = state[BOTTOM]
    if not bottom > 0.0:
        return math.nan
    top = state[TOP]
    k, d = coef.shape
    mapped = 0.0
    size = 0.0
    for o in range(k):
        for j in range(d):
            w = coef[o, j]
            z = w - (grad[o, j] + l2 * w) / top
            if l1 > 0.0:
                shrink = l1 / top
                z = max(z - shrink, 0.0) if z > 0.0 else min(z + shrink, 0.0)
            step = (w - z) * top
            mapped += step * step
            size += w * w
        if fit_intercept:
            mapped += grad[o, d] * grad[o, d]
            size += intercept[o] * intercept[o]
    if mapped == 0.0:
        return 0.0
    if size == 0.0:
        return math.inf
    return float(2.0 * math.sqrt(mapped) / bottom / math.sqrt(size))


def epoch_learning_rate(
    learning_rate: float, schedule: int, t: int, power_t: float, state: np.ndarray
) -> float:
    """The step of epoch ``t`` (counted from 1 over the model's life, partial_fit included).

    Examples
    --------
    >>> state = new_state()
    >>> epoch_learning_rate(0.1, INVSCALING, 4, 0.5, state)
    0.05
    >>> state[REDUCTIONS] = 2
    >>> epoch_learning_rate(1.0, ADAPTIVE, 9, 0.5, state)
    0.04
    """
    if schedule == INVSCALING:
        return float(learning_rate / float(t) ** power_t)
    if schedule == ADAPTIVE:
        return float(learning_rate / ADAPTIVE_FACTOR ** float(state[REDUCTIONS]))
    return learning_rate


def epoch_verdict(
    state: np.ndarray,
    loss: float,
    tol: float,
    n_iter_no_change: int,
    schedule: int,
    monotone: bool,
    rise_atol: float,
) -> int:
    """Judge an epoch's loss; update ``state``. ``tol < 0`` means never stop on a plateau.

    An epoch *improves* when its loss beats the best so far by more than ``tol`` times the best
    (plus ``rise_atol`` times the first loss: changes below the rounding of the loss are noise).
    After ``n_iter_no_change`` epochs in a row without improvement the run has converged, except
    under the adaptive schedule, which first divides its step by 5 (up to 9 times).

    With a certificate (``state[GAP]``, set by the sufficient-statistics epochs), a plateau of
    the loss is not convergence: along a nearly collinear direction the loss barely moves while
    the coefficients are still far off. The run has converged when the certified error reaches
    its target, or when it has not halved for ``state[PATIENCE]`` epochs (rounding).

    Examples
    --------
    >>> state = new_state()
    >>> [epoch_verdict(state, loss, 1e-3, 2, CONSTANT, False, 0.0) for loss in (4.0, 2.0, 2.0, 2.0)]
    [0, 0, 0, 1]
    >>> epoch_verdict(new_state(), float("nan"), 1e-3, 2, CONSTANT, False, 0.0) == NONFINITE
    True
    """
    if not math.isfinite(loss):
        return NONFINITE
    if math.isnan(state[FIRST]):
        state[FIRST] = loss
    first = state[FIRST]
    if first > 0.0 and loss > DIVERGENCE_GROWTH * first:
        return GREW
    best = state[BEST]
    if monotone and loss > best * (1.0 + RISE_RTOL) + rise_atol * first:
        return ROSE
    verdict = CONTINUE
    if tol >= 0.0:
        if math.isinf(best) or best - loss > tol * max(best, 0.0) + rise_atol * first:
            state[BAD_EPOCHS] = 0.0
        else:
            state[BAD_EPOCHS] += 1.0
        gap = state[GAP]
        if state[BAD_EPOCHS] >= n_iter_no_change:
            state[BAD_EPOCHS] = 0.0
            if schedule == ADAPTIVE and state[REDUCTIONS] < ADAPTIVE_MAX_REDUCTIONS:
                state[REDUCTIONS] += 1.0
            elif math.isnan(gap):
                verdict = CONVERGED
        if not math.isnan(gap):
            if gap <= state[GAP_TARGET]:
                verdict = CONVERGED
            elif gap < 0.5 * state[BEST_GAP]:
                state[BEST_GAP] = gap
                state[STALL] = 0.0
            else:
                state[STALL] += 1.0
                if state[STALL] >= state[PATIENCE]:
                    verdict = CONVERGED
    if loss < best:
        state[BEST] = loss
    return verdict


def update_parameters(
    iterate: Iterate,
    grad: np.ndarray,
    learning_rate: float,
    penalty: Penalty,
    momentum: Momentum,
    fit_intercept: bool,
) -> None:
    """One (proximal) gradient step, in place, for ``iterate.coef`` (k, d) and ``.intercept`` (k,).

    ``grad`` (k, d + 1) holds the gradient of the squared loss (last column: the intercept's).
    The L2 term ``penalty.l2 * coef`` is added; with momentum, ``iterate.velocity`` (k, d + 1)
    becomes ``beta * velocity + g`` and the step is ``velocity`` (heavy ball) or
    ``g + beta * velocity`` (Nesterov, as PyTorch writes it). L1 is applied after the step as a
    soft threshold of ``learning_rate * penalty.l1`` (proximal gradient, ISTA).
    """
    coef, intercept, velocity = iterate.coef, iterate.intercept, iterate.velocity
    l2, l1, beta, nesterov = penalty.l2, penalty.l1, momentum.beta, momentum.nesterov
    k, d = coef.shape
    for o in range(k):
        for j in range(d + 1):
            if j < d:
                g = grad[o, j] + l2 * coef[o, j]
            elif fit_intercept:
                g = grad[o, d]
            else:
                g = 0.0
            if beta > 0.0:
                velocity[o, j] = beta * velocity[o, j] + g
                g = g + beta * velocity[o, j] if nesterov else velocity[o, j]
            if j < d:
                w = coef[o, j] - learning_rate * g
                if l1 > 0.0:
                    shrink = learning_rate * l1
                    w = max(w - shrink, 0.0) if w > 0.0 else min(w + shrink, 0.0)
                coef[o, j] = w
            else:
                intercept[o] -= learning_rate * g


def penalty_value(coef: np.ndarray, l2: float, l1: float) -> float:
    """``l2/2 · ||coef||² + l1 · ||coef||₁`` (the penalty part of the objective)."""
    total = 0.0
    if l2 > 0.0:
        total += 0.5 * l2 * float(np.sum(coef * coef))
    if l1 > 0.0:
        total += l1 * float(np.sum(np.abs(coef)))
    return total
