"""Training loops of the fused estimator: one epoch step per mode around the jitted kernels.

Plain Python around jitted calls. The parameters arrive checked and reduced to plain values
(:class:`fastlr._base.Settings`); the loop itself (history, stopping, progress, divergence) is
:func:`fastlr._loop.run_epochs`, shared with the NumPy reference.
"""

from __future__ import annotations

import math

import numpy as np

from fastlr import _kernels as kernels
from fastlr._base import FitResult, Progress, Settings
from fastlr._loop import EpochStep, Params, RowOrder, mean_update_norm, n_batches, run_epochs
from fastlr._threading import parallel_launch, resolve_n_jobs

#: Below this many elements of X a parallel launch costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 17


def thread_count(X: np.ndarray, n_jobs: int | None) -> int:
    """Threads worth using on ``X``: 1 for small inputs, else what ``n_jobs`` asks for.

    ``n_jobs`` is checked either way, so a bad value fails on small inputs too.
    """
    requested = None if n_jobs is None else resolve_n_jobs(n_jobs)
    if X.size < PARALLEL_MIN_ELEMENTS:
        return 1
    return requested if requested is not None else resolve_n_jobs(None)


def fused_pass(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    intercept: float,
    grad: np.ndarray,
    n_threads: int,
) -> tuple[float, float]:
    """Loss and intercept gradient returned, coefficient gradient written to ``grad``.

    Narrow rows go to the kernel unrolled for their width (coefficients passed as a tuple).
    """
    weights = tuple(coef.tolist()) if coef.shape[0] <= kernels.NARROW_MAX_FEATURES else coef
    if n_threads == 1:
        return kernels.fused_pass_serial(X, y, weights, intercept, grad)  # type: ignore[no-any-return]
    with parallel_launch(n_threads):
        return kernels.fused_pass_parallel(X, y, weights, intercept, grad)  # type: ignore[no-any-return]


def predict_into(
    X: np.ndarray, coef: np.ndarray, intercept: float, out: np.ndarray, n_threads: int
) -> None:
    """Write ``X @ coef + intercept`` into ``out`` with ``n_threads`` threads."""
    if n_threads == 1:
        kernels.predict_serial(X, coef, intercept, out)
        return
    with parallel_launch(n_threads):
        kernels.predict_parallel(X, coef, intercept, out)


def _batch_step(X: np.ndarray, y: np.ndarray, settings: Settings, n_threads: int) -> EpochStep:
    grad = np.empty(X.shape[1])
    learning_rate = settings.learning_rate

    def step(params: Params) -> tuple[float, float]:
        loss, grad_intercept = fused_pass(X, y, params.coef, params.intercept, grad, n_threads)
        if not settings.fit_intercept:
            grad_intercept = 0.0
        params.coef -= learning_rate * grad
        params.intercept -= learning_rate * grad_intercept
        return loss, math.hypot(float(np.linalg.norm(grad)), grad_intercept)

    return step


def _sgd_step(X: np.ndarray, y: np.ndarray, settings: Settings, n_threads: int) -> EpochStep:
    rows = RowOrder(X.shape[0], settings.shuffle, settings.random_state)

    def step(params: Params) -> tuple[float, float]:
        before = Params(params.coef.copy(), params.intercept)
        loss, params.intercept = kernels.sgd_epoch(
            X,
            y,
            params.coef,
            params.intercept,
            settings.learning_rate,
            rows.next(),
            settings.fit_intercept,
        )
        return loss, mean_update_norm(before, params, settings.learning_rate, X.shape[0])

    return step


def _minibatch_step(X: np.ndarray, y: np.ndarray, settings: Settings, n_threads: int) -> EpochStep:
    rows = RowOrder(X.shape[0], settings.shuffle, settings.random_state)
    grad = np.empty(X.shape[1])
    batch_size = min(settings.batch_size, X.shape[0])  # a huge batch_size must not overflow int64
    n_updates = n_batches(X.shape[0], batch_size)

    def step(params: Params) -> tuple[float, float]:
        before = Params(params.coef.copy(), params.intercept)
        loss, params.intercept = kernels.minibatch_epoch(
            X,
            y,
            params.coef,
            params.intercept,
            settings.learning_rate,
            rows.next(),
            batch_size,
            settings.fit_intercept,
            grad,
        )
        return loss, mean_update_norm(before, params, settings.learning_rate, n_updates)

    return step


_STEPS = {"batch": _batch_step, "sgd": _sgd_step, "minibatch": _minibatch_step}


def train(X: np.ndarray, y: np.ndarray, settings: Settings, progress: Progress | None) -> FitResult:
    """Fit by gradient descent in ``settings.mode``; the threads are restored afterwards."""
    # Only the batch pass is parallel; sgd and mini-batch updates are sequential by nature.
    n_threads = thread_count(X, settings.n_jobs) if settings.mode == "batch" else 1
    step = _STEPS[settings.mode](X, y, settings, n_threads)
    return run_epochs(step, X, y, settings, progress, monotone=settings.mode == "batch")
