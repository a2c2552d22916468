"""The epoch loop shared by the fused solvers and the NumPy reference.

A mode supplies an *epoch*: ``epoch(model, learning_rate) -> loss`` runs one epoch, updating the
:class:`Model` in place. :func:`run_epochs` owns everything around it: the schedule, the verdict
of each epoch (:mod:`fastlr.training.rules`), early stopping, the history, progress lines,
callbacks, Ctrl-C and divergence. No kernels here, so :mod:`fastlr.reference` can use it.
"""

from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fastlr._random import RandomState
from fastlr.exceptions import DivergenceError, FitInterruptedWarning
from fastlr.kernels.records import Iterate, Schedule, Stopping
from fastlr.training import rules as _rules


@dataclass
class Model:
    """A model being trained, in training coordinates, with everything a later epoch needs.

    ``coef`` (k, d) and ``intercept`` (k,) are float64 and updated in place; ``velocity``
    (k, d + 1) is the momentum buffer; ``l1_state`` the cumulative L1 penalty of sgd (or None);
    ``t`` counts the epochs run over the model's life (the schedules' clock); ``state`` is the
    loop state of :mod:`fastlr.training.rules`.
    """

    coef: np.ndarray
    intercept: np.ndarray
    velocity: np.ndarray
    l1_state: np.ndarray | None = None
    t: int = 0
    state: np.ndarray = field(default_factory=_rules.new_state)

    @classmethod
    def zeros(cls, n_outputs: int, n_features: int) -> Model:
        return cls(
            coef=np.zeros((n_outputs, n_features)),
            intercept=np.zeros(n_outputs),
            velocity=np.zeros((n_outputs, n_features + 1)),
        )

    def copy(self) -> Model:
        return copy.deepcopy(self)

    def load(self, other: Model) -> None:
        """Take ``other``'s values (arrays copied in place)."""
        self.coef[...] = other.coef
        self.intercept[...] = other.intercept
        self.velocity[...] = other.velocity
        if self.l1_state is not None and other.l1_state is not None:
            self.l1_state[...] = other.l1_state
        self.t = other.t
        self.state[...] = other.state

    def iterate(self, average: np.ndarray | None = None) -> Iterate:
        """The kernels' record of this model's arrays (the same arrays: updates write here),
        with ``average``, the running sum of iterates of an epoch, or None."""
        return Iterate(self.coef, self.intercept, self.velocity, self.l1_state, average)

    def finite(self) -> bool:
        return bool(np.isfinite(self.coef).all() and np.isfinite(self.intercept).all())


@dataclass(frozen=True)
class EpochInfo:
    """What a ``callback`` receives after each epoch (coefficients in the user's units).

    Attributes
    ----------
    epoch : int
        Epochs run in this call to ``fit`` (from 1).
    loss : float
        The epoch's training objective.
    validation_loss : float or None
        The held-out objective when ``early_stopping=True``.
    learning_rate : float
        The step the epoch used.
    coef : ndarray
        Coefficients after the epoch, in the units of X (a copy).
    intercept : ndarray
        Intercepts after the epoch.

    Examples
    --------
    >>> import fastlr
    >>> X, y, _ = fastlr.make_regression(100, 2, random_state=0)
    >>> seen = []
    >>> def stop_after_three(info):
    ...     seen.append((info.epoch, info.coef.shape))
    ...     return info.epoch < 3  # returning False stops training
    >>> model = fastlr.LinearRegression(solver="fused", callback=stop_after_three).fit(X, y)
    >>> seen, model.n_iter_
    ([(1, (2,)), (2, (2,)), (3, (2,))], 3)
    """

    epoch: int
    loss: float
    validation_loss: float | None
    learning_rate: float
    coef: np.ndarray
    intercept: np.ndarray | float


class Progress(Protocol):
    """``progress(epoch, loss, learning_rate)``, called after every epoch (epoch counts from 1),
    or after a block of epochs of the compiled Gram loop unless ``per_epoch``."""

    #: Whether every epoch must be reported (the Gram loop then runs epoch by epoch).
    per_epoch: bool

    def __call__(self, epoch: int, loss: float, learning_rate: float) -> None: ...


Epoch = Callable[[Model, float], float]


@dataclass(frozen=True)
class LoopRules:
    """How a run is judged: the numbers :func:`fastlr.training.rules.epoch_verdict` needs."""

    learning_rate: float
    schedule: int
    power_t: float
    tol: float  # < 0: never stop on a plateau
    n_iter_no_change: int
    monotone: bool
    rise_atol: float

    def schedule_from(self, t_start: int) -> Schedule:
        """The kernels' record of the step schedule, from epoch ``t_start`` of the model's life."""
        return Schedule(float(self.learning_rate), self.schedule, float(self.power_t), t_start)

    @property
    def stopping(self) -> Stopping:
        """The kernels' record of when to stop."""
        return Stopping(float(self.tol), self.n_iter_no_change, self.monotone, self.rise_atol)


@dataclass
class LoopResult:
    history: np.ndarray
    validation_history: np.ndarray | None
    n_iter: int
    converged: bool
    stopped_by_user: bool


@contextlib.contextmanager
def ctrl_c_watch() -> Iterator[list[bool]]:
    """Remember a Ctrl-C even where Python swallows its KeyboardInterrupt: raised while a
    garbage-collector callback or a ``__del__`` runs (another library's, between two epochs), it
    is only printed. In the main thread, with Python's default SIGINT handler in place, the
    handler also sets a flag for the duration of the run, which the loop checks each epoch."""
    seen = [False]
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield seen
        return

    def remember(signum: int, frame: Any) -> None:
        seen[0] = True
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, remember)
    try:
        yield seen
    finally:
        if signal.getsignal(signal.SIGINT) is remember:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def run_epochs(
    epoch: Epoch,
    model: Model,
    rules: LoopRules,
    max_epochs: int,
    *,
    validation: Callable[[Model], float] | None = None,
    progress: Progress | None = None,
    callback: Callable[[EpochInfo], Any] | None = None,
    to_user_units: Callable[[Model], tuple[np.ndarray, np.ndarray]] | None = None,
    on_nonfinite: Callable[[], None] | None = None,
) -> LoopResult:
    """Run up to ``max_epochs`` epochs of ``epoch`` on ``model``.

    With ``validation`` (early stopping), the verdict looks at the held-out loss and the model
    with the best held-out loss is restored at the end. Ctrl-C stops the run: the model goes back
    to the last completed epoch and a :class:`FitInterruptedWarning` says so. Divergence raises
    :class:`DivergenceError` naming the step.
    """
    history: list[float] = []
    validation_history: list[float] = []
    best: Model | None = None
    best_score = math.inf
    converged = stopped = False
    with ctrl_c_watch() as ctrl_c:
        for index in range(max_epochs):
            rate = _rules.epoch_learning_rate(
                rules.learning_rate, rules.schedule, model.t + 1, rules.power_t, model.state
            )
            before = model.copy()
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
                    loss = epoch(model, rate)
                    score = validation(model) if validation is not None else loss
            except KeyboardInterrupt:
                model.load(before)
                _warn_interrupted(index + 1, index)
                stopped = True
                break
            model.t += 1
            score = score if math.isfinite(loss) else math.nan
            verdict = _rules.epoch_verdict(
                model.state,
                score,
                rules.tol,
                rules.n_iter_no_change,
                rules.schedule,
                rules.monotone,
                rules.rise_atol,
            )
            if verdict >= _rules.NONFINITE:
                if verdict == _rules.NONFINITE and on_nonfinite is not None:
                    on_nonfinite()  # names a NaN/inf in the input when there is one
                raise_divergence(verdict, index + 1, loss, model.state, rate)
            history.append(loss)
            if validation is not None:
                validation_history.append(score)
                if score < best_score:
                    best_score, best = score, model.copy()
            if progress is not None:
                progress(index + 1, loss, rate)
            if callback is not None and to_user_units is not None:
                coef, intercept = to_user_units(model)
                held_out = score if validation is not None else None
                info = EpochInfo(index + 1, loss, held_out, rate, coef, intercept)
                if callback(info) is False:
                    stopped = True
                    break
            if ctrl_c[0]:  # a Ctrl-C whose KeyboardInterrupt Python swallowed (see ctrl_c_watch)
                _warn_interrupted(index + 1, index + 1)
                stopped = True
                break
            if verdict == _rules.CONVERGED:
                converged = True
                break
    if best is not None:
        model.load(best)
    if not model.finite():
        raise_divergence(_rules.NONFINITE, len(history), math.inf, model.state, rules.learning_rate)
    return LoopResult(
        np.array(history),
        np.array(validation_history) if validation is not None else None,
        len(history),
        converged or rules.tol < 0,
        stopped,
    )


def _warn_interrupted(epoch: int, kept: int) -> None:
    """The FitInterruptedWarning of a Ctrl-C in ``epoch``, pointing where run_epochs' caller's
    caller is (one frame more than a warning in run_epochs itself)."""
    warnings.warn(
        f"fit interrupted (Ctrl-C) during epoch {epoch}: kept the model of the last completed "
        f"epoch ({kept})",
        FitInterruptedWarning,
        stacklevel=5,
    )


def raise_divergence(verdict: int, epoch: int, loss: float, state: np.ndarray, rate: float) -> None:
    """Raise :class:`DivergenceError` for ``verdict``, naming the step and a safer one."""
    first = state[_rules.FIRST]
    what = {
        _rules.NONFINITE: f"the loss or the coefficients overflowed (loss {loss:g})",
        _rules.GREW: f"the loss grew to {loss:g}, {loss / first:.3g} times the first epoch's",
        _rules.ROSE: (
            f"the loss rose from {state[_rules.BEST]:g} to {loss:g} (full-batch descent with a "
            "stable step never raises it)"
        ),
    }[verdict]
    raise DivergenceError(
        f"training diverged at epoch {epoch}: {what} with learning_rate={rate:g}. Try a "
        f"smaller step, e.g. learning_rate={rate / 10:g}, or standardize=True."
    )


#: Rounds of the Feistel network that shuffles the rows of an epoch.
SHUFFLE_ROUNDS = 4


class RowOrder:
    """The key of each epoch's row order: empty (rows in order) or a fresh random permutation.

    A shuffled epoch gets ``[half_bits, key_1, ..., key_4]``: the kernels (and
    :func:`fastlr.reference.row_order`) turn position ``k`` into a row with a keyed Feistel
    permutation, so no n-sized index array is stored or reshuffled. Seeded alike, the fused
    solvers and the reference visit rows in the same order.
    """

    def __init__(self, n_samples: int, shuffle: bool, random_state: RandomState) -> None:
        self._rng = np.random.default_rng(random_state) if shuffle else None
        bits = max(1, (n_samples - 1).bit_length())
        self._half_bits = (bits + bits % 2) // 2  # each half of an even-bit domain >= n

    def next(self) -> np.ndarray:
        if self._rng is None:
            return np.empty(0, dtype=np.uint64)
        keys = self._rng.integers(0, 2**64, size=SHUFFLE_ROUNDS, dtype=np.uint64)
        return np.concatenate([np.array([self._half_bits], dtype=np.uint64), keys])
