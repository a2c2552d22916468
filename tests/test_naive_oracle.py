"""fastlr against the independent oracle of ``naive.py`` (textbook loops, no fastlr code).

The plain settings under which the estimator's iterates are the textbook ones:
``learning_rate=<float>`` with ``schedule="constant"`` (the default), ``momentum=0.0`` (a number:
``"auto"`` may tune Nesterov momentum on the sufficient-statistics path), ``standardize=False``,
``average=False`` (``None`` turns averaging on for sgd and mini-batch), ``tol=None`` with a fixed
``max_iter`` (every epoch runs), ``shuffle=False`` (rows 0..n-1 every epoch) and no penalty or
early stopping. Under them fastlr and the oracle must agree to rounding: the data are cast to
float64 exactly and fastlr sums in float64 whatever the input dtype, so float32 input is held to
the same tolerance as float64 (the oracle runs on the same float32 values).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from naive import (
    batch_gd,
    least_squares,
    loss_and_gradient,
    minibatch_gd,
    objective,
    sgd,
)

import fastlr

#: Agreement to rounding: 30 epochs of a few hundred float64 operations each.
RTOL = 1e-10

#: (n_samples, n_features, batch_size): remainders of 5 and 0, a batch larger than n (one batch
#: of all rows), batches of one row, and more features than samples.
SHAPES = [(37, 4, 8), (48, 3, 12), (7, 2, 16), (25, 3, 1), (6, 9, 4)]

MODES = ["batch-fused", "batch-gram", "minibatch", "sgd"]


def problem(n: int, d: int, dtype: type, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Columns with offsets and unequal scales (standardizing would change the iterates), a
    target with an offset and noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d) + rng.uniform(-1, 1, size=d)
    y = X @ rng.normal(size=d) + 1.5 + 0.1 * rng.normal(size=n)
    return X.astype(dtype), y.astype(dtype)


def safe_step(X: np.ndarray) -> float:
    """Half of 1 / max ‖(x_i, 1)‖²: stable for every mode (it bounds each sample's curvature,
    hence any batch's)."""
    X = X.astype(np.float64)
    return 0.5 / float(np.max(np.sum(X * X, axis=1) + 1.0))


def plain(mode: str, lr: float, epochs: int, fit_intercept: bool, batch_size: int, **extra):
    """The estimator in plain settings for one of MODES."""
    kind, _, solver = mode.partition("-")
    params = dict(
        learning_rate=lr,
        max_iter=epochs,
        tol=None,
        fit_intercept=fit_intercept,
        standardize=False,
        shuffle=False,
        momentum=0.0,
    )
    if kind == "batch":
        params["solver"] = solver
    else:
        params["average"] = False
    if kind == "minibatch":
        params["batch_size"] = batch_size
    params.update(extra)
    return fastlr.LinearRegression(kind, **params)


def oracle(mode: str, X, y, lr, epochs, fit_intercept, batch_size, **extra):
    kind = mode.partition("-")[0]
    if kind == "batch":
        return batch_gd(X, y, lr, epochs, fit_intercept, **extra)
    if kind == "minibatch":
        return minibatch_gd(X, y, lr, epochs, batch_size, fit_intercept, **extra)
    return sgd(X, y, lr, epochs, fit_intercept, **extra)


def assert_same_fit(model, expected, epochs: int) -> None:
    scale = float(np.max(np.abs(expected.coef))) + abs(expected.intercept)
    np.testing.assert_allclose(model.coef_, expected.coef, rtol=RTOL, atol=RTOL * scale)
    if model.fit_intercept:
        np.testing.assert_allclose(model.intercept_, expected.intercept, rtol=RTOL, atol=RTOL)
    else:
        assert model.intercept_ == 0.0
    np.testing.assert_allclose(model.loss_history_, expected.losses, rtol=RTOL)
    assert model.n_iter_ == epochs
    assert len(model.loss_history_) == epochs


# --------------------------------------------------------------------------- the oracle itself
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_oracle_gradient_is_the_derivative_of_its_loss(fit_intercept):
    X, y = problem(30, 3, np.float64)
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=3), (0.7 if fit_intercept else 0.0)
    loss, grad, grad_b = loss_and_gradient(X, y, w, b)
    assert loss == pytest.approx(objective(X, y, w, b), rel=1e-13)
    h = 1e-6
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        numeric = (objective(X, y, w + step, b) - objective(X, y, w - step, b)) / (2 * h)
        assert grad[j] == pytest.approx(numeric, rel=1e-7, abs=1e-9)
    numeric_b = (objective(X, y, w, b + h) - objective(X, y, w, b - h)) / (2 * h)
    assert grad_b == pytest.approx(numeric_b, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_oracle_descends_to_its_least_squares(fit_intercept):
    X, y = problem(40, 3, np.float64)
    best = least_squares(X, y, fit_intercept)
    _, grad, grad_b = loss_and_gradient(X, y, best.coef, best.intercept)
    assert np.max(np.abs(grad)) < 1e-12
    assert not fit_intercept or abs(grad_b) < 1e-12
    lr = 1.0 / np.linalg.eigvalsh(np.c_[X, np.ones(40)].T @ np.c_[X, np.ones(40)] / 40)[-1]
    fit = batch_gd(X, y, lr, 3000, fit_intercept)
    np.testing.assert_allclose(fit.coef, best.coef, rtol=1e-8)
    assert fit.intercept == pytest.approx(best.intercept, rel=1e-8, abs=1e-12)
    assert np.all(np.diff(fit.losses) <= 1e-15)  # descent with a step below 2 / L
    assert fit.losses[-1] == pytest.approx(best.losses[0], rel=1e-12)


def test_oracle_modes_agree_where_they_coincide():
    """A mini-batch of all rows is a batch step; a mini-batch of one row is an sgd step."""
    X, y = problem(13, 2, np.float64)
    lr = safe_step(X)
    whole, batch = minibatch_gd(X, y, lr, 5, 13), batch_gd(X, y, lr, 5)
    np.testing.assert_allclose(whole.coef, batch.coef, rtol=1e-14)
    # (the mini-batch loss is measured before each batch's update: before the epoch's step)
    np.testing.assert_allclose(whole.losses, batch.losses, rtol=1e-14)
    single, plain_sgd = minibatch_gd(X, y, lr, 5, 1), sgd(X, y, lr, 5)
    np.testing.assert_allclose(single.coef, plain_sgd.coef, rtol=1e-13)
    np.testing.assert_allclose(single.losses, plain_sgd.losses, rtol=1e-13)


# --------------------------------------------------------------------------- fastlr's objective
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d"), [(1, 1), (7, 3), (300, 5)])
@pytest.mark.parametrize("n_jobs", [None, 1])
def test_loss_and_gradient_matches_the_formula(dtype, n, d, n_jobs):
    X, y = problem(n, d, dtype, seed=n)
    coef = np.random.default_rng(2).normal(size=d)
    loss, grad, grad_b = fastlr.loss_and_gradient(X, y, coef, 0.3, n_jobs=n_jobs)
    want_loss, want_grad, want_b = loss_and_gradient(X, y, coef, 0.3)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-13 * np.abs(want_grad).max())
    assert grad_b == pytest.approx(want_b, rel=1e-12, abs=1e-14)


# --------------------------------------------------------------------------- plain iterates
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("n", "d", "batch_size"), SHAPES)
def test_plain_settings_follow_the_textbook(mode, dtype, fit_intercept, n, d, batch_size):
    X, y = problem(n, d, dtype)
    lr, epochs = safe_step(X), 30
    model = plain(mode, lr, epochs, fit_intercept, batch_size).fit(X, y)
    expected = oracle(mode, X, y, lr, epochs, fit_intercept, batch_size)
    assert_same_fit(model, expected, epochs)
    assert model.learning_rate_ == lr
    assert model.momentum_ == 0.0
    if mode.startswith("batch"):
        assert model.solver_ == mode.partition("-")[2]
    assert expected.losses[-1] < expected.losses[0]  # (the runs compared do descend)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_every_epochs_iterate_follows_the_textbook(mode, fit_intercept):
    """The model after each epoch, as a callback sees it (in the units of X)."""
    X, y = problem(37, 4, np.float64)
    lr, epochs = safe_step(X), 12
    seen = []

    def record(info):
        seen.append((info.coef.copy(), float(info.intercept)))

    plain(mode, lr, epochs, fit_intercept, 8, callback=record).fit(X, y)
    expected = oracle(mode, X, y, lr, epochs, fit_intercept, 8)
    assert len(seen) == epochs
    for (coef, intercept), (want_coef, want_intercept) in zip(seen, expected.path, strict=True):
        np.testing.assert_allclose(coef, want_coef, rtol=RTOL, atol=RTOL * np.abs(want_coef).max())
        assert intercept == pytest.approx(want_intercept, rel=RTOL, abs=RTOL)


# --------------------------------------------------------------------------- penalty, momentum
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_l2_penalty_follows_the_textbook(mode, fit_intercept, dtype):
    """``penalty="l2"``: the objective gains ``alpha/2 ‖w‖²``, the gradient ``alpha·w``
    (not on the intercept)."""
    X, y = problem(37, 4, dtype)
    lr, epochs, alpha = safe_step(X), 30, 0.3
    model = plain(mode, lr, epochs, fit_intercept, 8, penalty="l2", alpha=alpha).fit(X, y)
    expected = oracle(mode, X, y, lr, epochs, fit_intercept, 8, alpha=alpha)
    assert_same_fit(model, expected, epochs)
    unpenalized = oracle(mode, X, y, lr, epochs, fit_intercept, 8)
    assert np.linalg.norm(expected.coef) < np.linalg.norm(unpenalized.coef)  # the penalty acts


@pytest.mark.parametrize("mode", ["batch-fused", "batch-gram", "minibatch"])
@pytest.mark.parametrize("momentum", [0.5, 0.9])
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fixed_momentum_follows_the_textbook(mode, momentum, nesterov, fit_intercept):
    """A number for ``momentum``: Polyak's heavy ball (or PyTorch's Nesterov), constant
    coefficient, the velocity carried across batches and epochs."""
    X, y = problem(37, 4, np.float64)
    lr, epochs = safe_step(X), 30
    model = plain(mode, lr, epochs, fit_intercept, 8, momentum=momentum, nesterov=nesterov).fit(
        X, y
    )
    expected = oracle(
        mode, X, y, lr, epochs, fit_intercept, 8, momentum=momentum, nesterov=nesterov
    )
    assert_same_fit(model, expected, epochs)
    assert model.momentum_ == momentum
    without = oracle(mode, X, y, lr, epochs, fit_intercept, 8)
    assert not np.allclose(expected.coef, without.coef)  # momentum changes the iterates


@pytest.mark.parametrize("mode", ["minibatch", "sgd"])
@pytest.mark.parametrize("epochs", [1, 5])
def test_averaging_reports_the_mean_of_the_epochs_iterates(mode, epochs):
    """``average=True``: each epoch ends at the mean of the iterates after each of its updates
    (one epoch: exactly the documented "average of the epoch's iterates"; more epochs: each
    starts from the previous epoch's average, which is what fastlr does)."""
    X, y = problem(37, 4, np.float64)
    lr = safe_step(X)
    model = plain(mode, lr, epochs, True, 8, average=True).fit(X, y)
    expected = oracle(mode, X, y, lr, epochs, True, 8, average=True)
    assert_same_fit(model, expected, epochs)


# --------------------------------------------------------------------------- defaults
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", [0, 1])
def test_default_estimator_reaches_least_squares(dtype, seed):
    """Defaults (batch; standardized, automatic step, tuned momentum, tol=1e-4): the
    coefficients of ``np.linalg.lstsq`` on the same values, to 1e-9 relative."""
    X, y = problem(200, 5, dtype, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning
        model = fastlr.LinearRegression().fit(X, y)
    best = least_squares(X, y)
    scale = float(np.linalg.norm(best.coef))
    assert np.linalg.norm(model.coef_ - best.coef) <= 1e-9 * scale
    assert abs(model.intercept_ - best.intercept) <= 1e-9 * (scale + abs(best.intercept))
    assert model.converged_


@pytest.mark.parametrize("mode", ["minibatch", "sgd"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", [0, 1])
def test_default_stochastic_estimator_nears_least_squares(mode, dtype, seed):
    """sgd and mini-batch with their defaults (averaging, automatic step, tol=1e-4) stop on a
    plateau: within 5e-4 · var(y)/2 of the least-squares objective (an R² at most 5e-4 below
    the best, the estimator's own promise), coefficients within 2% in norm (measured: 0.6%)."""
    X, y = problem(200, 5, dtype, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning
        model = fastlr.LinearRegression(mode, random_state=0).fit(X, y)
    best = least_squares(X, y)
    spread = 0.5 * float(np.var(y.astype(np.float64)))
    excess = objective(X, y, model.coef_, model.intercept_) - best.losses[0]
    assert 0.0 <= excess <= 5e-4 * spread
    assert np.linalg.norm(model.coef_ - best.coef) <= 2e-2 * np.linalg.norm(best.coef)
    assert model.converged_
