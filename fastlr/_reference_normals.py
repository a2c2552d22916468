"""NumPy twin of the normal generator of :mod:`fastlr.kernels.generate` (used by
:func:`fastlr.reference.make_regression`): the same counter-based stream and ziggurat, written
independently, vectorized over the values, and equal to the kernel's bit for bit.

Draw ``k`` of the stream with key ``K`` is the SplitMix64 finalizer of
``K + (k + 1) · 0x9E3779B97F4A7C15``. Value ``k`` of a normal stream: bits 0-7 of draw ``k``
pick one of 256 ziggurat layers, bit 8 the sign, bits 12-63 an integer ``a`` with
``x = a · width / 2**52``; ``x`` is kept when it lies in the part of the layer under the curve.
Otherwise (1.5% of the values) the wedge or the tail test decides, with numbers drawn from the
value's retry stream (key: draw ``k`` of the key ``K ^ 0xD1B54A32D192ED03``), and a rejected
value starts again from the next draw of that stream.

The rare tests call ``math.exp`` and ``math.log1p`` (the C library's functions, which the kernel
calls too): NumPy's own vectorized ``exp`` and ``log1p`` differ from them in the last bits.
"""

from __future__ import annotations

import math

import numpy as np

_LAYERS = 256
_R = 3.6541528853610088  # right edge of the base strip (Marsaglia and Tsang, 2000)
_V = 4.92867323399e-3  # area of each layer
_RETRY_SALT = np.uint64(0xD1B54A32D192ED03)
_exp = np.vectorize(math.exp, otypes=[np.float64])
_log1p = np.vectorize(math.log1p, otypes=[np.float64])


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right edges of the layers (``edges[0]``: the base strip's width, ``V / f(R)``), the
    integer bound below which a draw lies under the curve, and the curve at each edge."""
    x = [_R]  # from the bottom layer (255) up to layer 1: equal areas V
    while len(x) < _LAYERS - 1:
        x.append(math.sqrt(-2.0 * math.log(_V / x[-1] + math.exp(-0.5 * x[-1] * x[-1]))))
    right = [0.0, *reversed(x)]  # right[i]: layer i's right edge (the top of the curve at 0)
    edges = np.array([_V / math.exp(-0.5 * _R * _R), *right[1:]])
    # Layer i keeps all of x below the edge of the layer above (the base strip: below R).
    below = [_R, *right[:-1]]
    inner = np.array([math.floor(b / e * 2.0**52) for b, e in zip(below, edges, strict=True)])
    heights = np.array([1.0] + [math.exp(-0.5 * e * e) for e in right[1:]])
    return edges, inner.astype(np.uint64), heights


_EDGES, _INNER, _HEIGHTS = _tables()


def draws(keys: np.ndarray | np.uint64, counters: np.ndarray) -> np.ndarray:
    """SplitMix64 draws ``counters`` of the streams ``keys`` (uint64, broadcast together)."""
    z = keys + (counters + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)  # wraps mod 2**64
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    result: np.ndarray = z ^ (z >> np.uint64(31))
    return result


def _uniforms(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    result: np.ndarray = (draws(keys, counters) >> np.uint64(11)).astype(np.float64) / 2.0**53
    return result


def _split(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Layer, sign, integer and magnitude ``x`` of draws ``h``."""
    layer = (h & np.uint64(0xFF)).astype(np.intp)
    negative = ((h >> np.uint64(8)) & np.uint64(1)).astype(bool)
    a = h >> np.uint64(12)
    return layer, negative, a, a.astype(np.float64) * (_EDGES[layer] / 2.0**52)


def normals(key: np.uint64, counters: np.ndarray) -> np.ndarray:
    """Values ``counters`` (uint64, 1-D) of the standard normal stream ``key`` (float64)."""
    layer, negative, a, x = _split(draws(key, counters))
    out = np.where(negative, -x, x)
    late = np.flatnonzero(a >= _INNER[layer])
    out[late] = _rejected(key, counters[late])
    return out


def _rejected(key: np.uint64, counters: np.ndarray) -> np.ndarray:
    """Values whose first draw fell outside the inner rectangles, all of them at once."""
    retry = draws(key ^ _RETRY_SALT, counters)  # each value's retry stream key
    h = draws(key, counters)
    used = np.zeros(counters.size, dtype=np.uint64)  # numbers drawn from each retry stream
    out = np.empty(counters.size)
    todo = np.arange(counters.size)
    while todo.size:
        layer, negative, a, x = _split(h[todo])
        done = a < _INNER[layer]
        tail = ~done & (layer == 0)
        x[tail] = _tails(retry, used, todo[tail])
        wedge = np.flatnonzero(~done & ~tail)
        rows = todo[wedge]
        u = _uniforms(retry[rows], used[rows])
        used[rows] += np.uint64(1)
        low, high = _HEIGHTS[layer[wedge]], _HEIGHTS[layer[wedge] - 1]
        done[wedge] = low + u * (high - low) < _exp(-0.5 * x[wedge] * x[wedge])
        done |= tail
        out[todo[done]] = np.where(negative[done], -x[done], x[done])
        again = rows[~done[wedge]]
        h[again] = draws(retry[again], used[again])
        used[again] += np.uint64(1)
        todo = todo[~done]
    return out


def _tails(retry: np.ndarray, used: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Marsaglia's tail beyond R for the values ``rows``, two numbers drawn per try."""
    out = np.empty(rows.size)
    todo = np.arange(rows.size)
    while todo.size:
        at = rows[todo]
        xx = -_log1p(-_uniforms(retry[at], used[at])) / _R
        yy = -_log1p(-_uniforms(retry[at], used[at] + np.uint64(1)))
        used[at] += np.uint64(2)
        accept = yy + yy > xx * xx
        out[todo[accept]] = _R + xx[accept]
        todo = todo[~accept]
    return out
