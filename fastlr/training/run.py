"""From data and settings to a trained model: :func:`train` (and :func:`partial` for
``partial_fit``) runs the start-up (:func:`fastlr.training.setup.start`), then the epochs of the
mode or the Gram loop, then the checks of the answer (refinement, the certificate, the shortfall
of stochastic fits).

Shared by every engine: each supplies a :class:`~fastlr.training.backend.Backend` (the passes
over the data); everything decided from their results lives here once, so engines cannot drift
apart."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fastlr.kernels.records import Linear
from fastlr.training import rules as _rules
from fastlr.training.accuracy import Accuracy, hessian, refine
from fastlr.training.backend import Backend, EpochData, R
from fastlr.training.loop import (
    EpochInfo,
    LoopResult,
    LoopRules,
    Model,
    Progress,
    RowOrder,
)
from fastlr.training.settings import GramProblem, Scaling, Trained, TrainSettings
from fastlr.training.setup import (
    GRAM_MAX_FEATURES,
    Fit,
    gram_problem,
    start,
    use_gram,
)

#: Samples per kernel call in sgd and mini-batch epochs: Ctrl-C is seen between calls.
SLICE_ELEMENTS = 1 << 21

#: Gram iterations per kernel call: about this many multiply-adds, a fraction of a second.
GRAM_CALL_FLOPS = 1 << 26


# --------------------------------------------------------------------------- training
def train(
    backend: Backend[R],
    rows: R,
    s: TrainSettings,
    *,
    validation: R | None = None,
    init: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Progress | None = None,
    callback: Callable[[EpochInfo], Any] | None = None,
) -> Trained:
    """Fit from zero coefficients (or ``init`` = (coef, intercept) in the units of X), with the
    ``validation`` rows held out by :func:`~fastlr.training.setup.split_validation` (early
    stopping), or None."""
    gram = use_gram(rows, s)
    validating = validation is not None
    begun = start(backend, rows, rows.total_weight(), s, gram=gram, init=init)
    fit, model, rate, problem = begun.fit, begun.model, begun.rate, begun.problem
    s, spectrum = fit.s, begun.spectrum
    if spectrum is not None and s.tol is not None and not validating:
        _rules.certify(model.state, *spectrum, tuned=begun.tuned)

    rules = begun.rules(validating=validating)
    run = begun.epochs(make_epoch(fit, problem), callback)
    if problem is not None and _gram_loop_applies(backend, validating, progress, callback):
        loop = _run_gram(backend, problem, model, rules, s, progress)
    else:
        held_out = _validation_loss(backend, fit.scaling, validation)
        loop = run(rules, s.epochs, validation=held_out, progress=progress)
    shortfall: float | None = None
    if s.mode != "batch" and s.tol is not None and not validating and not loop.stopped_by_user:
        check = shortfall_check(fit, loop.n_iter)
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
                more = run(rules, s.epochs - loop.n_iter)
                loop = _joined(loop, more)
                shortfall = check(model)
                if more.stopped_by_user:
                    break
    if init is None and not validating:
        _raise_if_rose(fit, model, loop, rate)
    accuracy = None
    user = None
    if problem is not None and spectrum is not None and _refines(s, validating, loop):
        accuracy, user = _refine(fit, problem, spectrum, model)
        if accuracy.certified:
            loop = dataclasses.replace(loop, converged=True)
    path = "gram" if problem is not None else "fused"
    return Trained(model, fit.scaling, rate, s.heavy_ball, loop, path, accuracy, shortfall, user)


def _gram_loop_applies(
    backend: Backend[R],
    validating: bool,
    progress: Progress | None,
    callback: Callable[[EpochInfo], Any] | None,
) -> bool:
    """Whether a Gram fit runs all its iterations in the engine's compiled loop: the engine has
    one, and nothing is to be seen between epochs (validation, a callback, per-epoch progress)."""
    return (
        backend.gram_epochs is not None
        and not validating
        and callback is None
        and not (progress is not None and progress.per_epoch)
    )


def _validation_loss(
    backend: Backend[R], scaling: Scaling, rows: R | None
) -> Callable[[Model], float] | None:
    """The held-out loss of a model (one fused pass over the validation rows), or None when no
    validation set was split off."""
    if rows is None:
        return None
    held_out = rows
    total = held_out.total_weight()

    def validation(m: Model) -> float:
        grad = np.empty((held_out.k, held_out.d + 1))
        return backend.loss_gradient(held_out, total, scaling.to_user(m.coef, m.intercept), grad)

    return validation


def _raise_if_rose(fit: Fit[R], model: Model, loop: LoopResult, rate: float) -> None:
    """Raise :class:`~fastlr.exceptions.DivergenceError` when a fit from zero ends with a loss
    above its first epoch's.

    A stochastic epoch's loss is measured along the way, each residual before its own update.
    On small noisy data the first epoch already reaches the noise floor, so later epochs can
    measure a little above it by chance: that is not divergence unless the final model itself
    is worse, which one more pass tells. Batch losses are exact: no such pass.
    """
    if loop.n_iter <= 1 or not loop.history[-1] > loop.history[0] or loop.stopped_by_user:
        return
    if fit.s.mode != "batch":
        loss = data_objective(fit, model)
        if math.isfinite(loss) and loss <= float(loop.history[0]):
            return
    from fastlr.training.loop import raise_divergence

    model.state[_rules.BEST] = loop.history[0]
    raise_divergence(_rules.ROSE, loop.n_iter, float(loop.history[-1]), model.state, rate)


def _refines(s: TrainSettings, validating: bool, loop: LoopResult) -> bool:
    """Whether a Gram solution is refined against the data and certified: a converging fit
    (a tol, no L1, no validation set) that the user did not stop."""
    return s.tol is not None and s.l1 == 0.0 and not validating and not loop.stopped_by_user


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


def shortfall_check(fit: Fit[R], epochs_run: int) -> Callable[[Model], float] | None:
    """A measure of how far below the least-squares optimum an sgd or mini-batch model is:
    ``(L - L*) / (var(y) / 2)``, about the R² it lacks. The optimum comes from one moments pass,
    each measure from one fused pass. None where the optimum is not a linear solve (L1) or
    where checking would cost more than about a quarter of the fit: the moments pass costs some
    d/2 multiply-adds per element against about 2 per element and epoch, so it is done when
    d <= the epochs run."""
    backend, rows, s, scaling = fit.backend, fit.rows, fit.s, fit.scaling
    n, d, k = rows.n, rows.d, rows.k
    if s.l1 > 0.0 or d > GRAM_MAX_FEATURES or n < 2 * d or d > epochs_run:
        return None
    with np.errstate(all="ignore"):
        problem = gram_problem(backend.moments(rows, True), scaling)
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
        reached = data_objective(fit, model)
        if not math.isfinite(reached):
            return math.inf
        return max(0.0, reached - optimum) / spread

    return shortfall


def _refine(
    fit: Fit[R], problem: GramProblem, spectrum: tuple[float, float], model: Model
) -> tuple[Accuracy, Linear]:
    """Refine the sufficient-statistics solution against the data
    (:mod:`fastlr.training.accuracy`); its certificate, and the model in the units of X."""
    backend, rows, s, scaling = fit.backend, fit.rows, fit.s, fit.scaling
    top, bottom = spectrum
    condition = top / bottom if bottom > 0.0 else math.inf
    k, d = model.coef.shape
    grad = np.empty((k, d + 1))

    def data_gradient(user: Linear) -> np.ndarray:
        with np.errstate(all="ignore"):
            backend.loss_gradient(rows, fit.total_weight, user, grad)
        return scaling.gradient_to_training(grad)

    def compensated_gradient(user: Linear) -> np.ndarray:
        with np.errstate(all="ignore"):
            backend.compensated_loss_gradient(rows, fit.total_weight, user, grad)
        return scaling.gradient_to_training(grad)

    A = hessian(problem.H, problem.mean_z, s.l2, s.fit_intercept)
    return refine(
        data_gradient,
        compensated_gradient,
        A,
        condition,
        model.coef,
        model.intercept,
        s.l2,
        scaling.to_user,
    )


def data_objective(fit: Fit[R], model: Model) -> float:
    """The training objective of ``model`` computed from the data: one fused pass at its
    raw-unit twin, plus the penalty (NaN or inf where it overflows)."""
    user = fit.scaling.to_user(model.coef, model.intercept)
    grad = np.empty((fit.rows.k, fit.rows.d + 1))
    with np.errstate(all="ignore"):
        loss = fit.backend.loss_gradient(fit.rows, fit.total_weight, user, grad)
        return loss + _rules.penalty_value(model.coef, fit.s.l2, fit.s.l1)


def _run_gram(
    backend: Backend[R],
    problem: GramProblem,
    model: Model,
    rules: LoopRules,
    s: TrainSettings,
    progress: Progress | None = None,
) -> LoopResult:
    """All iterations in the compiled loop, a fraction of a second per call (Ctrl-C and
    ``progress``, with the last epoch of the call, between calls)."""
    import warnings

    from fastlr.exceptions import FitInterruptedWarning
    from fastlr.training.loop import ctrl_c_watch, raise_divergence

    assert backend.gram_epochs is not None
    k, d = model.coef.shape
    history = np.empty(s.epochs)
    per_call = max(1, GRAM_CALL_FLOPS // max(1, k * d * d))
    done = 0
    verdict = _rules.CONTINUE
    stopped = False

    def interrupted() -> None:
        warnings.warn(
            f"fit interrupted (Ctrl-C) after {done} epochs: kept the model of the last "
            "completed epoch",
            FitInterruptedWarning,
            stacklevel=5,
        )

    with ctrl_c_watch() as ctrl_c:
        while done < s.epochs and verdict == _rules.CONTINUE:
            before = model.copy()
            count = min(per_call, s.epochs - done)
            try:
                ran, verdict = backend.gram_epochs(
                    problem, model, rules, s, count, history[done : done + count]
                )
            except KeyboardInterrupt:
                model.load(before)
                interrupted()
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
            if ctrl_c[0] and verdict == _rules.CONTINUE and done < s.epochs:
                interrupted()  # a Ctrl-C whose KeyboardInterrupt Python swallowed: stop here
                stopped = True
                break
    if not model.finite():
        raise_divergence(_rules.NONFINITE, done, math.inf, model.state, rules.learning_rate)
    return LoopResult(
        history[:done].copy(), None, done, verdict == _rules.CONVERGED or rules.tol < 0, stopped
    )


def make_epoch(fit: Fit[R], problem: GramProblem | None) -> Callable[[Model, float], float]:
    """The epoch function of ``s.mode``: ``epoch(model, rate) -> the epoch's objective``."""
    backend, rows, total_weight, s, scaling = (
        fit.backend,
        fit.rows,
        fit.total_weight,
        fit.s,
        fit.scaling,
    )
    n, d, k = rows.n, rows.d, rows.k
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
            user = scaling.to_user(m.coef, m.intercept)
            loss = backend.loss_gradient(rows, total_weight, user, grad) + penalty(m)
            backend.update(m, scaling.gradient_to_training(grad), rate, s)
            return loss

        return batch_epoch

    orders = RowOrder(n, s.shuffle, s.random_state)
    step = s.batch_size if s.mode == "minibatch" else 1
    per_call = max(step, (SLICE_ELEMENTS // max(1, d * k)) // step * step)
    run = backend.sgd if s.mode == "sgd" else backend.minibatch
    if run is None:
        raise ValueError(f"mode={s.mode!r} does not run epoch by epoch on this engine")
    hogwild = backend.hogwild if s.mode == "sgd" and s.hogwild and s.n_threads > 1 else None

    def stochastic_epoch(m: Model, rate: float) -> float:
        average = np.zeros((k, d + 2)) if s.average else None
        data = EpochData(rows, s, scaling, orders.next(), average)
        if hogwild is not None:
            total, average = hogwild(data, m, rate)
        else:
            total = 0.0
            for lo in range(0, n, per_call):
                total += run(data, m, rate, lo, min(lo + per_call, n))
        if average is not None and average[0, d + 1] > 0:
            m.coef[...] = average[:, :d] / average[0, d + 1]
            if s.fit_intercept:
                m.intercept[...] = average[:, d] / average[0, d + 1]
        return float(0.5 * total / total_weight + penalty(m))

    return stochastic_epoch


def partial(
    backend: Backend[R],
    rows: R,
    s: TrainSettings,
    previous: Trained | None,
    progress: Progress | None = None,
) -> Trained:
    """One epoch over a chunk, continuing ``previous`` (or starting: the chunk fixes the
    standardization and the automatic step). Always the data path: a chunk is seen once."""
    begun = start(backend, rows, rows.total_weight(), s, previous=previous)
    run = begun.epochs(make_epoch(begun.fit, None))
    loop = run(begun.rules(chunk=True), 1, progress=progress)
    s, scaling = begun.fit.s, begun.fit.scaling
    return Trained(begun.model, scaling, begun.rate, s.heavy_ball, loop, "fused")
