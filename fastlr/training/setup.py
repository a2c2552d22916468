"""Set-up before the epochs: standardization, the Gram problem, the path, the epoch budget, the
step size (power iterations or row norms), the momentum, the checks of the moments; and
:func:`start`, the start-up every run shares, which resolves them into a :class:`Start`.

Training coordinates: with ``standardize=True`` the model is trained on
``z = (x - shift) * scale`` (``shift`` the weighted column means, or 0 without an intercept;
``scale`` 1 / the standard deviation), which the kernels apply on the fly: X is never copied.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, Generic

import numpy as np

from fastlr.exceptions import DivergenceError
from fastlr.kernels.records import Rows
from fastlr.training import rules as _rules
from fastlr.training.accuracy import hessian
from fastlr.training.backend import Backend, R, Shaped
from fastlr.training.loop import Epoch, EpochInfo, LoopResult, LoopRules, Model, run_epochs
from fastlr.training.settings import (
    DEFAULT_MAX_ITER,
    GRAM_MAX_ITER,
    GramProblem,
    Moments,
    Scaling,
    Trained,
    TrainSettings,
)

#: Power iterations (full fused passes) of the automatic batch step on the data path, at most.
POWER_ITERATIONS = 20

#: The sufficient-statistics path is used when d is at most this (the d x d matrix stays small)...
GRAM_MAX_FEATURES = 2048

#: ...and the epochs asked for outnumber the features (the set-up costs about d / 8 passes).
GRAM_EPOCHS_PER_FEATURE = 1.0


# --------------------------------------------------------------------------- set-up
def scaling_from(moments: Moments, s: TrainSettings) -> Scaling:
    """Standardization from the moments (constant columns keep scale 1)."""
    if not s.standardize:
        return Scaling(None, None)
    mean, var = moments.x_mean, moments.x_var
    if s.fit_intercept:
        shift, spread = mean.copy(), np.sqrt(var)
    else:
        shift, spread = np.zeros_like(mean), np.sqrt(var + mean * mean)
    constant = spread <= 1e-12 * np.maximum(np.abs(mean), np.finfo(float).tiny)
    scale = np.where(constant, 1.0, 1.0 / np.where(constant, 1.0, spread))
    return Scaling(shift, scale)


def gram_problem(moments: Moments, scaling: Scaling) -> GramProblem:
    """Sufficient statistics in training coordinates, from centered moments."""
    assert moments.xx is not None
    assert moments.xy is not None
    assert moments.yy is not None
    W = moments.total_weight
    d = moments.x_mean.shape[0]
    shift = scaling.shift if scaling.shift is not None else np.zeros(d)
    scale = scaling.scale if scaling.scale is not None else np.ones(d)
    offset = moments.x_mean - shift
    H = (moments.xx / W + np.outer(offset, offset)) * np.outer(scale, scale)
    return GramProblem(
        H=H,
        C=scale[:, None] * moments.xy / W,
        mean_z=scale * offset,
        y_mean=moments.y_mean,
        y_var=moments.yy / W,
    )


def use_gram(rows: Shaped, s: TrainSettings) -> bool:
    if s.mode != "batch" or s.solver == "fused":
        return False
    if s.solver == "gram":
        return True
    n, d = rows.n, rows.d
    enough = s.max_iter is None or s.max_iter >= GRAM_EPOCHS_PER_FEATURE * d
    return bool(d <= GRAM_MAX_FEATURES and n >= 2 * d and enough)


def epoch_budget(rows: Shaped, s: TrainSettings, gram: bool) -> int:
    """``max_iter``, or for None: DEFAULT_MAX_ITER epochs over the data, or on the sufficient-
    statistics path as many iterations as those epochs would cost."""
    if s.max_iter is not None:
        return s.max_iter
    if not gram:
        return DEFAULT_MAX_ITER
    n, d = rows.n, rows.d
    return int(min(GRAM_MAX_ITER, max(DEFAULT_MAX_ITER, DEFAULT_MAX_ITER * n // max(d, 1))))


def gram_spectrum(problem: GramProblem, s: TrainSettings) -> tuple[float, float]:
    """The extreme eigenvalues (top, bottom) of the Hessian in training coordinates, the
    intercept's row and column and the L2 term included (NaN for non-finite statistics)."""
    if not (np.isfinite(problem.H).all() and np.isfinite(problem.C).all()):
        return math.nan, math.nan
    A = hessian(problem.H, problem.mean_z, s.l2, s.fit_intercept)
    values = np.linalg.eigvalsh(A)
    return float(values[-1]), float(values[0])


def resolve_momentum(
    s: TrainSettings, spectrum: tuple[float, float] | None, rate: float
) -> tuple[TrainSettings, float, bool]:
    """``momentum=None`` (automatic): Nesterov's momentum tuned to the condition number where
    the spectrum is known and the step automatic (the sufficient-statistics path, constant
    schedule, no L1), else 0.
    Returns the settings with a number for momentum, the step, and whether it was tuned."""
    if s.momentum is not None:
        return s, rate, False
    tune = (
        spectrum is not None
        and s.learning_rate is None
        and s.schedule == _rules.CONSTANT
        and s.l1 == 0
        and 0 < spectrum[1] <= spectrum[0] <= _rules.MAX_CERTIFIED_CONDITION * spectrum[1]
    )
    if not tune:
        return dataclasses.replace(s, momentum=0.0), rate, False
    assert spectrum is not None
    rate, momentum = _rules.tuned_momentum(*spectrum)
    tuned = momentum > 0
    return dataclasses.replace(s, momentum=momentum, nesterov=tuned), rate, tuned


def power_step_size(
    backend: Backend[R], rows: R, total_weight: float, scaling: Scaling, s: TrainSettings
) -> float:
    """1 / the largest eigenvalue of the Hessian by power iteration on the fused pass.

    The gradient is affine in the parameters, so ``H v = g(v) - g(0)``: one pass per iteration.
    """
    d = rows.d
    zero_y = backend.zero_targets(rows)

    def hessian_times(v: np.ndarray) -> np.ndarray:
        grad = np.empty((1, d + 1))
        user = scaling.to_user(v[None, :d], np.array([v[d]]))
        backend.loss_gradient(zero_y, total_weight, user, grad)
        g: np.ndarray = scaling.gradient_to_training(grad)[0]
        if not s.fit_intercept:
            g[d] = 0.0
        return g

    v = np.ones(d + 1) / math.sqrt(d + 1)
    if not s.fit_intercept:
        v[d] = 0.0
        v /= np.linalg.norm(v)
    top = 0.0
    for _ in range(POWER_ITERATIONS):
        hv = hessian_times(v)
        estimate = float(v @ hv)
        norm = float(np.linalg.norm(hv))
        if norm == 0.0 or not math.isfinite(norm):
            break
        v = hv / norm
        converged = abs(estimate - top) <= 1e-3 * estimate
        top = estimate
        if converged:
            break
    top += s.l2
    return 1.0 / top if top > 0 else 1.0


def stochastic_step_size(max_norm: float, mean_norm: float, s: TrainSettings) -> float:
    """SAG's step: 1 / the largest per-sample curvature (sgd), or for batches of b rows
    1 / (mean curvature + largest / b), a bound on the expected smoothness of a batch."""
    curvature = max_norm if s.mode == "sgd" else mean_norm + max_norm / s.batch_size
    curvature += s.l2
    return 1.0 / curvature if curvature > 0 else 1.0


def starting_point(
    backend: Backend[R], rows: R, total_weight: float, s: TrainSettings, *, gram: bool
) -> tuple[Scaling, GramProblem | None, tuple[float, float] | None, Model, float]:
    """What a first run needs from the data: the scaling, the sufficient statistics (``gram``)
    and their spectrum, a zero model in training coordinates and the step (automatic unless
    given)."""
    k, d = rows.k, rows.d
    with np.errstate(all="ignore"):  # NaN/inf input is named below
        moments = backend.moments(rows, gram) if gram or s.standardize else None
    if moments is not None:
        _check_moments(moments, backend, rows)
        _check_underflow(moments, backend, rows)
    scaling = scaling_from(moments, s) if moments is not None else Scaling(None, None)
    problem = gram_problem(moments, scaling) if gram and moments is not None else None
    with np.errstate(all="ignore"):
        spectrum = gram_spectrum(problem, s) if problem is not None else None
    model = Model.zeros(k, d)
    if s.mode == "sgd" and s.l1 > 0:
        model.l1_state = np.zeros(k * d + 1)
    rate = s.learning_rate
    if rate is None:
        with np.errstate(all="ignore"):
            rate = _auto_step(backend, rows, total_weight, scaling, spectrum, s)
        if not math.isfinite(rate):
            backend.raise_if_not_finite(rows)
    return scaling, problem, spectrum, model, rate


# --------------------------------------------------------------------------- the start-up
@dataclasses.dataclass(frozen=True)
class Fit(Generic[R]):
    """A run's data and what its start-up fixed, as the epochs and the checks of the answer
    read them: the engine's passes, the rows (training weights: held-out rows at 0) and their
    total weight, the final settings and the scaling."""

    backend: Backend[R]
    rows: R
    total_weight: float
    s: TrainSettings
    scaling: Scaling


@dataclasses.dataclass
class Start(Generic[R]):
    """A run after :func:`start`: its :class:`Fit`, the model in training coordinates, the step,
    and on the sufficient-statistics path the Gram problem, its spectrum and whether the
    momentum was tuned to it."""

    fit: Fit[R]
    model: Model
    rate: float
    problem: GramProblem | None = None
    spectrum: tuple[float, float] | None = None
    tuned: bool = False

    def rules(self, *, validating: bool = False, chunk: bool = False) -> LoopRules:
        """The epoch loop's rules. The loss must fall at every epoch only where it is exact and
        nothing else steers the loop (batch, no momentum, no L1, no validation set); a chunk of
        ``partial_fit`` (``chunk``) neither converges nor is held to that (chunks differ)."""
        s = self.fit.s
        exact = s.mode == "batch" and s.heavy_ball == 0 and s.l1 == 0
        return LoopRules(
            learning_rate=self.rate,
            schedule=s.schedule,
            power_t=s.power_t,
            tol=-1.0 if s.tol is None or chunk else s.tol,
            n_iter_no_change=s.n_iter_no_change,
            monotone=exact and not validating and not chunk,
            rise_atol=1e-12 if self.problem is not None else 1e-20,
        )

    def epochs(
        self, epoch: Epoch, callback: Callable[[EpochInfo], Any] | None = None
    ) -> functools.partial[LoopResult]:
        """:func:`~fastlr.training.loop.run_epochs` of ``epoch`` on the model with the run's
        callbacks (``callback`` sees the model in the units of X; a non-finite loss names bad
        input): call it with the rules, the epochs and the options. A partial, which adds no
        Python frame: the loop's Ctrl-C warning keeps its stacklevel."""
        backend, rows, scaling = self.fit.backend, self.fit.rows, self.fit.scaling
        return functools.partial(
            run_epochs,
            epoch,
            self.model,
            callback=callback,
            to_user_units=lambda m: scaling.to_user(m.coef, m.intercept),
            on_nonfinite=lambda: name_bad_input(backend, rows),
        )


def start(
    backend: Backend[R],
    rows: R,
    total_weight: float,
    s: TrainSettings,
    *,
    gram: bool = False,
    init: tuple[np.ndarray, np.ndarray] | None = None,
    previous: Trained | None = None,
    batch_rows: int | None = None,
) -> Start[R]:
    """The start-up every run shares (``train``, ``partial``; the Dask engine's averaged
    training fits it too). The settings are resolved: ``batch_size`` at most ``batch_rows``
    (default: X's rows; 2**63 must not overflow), the epoch budget (:func:`epoch_budget`), the
    momentum (:func:`resolve_momentum`). The model is :func:`starting_point`'s, set to ``init``
    (coef, intercept in the units of X) when given, or ``previous``'s, continued with its
    scaling and step (the later chunks of ``partial_fit``)."""
    most = rows.n if batch_rows is None else batch_rows
    s = dataclasses.replace(
        s, batch_size=min(s.batch_size, most), max_iter=epoch_budget(rows, s, gram)
    )
    if previous is None:
        scaling, problem, spectrum, model, rate = starting_point(
            backend, rows, total_weight, s, gram=gram
        )
        if init is not None:
            model.coef[...], model.intercept[...] = scaling.to_training(*init)
    else:
        model, scaling, problem, spectrum = previous.model.copy(), previous.scaling, None, None
        rate = s.learning_rate if s.learning_rate is not None else previous.learning_rate
        if s.mode == "sgd" and s.l1 > 0 and model.l1_state is None:
            model.l1_state = np.zeros(rows.k * rows.d + 1)
    s, rate, tuned = resolve_momentum(s, spectrum, rate)
    fit = Fit(backend, rows, total_weight, s, scaling)
    return Start(fit, model, rate, problem, spectrum, tuned)


def name_bad_input(backend: Backend[R], rows: R) -> None:
    """On a non-finite loss: name a NaN/inf in the input, or say that its values are too large
    to square in float64 (rather than blaming the step). Returns when the input looks sound."""
    backend.raise_if_not_finite(rows)
    big_x, big_y = backend.max_abs(rows)
    big = max(big_x, big_y)
    if not math.isfinite(big * big * rows.n):  # (float products overflow to inf)
        raise DivergenceError(
            f"the loss overflowed: max |X| = {big_x:g}, max |y| = {big_y:g}; values this large "
            "cannot be squared and summed in float64, rescale them"
        )


#: Values below this magnitude (about 1.5e-154) have subnormal squares: they lose precision.
_TINY = math.sqrt(np.finfo(np.float64).tiny)


def _check_underflow(moments: Moments, backend: Backend[R], rows: R) -> None:
    """Refuse a non-constant column so small that its squares underflow: its variance reads as
    about 0, so standardization would leave it unscaled and training would silently ignore it.

    Only columns whose root mean square is below ``_TINY`` (all-zero columns among them) are
    read again, together, in blocks of rows.
    """
    with np.errstate(under="ignore"):
        rms = np.sqrt(moments.x_mean**2 + moments.x_var)
    columns = np.flatnonzero(rms < _TINY)
    if columns.size == 0:
        return
    low, high = backend.column_range(rows, columns)
    for j, lo, hi in zip(columns, low, high, strict=True):
        if lo != hi and max(-lo, hi) < _TINY:
            raise ValueError(
                f"X[:, {j}] is not constant but its values are tiny (between {lo:g} and "
                f"{hi:g}): their squares underflow float64, so the column cannot be "
                f"standardized and would be ignored; rescale it (e.g. multiply by 1e150)"
            )


def _check_moments(moments: Moments, backend: Backend[R], rows: R) -> None:
    """Name a NaN/inf in the input, or say the values are too large to square."""
    parts = [moments.x_mean, moments.y_mean, moments.x_var]
    parts += [p for p in (moments.xx, moments.xy, moments.yy) if p is not None]
    if all(bool(np.isfinite(p).all()) for p in parts):
        return
    backend.raise_if_not_finite(rows)
    big_x, big_y = backend.max_abs(rows)
    raise DivergenceError(
        f"the column statistics overflowed: max |X| = {big_x:g}, max |y| = {big_y:g}; values "
        "this large cannot be squared in float64, rescale them"
    )


def _auto_step(
    backend: Backend[R],
    rows: R,
    total_weight: float,
    scaling: Scaling,
    spectrum: tuple[float, float] | None,
    s: TrainSettings,
) -> float:
    if spectrum is not None:  # 1 / the largest eigenvalue
        return 1.0 / spectrum[0] if spectrum[0] > 0 or math.isnan(spectrum[0]) else 1.0
    if s.mode == "batch":
        return power_step_size(backend, rows, total_weight, scaling, s)
    max_norm, sum_norm = backend.row_norm_bounds(rows, scaling, s.fit_intercept)
    if not math.isfinite(max_norm):
        return math.nan
    return stochastic_step_size(max_norm, sum_norm / total_weight, s)


def split_validation(rows: Rows, s: TrainSettings) -> tuple[Rows, Rows | None]:
    """Early stopping holds out ``validation_fraction`` of the rows at random: they get weight
    0 in training (X is not copied) and a copy of them is the validation set (None without
    early stopping)."""
    if not s.early_stopping:
        return rows, None
    (X, Y, sample_weight), n = rows, rows.n
    n_val = math.ceil(s.validation_fraction * n)
    if n_val < 1 or n - n_val < 1:
        raise ValueError(
            f"early_stopping needs at least one training and one validation sample; "
            f"validation_fraction={s.validation_fraction:g} of {n} samples leaves "
            f"{n - n_val} and {n_val}"
        )
    rng = np.random.default_rng(s.random_state)
    held_out = np.sort(rng.choice(n, size=n_val, replace=False))
    weights = np.ones(n) if sample_weight is None else sample_weight.copy()
    weights[held_out] = 0.0
    if not weights.sum() > 0:
        raise ValueError("early_stopping left no training sample with a positive weight")
    w_val = None if sample_weight is None else sample_weight[held_out]
    if w_val is not None and not w_val.sum() > 0:
        raise ValueError("early_stopping: the validation samples all have weight 0")
    validation = Rows(np.ascontiguousarray(X[held_out]), np.ascontiguousarray(Y[held_out]), w_val)
    return Rows(X, Y, weights), validation
