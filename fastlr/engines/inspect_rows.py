"""The members of a :class:`~fastlr.training.backend.Backend` that look at rows held as arrays
(in memory or file-backed): y = 0 for the power iteration, and the error path's look at the
values (a NaN to name, magnitudes for an overflow message, the range of tiny columns). Shared
by the fused, streaming and NumPy backends; no kernel is called."""

from __future__ import annotations

import numpy as np

from fastlr._validation import max_abs, raise_if_not_finite
from fastlr.kernels.records import Rows

#: Elements of X read per block by :meth:`ArrayRows.column_range`.
RANGE_BLOCK_ELEMENTS = 1 << 20


def user_y(Y: np.ndarray) -> np.ndarray:
    """y as the user passed it, for error messages that give an index."""
    return Y[:, 0] if Y.shape[1] == 1 else Y


class ArrayRows:
    """Backend members on :class:`~fastlr.kernels.records.Rows` of arrays."""

    def zero_targets(self, rows: Rows) -> Rows:
        # n values; the pass reads no copy of X
        return Rows(rows.X, np.zeros((rows.n, 1), dtype=rows.X.dtype), rows.sample_weight)

    def raise_if_not_finite(self, rows: Rows) -> None:
        raise_if_not_finite(X=rows.X, y=user_y(rows.Y))

    def max_abs(self, rows: Rows) -> tuple[float, float]:
        return max_abs(rows.X), max_abs(rows.Y)

    def column_range(self, rows: Rows, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low, high = np.full(columns.size, np.inf), np.full(columns.size, -np.inf)
        step = max(1, RANGE_BLOCK_ELEMENTS // max(1, columns.size))
        for start in range(0, rows.n, step):
            block = rows.X[start : start + step][:, columns]
            np.minimum(low, block.min(axis=0), out=low)
            np.maximum(high, block.max(axis=0), out=high)
        return low, high
