"""The NumPy engine: :class:`NumpyBackend`, the :class:`~fastlr.training.backend.Backend` of
:class:`fastlr.reference.LinearRegression`, and the twins of the epoch kernels it runs.

These are the reference's twins of the keyed row order, the parameter update and the sgd and
mini-batch epochs (:mod:`fastlr.reference` re-exports the public ones, which is where the test
suite and the benchmarks call them). Like the rest of the reference they are written to be
read, not to be fast: whole-array NumPy, float64 sums whatever the input dtype, and no kernel
called (they take the kernels' records, :mod:`fastlr.kernels.records`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastlr.engines.calls import EpochCalls
from fastlr.engines.inspect_rows import ArrayRows
from fastlr.engines.numpy_compensated import compensated_loss_gradient
from fastlr.kernels.records import Iterate, Linear, Momentum, Penalty, Rows
from fastlr.training.settings import GramProblem, Moments, Scaling, TrainSettings

__all__ = [
    "NumpyBackend",
    "fold_blocks",
    "minibatch_epoch",
    "row_order",
    "sgd_epoch",
    "update_parameters",
]


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)


def row_order(n: int, shuffle: np.ndarray) -> np.ndarray:
    """The rows an epoch visits, in order: twin of the kernels' keyed permutation.

    An empty ``shuffle`` means 0, 1, ..., n - 1. Otherwise ``shuffle = [h, k1, k2, k3, k4]``
    and each position goes through a 4-round Feistel network on ``2h``-bit numbers (halves of
    ``h`` bits), again and again until it lands below ``n`` (cycle walking): a permutation.

    Parameters
    ----------
    n : int
        Rows in the data.
    shuffle : ndarray of uint64, empty or of shape (5,)
        The epoch's key, as :class:`fastlr.training.loop.RowOrder` draws it.

    Returns
    -------
    ndarray of shape (n,), intp
        The row visited at each position of the epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import reference
    >>> reference.row_order(5, np.empty(0, dtype=np.uint64))
    array([0, 1, 2, 3, 4])
    >>> order = reference.row_order(5, np.array([2, 11, 12, 13, 14], dtype=np.uint64))
    >>> sorted(order.tolist())  # a permutation of the rows
    [0, 1, 2, 3, 4]
    """
    positions = np.arange(n, dtype=np.uint64)
    if shuffle.size == 0:
        return positions.astype(np.intp)
    half, k1, k2, k3, k4 = shuffle
    mask = (np.uint64(1) << half) - np.uint64(1)

    def round_function(half_value: np.ndarray, key: np.uint64) -> np.ndarray:
        z = (half_value ^ key) * _MIX1  # wraps mod 2**64, like the kernels' uint64
        mixed: np.ndarray = (z ^ (z >> np.uint64(32))) & mask
        return mixed

    def feistel(x: np.ndarray) -> np.ndarray:
        left, right = x >> half, x & mask
        left ^= round_function(right, k1)
        right ^= round_function(left, k2)
        left ^= round_function(right, k3)
        right ^= round_function(left, k4)
        combined: np.ndarray = (left << half) | right
        return combined

    rows = feistel(positions)
    outside = rows >= n
    while outside.any():
        rows[outside] = feistel(rows[outside])
        outside = rows >= n
    return rows.astype(np.intp)


def _standardized(X: np.ndarray, shift: np.ndarray | None, scale: np.ndarray | None) -> np.ndarray:
    """X in training coordinates, as a float64 copy (the reference may copy; the kernels don't)."""
    Z = X.astype(np.float64)
    if shift is not None and scale is not None:
        Z = (Z - shift) * scale
    return Z


def update_parameters(
    iterate: Iterate,
    grad: np.ndarray,
    learning_rate: float,
    penalty: Penalty,
    momentum: Momentum,
    fit_intercept: bool,
) -> None:
    """Twin of :func:`fastlr.training.rules.update_parameters`, in whole-array NumPy: one step.

    ``grad`` (k, d + 1) holds the gradient of the squared loss, the intercept's in the last
    column. The step adds ``l2 * coef``, applies (Nesterov) momentum through
    ``iterate.velocity``, moves ``iterate.coef`` and ``.intercept`` in place, then
    soft-thresholds ``coef`` by ``learning_rate * l1``.

    Parameters
    ----------
    iterate : Iterate
        ``coef`` (k, d), ``intercept`` (k,) and ``velocity`` (k, d + 1), float64, updated in
        place (its ``l1_state`` and ``average`` are not read).
    grad : ndarray of shape (k, d + 1)
    learning_rate : float
    penalty : Penalty
        ``l2`` and ``l1``.
    momentum : Momentum
        ``beta`` (0.0: none) and ``nesterov``.
    fit_intercept : bool
        When False the intercept does not move.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import reference
    >>> from fastlr.kernels.records import Iterate, Momentum, Penalty
    >>> coef, intercept, velocity = np.zeros((1, 2)), np.zeros(1), np.zeros((1, 3))
    >>> grad = np.array([[1.0, -2.0, 0.5]])
    >>> iterate = Iterate(coef, intercept, velocity, None, None)
    >>> reference.update_parameters(
    ...     iterate, grad, 0.5, Penalty(0.0, 0.0), Momentum(0.0, False), True
    ... )
    >>> coef, intercept
    (array([[-0.5,  1. ]]), array([-0.25]))
    """
    coef, intercept, velocity = iterate.coef, iterate.intercept, iterate.velocity
    l2, l1 = penalty
    g = grad.copy()
    g[:, :-1] += l2 * coef
    if not fit_intercept:
        g[:, -1] = 0.0
    if momentum.beta > 0:
        velocity *= momentum.beta
        velocity += g
        g = g + momentum.beta * velocity if momentum.nesterov else velocity.copy()
    coef -= learning_rate * g[:, :-1]
    intercept -= learning_rate * g[:, -1]
    if l1 > 0:
        coef[...] = np.sign(coef) * np.maximum(np.abs(coef) - learning_rate * l1, 0.0)


def _accumulate(average: np.ndarray | None, coef: np.ndarray, intercept: np.ndarray) -> None:
    """Add the iterate to ``average`` (k, d + 2): coef, intercept, and the count in [0, d + 1]."""
    if average is not None:
        d = coef.shape[1]
        average[:, :d] += coef
        average[:, d] += intercept
        average[0, d + 1] += 1


def sgd_epoch(
    rows: Rows,
    iterate: Iterate,
    learning_rate: float,
    shuffle: np.ndarray,
    lo: int,
    hi: int,
    fit_intercept: bool,
    scaling: Scaling,
    penalty: Penalty,
) -> float:
    """Twin of the sgd kernel: one update per sample at epoch positions [lo, hi) of
    :func:`row_order`, ``iterate.coef`` (k, d) and ``.intercept`` (k,) updated in place.

    Each sample's residual ``r`` is taken before its own update; the step is
    ``learning_rate * w * r`` along the standardized row ``z = (x - shift) * scale`` (raw
    ``x`` when the scaling is None), after multiplying ``coef`` by ``1 - learning_rate * l2``.

    Parameters
    ----------
    rows : Rows
        ``X`` (n_samples, d), ``Y`` (n_samples, k), ``sample_weight`` (n_samples,) or None.
    iterate : Iterate
        ``coef`` and ``intercept``, float64, updated in place; ``l1_state`` (k * d + 1,) or
        None, the cumulative L1 penalty's state (Tsuruoka et al., 2009); ``average``
        (k, d + 2) or None, which accumulates each iterate for Polyak-Ruppert averaging.
    learning_rate : float
    shuffle : ndarray of uint64
        The epoch's key (see :func:`row_order`).
    lo, hi : int
        The epoch positions this call covers.
    fit_intercept : bool
    scaling : Scaling
        ``shift`` and ``scale``, arrays of shape (d,) or both None.
    penalty : Penalty
        ``l2`` (the decay) and ``l1`` (its cumulative step is ``learning_rate * l1``).

    Returns
    -------
    float
        ``Σ w · r²`` over the samples visited.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import reference
    >>> from fastlr.kernels.records import Iterate, Penalty, Rows, Scaling
    >>> X, Y = np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]])
    >>> coef, intercept = np.zeros((1, 1)), np.zeros(1)
    >>> iterate = Iterate(coef, intercept, np.zeros((1, 2)), None, None)
    >>> no_shuffle = np.empty(0, dtype=np.uint64)
    >>> total = reference.sgd_epoch(
    ...     Rows(X, Y, None), iterate, 0.1, no_shuffle, 0, 2, False, Scaling(None, None),
    ...     Penalty(0.0, 0.0),
    ... )
    >>> round(total, 6), coef.round(6)  # r = -2, then r = 0.2 * 2 - 4 = -3.6
    (16.96, array([[0.92]]))
    """
    X, Y, sample_weight = rows
    coef, intercept, _, l1_state, average = iterate
    shift, scale = scaling
    decay, l1_step = 1.0 - learning_rate * penalty.l2, learning_rate * penalty.l1
    k, d = coef.shape
    total = 0.0
    for i in row_order(X.shape[0], shuffle)[lo:hi]:
        z = _standardized(X[i : i + 1], shift, scale)[0]
        w = 1.0 if sample_weight is None else float(sample_weight[i])
        r = coef @ z + intercept - Y[i].astype(np.float64)
        total += w * float(r @ r)
        step = learning_rate * w * r
        coef *= decay
        coef -= np.outer(step, z)
        if fit_intercept:
            intercept -= step
        if l1_state is not None:  # cumulative L1 penalty (Tsuruoka et al., 2009)
            l1_state[-1] += l1_step
            u = l1_state[-1]
            q = l1_state[:-1].reshape(k, d)
            before = coef.copy()
            positive = coef > 0
            negative = coef < 0
            coef[positive] = np.maximum(0.0, coef[positive] - (u + q[positive]))
            coef[negative] = np.minimum(0.0, coef[negative] + (u - q[negative]))
            q += coef - before
        _accumulate(average, coef, intercept)
    return total


def minibatch_epoch(
    rows: Rows,
    iterate: Iterate,
    learning_rate: float,
    shuffle: np.ndarray,
    lo: int,
    hi: int,
    batch_size: int,
    fit_intercept: bool,
    scaling: Scaling,
    penalty: Penalty,
    momentum: Momentum,
) -> float:
    """Twin of the mini-batch kernel: one :func:`update_parameters` step per batch of epoch
    positions [lo, hi), on the batch's gradient in training coordinates.

    Parameters
    ----------
    rows : Rows
        ``X`` (n_samples, d), ``Y`` (n_samples, k), ``sample_weight`` (n_samples,) or None.
    iterate : Iterate
        ``coef``, ``intercept`` and ``velocity``, float64, updated in place; ``average``
        (k, d + 2) or None.
    learning_rate : float
    shuffle : ndarray of uint64
        The epoch's key (see :func:`row_order`).
    lo, hi : int
        The epoch positions this call covers.
    batch_size : int
    fit_intercept : bool
    scaling : Scaling
        ``shift`` and ``scale``, arrays of shape (d,) or both None.
    penalty : Penalty
    momentum : Momentum

    Returns
    -------
    float
        ``Σ w · r²`` over the samples visited, each batch's residuals before its step.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import reference
    >>> from fastlr.kernels.records import Iterate, Momentum, Penalty, Rows, Scaling
    >>> X, Y = np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]])
    >>> coef, intercept = np.zeros((1, 1)), np.zeros(1)
    >>> iterate = Iterate(coef, intercept, np.zeros((1, 2)), None, None)
    >>> no_shuffle = np.empty(0, dtype=np.uint64)
    >>> total = reference.minibatch_epoch(
    ...     Rows(X, Y, None), iterate, 0.1, no_shuffle, 0, 2, 2, True, Scaling(None, None),
    ...     Penalty(0.0, 0.0), Momentum(0.0, False),
    ... )
    >>> total, coef, intercept.round(6)  # one batch: gradient (-5, -3)
    (20.0, array([[0.5]]), array([0.3]))
    """
    X, Y, sample_weight = rows
    coef, intercept, average = iterate.coef, iterate.intercept, iterate.average
    shift, scale = scaling
    visited = row_order(X.shape[0], shuffle)[lo:hi]
    total = 0.0
    for start in range(0, visited.size, batch_size):
        batch = visited[start : start + batch_size]
        Z = _standardized(X[batch], shift, scale)
        w = np.ones(batch.size) if sample_weight is None else sample_weight[batch]
        R = Z @ coef.T + intercept - Y[batch].astype(np.float64)
        total += float((w[:, None] * R * R).sum())
        if w.sum() <= 0:
            continue
        grad = np.hstack([(w[:, None] * R).T @ Z, (w[:, None] * R).sum(axis=0)[:, None]])
        update_parameters(iterate, grad / w.sum(), learning_rate, penalty, momentum, fit_intercept)
        _accumulate(average, coef, intercept)
    return total


def fold_blocks(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    first_row: int,
    block_rows: int,
    per_group: int,
    W: np.ndarray,
    mean: np.ndarray,
    G: np.ndarray,
) -> None:
    """Twin of the Gram pass's kernel (``kernels.fold_blocks_serial``): each block of
    ``block_rows`` rows of [X, Y] (rows ``first_row`` on of the data), centered on its own
    weighted means, and its cross products merged by Chan's formula into the state of its group
    (``W[g]``, ``mean[g]``, ``G[g]``: Σ w, the means, the cross products; the kernel writes only
    the upper triangle of ``G[g]``, padded to a multiple of 4).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr.engines.numpy import fold_blocks
    >>> W, mean, G = np.zeros(1), np.zeros((1, 2)), np.zeros((1, 4, 4))
    >>> fold_blocks(np.array([[1.0], [3.0]]), np.array([[0.0], [4.0]]), None, 0, 2, 1, W, mean, G)
    >>> W, mean, G[0, :2, :2]
    (array([2.]), array([[2., 2.]]), array([[2., 4.],
           [4., 8.]]))
    """
    m = X.shape[1] + Y.shape[1]
    for start in range(0, X.shape[0], block_rows):
        stop = min(start + block_rows, X.shape[0])
        block = np.hstack([X[start:stop], Y[start:stop]]).astype(np.float64)
        w = np.ones(stop - start) if sample_weight is None else sample_weight[start:stop]
        Wb = float(w.sum())
        if Wb == 0.0:
            continue
        g = (first_row + start) // block_rows // per_group
        mean_b = (w @ block) / Wb
        centered = block - mean_b
        delta = mean_b - mean[g]
        total = W[g] + Wb
        G[g, :m, :m] += (w[:, None] * centered).T @ centered + (W[g] * Wb / total) * np.outer(
            delta, delta
        )
        mean[g] += delta * (Wb / total)
        W[g] = total


class NumpyBackend(EpochCalls, ArrayRows):
    """The engine protocol (:class:`~fastlr.training.backend.Backend`) in plain NumPy (materializes
    what the kernels avoid)."""

    update_parameters = staticmethod(update_parameters)
    sgd_epoch = staticmethod(sgd_epoch)
    minibatch_epoch = staticmethod(minibatch_epoch)

    gram_epochs = None
    hogwild = None

    def moments(self, rows: Rows, gram: bool) -> Moments:
        X, Y, sample_weight = rows
        w = np.ones(rows.n) if sample_weight is None else sample_weight
        W = float(w.sum())
        x_mean = np.average(X.astype(np.float64), axis=0, weights=w)
        y_mean = np.average(Y.astype(np.float64), axis=0, weights=w)
        Xc = X.astype(np.float64) - x_mean
        Yc = Y.astype(np.float64) - y_mean
        x_var = (w[:, None] * Xc * Xc).sum(axis=0) / W
        if not gram:
            return Moments(W, x_mean, y_mean, None, None, None, x_var)
        xx = (w[:, None] * Xc).T @ Xc
        xy = (w[:, None] * Xc).T @ Yc
        yy = (w[:, None] * Yc * Yc).sum(axis=0)
        return Moments(W, x_mean, y_mean, xx, xy, yy, x_var)

    def row_norm_bounds(self, rows: Rows, scaling: Scaling, intercept: bool) -> tuple[float, float]:
        Z = _standardized(rows.X, scaling.shift, scaling.scale)
        w = np.ones(rows.n) if rows.sample_weight is None else rows.sample_weight
        norms = w * ((Z * Z).sum(axis=1) + (1.0 if intercept else 0.0))
        return float(norms.max()), float(norms.sum())

    def loss_gradient(
        self, rows: Rows, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        (X, Y, sample_weight), (coef, intercept) = rows, model
        X64 = X.astype(np.float64, copy=False)
        R = X64 @ coef.T + intercept - Y.astype(np.float64, copy=False)
        weighted = R if sample_weight is None else sample_weight[:, None] * R
        grad[:, :-1] = weighted.T @ X64 / total_weight
        grad[:, -1] = weighted.sum(axis=0) / total_weight
        return 0.5 * float((weighted * R).sum()) / total_weight

    def compensated_loss_gradient(
        self, rows: Rows, total_weight: float, model: Linear, grad: np.ndarray
    ) -> float:
        (X, Y, sample_weight), (coef, intercept) = rows, model
        return compensated_loss_gradient(X, Y, sample_weight, coef, intercept, total_weight, grad)

    def gram_loss_gradient(
        self, problem: GramProblem, coef: np.ndarray, intercept: np.ndarray, grad: np.ndarray
    ) -> float:
        u = intercept - problem.y_mean
        Hw = coef @ problem.H
        grad[:, :-1] = Hw - problem.C.T + np.outer(u, problem.mean_z)
        grad[:, -1] = u + coef @ problem.mean_z
        quad = (coef * Hw).sum(axis=1) - 2 * (coef * problem.C.T).sum(axis=1)
        return 0.5 * float((quad + 2 * u * (coef @ problem.mean_z) + u * u + problem.y_var).sum())


@dataclass(frozen=True)
class NumpyEngine:
    """The reference's engine: :class:`NumpyBackend` on X, one thread (the reference is serial)."""

    n_threads: int = 1

    def backend(self, X: np.ndarray, settings: TrainSettings) -> NumpyBackend:
        return NumpyBackend()

    def predict(
        self, X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, out: np.ndarray
    ) -> None:
        out[...] = X.astype(np.float64) @ coef.T + intercept


class NumpyEngines:
    """:class:`fastlr.reference.LinearRegression`'s choice: NumPy on any X, no Dask."""

    dask = False

    def for_array(self, X: np.ndarray, n_jobs: int | None) -> NumpyEngine:
        return NumpyEngine()


#: The engine choice of :class:`fastlr.reference.LinearRegression`.
NUMPY = NumpyEngines()
