"""Jitted kernels of the synthetic data: standard normals from a counter-based stream.

Private. The NumPy twin is :func:`fastlr.reference.make_regression` (its normals in
:mod:`fastlr._reference_normals`); ``tests/test_kernels.py`` holds the two together bit for bit.

The stream
----------
Draw ``k`` of the stream with key ``K`` is the SplitMix64 finalizer of
``K + (k + 1) · 0x9E3779B97F4A7C15`` (mod 2**64): a pure function of ``(K, k)``. Value ``k`` of
a normal stream is made by a 256-layer ziggurat (Marsaglia and Tsang, 2000) from draw ``k``:

- bits 0-7 pick the layer ``i``, bit 8 the sign, bits 12-63 a 52-bit integer ``a``;
- ``x = a · widths[i]`` (the layer's width over 2**52), accepted when ``a < inner[i]``, the
  part of the layer that lies under the curve: 98.5% of the values, with no transcendental
  function and no branch (the kernel's row loop vectorizes);
- the rest (the wedges and the tail beyond ``R``) draw further numbers from a stream of their
  own, ``draw(t)`` of the key ``draw(k)`` of the key ``K ^ RETRY_SALT``, ``t = 0, 1, ...``, and
  finish as in Marsaglia and Tsang (the tail by Marsaglia's 1964 method), in exact IEEE
  arithmetic (no fastmath) with the C library's ``exp`` and ``log1p``.

So every value is a pure function of ``(K, k)``; in ``fill_regression`` value ``(row, column)``
of X is ``k = row · n_features + column`` of the ``key_x`` stream and row ``row``'s noise is
value ``row`` of the ``key_noise`` stream: the same bytes on any number of threads and in any
split of the rows into blocks.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from fastlr.kernels.jit import _u, jit_exact, jit_parallel, jit_serial
from fastlr.kernels.passes import _row_prediction

# SplitMix64's constants, as in fastlr.kernels.layout (defined here so as not to depend on its old
# generator's names).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
#: XORed into a stream's key to make the key of its values' retry streams.
RETRY_SALT = np.uint64(0xD1B54A32D192ED03)
_ONE = np.uint64(1)
_LAYER_MASK = np.uint64(0xFF)
_SIGNED_LAYER_MASK = np.uint64(0x1FF)
_SIGN_BIT = np.uint64(8)
_MANTISSA_SHIFT = np.uint64(12)
_UNIFORM_SHIFT = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0

#: The 256-layer ziggurat of Marsaglia and Tsang (2000): the base strip's right edge and the
#: area of every layer (the base strip includes the tail beyond ``R``).
LAYERS = 256
R = 3.6541528853610088
V = 4.92867323399e-3
#: Rows per block of the parallel loop (the layout does not change the values).
BLOCK_ROWS = 64


def ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ziggurat's tables, from ``R`` and ``V`` (Python floats, the C library's math).

    Returns
    -------
    widths : ndarray of shape (512,), float64
        ``widths[i]`` is layer ``i``'s right edge over 2**52 and ``widths[i + 256]`` its
        negative (layer and sign in one lookup). Layer 0 is the base strip, ``V / f(R)`` wide.
    inner : ndarray of shape (256,), uint64
        ``a < inner[i]`` puts ``a · widths[i]`` under the curve: ``floor(2**52 · x[i-1] / x[i])``
        (0 for the top layer, ``floor(2**52 · R / (V / f(R)))`` for the base strip).
    heights : ndarray of shape (256,), float64
        ``f(x[i]) = exp(-x[i]² / 2)`` at each layer's right edge (``heights[0] = 1``, the top).

    Examples
    --------
    >>> widths, inner, heights = ziggurat_tables()
    >>> widths.shape, inner.shape, heights.shape
    ((512,), (256,), (256,))
    >>> bool(widths[255] * 2.0**52 == R and heights[0] == 1.0 and inner[1] == 0)
    True
    """
    edges = [0.0] * LAYERS
    edges[LAYERS - 1] = R
    for i in range(LAYERS - 2, 0, -1):
        above = edges[i + 1]
        edges[i] = math.sqrt(-2.0 * math.log(V / above + math.exp(-0.5 * above * above)))
    base = V / math.exp(-0.5 * R * R)
    scale = 2.0**52
    widths = np.empty(2 * LAYERS)
    inner = np.empty(LAYERS, dtype=np.uint64)
    heights = np.empty(LAYERS)
    widths[0] = base / scale
    inner[0] = math.floor(R / base * scale)
    heights[0] = 1.0
    for i in range(1, LAYERS):
        widths[i] = edges[i] / scale
        inner[i] = math.floor(edges[i - 1] / edges[i] * scale)
        heights[i] = math.exp(-0.5 * edges[i] * edges[i])
    widths[LAYERS:] = -widths[:LAYERS]
    return widths, inner, heights


# Global arrays: numba compiles them into the kernels as constants.
_WIDTHS, _INNER, _HEIGHTS = ziggurat_tables()


@jit_serial
def _draw(key, k):
    """Draw ``k`` of the stream with key ``key``: the SplitMix64 finalizer (uint64)."""
    z = key + (k + _ONE) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@jit_exact
def _uniform(key, t):
    """A uniform in [0, 1) from the top 53 bits of draw ``t``."""
    return np.float64(_draw(key, t) >> _UNIFORM_SHIFT) * _INV_2_53


@jit_exact
def _tail(retry, t):
    """A value of the tail beyond ``R`` (positive) and the retry counter after it."""
    while True:
        xx = -np.log1p(-_uniform(retry, t)) / R
        yy = -np.log1p(-_uniform(retry, t + _ONE))
        t += np.uint64(2)
        if yy + yy > xx * xx:
            return R + xx, t


@jit_exact
def _rejected(key, k):
    """Value ``k`` of the normal stream ``key`` when its first draw fell outside the inner
    rectangles: the wedge and tail tests, and new draws from its retry stream until accepted."""
    retry = _draw(key ^ RETRY_SALT, k)
    h = _draw(key, k)
    t = np.uint64(0)
    while True:
        layer = h & _LAYER_MASK
        a = h >> _MANTISSA_SHIFT
        x = np.float64(a) * _WIDTHS[layer]
        negative = (h >> _SIGN_BIT) & _ONE
        if a < _INNER[layer]:
            break
        if layer == 0:
            x, t = _tail(retry, t)
            break
        u = _uniform(retry, t)
        t += _ONE
        top = _HEIGHTS[layer - _ONE]
        if _HEIGHTS[layer] + u * (top - _HEIGHTS[layer]) < np.exp(-0.5 * x * x):
            break
        h = _draw(retry, t)
        t += _ONE
    return -x if negative else x


@jit_serial
def normal(key, k):
    """Value ``k`` (uint64) of the standard normal stream with key ``key``."""
    h = _draw(key, k)
    a = h >> _MANTISSA_SHIFT
    if a < _INNER[h & _LAYER_MASK]:
        return np.float64(a) * _WIDTHS[h & _SIGNED_LAYER_MASK]
    return _rejected(key, k)


@jit_serial
def _fast_row(X, i, key, first):
    """``X[i, j]`` = value ``first + j`` of the stream where its first draw is accepted, NaN
    where it is not; returns the number of NaNs. Branch-free: LLVM vectorizes it."""
    rejected = 0
    for j in range(_u(X.shape[1])):
        h = _draw(key, first + j)
        a = h >> _MANTISSA_SHIFT
        x = np.float64(np.int64(a)) * _WIDTHS[h & _SIGNED_LAYER_MASK]
        outside = a >= _INNER[h & _LAYER_MASK]
        rejected += outside
        X[i, j] = np.nan if outside else x
    return rejected


@jit_serial
def _normal_row(X, i, key, first):
    """Row ``i`` of ``X``: values ``first, first + 1, ...`` of the normal stream ``key``."""
    if _fast_row(X, i, key, first) == 0:
        return
    for j in range(_u(X.shape[1])):
        if X[i, j] != X[i, j]:  # NaN: its first draw was rejected (fastmath keeps NaNs here)
            X[i, j] = _rejected(key, first + j)


@jit_serial
def fill_normal(X, key, first_row):
    """Fill ``X`` (C-contiguous, float32 or float64) with rows ``first_row, ...`` of the
    standard normal stream ``key``: ``X[i, j]`` is value ``(first_row + i) · d + j``."""
    d = np.uint64(X.shape[1])
    for i in range(_u(X.shape[0])):
        _normal_row(X, i, key, (np.uint64(first_row) + i) * d)


@jit_parallel
def fill_regression(X, y, coef, bias, noise, key_x, key_noise, first_row):
    """Fill ``X`` with N(0, 1) and ``y`` with ``X @ coef + bias + noise * N(0, 1)``: rows
    ``first_row, first_row + 1, ...`` of the data set (a block of it, for files written in
    pieces: the same rows have the same values whatever the blocks).

    ``X[i, j]`` is value ``(first_row + i) · d + j`` of the ``key_x`` normal stream and row
    ``first_row + i``'s noise value ``first_row + i`` of the ``key_noise`` stream; ``y`` is
    computed in float64 from the stored (rounded) X. Blocks of :data:`BLOCK_ROWS` rows are spread
    over the threads.
    """
    n = X.shape[0]
    d = np.uint64(X.shape[1])
    blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    for b in prange(blocks):
        for i in range(b * BLOCK_ROWS, min(n, (b + 1) * BLOCK_ROWS)):
            row = np.uint64(first_row) + np.uint64(i)
            _normal_row(X, _u(i), key_x, row * d)
            value = _row_prediction(X, _u(i), coef, bias)
            if noise != 0.0:
                value += noise * normal(key_noise, row)
            y[i] = value
