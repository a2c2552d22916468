"""How accurate the coefficients the user gets are: refinement against the data, and its verdict.

The sufficient-statistics path iterates on the moments ``H = E[z zᵀ]`` of the standardized
data; its own certificate bounds the error in those training coordinates, where the moments were
rounded once. What the user gets is ``coef_`` and ``intercept_`` in the units of X, and there
the intercept inherits ``x̄ᵀδw``, which columns with large offsets amplify.

So after the iterations, the gradient is computed again **from the data** (one fused pass, at
the model's raw-unit twin, residuals summed in float64) and the Newton correction
``δ = -A⁻¹ g`` (``A`` the Hessian in training coordinates, exact for least squares) is applied,
a few times while it keeps shrinking: iterative refinement of the normal equations with
residuals from the data. Each step shrinks the error by about ``κ(A)·ε``, so where
``κ(A)·ε`` is small the size of the last correction, in the units of X, bounds the error left
(the next correction would be smaller still): that is the certificate. Where ``κ(A)·ε`` is not
small, float64 cannot certify the answer and the caller says so.

At the solution the data gradient is a sum of large terms that cancel, so its rounding is the
smallest correction the plain pass can see. Where a correction stops contracting as refinement
does, refinement goes on with the gradient in double-double
(:mod:`fastlr.kernels.compensated`, rounded once from its exact value): NIST's Wampler5 went
from 6.8 correct digits to 15 (``lstsq``: 6.4), at about 3.5x-8x a plain pass's time for each
such pass, spent only where the plain gradient fell short.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fastlr.kernels.records import Linear

#: Refinement only where one step contracts the error by at least this factor (κ·ε below it).
MAX_CONTRACTION = 1e-2
#: At most this many refinement passes over the data with each gradient, the plain fused pass
#: and then, where its rounding shows, the compensated one.
MAX_REFINEMENTS = 4
#: Digits the user is promised when the problem allows them (relative error 1e-10).
TARGET_DIGITS = 10.0
#: Below this many certified digits a fit is reported (a warning) even when float64 allows no
#: more: 7 digits is single precision's worth.
WARN_DIGITS = 7.0
#: Refinement stops once this many digits are certified (usually two passes: one correction,
#: one to measure what is left), well beyond TARGET_DIGITS; and no more are claimed: the
#: corrections cannot see the rounding of the data gradient they are computed from, which can
#: leave an error of a few units in the 14th digit below them (seen on NIST's Wampler2 with a
#: trial variant of the moments pass: 13.4 correct digits, 14.3 measured).
STOP_DIGITS = 13.0
#: ... and it stops half a digit short of that: one more pass could raise the claim by less than
#: half a digit (STOP_DIGITS caps it; the certificate is a bound to about that much anyway), for
#: a whole pass over the data. On the AMD EPYC (Zen 5) the default fit of 2M x 50 float64
#: certified 12.93 digits after two passes and spent a third (26 ms of 170-200) to find its step
#: no smaller: the model and the claim were the same without it.
ENOUGH_DIGITS = STOP_DIGITS - 0.5

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Accuracy:
    """The verdict on a fit's coefficients, in the units of X.

    ``digits``: the certified number of correct significant digits of every coefficient and the
    intercept (``-log10`` of the largest relative error bound), NaN where nothing is certified;
    ``condition``: κ of the Hessian in training coordinates; ``floor_digits``: what float64
    allows on this problem (``-log10(κ·ε)``).
    """

    digits: float
    condition: float
    floor_digits: float

    @property
    def certified(self) -> bool:
        """Whether the fit reached the promised digits, or the most this problem allows."""
        return self.digits >= min(TARGET_DIGITS, self.floor_digits)

    @property
    def warning(self) -> str | None:
        """What the user must be told about these coefficients, or None: not certified, or
        certified to fewer than WARN_DIGITS digits because float64 allows no more."""
        if self.certified and self.digits >= WARN_DIGITS:
            return None
        conditioning = (
            f"the condition number of the standardized problem is {self.condition:.2e}, so "
            f"float64 allows about {self.floor_digits:.1f} correct digits at best"
        )
        if math.isnan(self.digits):
            return (
                f"coef_ and intercept_ cannot be certified and may be wrong in every digit: "
                f"{conditioning}, too few to check the solution against the data "
                "(certified_digits_ is NaN). Drop or combine nearly collinear columns (a "
                "polynomial in x: center x, or use orthogonal polynomials)"
            )
        return (
            f"coef_ and intercept_ are certified to {self.digits:.1f} significant digits only "
            f"(relative error <= {10.0**-self.digits:.1e} in the units of X, certified_digits_): "
            f"{conditioning}"
        )


def hessian(H: np.ndarray, mean_z: np.ndarray, l2: float, fit_intercept: bool) -> np.ndarray:
    """The Hessian of the training objective in training coordinates, the intercept's row and
    column included when it is fitted."""
    d = H.shape[0]
    size = d + 1 if fit_intercept else d
    A = np.empty((size, size))
    A[:d, :d] = H
    A[np.arange(d), np.arange(d)] += l2
    if fit_intercept:
        A[:d, d] = A[d, :d] = mean_z
        A[d, d] = 1.0
    return A


def refine(
    data_gradient: Callable[[Linear], np.ndarray],
    compensated_gradient: Callable[[Linear], np.ndarray],
    A: np.ndarray,
    condition: float,
    coef: np.ndarray,
    intercept: np.ndarray,
    l2: float,
    to_user: Callable[[np.ndarray, np.ndarray], Linear],
) -> tuple[Accuracy, Linear]:
    """Refine ``coef`` (k, d) and ``intercept`` (k,), in training coordinates and in place,
    against the data; return the certificate and the refined model in the units of X.

    ``data_gradient(user)`` returns the gradient of the squared loss at ``user`` (a model in
    the units of X), from the data, in training coordinates (k, d + 1);
    ``compensated_gradient`` the same summed in double-double, which refinement goes on with
    once a step of the plain one stops contracting as refinement does (its rounding is then
    what the steps measure); ``to_user`` maps training coordinates to the units of X (linearly).

    The model in the units of X is refined too, each step mapped to its units: converted once
    at the end, its intercept ``b - Σ coef·scale·shift`` would carry the rounding of a sum that
    cancels where columns have large offsets (NIST's Wampler3: 1.2e-10 relative, which no step
    could go below).
    """
    user = to_user(coef, intercept)
    k, d = coef.shape
    fit_intercept = A.shape[0] == d + 1
    # Constant columns are all zero in training coordinates: nothing to learn, their
    # coefficients stay 0 and their rows and columns of A are left out.
    active = np.ones(A.shape[0], dtype=bool)
    active[:d] = np.diag(A)[:d] > 0.0
    if not active.all():
        A = A[np.ix_(active, active)]
        values = np.linalg.eigvalsh(A)
        condition = float(values[-1] / values[0]) if values[0] > 0.0 else math.inf
    floor = -math.log10(condition * _EPS) if condition > 0 and math.isfinite(condition) else 0.0
    if not (math.isfinite(condition) and condition * _EPS <= MAX_CONTRACTION):
        return Accuracy(math.nan, condition, max(floor, 0.0)), user
    try:
        factor = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:  # not positive definite once rounded: nothing to certify
        return Accuracy(math.nan, condition, floor), user
    previous = math.inf
    digits = math.nan
    gradient, compensated, passes = data_gradient, False, 0
    while passes < MAX_REFINEMENTS:
        passes += 1
        grad = gradient(user)
        g = grad[:, : active.shape[0]].copy()
        g[:, :d] += l2 * coef
        if not np.isfinite(g).all():
            return Accuracy(math.nan, condition, floor), user
        delta = np.zeros_like(g)
        delta[:, active] = -_cholesky_solve(factor, g[:, active].T).T
        step_coef = delta[:, :d]
        step_intercept = delta[:, d] if fit_intercept else np.zeros(k)
        step = to_user(step_coef, step_intercept)
        size = _relative_size(step_coef, coef, intercept + step_intercept, step, user)
        if size > 0.5 * previous:
            # No longer shrinking: the corrections are rounding noise of this size. The plain
            # gradient's: start again from here with the compensated one (the step is not
            # applied: noise would not improve the model). The compensated gradient's: that
            # noise is then also the error left.
            if not compensated:
                gradient, compensated, passes, previous = compensated_gradient, True, 0, math.inf
                continue
            digits = _digits(max(size, previous))
            break
        coef += step_coef
        intercept += step_intercept
        user.coef[...] += step.coef
        user.intercept[...] += step.intercept
        # A step that shrank by less than a refinement step contracts (MAX_CONTRACTION at
        # most) is partly the rounding noise of the data gradient, which the step cannot see:
        # the error left can then be as large as the step before it (NIST's Wampler1 with the
        # cross-products kernel of the Gram pass: steps 8.1e-12 then 1.3e-12, error 8.7e-12).
        contracted = size <= MAX_CONTRACTION * previous
        digits = _digits(size if contracted else max(size, previous))
        previous = size
        if digits >= ENOUGH_DIGITS:
            break
        if not (contracted or compensated):
            # the plain gradient's rounding shows: the compensated one from here
            gradient, compensated, passes, previous = compensated_gradient, True, 0, math.inf
    return Accuracy(digits, condition, floor), user


def _digits(relative_error: float) -> float:
    return STOP_DIGITS if relative_error == 0.0 else min(STOP_DIGITS, -math.log10(relative_error))


def _cholesky_solve(factor: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``A⁻¹ b`` from ``A = L Lᵀ`` (``factor`` = L)."""
    return np.linalg.solve(factor.T, np.linalg.solve(factor, b))


#: A coefficient or intercept smaller than this share of the model's largest effect is measured
#: against that share instead of its own size (a parameter near zero has no relative error).
NEGLIGIBLE = 1e-6


def _relative_size(
    step_coef: np.ndarray,
    coef: np.ndarray,
    new_intercept: np.ndarray,
    step: Linear,
    user: Linear,
) -> float:
    """The largest relative change a step makes to any coefficient or intercept in the units
    of X, each measured against ``max(|value|, NEGLIGIBLE x the largest effect)``.

    A coefficient's relative change is the same in training and user units (they differ by a
    column's scale), so it is measured on ``coef`` (standardized: its size is the feature's
    effect on y per standard deviation); the intercept by the ``step`` in the units of X
    against the ``user`` model's. The largest effect is the largest standardized coefficient
    or intercept (``new_intercept``, training coordinates, after the step) of the output.
    """
    new_coef = coef + step_coef
    user_intercept = user.intercept + step.intercept
    largest = np.maximum(np.abs(new_coef).max(axis=1), np.abs(new_intercept))  # (k,)
    floor = NEGLIGIBLE * largest[:, None]
    change = np.column_stack([np.abs(step_coef), np.abs(step.intercept)])
    value = np.maximum(np.abs(np.column_stack([new_coef, user_intercept])), floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(change == 0.0, 0.0, change / value)
    return float(ratio.max())
