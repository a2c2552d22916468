"""The small typed records the kernels take instead of long lists of positional floats.

Each is a :class:`typing.NamedTuple`: Python code builds it once per run (or per epoch call), and
numba passes it to a kernel as one typed value (a tuple of its fields; a field left None is
typed ``none``, and the helper that receives it prunes its branch at compile time). The NumPy
twins in :mod:`fastlr.engines.numpy` take the same records.

- :class:`Rows`: the training rows and their weights; :class:`Linear`, a model in their units.
- :class:`Iterate`: the model being trained and the buffers its updates write.
- :class:`Scaling`: the standardization, training coordinates ``z = (x - shift) * scale``.
- :class:`Penalty`, :class:`Momentum`: the update rule's options.
- :class:`GramProblem`, :class:`Schedule`, :class:`Stopping`: what the compiled Gram loop reads.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Rows(NamedTuple):
    """``X`` (n, d), ``Y`` (n, k) and ``sample_weight`` (n,), or None for unit weights."""

    X: np.ndarray
    Y: np.ndarray
    sample_weight: np.ndarray | None

    @property
    def n(self) -> int:
        """Rows."""
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Features."""
        return int(self.X.shape[1])

    @property
    def k(self) -> int:
        """Outputs."""
        return int(self.Y.shape[1])

    def total_weight(self) -> float:
        """Σ w (n without weights)."""
        w = self.sample_weight
        return float(self.X.shape[0] if w is None else w.sum())


class Linear(NamedTuple):
    """A linear model in the units of X: ``coef`` (k, d) and ``intercept`` (k,)."""

    coef: np.ndarray
    intercept: np.ndarray


class Iterate(NamedTuple):
    """What an epoch updates in place: ``coef`` (k, d) and ``intercept`` (k,), float64, in
    training coordinates; the momentum buffer ``velocity`` (k, d + 1); sgd's cumulative L1
    state ``l1_state`` (k·d + 1,) and the running sum of iterates ``average`` (k, d + 2), each
    None where that option is off."""

    coef: np.ndarray
    intercept: np.ndarray
    velocity: np.ndarray
    l1_state: np.ndarray | None
    average: np.ndarray | None


class Penalty(NamedTuple):
    """The objective's ``l2/2 · ||w||² + l1 · ||w||₁`` (floats; 0.0 for off)."""

    l2: float
    l1: float


class Momentum(NamedTuple):
    """Heavy-ball momentum ``beta`` (0.0 for off), Nesterov's form when ``nesterov``."""

    beta: float
    nesterov: bool


class Schedule(NamedTuple):
    """The step of epoch ``t`` (:func:`fastlr.training.rules.epoch_learning_rate`), the first
    epoch of a call being ``t_start``."""

    learning_rate: float
    schedule: int
    power_t: float
    t_start: int


class Stopping(NamedTuple):
    """When the loop stops (:func:`fastlr.training.rules.epoch_verdict`)."""

    tol: float
    n_iter_no_change: int
    monotone: bool
    rise_atol: float


class GramProblem(NamedTuple):
    """The least-squares problem in training coordinates, as sufficient statistics:
    ``H = E_w[z zᵀ]``, ``C = E_w[z (y - ȳ)ᵀ]``, ``mean_z = E_w[z]``, ``y_mean``, ``y_var``."""

    H: np.ndarray
    C: np.ndarray
    mean_z: np.ndarray
    y_mean: np.ndarray
    y_var: np.ndarray


class Scaling(NamedTuple):
    """Training coordinates ``z = (x - shift) * scale``; both None for raw coordinates.

    Examples
    --------
    >>> import numpy as np
    >>> s = Scaling(np.array([1.0]), np.array([0.5]))
    >>> coef, intercept = s.to_user(np.array([[2.0]]), np.array([3.0]))
    >>> coef, intercept
    (array([[1.]]), array([2.]))
    >>> s.to_training(coef, intercept)
    (array([[2.]]), array([3.]))
    """

    shift: np.ndarray | None
    scale: np.ndarray | None

    def to_user(self, coef: np.ndarray, intercept: np.ndarray) -> Linear:
        """The same model in the units of X: ``coef * scale`` and ``b - (coef * scale)·shift``."""
        if self.shift is None or self.scale is None:
            return Linear(coef.copy(), intercept.copy())
        raw = coef * self.scale
        return Linear(raw, intercept - raw @ self.shift)

    def to_training(self, coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`to_user`."""
        if self.shift is None or self.scale is None:
            return coef.copy(), intercept.copy()
        return coef / self.scale, intercept + coef @ self.shift

    def gradient_to_training(self, grad: np.ndarray) -> np.ndarray:
        """A raw-unit gradient (k, d + 1) at the model's raw twin -> training coordinates."""
        if self.shift is None or self.scale is None:
            return grad
        out: np.ndarray = grad.copy()
        out[:, :-1] = self.scale * (grad[:, :-1] - np.outer(grad[:, -1], self.shift))
        return out
