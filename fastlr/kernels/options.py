"""Optional inputs of the kernels (sample weights, the standardization, averaging, momentum):
each is None or an array, and numba prunes the ``is None`` branches when it compiles, so an
option left off costs nothing."""

from __future__ import annotations

import numpy as np

from fastlr.kernels.jit import _prefetch_to_l2, _u, jit_serial


@jit_serial
def _prefetch_weight(sample_weight, row):
    """Prefetch ``sample_weight[row]`` into L2, as its row is (nothing when the option is off)."""
    if sample_weight is None:
        return
    _prefetch_to_l2(sample_weight, row * _u(sample_weight.strides[0]))


@jit_serial
def _weight(sample_weight, i):
    if sample_weight is None:
        return 1.0
    return np.float64(sample_weight[i])


@jit_serial
def _weighted(sample_weight, i, r):
    """``sample_weight[i] * r``, or ``r`` itself when there are no weights."""
    if sample_weight is None:
        return r
    return np.float64(sample_weight[i]) * r


@jit_serial
def _standardized(X, i, j, shift, scale):
    """``X[i, j]`` in training coordinates: ``(x - shift) * scale``, or x itself."""
    if shift is None:
        return np.float64(X[i, j])
    return (np.float64(X[i, j]) - shift[j]) * scale[j]


@jit_serial
def _slot(array, p):
    """``array[p]``, or None when the option is off."""
    if array is None:
        return None
    return array[p]
