"""The functional API: the objective and its gradient in one fused pass, predictions, and one
gradient step on chosen rows, for hot loops in Python and in users' own numba code.

Each function is also registered with numba (``@overload``), so ``@numba.njit`` code can call
``fastlr.loss_and_gradient`` (and the others) by the same name; there it runs the same serial
kernel as a small call from Python does, with the same bits, and raises ValueError with a fixed
message when the shapes or parameters are wrong.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

from fastlr import kernels
from fastlr._threading import parallel_launch
from fastlr._validation import (
    FLOAT_DTYPES,
    as_coef,
    check_kernel_ready,
    check_number,
    max_abs,
    raise_if_not_finite,
)
from fastlr.engines.memory import PARALLEL_MIN_ELEMENTS, fused_pass, thread_count
from fastlr.kernels import functional as fk

_FLOAT64 = np.dtype(np.float64)


def _kernel_ready(X: Any, y: Any, coef: Any) -> bool:
    """Whether X, y (None: no y) and coef can go straight to the checked serial kernels (small,
    C-contiguous float arrays, coef float64): the cheap checks of the fast path; shapes are
    checked there."""
    return (
        type(X) is np.ndarray
        and type(coef) is np.ndarray
        and X.ndim == 2
        and coef.ndim == 1
        and X.size < PARALLEL_MIN_ELEMENTS
        and X.dtype in FLOAT_DTYPES
        and coef.dtype == _FLOAT64
        and X.flags.c_contiguous
        and coef.flags.c_contiguous
        and (
            y is None
            or (
                type(y) is np.ndarray
                and y.ndim == 1
                and y.dtype in FLOAT_DTYPES
                and y.flags.c_contiguous
            )
        )
    )


def _overflow(X: np.ndarray, y: np.ndarray | None, what: str) -> NoReturn:
    raise_if_not_finite(**({"X": X} if y is None else {"X": X, "y": y}))
    top = f"max |X| = {max_abs(X):g}" + ("" if y is None else f", max |y| = {max_abs(y):g}")
    raise FloatingPointError(
        f"{what}; the values of X, y or coef are too large to square in float64 ({top})"
    )


def _name_nonfinite_row(X: np.ndarray, y: np.ndarray, rows: np.ndarray) -> NoReturn:
    """Raise naming the first NaN/inf of the chosen rows by its index in X (or y), else say the
    values overflowed."""
    for i in rows:
        bad = np.flatnonzero(~np.isfinite(X[i]))
        if bad.size:
            raise ValueError(
                f"X contains {X[i, bad[0]]} at index ({i}, {bad[0]}); fastlr needs finite values"
            )
        if not np.isfinite(y[i]):
            raise ValueError(f"y contains {y[i]} at index {i}; fastlr needs finite values")
    _overflow(X[rows], y[rows], "the loss overflowed")


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
    Small inputs with a float64 ``coef`` array take a fast path of a microsecond or two.
    Also callable from ``@numba.njit`` code (without ``n_jobs``; single-threaded there).

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
    if n_jobs is None and isinstance(intercept, float) and _kernel_ready(X, y, coef):
        grad = np.empty(X.shape[1])
        kernel = fk.checked_pass(X.dtype, X.shape[1])
        status, loss, grad_intercept = kernel(X, y, coef, intercept, grad)
        if status == fk.OK:
            return loss, grad, grad_intercept
    X, y = check_kernel_ready(X, y)
    coef = as_coef(coef, X.shape[1])
    intercept = check_number(intercept, "intercept")
    grad = np.empty(X.shape[1])
    loss, grad_intercept = fused_pass(X, y, coef, intercept, grad, thread_count(X, n_jobs))
    if not (math.isfinite(loss) and math.isfinite(grad_intercept) and np.isfinite(grad).all()):
        _overflow(X, y, f"the loss overflowed ({loss})")
    return loss, grad, grad_intercept


def predict(X: np.ndarray, coef: Any, intercept: float = 0.0) -> np.ndarray:
    """Predictions ``X @ coef + intercept`` of a linear model, summed in float64.

    Like :func:`loss_and_gradient`, ``X`` must be a C-contiguous float32/float64 array (never
    copied); large inputs use numba's threads. Also callable from ``@numba.njit`` code.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
    coef : array-like of shape (n_features,)
    intercept : float, default=0.0

    Returns
    -------
    ndarray of shape (n_samples,), float64

    Raises
    ------
    ValueError
        For wrong shapes, non-finite coef or intercept, or NaN/inf in X (named by index).

    Examples
    --------
    >>> import numpy as np
    >>> import fastlr
    >>> fastlr.predict(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.0]), 1.0)
    array([-0.5, -1.5])
    """
    if isinstance(intercept, float) and _kernel_ready(X, None, coef):
        out = np.empty(X.shape[0])
        if fk.predict_checked(X, coef, intercept, out) == fk.OK:
            return out
    X, _ = check_kernel_ready(X)
    coef = as_coef(coef, X.shape[1])
    intercept = check_number(intercept, "intercept")
    out = np.empty(X.shape[0])
    if X.size < PARALLEL_MIN_ELEMENTS:
        kernels.predict_serial(X, coef, intercept, out)
    else:
        with parallel_launch():
            kernels.predict_parallel(X, coef, intercept, out)
    if not np.isfinite(out).all():
        _overflow(X, None, "a prediction overflowed")
    return out


def minibatch_step(
    X: np.ndarray,
    y: np.ndarray,
    rows: Any,
    coef: np.ndarray,
    intercept: float,
    learning_rate: float,
) -> tuple[float, float]:
    """One gradient step of least squares on the rows ``rows`` of ``X`` and ``y``.

    With ``r = X[rows] @ coef + intercept - y[rows]`` and ``m = len(rows)``, the loss
    ``½ mean(r²)`` has gradient ``(X[rows]ᵀr / m, mean(r))``; the step moves ``coef`` (in
    place) and the intercept by ``-learning_rate`` times it. One row is a stochastic gradient
    step, a batch of rows a mini-batch step: the inner loop of an sgd or mini-batch trainer of
    your own, in one fused pass over the chosen rows. Also callable from ``@numba.njit`` code.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
    y : ndarray of shape (n_samples,), float32 or float64
    rows : array-like of int, shape (m,)
        Indices of the rows of the step, in ``[0, n_samples)``, repeats allowed.
    coef : ndarray of shape (n_features,), float64, C-contiguous, writable
        Updated in place.
    intercept : float
    learning_rate : float
        The step size, finite and > 0.

    Returns
    -------
    intercept : float
        The intercept after the step.
    loss : float
        ``½ mean(r²)`` over the rows, before the step.

    Raises
    ------
    ValueError
        For wrong shapes, rows out of range, a bad step, non-finite parameters or a non-finite
        loss; ``coef`` is then left as it was.

    Examples
    --------
    >>> import numpy as np
    >>> import fastlr
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> coef = np.zeros(2)
    >>> intercept, loss = fastlr.minibatch_step(X, y, np.array([0, 2]), coef, 0.0, 0.5)
    >>> coef.tolist(), intercept, loss
    ([1.0, 0.75], 1.0, 2.5)
    """
    X, y = check_kernel_ready(X, y)
    if not (
        isinstance(coef, np.ndarray)
        and coef.dtype == _FLOAT64
        and coef.ndim == 1
        and coef.flags.c_contiguous
        and coef.flags.writeable
    ):
        raise TypeError(
            "coef must be a writable, C-contiguous 1-D float64 ndarray (it is updated in place); "
            f"got {type(coef).__name__} {getattr(coef, 'dtype', '')}".rstrip()
        )
    index = np.asarray(rows)
    if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
        raise TypeError(f"rows must be a 1-D array of ints; got {index.dtype}, shape {index.shape}")
    index = index.astype(np.int64, copy=False)
    intercept = check_number(intercept, "intercept")
    learning_rate = check_number(learning_rate, "learning_rate", low=0.0, low_open=True)
    status, new_intercept, loss = fk.minibatch_step_checked(
        X, y, index, coef, intercept, learning_rate, np.empty(coef.shape[0])
    )
    if status == fk.NOT_FINITE_RESULT:
        _name_nonfinite_row(X, y, index)
    if status != fk.OK:
        shapes = f"X {X.shape}, y {y.shape}, coef {coef.shape}, rows {index.shape}"
        raise ValueError(f"{fk.MESSAGES[status]}; got {shapes}")
    return new_intercept, loss


# --------------------------------------------------------------------------- numba callers
def _require(condition: bool, function: str, what: str, got: Any) -> None:
    if not condition:
        raise TypingError(f"fastlr.{function} in numba code: {what}; got {got}")


def _float_array(value: Any, ndim: int) -> bool:
    return (
        isinstance(value, types.Array)
        and value.ndim == ndim
        and value.layout == "C"
        and value.dtype in (types.float32, types.float64)
    )


def _coef_array(value: Any) -> bool:
    return _float_array(value, 1) and value.dtype == types.float64


def _is_number(value: Any) -> bool:
    """A numba number type, or an omitted argument (numba then passes its default)."""
    return isinstance(value, (types.Number, types.Omitted, float))


def _check_types(function: str, X: Any, y: Any, coef: Any) -> None:
    float_c = "a C-contiguous float32 or float64 array"
    _require(_float_array(X, 2), function, f"X must be 2-D, {float_c}", X)
    _require(y is None or _float_array(y, 1), function, f"y must be 1-D, {float_c}", y)
    _require(_coef_array(coef), function, "coef must be a 1-D C-contiguous float64 array", coef)


@overload(loss_and_gradient)
def _loss_and_gradient_numba(X: Any, y: Any, coef: Any, intercept: Any = 0.0) -> Any:
    _check_types("loss_and_gradient", X, y, coef)
    _require(_is_number(intercept), "loss_and_gradient", "intercept must be a number", intercept)

    def impl(X: Any, y: Any, coef: Any, intercept: Any = 0.0) -> Any:  # pragma: no cover
        grad = np.empty(X.shape[1])
        status, loss, grad_b = fk.loss_and_gradient_checked(X, y, coef, float(intercept), grad)
        if status != fk.OK:
            fk.raise_for(status)
        return loss, grad, grad_b

    return impl


@overload(predict)
def _predict_numba(X: Any, coef: Any, intercept: Any = 0.0) -> Any:
    _check_types("predict", X, None, coef)
    _require(_is_number(intercept), "predict", "intercept must be a number", intercept)

    def impl(X: Any, coef: Any, intercept: Any = 0.0) -> Any:  # pragma: no cover
        out = np.empty(X.shape[0])
        status = fk.predict_checked(X, coef, float(intercept), out)
        if status != fk.OK:
            fk.raise_for(status)
        return out

    return impl


@overload(minibatch_step)
def _minibatch_step_numba(
    X: Any, y: Any, rows: Any, coef: Any, intercept: Any, learning_rate: Any
) -> Any:
    _check_types("minibatch_step", X, y, coef)
    is_rows = isinstance(rows, types.Array) and rows.ndim == 1
    _require(
        is_rows and isinstance(rows.dtype, types.Integer),
        "minibatch_step",
        "rows must be a 1-D array of ints",
        rows,
    )
    _require(_is_number(intercept), "minibatch_step", "intercept must be a number", intercept)
    _require(
        _is_number(learning_rate), "minibatch_step", "learning_rate must be a number", learning_rate
    )

    def impl(X: Any, y: Any, rows: Any, coef: Any, intercept: Any, learning_rate: Any) -> Any:
        grad = np.empty(coef.shape[0])  # pragma: no cover - compiled by numba
        status, new_intercept, loss = fk.minibatch_step_checked(
            X, y, rows, coef, float(intercept), float(learning_rate), grad
        )
        if status != fk.OK:
            fk.raise_for(status)
        return new_intercept, loss

    return impl
