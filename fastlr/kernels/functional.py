"""The kernels of the functional API: checked, single-threaded entry points.

Private. :mod:`fastlr.objective` calls them from Python for inputs too small to be worth threads,
and users' own ``@numba.njit`` code calls them through the ``@overload`` registrations of the
same functions, so both get the same code and the same bits. Unlike the other kernels these
check what Python cannot check cheaply (shapes against each other, finite parameters, row
indices) and return a status code instead of raising, so that the Python side can name the
problem in detail and numba code can raise a fixed message (see :data:`MESSAGES`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from fastlr.kernels.jit import _renamed_copy, _u, jit_serial
from fastlr.kernels.passes import _row_prediction, fused_pass_any_width, row_passes

OK = 0
EMPTY = 1
Y_LENGTH = 2
COEF_LENGTH = 3
NOT_FINITE = 4
BAD_STEP = 5
BAD_ROW = 6
NO_ROWS = 7
NOT_FINITE_RESULT = 8

_EMPTY = "X must have at least one row and one column"
_Y_LENGTH = "y must have one value per row of X (y.shape[0] == X.shape[0])"
_COEF_LENGTH = "coef must have one value per column of X (coef.shape[0] == X.shape[1])"
_NOT_FINITE = "coef and intercept must be finite"
_BAD_STEP = "learning_rate must be a finite number > 0"
_BAD_ROW = "rows must be indices of rows of X, in [0, X.shape[0])"
_NO_ROWS = "rows must hold at least one index"
_NOT_FINITE_RESULT = (
    "the result is not finite: X or y holds NaN or inf, or values too large for float64"
)

#: What each status means (numba code raises these as ValueError; Python adds the shapes).
MESSAGES = {
    EMPTY: _EMPTY,
    Y_LENGTH: _Y_LENGTH,
    COEF_LENGTH: _COEF_LENGTH,
    NOT_FINITE: _NOT_FINITE,
    BAD_STEP: _BAD_STEP,
    BAD_ROW: _BAD_ROW,
    NO_ROWS: _NO_ROWS,
    NOT_FINITE_RESULT: _NOT_FINITE_RESULT,
}


@jit_serial
def raise_for(status):
    """Raise the ValueError of a status other than OK, in numba code (fixed messages)."""
    if status == EMPTY:
        raise ValueError(_EMPTY)
    if status == Y_LENGTH:
        raise ValueError(_Y_LENGTH)
    if status == COEF_LENGTH:
        raise ValueError(_COEF_LENGTH)
    if status == NOT_FINITE:
        raise ValueError(_NOT_FINITE)
    if status == BAD_STEP:
        raise ValueError(_BAD_STEP)
    if status == BAD_ROW:
        raise ValueError(_BAD_ROW)
    if status == NO_ROWS:
        raise ValueError(_NO_ROWS)
    if status == NOT_FINITE_RESULT:
        raise ValueError(_NOT_FINITE_RESULT)


@njit(cache=True, nogil=True, error_model="numpy")  # no fastmath: it must see NaN and inf
def _all_finite(values):
    """Whether every value of the 1-D array is finite. Read back from memory after the pass:
    tested inside the fast-math loop that computed them, the test was optimized away."""
    for j in range(values.shape[0]):  # noqa: SIM110 (numba compiles loops, not all(generator))
        if not np.isfinite(values[j]):
            return False
    return True


@jit_serial
def _status(X, n_targets, coef, intercept):
    """OK, or the first problem with the shapes and parameters (nothing of X is scanned);
    ``n_targets`` is the length of y."""
    if X.shape[0] == 0 or X.shape[1] == 0:
        return EMPTY
    if n_targets != X.shape[0]:
        return Y_LENGTH
    if coef.shape[0] != X.shape[1]:
        return COEF_LENGTH
    if not np.isfinite(intercept):
        return NOT_FINITE
    for j in range(coef.shape[0]):
        if not np.isfinite(coef[j]):
            return NOT_FINITE
    return OK


def _loss_and_gradient_checked(X, y, coef, intercept, grad):
    """``(status, loss, grad_intercept)``, ``Xᵀr/n`` into ``grad``: the serial fused pass, whose
    bits equal those of the (parallel) pass of larger inputs."""
    status = _status(X, y.shape[0], coef, intercept)
    if status != OK:
        return status, np.nan, np.nan
    loss, grad_b = PASS(X, y, None, coef, intercept, X.shape[0], grad)
    finite = np.isfinite(loss) and np.isfinite(grad_b) and _all_finite(grad)
    return (OK if finite else NOT_FINITE_RESULT), loss, grad_b


#: The pass of :func:`_loss_and_gradient_checked`: rows of any width here, for numba callers;
#: :func:`checked_pass` compiles it with the pass of one kind of rows, for Python.
PASS = fused_pass_any_width
loss_and_gradient_checked = jit_serial(_loss_and_gradient_checked)


@functools.cache
def checked_pass(dtype: np.dtype, width: int) -> Callable[..., Any]:
    """:data:`loss_and_gradient_checked` for rows of ``width`` features of ``dtype``, from
    Python: compiled with only their row kernel (see :func:`~fastlr.kernels.passes.row_passes`);
    the same bits."""
    passes = row_passes(dtype, width)
    constants = {"PASS": passes.pass_serial}
    return jit_serial(_renamed_copy(_loss_and_gradient_checked, passes.variant, constants))


@jit_serial
def predict_checked(X, coef, intercept, out):
    """``out[i] = X[i] · coef + intercept`` (float64 sums), or a status other than OK
    (NOT_FINITE_RESULT when a prediction is NaN or inf: checked on ``out`` once written)."""
    status = _status(X, X.shape[0], coef, intercept)
    if status != OK:
        return status
    for i in range(_u(X.shape[0])):
        out[i] = _row_prediction(X, i, coef, intercept)
    return OK if _all_finite(out) else NOT_FINITE_RESULT


@jit_serial
def minibatch_step_checked(X, y, rows, coef, intercept, learning_rate, grad):
    """One gradient step on ``½ mean((X[rows] · coef + intercept - y[rows])²)``: ``coef`` is
    updated in place; returns ``(status, new intercept, loss before the step)``. ``grad`` is
    scratch of ``coef``'s size. Nothing is changed unless the status is OK."""
    status = _status(X, y.shape[0], coef, intercept)
    if status != OK:
        return status, intercept, np.nan
    if not (np.isfinite(learning_rate) and learning_rate > 0.0):
        return BAD_STEP, intercept, np.nan
    m = rows.shape[0]
    if m == 0:
        return NO_ROWS, intercept, np.nan
    n = X.shape[0]
    for t in range(m):
        if rows[t] < 0 or rows[t] >= n:
            return BAD_ROW, intercept, np.nan
    d = _u(X.shape[1])
    grad[:] = 0.0
    sum_r = 0.0
    sum_r2 = 0.0
    for t in range(m):
        i = _u(rows[t])
        r = _row_prediction(X, i, coef, intercept) - y[i]
        sum_r += r
        sum_r2 += r * r
        for j in range(d):
            grad[j] += r * X[i, j]
    if not (np.isfinite(sum_r2) and np.isfinite(sum_r) and _all_finite(grad)):
        return NOT_FINITE_RESULT, intercept, np.nan
    step = learning_rate / m
    for j in range(d):
        coef[j] -= step * grad[j]
    return OK, intercept - step * sum_r, 0.5 * sum_r2 / m
