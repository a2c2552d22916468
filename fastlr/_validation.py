"""Input checks, done once above the kernels.

What the kernels get: ``X`` a C-contiguous 2-D float32/float64 array, ``y`` a 1-D float32/float64
array of the same length. Arrays that already have that form pass through untouched (no copy).
Other real numeric input (integers, bool, float16, Fortran order, strided views) is converted to
that form by :func:`as_float_matrix` (one copy, documented on ``fit``), while the functional
:func:`fastlr.loss_and_gradient` refuses it instead, because it promises never to copy.

Finiteness is not scanned up front: a NaN or inf anywhere in X or y makes the kernels' loss
non-finite, and only then :func:`raise_if_not_finite` finds and names the culprit. Valid input pays
nothing for the check.
"""

from __future__ import annotations

import math
import operator
import sys
from numbers import Integral, Real
from typing import Any

import numpy as np

from fastlr._pages import release

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_SCAN_ROWS = 1 << 16


def _as_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a real numeric ndarray (no copy when it already is one), or a clear error.

    Sparse matrices and complex numbers are refused with the wording scikit-learn uses; an
    object array is converted to float64 when every element is a number (as scikit-learn does).
    """
    # numpy.ma not imported (or still importing): value cannot be a masked array
    masked = getattr(sys.modules.get("numpy.ma"), "MaskedArray", None)
    if masked is not None and isinstance(value, masked):
        raise TypeError(
            f"{name} is a masked array: masks are not supported (they would be ignored); fill "
            f"the masked values ({name}.filled(value)) or drop those rows"
        )
    # scipy.sparse not imported (or still being imported by another thread): not sparse
    issparse = getattr(sys.modules.get("scipy.sparse"), "issparse", None)
    if issparse is not None and issparse(value):
        raise TypeError(
            f"{name} is a scipy sparse {type(value).__name__}: sparse input is not supported; "
            f"fastlr needs a dense array ({name}.toarray() if it fits in memory)"
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as a numeric array: {exc}") from None
    if array.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} has dtype {array.dtype}; fastlr needs real "
            "numbers (bool, int or float)"
        )
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} has dtype object and an element that is not a real number ({exc}); "
                "fastlr needs real numbers (bool, int or float)"
            ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, int or float); got dtype {array.dtype}"
        )
    return array


def _float_dtype(array: np.ndarray) -> np.dtype:
    """float32 and float64 stay; float16 widens to float32; ints and bools become float64."""
    if array.dtype in FLOAT_DTYPES:
        return array.dtype
    return np.dtype(np.float32) if array.dtype == np.float16 else np.dtype(np.float64)


def as_float_matrix(X: Any, name: str = "X") -> np.ndarray:
    """Return ``X`` as a C-contiguous 2-D float32/float64 array, copying only when it must."""
    array = _as_array(X, name)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got {array.ndim}-D shape {array.shape}"
            + (
                f". Reshape your data: {name}.reshape(-1, 1) for a single feature, "
                f"{name}.reshape(1, -1) for a single sample"
                if array.ndim == 1
                else ""
            )
        )
    n_samples, n_features = array.shape
    if n_samples == 0:
        raise ValueError(
            f"{name} has 0 sample(s) (shape={array.shape}) while a minimum of 1 is required."
        )
    if n_features == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={array.shape}) while a minimum of 1 is required."
        )
    return np.ascontiguousarray(array, dtype=_float_dtype(array))


def as_float_target(y: Any, n_samples: int, name: str = "y") -> tuple[np.ndarray, bool]:
    """Return ``(y as float32/float64 of shape (n, k), whether y was 2-D)``.

    A 1-D ``y`` becomes a (n, 1) view; a 2-D ``y`` has one column per output.
    """
    if y is None:
        raise ValueError(
            f"this estimator requires {name} to be passed, but the target {name} is None"
        )
    array = _as_array(y, name)
    if array.ndim == 2 and array.shape[0] == 1 and n_samples != 1:
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_outputs); got a row of shape "
            f"{array.shape}: pass {name}.ravel()"
        )
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_outputs); got {array.ndim}-D "
            f"shape {array.shape}"
        )
    if array.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but {name} has {array.shape[0]}")
    if array.ndim == 2 and array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one output column; got shape {array.shape}")
    table = array.reshape(n_samples, -1)
    return np.ascontiguousarray(table, dtype=_float_dtype(table)), array.ndim == 2


def as_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """``None``, or the weights as a float64 vector: finite, >= 0, with a positive sum."""
    if sample_weight is None:
        return None
    array = _as_array(sample_weight, "sample_weight")
    if array.ndim == 0:
        array = np.full(n_samples, float(array))
    if array.ndim != 1 or array.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must be a scalar or 1-D with {n_samples} values (one per sample); "
            f"got shape {array.shape}"
        )
    weights = np.array(array, dtype=np.float64)  # a copy: the caller's array is never changed
    bad = np.flatnonzero(~(weights >= 0) | np.isinf(weights))  # NaN, inf and negative
    if bad.size:
        raise ValueError(
            f"sample_weight must be finite and >= 0; got {weights[bad[0]]} at index {bad[0]}"
        )
    with np.errstate(over="ignore"):
        total = weights.sum()
    if not total > 0:
        raise ValueError("sample_weight must have a positive sum; got all weights zero")
    if not math.isfinite(total):
        raise ValueError(
            f"sample_weight must have a finite sum; its sum overflows float64 (max weight "
            f"{weights.max():g}): divide the weights by a constant (only their ratios matter)"
        )
    return weights


def check_kernel_ready(X: Any, y: Any = None) -> tuple[np.ndarray, Any]:
    """Accept X (and y, unless None) only if the kernels can read them as they are; never
    copy."""
    if y is None and not isinstance(X, np.ndarray):
        raise TypeError("X must be a numpy array (the functional API never copies its input)")
    if y is not None and not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray)):
        raise TypeError("X and y must be numpy arrays (loss_and_gradient never copies its input)")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty 2-D array; got shape {X.shape}")
    if y is not None and (y.ndim != 1 or y.shape[0] != X.shape[0]):
        raise ValueError(f"y must be 1-D with X.shape[0] = {X.shape[0]} values; got {y.shape}")
    for name, array in (("X", X), ("y", y)) if y is not None else (("X", X),):
        if array.dtype.kind == "f" and not array.dtype.isnative:
            raise TypeError(
                f"{name} has non-native byte order ({array.dtype.str}); convert it once with "
                f"{name}.astype({name}.dtype.newbyteorder('=')) (loss_and_gradient never copies)"
            )
        if array.dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"{name} must be float32 or float64, got {array.dtype}; convert it once with "
                f"{name}.astype(np.float64) (loss_and_gradient never copies its input)"
            )
        if not array.flags.c_contiguous:
            raise ValueError(
                f"{name} must be C-contiguous; convert it once with np.ascontiguousarray({name}) "
                "(loss_and_gradient never copies its input)"
            )
    return X, y


def as_coef(coef: Any, size: int, name: str = "coef", what: str = "one per feature") -> np.ndarray:
    """Return ``coef`` as a finite float64 vector of ``size`` values (a copy); ``what`` says in
    the error message what the values are."""
    array = _as_array(coef, name).astype(np.float64).reshape(-1)
    if array.shape[0] != size:
        raise ValueError(f"{name} must have {size} values ({what}); got shape {np.shape(coef)}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name} must be finite; got {array[bad[0]]} at index {bad[0]}")
    return array


def check_number(
    value: Any,
    name: str,
    *,
    integer: bool = False,
    low: float | None = None,
    low_open: bool = False,
    allow_none: bool = False,
) -> Any:
    """Check a numeric parameter and say what it accepts when it is wrong."""
    if value is None and allow_none:
        return None
    kind: Any = Integral if integer else Real
    accepts = ("an int" if integer else "a finite number") + (
        "" if low is None else f" {'>' if low_open else '>='} {low}"
    )
    if allow_none:
        accepts = "None or " + accepts
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {accepts}; got {value!r}")
    number = operator.index(value) if integer else float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be {accepts}; got {value!r}")
    if low is not None and (number <= low if low_open else number < low):
        raise ValueError(f"{name} must be {accepts}; got {value!r}")
    return number


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def max_abs(array: np.ndarray) -> float:
    """Largest absolute value, without an array-sized temporary (used in error messages); a
    file-backed array is read in row blocks whose pages are given back (:mod:`fastlr._pages`)."""
    if not isinstance(array, np.memmap):
        return float(max(array.max(), -array.min()))
    top = 0.0
    for start in range(0, array.shape[0], _SCAN_ROWS):
        block = array[start : start + _SCAN_ROWS]
        top = max(top, float(block.max()), -float(block.min()))
        release(array, start, start + block.shape[0])
    return top


def _first_nonfinite(array: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN/inf, scanning in row blocks so memory stays bounded (the pages of a
    file-backed array are given back after each block)."""
    rows = array.reshape(array.shape[0], -1)
    for start in range(0, rows.shape[0], _SCAN_ROWS):
        bad = np.argwhere(~np.isfinite(rows[start : start + _SCAN_ROWS]))
        release(array, start, min(start + _SCAN_ROWS, rows.shape[0]))
        if bad.size:
            index = bad[0].copy()
            index[0] += start
            return tuple(int(i) for i in index[: array.ndim])
    return None


def raise_if_not_finite(**arrays: np.ndarray) -> None:
    """Raise ValueError naming the first NaN/inf in any of ``arrays`` (called on the error path)."""
    for name, array in arrays.items():
        where = _first_nonfinite(array)
        if where is not None:
            raise nonfinite_error(name, where, array[where])


def nonfinite_error(name: str, where: tuple[int, ...], value: Any) -> ValueError:
    """The error that names a NaN/inf ``value`` of input ``name`` at index ``where``."""
    return ValueError(
        f"{name} contains {value} at index {where[0] if len(where) == 1 else where}; "
        "fastlr needs finite values (drop or impute NaN/inf first)"
    )
