"""From data and settings to a trained model: scaling, step size, path, epochs.

Shared by the fused estimator and the NumPy reference. Each supplies a :class:`Backend` (the
passes over the data); everything decided from their results (standardization, the automatic
step, the choice between the data path and the sufficient-statistics path, the epoch functions
of each mode, early stopping) lives here once, so the two cannot drift apart.

Training coordinates: with ``standardize=True`` the model is trained on
``z = (x - shift) * scale`` (``shift`` the weighted column means, or 0 without an intercept;
``scale`` 1 / the standard deviation), which the kernels apply on the fly: X is never copied.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from fastlr._accuracy import Accuracy, hessian, refine
from fastlr._loop import EpochInfo, LoopResult, LoopRules, Model, Progress, RowOrder, run_epochs
from fastlr._validation import max_abs, raise_if_not_finite
from fastlr.exceptions import DivergenceError
from fastlr.training import rules as _rules

#: Power iterations (full fused passes) of the automatic batch step on the data path, at most.
POWER_ITERATIONS = 20
#: The sufficient-statistics path is used when d is at most this (the d x d matrix stays small)...
GRAM_MAX_FEATURES = 2048
#: ...and the epochs asked for outnumber the features (the set-up costs about d / 8 passes).
GRAM_EPOCHS_PER_FEATURE = 1.0
#: Samples per kernel call in sgd and mini-batch epochs: Ctrl-C is seen between calls.
SLICE_ELEMENTS = 1 << 21
#: Gram iterations per kernel call: about this many multiply-adds, a fraction of a second.
GRAM_CALL_FLOPS = 1 << 26
#: Epochs over the data when ``max_iter`` is None (the default)...
DEFAULT_MAX_ITER = 1000
#: ...and, on the sufficient-statistics path, as many O(d²) iterations as those epochs would cost
#: (``DEFAULT_MAX_ITER * n / d``), at least DEFAULT_MAX_ITER and at most this.
GRAM_MAX_ITER = 1_000_000


@dataclass(frozen=True)
class TrainSettings:
    """What training needs, as plain values (the estimator maps its parameters to these)."""

    mode: str
    learning_rate: float | None  # None: automatic
    max_iter: int | None  # None: epoch_budget's
    tol: float | None
    n_iter_no_change: int
    batch_size: int
    shuffle: bool
    random_state: Any
    fit_intercept: bool
    standardize: bool
    schedule: int
    power_t: float
    momentum: float | None  # None: tuned on the sufficient-statistics path, else 0
    nesterov: bool
    l2: float
    l1: float
    average: bool
    solver: str  # "auto" | "gram" | "fused"
    early_stopping: bool
    validation_fraction: float
    hogwild: bool
    n_threads: int

    @property
    def epochs(self) -> int:
        """``max_iter`` once :func:`train` has resolved None."""
        assert self.max_iter is not None, "resolved by train()"
        return self.max_iter

    @property
    def heavy_ball(self) -> float:
        """``momentum`` once :func:`resolve_momentum` has resolved None (automatic)."""
        assert self.momentum is not None, "resolved by resolve_momentum()"
        return self.momentum


@dataclass(frozen=True)
class Scaling:
    """Training coordinates ``z = (x - shift) * scale``; both None for raw coordinates."""

    shift: np.ndarray | None
    scale: np.ndarray | None

    def to_user(self, coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same model in the units of X: ``coef * scale`` and ``b - (coef * scale)·shift``."""
        if self.shift is None or self.scale is None:
            return coef.copy(), intercept.copy()
        raw = coef * self.scale
        return raw, intercept - raw @ self.shift

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


@dataclass(frozen=True)
class Moments:
    """Weighted first and second moments of X and Y, centered (one pass, Chan's merge)."""

    total_weight: float
    x_mean: np.ndarray  # (d,)
    y_mean: np.ndarray  # (k,)
    xx: np.ndarray | None  # (d, d) Σ w (x - x̄)(x - x̄)ᵀ, or None (diagonal only)
    xy: np.ndarray | None  # (d, k) Σ w (x - x̄)(y - ȳ)
    yy: np.ndarray | None  # (k,) Σ w (y - ȳ)²
    x_var: np.ndarray  # (d,) Σ w (x - x̄)² / W


@dataclass(frozen=True)
class GramProblem:
    """The least-squares problem in training coordinates, as sufficient statistics."""

    H: np.ndarray  # E_w[z zᵀ]
    C: np.ndarray  # E_w[z (y - ȳ)ᵀ]
    mean_z: np.ndarray
    y_mean: np.ndarray
    y_var: np.ndarray


class Backend(Protocol):
    """The passes over the data: fused kernels or their NumPy twins."""

    def moments(
        self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, gram: bool
    ) -> Moments: ...

    def row_norm_bounds(
        self, X: np.ndarray, sample_weight: np.ndarray | None, scaling: Scaling, intercept: bool
    ) -> tuple[float, float]: ...

    def loss_gradient(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        total_weight: float,
        coef: np.ndarray,
        intercept: np.ndarray,
        grad: np.ndarray,
    ) -> float: ...

    def gram_loss_gradient(
        self, problem: GramProblem, coef: np.ndarray, intercept: np.ndarray, grad: np.ndarray
    ) -> float: ...

    def update(self, model: Model, grad: np.ndarray, rate: float, s: TrainSettings) -> None: ...

    def sgd(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        model: Model,
        rate: float,
        order: np.ndarray,
        lo: int,
        hi: int,
        s: TrainSettings,
        scaling: Scaling,
        average: np.ndarray | None,
    ) -> float: ...

    def minibatch(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        model: Model,
        rate: float,
        order: np.ndarray,
        lo: int,
        hi: int,
        s: TrainSettings,
        scaling: Scaling,
        average: np.ndarray | None,
    ) -> float: ...

    @property
    def gram_epochs(self) -> Any:
        """The compiled Gram loop (a method), or None where the backend has none."""

    @property
    def hogwild(self) -> Any:
        """The lock-free parallel sgd epoch (a method), or None."""


@dataclass
class Trained:
    """A training run's outcome, in training coordinates plus the scaling to undo them."""

    model: Model
    scaling: Scaling
    learning_rate: float
    momentum: float
    loop: LoopResult
    path: str
    #: The certificate of the coefficients in the units of X (sufficient-statistics path), or
    #: None where none was computed.
    accuracy: Accuracy | None = None
    #: sgd and mini-batch: how far below the least-squares optimum the fit ended (about the R²
    #: it lacks), or None where it was not checked.
    shortfall: float | None = None


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


def use_gram(X: np.ndarray, s: TrainSettings) -> bool:
    if s.mode != "batch" or s.solver == "fused":
        return False
    if s.solver == "gram":
        return True
    n, d = X.shape
    enough = s.max_iter is None or s.max_iter >= GRAM_EPOCHS_PER_FEATURE * d
    return bool(d <= GRAM_MAX_FEATURES and n >= 2 * d and enough)


def epoch_budget(X: np.ndarray, s: TrainSettings, gram: bool) -> int:
    """``max_iter``, or for None: DEFAULT_MAX_ITER epochs over the data, or on the sufficient-
    statistics path as many iterations as those epochs would cost."""
    if s.max_iter is not None:
        return s.max_iter
    if not gram:
        return DEFAULT_MAX_ITER
    n, d = X.shape
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
    backend: Backend,
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    total_weight: float,
    scaling: Scaling,
    s: TrainSettings,
) -> float:
    """1 / the largest eigenvalue of the Hessian by power iteration on the fused pass.

    The gradient is affine in the parameters, so ``H v = g(v) - g(0)``: one pass per iteration.
    """
    d = X.shape[1]
    zero_targets = getattr(backend, "zero_targets", None)  # (a distributed backend's handle)
    if zero_targets is not None:
        zero_y = zero_targets(X)
    else:
        zero_y = np.zeros((X.shape[0], 1), dtype=X.dtype)  # n values; the pass reads no copy of X

    def hessian_times(v: np.ndarray) -> np.ndarray:
        coef, intercept = scaling.to_user(v[None, :d], np.array([v[d]]))
        grad = np.empty((1, d + 1))
        backend.loss_gradient(X, zero_y, sample_weight, total_weight, coef, intercept, grad)
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


# --------------------------------------------------------------------------- training
def train(
    backend: Backend,
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    s: TrainSettings,
    *,
    init: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Progress | None = None,
    callback: Callable[[EpochInfo], Any] | None = None,
) -> Trained:
    """Fit from zero coefficients (or ``init`` = (coef, intercept) in the units of X)."""
    n, d = X.shape
    gram = use_gram(X, s)
    s = dataclasses.replace(  # (batch_size=2**63 must not overflow)
        s, batch_size=min(s.batch_size, n), max_iter=epoch_budget(X, s, gram)
    )
    k = Y.shape[1]
    weights, X_val, Y_val, w_val = _split(X, Y, sample_weight, s)
    total_weight = float(n if weights is None else weights.sum())
    scaling, problem, spectrum, model, rate = _start(
        backend, X, Y, weights, total_weight, s, gram=gram
    )
    if init is not None:
        model.coef[...], model.intercept[...] = scaling.to_training(*init)
    s, rate, tuned = resolve_momentum(s, spectrum, rate)
    if spectrum is not None and s.tol is not None and X_val is None:
        _rules.certify(model.state, *spectrum, tuned=tuned)

    rules = LoopRules(
        learning_rate=rate,
        schedule=s.schedule,
        power_t=s.power_t,
        tol=-1.0 if s.tol is None else s.tol,
        n_iter_no_change=s.n_iter_no_change,
        monotone=s.mode == "batch" and s.heavy_ball == 0 and s.l1 == 0 and X_val is None,
        rise_atol=1e-12 if problem is not None else 1e-20,
    )
    epoch = make_epoch(backend, X, Y, weights, total_weight, s, scaling, problem)

    def validation(m: Model) -> float:
        assert X_val is not None
        assert Y_val is not None
        coef, intercept = scaling.to_user(m.coef, m.intercept)
        grad = np.empty((k, d + 1))
        w_total = float(X_val.shape[0] if w_val is None else w_val.sum())
        return backend.loss_gradient(X_val, Y_val, w_val, w_total, coef, intercept, grad)

    fast = (
        problem is not None
        and backend.gram_epochs is not None
        and X_val is None
        and callback is None
        and not getattr(progress, "per_epoch", False)
    )
    if fast:
        assert problem is not None
        loop = _run_gram(backend, problem, model, rules, s, progress)
    else:
        loop = run_epochs(
            epoch,
            model,
            rules,
            s.epochs,
            validation=validation if X_val is not None else None,
            progress=progress,
            callback=callback,
            to_user_units=lambda m: scaling.to_user(m.coef, m.intercept),
            on_nonfinite=lambda: name_bad_input(X, Y),
        )
    shortfall = None
    if s.mode != "batch" and s.tol is not None and X_val is None and not loop.stopped_by_user:
        check = shortfall_check(backend, X, Y, weights, total_weight, s, scaling, loop.n_iter)
        if check is not None:
            shortfall = check(model)
            cuts = 0
            while shortfall > SHORTFALL_WARN and loop.n_iter < s.epochs and cuts < STEP_CUTS:
                # A plateau far from what the data allow: go on with a smaller step (a smaller
                # noise ball), within the epoch budget.
                cuts += 1
                rate /= STEP_CUT
                # A smaller step makes smaller progress per epoch: so must the plateau's tol.
                rules = dataclasses.replace(rules, learning_rate=rate, tol=rules.tol / STEP_CUT)
                model.state = _rules.new_state()
                more = run_epochs(
                    epoch,
                    model,
                    rules,
                    s.epochs - loop.n_iter,
                    callback=callback,
                    to_user_units=lambda m: scaling.to_user(m.coef, m.intercept),
                    on_nonfinite=lambda: name_bad_input(X, Y),
                )
                loop = _joined(loop, more)
                shortfall = check(model)
                if more.stopped_by_user:
                    break
    if (
        init is None
        and X_val is None
        and loop.n_iter > 1
        and loop.history[-1] > loop.history[0]
        and not loop.stopped_by_user
        and not _ends_below_first_epoch(
            backend, X, Y, weights, total_weight, s, scaling, model, loop
        )
    ):
        from fastlr._loop import raise_divergence

        model.state[_rules.BEST] = loop.history[0]
        raise_divergence(_rules.ROSE, loop.n_iter, float(loop.history[-1]), model.state, rate)
    accuracy = None
    if (
        problem is not None
        and spectrum is not None
        and s.tol is not None
        and s.l1 == 0.0
        and X_val is None
        and not loop.stopped_by_user
    ):
        accuracy = _refine(
            backend, X, Y, weights, total_weight, s, scaling, problem, spectrum, model
        )
        if accuracy.certified:
            loop = dataclasses.replace(loop, converged=True)
    return Trained(
        model,
        scaling,
        rate,
        s.heavy_ball,
        loop,
        "gram" if problem is not None else "fused",
        accuracy,
        shortfall,
    )


#: An sgd or mini-batch fit whose loss exceeds the least-squares optimum by more than this share
#: of var(y)/2 (an R² this much below the best the data allow) is continued, then reported.
SHORTFALL_WARN = 5e-4
#: Such a plateau is left by dividing the step (and tol) by STEP_CUT, at most STEP_CUTS times.
STEP_CUT = 4.0
STEP_CUTS = 6


def _joined(first: LoopResult, then: LoopResult) -> LoopResult:
    """One run's record from two runs in a row."""
    return LoopResult(
        np.concatenate([first.history, then.history]),
        None,
        first.n_iter + then.n_iter,
        then.converged,
        then.stopped_by_user,
    )


def shortfall_check(
    backend: Backend,
    X: np.ndarray,
    Y: np.ndarray,
    weights: np.ndarray | None,
    total_weight: float,
    s: TrainSettings,
    scaling: Scaling,
    epochs_run: int,
) -> Callable[[Model], float] | None:
    """A measure of how far below the least-squares optimum an sgd or mini-batch model is:
    ``(L - L*) / (var(y) / 2)``, about the R² it lacks. The optimum comes from one moments pass,
    each measure from one fused pass. None where the optimum is not a linear solve (L1) or
    where checking would cost more than about a quarter of the fit: the moments pass costs some
    d/2 multiply-adds per element against about 2 per element and epoch, so it is done when
    d <= the epochs run."""
    n, d = X.shape
    k = Y.shape[1]
    if s.l1 > 0.0 or d > GRAM_MAX_FEATURES or n < 2 * d or d > epochs_run:
        return None
    with np.errstate(all="ignore"):
        problem = gram_problem(backend.moments(X, Y, weights, True), scaling)
        A = hessian(problem.H, problem.mean_z, s.l2, s.fit_intercept)
        zero = Model.zeros(k, d)
        grad = np.empty((k, d + 1))
        backend.gram_loss_gradient(problem, zero.coef, zero.intercept, grad)
        theta = -np.linalg.lstsq(A, grad[:, : A.shape[0]].T, rcond=None)[0].T
        best = Model.zeros(k, d)
        best.coef[...] = theta[:, :d]
        if s.fit_intercept:
            best.intercept[...] = theta[:, d]
        optimum = backend.gram_loss_gradient(problem, best.coef, best.intercept, grad)
        optimum += _rules.penalty_value(best.coef, s.l2, 0.0)
    spread = 0.5 * float(np.sum(problem.y_var))
    if not (math.isfinite(optimum) and spread > 0.0):
        return None

    def shortfall(model: Model) -> float:
        reached = data_objective(backend, X, Y, weights, total_weight, s, scaling, model)
        if not math.isfinite(reached):
            return math.inf
        return max(0.0, reached - optimum) / spread

    return shortfall


def _refine(
    backend: Backend,
    X: np.ndarray,
    Y: np.ndarray,
    weights: np.ndarray | None,
    total_weight: float,
    s: TrainSettings,
    scaling: Scaling,
    problem: GramProblem,
    spectrum: tuple[float, float],
    model: Model,
) -> Accuracy:
    """Refine the sufficient-statistics solution against the data (:mod:`fastlr._accuracy`)."""
    top, bottom = spectrum
    condition = top / bottom if bottom > 0.0 else math.inf
    k, d = model.coef.shape
    grad = np.empty((k, d + 1))

    def data_gradient(coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        user_coef, user_intercept = scaling.to_user(coef, intercept)
        with np.errstate(all="ignore"):
            backend.loss_gradient(X, Y, weights, total_weight, user_coef, user_intercept, grad)
        return scaling.gradient_to_training(grad)

    A = hessian(problem.H, problem.mean_z, s.l2, s.fit_intercept)
    return refine(data_gradient, A, condition, model.coef, model.intercept, s.l2, scaling.to_user)


def _ends_below_first_epoch(
    backend: Backend,
    X: np.ndarray,
    Y: np.ndarray,
    weights: np.ndarray | None,
    total_weight: float,
    s: TrainSettings,
    scaling: Scaling,
    model: Model,
    loop: LoopResult,
) -> bool:
    """Whether a stochastic run whose last epoch's loss is above its first's still ends with a
    model whose objective (one more pass) is below the first epoch's loss.

    A stochastic epoch's loss is measured along the way, each residual before its own update.
    On small noisy data the first epoch already reaches the noise floor, so later epochs can
    measure a little above it by chance: that is not divergence unless the final model itself
    is worse. Batch losses are exact, so for batch the answer is always False.
    """
    if s.mode == "batch":
        return False
    loss = data_objective(backend, X, Y, weights, total_weight, s, scaling, model)
    return math.isfinite(loss) and loss <= float(loop.history[0])


def data_objective(
    backend: Backend,
    X: np.ndarray,
    Y: np.ndarray,
    weights: np.ndarray | None,
    total_weight: float,
    s: TrainSettings,
    scaling: Scaling,
    model: Model,
) -> float:
    """The training objective of ``model`` computed from the data: one fused pass at its
    raw-unit twin, plus the penalty (NaN or inf where it overflows)."""
    coef, intercept = scaling.to_user(model.coef, model.intercept)
    grad = np.empty((Y.shape[1], X.shape[1] + 1))
    with np.errstate(all="ignore"):
        loss = backend.loss_gradient(X, Y, weights, total_weight, coef, intercept, grad)
        return loss + _rules.penalty_value(model.coef, s.l2, s.l1)


def _start(
    backend: Backend,
    X: np.ndarray,
    Y: np.ndarray,
    weights: np.ndarray | None,
    total_weight: float,
    s: TrainSettings,
    *,
    gram: bool,
) -> tuple[Scaling, GramProblem | None, tuple[float, float] | None, Model, float]:
    """What a first run needs from the data: the scaling, the sufficient statistics (``gram``)
    and their spectrum, a zero model in training coordinates and the step (automatic unless
    given)."""
    k, d = Y.shape[1], X.shape[1]
    with np.errstate(all="ignore"):  # NaN/inf input is named below
        moments = backend.moments(X, Y, weights, gram) if gram or s.standardize else None
    if moments is not None:
        _check_moments(moments, X, Y)
        _check_underflow(moments, X)
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
            rate = _auto_step(backend, X, weights, total_weight, scaling, spectrum, s)
        if not math.isfinite(rate):
            raise_if_not_finite(X=X, y=_user_y(Y))
    return scaling, problem, spectrum, model, rate


def _user_y(Y: np.ndarray) -> np.ndarray:
    """y as the user passed it, for error messages that give an index."""
    return Y[:, 0] if Y.shape[1] == 1 else Y


def name_bad_input(X: np.ndarray, Y: np.ndarray) -> None:
    """On a non-finite loss: name a NaN/inf in the input, or say that its values are too large
    to square in float64 (rather than blaming the step). Returns when the input looks sound."""
    raise_if_not_finite(X=X, y=_user_y(Y))
    big_x, big_y = max_abs(X), max_abs(Y)
    big = max(big_x, big_y)
    if not math.isfinite(big * big * X.shape[0]):  # (float products overflow to inf)
        raise DivergenceError(
            f"the loss overflowed: max |X| = {big_x:g}, max |y| = {big_y:g}; values this large "
            "cannot be squared and summed in float64, rescale them"
        )


#: Values below this magnitude (about 1.5e-154) have subnormal squares: they lose precision.
_TINY = math.sqrt(np.finfo(np.float64).tiny)


def _check_underflow(moments: Moments, X: np.ndarray) -> None:
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
    low, high = np.full(columns.size, np.inf), np.full(columns.size, -np.inf)
    rows = max(1, (1 << 20) // columns.size)
    for start in range(0, X.shape[0], rows):
        block = X[start : start + rows][:, columns]
        np.minimum(low, block.min(axis=0), out=low)
        np.maximum(high, block.max(axis=0), out=high)
    for j, lo, hi in zip(columns, low, high, strict=True):
        if lo != hi and max(-lo, hi) < _TINY:
            raise ValueError(
                f"X[:, {j}] is not constant but its values are tiny (between {lo:g} and "
                f"{hi:g}): their squares underflow float64, so the column cannot be "
                f"standardized and would be ignored; rescale it (e.g. multiply by 1e150)"
            )


def _check_moments(moments: Moments, X: np.ndarray, Y: np.ndarray) -> None:
    """Name a NaN/inf in the input, or say the values are too large to square."""
    parts = [moments.x_mean, moments.y_mean, moments.x_var]
    parts += [p for p in (moments.xx, moments.xy, moments.yy) if p is not None]
    if all(bool(np.isfinite(p).all()) for p in parts):
        return
    raise_if_not_finite(X=X, y=_user_y(Y))
    raise DivergenceError(
        f"the column statistics overflowed: max |X| = {max_abs(X):g}, max |y| = "
        f"{max_abs(Y):g}; values this large cannot be squared in float64, rescale them"
    )


def _auto_step(
    backend: Backend,
    X: np.ndarray,
    weights: np.ndarray | None,
    total_weight: float,
    scaling: Scaling,
    spectrum: tuple[float, float] | None,
    s: TrainSettings,
) -> float:
    if spectrum is not None:  # 1 / the largest eigenvalue
        return 1.0 / spectrum[0] if spectrum[0] > 0 or math.isnan(spectrum[0]) else 1.0
    if s.mode == "batch":
        return power_step_size(backend, X, weights, total_weight, scaling, s)
    max_norm, sum_norm = backend.row_norm_bounds(X, weights, scaling, s.fit_intercept)
    if not math.isfinite(max_norm):
        return math.nan
    return stochastic_step_size(max_norm, sum_norm / total_weight, s)


def _split(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, s: TrainSettings
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Early stopping holds out ``validation_fraction`` of the rows at random: they get weight
    0 in training (X is not copied) and a copy of them is the validation set."""
    if not s.early_stopping:
        return sample_weight, None, None, None
    n = X.shape[0]
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
    return weights, np.ascontiguousarray(X[held_out]), np.ascontiguousarray(Y[held_out]), w_val


def _run_gram(
    backend: Backend,
    problem: GramProblem,
    model: Model,
    rules: LoopRules,
    s: TrainSettings,
    progress: Progress | None = None,
) -> LoopResult:
    """All iterations in the compiled loop, a fraction of a second per call (Ctrl-C and
    ``progress``, with the last epoch of the call, between calls)."""
    import warnings

    from fastlr._loop import raise_divergence
    from fastlr.exceptions import FitInterruptedWarning

    assert backend.gram_epochs is not None
    k, d = model.coef.shape
    history = np.empty(s.epochs)
    per_call = max(1, GRAM_CALL_FLOPS // max(1, k * d * d))
    done = 0
    verdict = _rules.CONTINUE
    stopped = False
    while done < s.epochs and verdict == _rules.CONTINUE:
        before = model.copy()
        count = min(per_call, s.epochs - done)
        try:
            ran, verdict = backend.gram_epochs(
                problem, model, rules, s, count, history[done : done + count]
            )
        except KeyboardInterrupt:
            model.load(before)
            warnings.warn(
                f"fit interrupted (Ctrl-C) after {done} epochs: kept the model of the last "
                "completed epoch",
                FitInterruptedWarning,
                stacklevel=4,
            )
            stopped = True
            break
        if verdict >= _rules.NONFINITE:
            loss = float(history[done + ran])
            raise_divergence(verdict, done + ran + 1, loss, model.state, rules.learning_rate)
        done += ran
        model.t += ran
        if progress is not None and ran > 0:
            rate = _rules.epoch_learning_rate(
                rules.learning_rate, rules.schedule, model.t, rules.power_t, model.state
            )
            progress(done, float(history[done - 1]), rate)
    if not model.finite():
        raise_divergence(_rules.NONFINITE, done, math.inf, model.state, rules.learning_rate)
    return LoopResult(
        history[:done].copy(), None, done, verdict == _rules.CONVERGED or rules.tol < 0, stopped
    )


def make_epoch(
    backend: Backend,
    X: np.ndarray,
    Y: np.ndarray,
    weights: np.ndarray | None,
    total_weight: float,
    s: TrainSettings,
    scaling: Scaling,
    problem: GramProblem | None,
) -> Callable[[Model, float], float]:
    """The epoch function of ``s.mode``: ``epoch(model, rate) -> the epoch's objective``."""
    n, d = X.shape
    k = Y.shape[1]
    grad = np.empty((k, d + 1))

    def penalty(m: Model) -> float:
        return _rules.penalty_value(m.coef, s.l2, s.l1)

    if s.mode == "batch" and problem is not None:

        def gram_epoch(m: Model, rate: float) -> float:
            loss = backend.gram_loss_gradient(problem, m.coef, m.intercept, grad) + penalty(m)
            m.state[_rules.GAP] = _rules.certified_gap(
                m.coef, m.intercept, grad, s.l2, s.l1, s.fit_intercept, m.state
            )
            backend.update(m, grad, rate, s)
            return loss

        return gram_epoch

    if s.mode == "batch":

        def batch_epoch(m: Model, rate: float) -> float:
            coef, intercept = scaling.to_user(m.coef, m.intercept)
            loss = backend.loss_gradient(X, Y, weights, total_weight, coef, intercept, grad)
            loss += penalty(m)
            backend.update(m, scaling.gradient_to_training(grad), rate, s)
            return loss

        return batch_epoch

    rows = RowOrder(n, s.shuffle, s.random_state)
    step = s.batch_size if s.mode == "minibatch" else 1
    per_call = max(step, (SLICE_ELEMENTS // max(1, d * k)) // step * step)
    run = backend.sgd if s.mode == "sgd" else backend.minibatch
    hogwild = s.mode == "sgd" and s.hogwild and s.n_threads > 1 and backend.hogwild is not None

    def stochastic_epoch(m: Model, rate: float) -> float:
        order = rows.next()
        average = np.zeros((k, d + 2)) if s.average else None
        if hogwild:
            assert backend.hogwild is not None
            total, average = backend.hogwild(X, Y, weights, m, rate, order, s, scaling)
        else:
            total = 0.0
            for lo in range(0, n, per_call):
                total += run(
                    X, Y, weights, m, rate, order, lo, min(lo + per_call, n), s, scaling, average
                )
        if average is not None and average[0, d + 1] > 0:
            m.coef[...] = average[:, :d] / average[0, d + 1]
            if s.fit_intercept:
                m.intercept[...] = average[:, d] / average[0, d + 1]
        return float(0.5 * total / total_weight + penalty(m))

    return stochastic_epoch


def partial(
    backend: Backend,
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    s: TrainSettings,
    previous: Trained | None,
    progress: Progress | None = None,
) -> Trained:
    """One epoch over a chunk, continuing ``previous`` (or starting: the chunk fixes the
    standardization and the automatic step). Always the data path: a chunk is seen once."""
    n, d = X.shape
    s = dataclasses.replace(s, batch_size=min(s.batch_size, n))
    k = Y.shape[1]
    total_weight = float(n if sample_weight is None else sample_weight.sum())
    if previous is None:
        scaling, _, _, model, rate = _start(
            backend, X, Y, sample_weight, total_weight, s, gram=False
        )
    else:
        model, scaling = previous.model.copy(), previous.scaling
        rate = s.learning_rate if s.learning_rate is not None else previous.learning_rate
        if s.mode == "sgd" and s.l1 > 0 and model.l1_state is None:
            model.l1_state = np.zeros(k * d + 1)
    s = dataclasses.replace(s, momentum=0.0 if s.momentum is None else s.momentum)
    rules = LoopRules(rate, s.schedule, s.power_t, -1.0, s.n_iter_no_change, False, 1e-20)
    epoch = make_epoch(backend, X, Y, sample_weight, total_weight, s, scaling, None)
    loop = run_epochs(
        epoch,
        model,
        rules,
        1,
        progress=progress,
        on_nonfinite=lambda: name_bad_input(X, Y),
    )
    return Trained(model, scaling, rate, s.heavy_ball, loop, "fused")
