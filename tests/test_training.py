"""Training without hand-tuning, and every option of issue 4, against the NumPy reference and
against closed-form answers (least squares, ridge, scikit-learn's Lasso and ElasticNet)."""

import _thread
import contextlib
import signal
import threading
import warnings

import numpy as np
import pytest

import fastlr
from fastlr import reference
from fastlr.exceptions import FitInterruptedWarning


def lstsq(X, y, weights=None):
    design = np.column_stack([X.astype(np.float64), np.ones(X.shape[0])])
    if weights is not None:
        root = np.sqrt(weights)
        design, y = design * root[:, None], y * (root if y.ndim == 1 else root[:, None])
    solution = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    return solution[:-1], solution[-1]


def ill_conditioned(n=5000, delta=0.0015, seed=0):
    """Columns whose scales differ by 1e6, nearly collinear (``delta``), large means."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(n)
    X = np.column_stack(
        [
            base + delta * rng.standard_normal(n) + 3.0,
            1e6 * (base + delta * rng.standard_normal(n)) + 2e6,
            rng.standard_normal(n),
        ]
    )
    y = X @ [2.0, 3e-6, -1.0] + 5.0 + 0.1 * rng.standard_normal(n)
    return X, y


def condition(X):
    return np.linalg.cond(np.column_stack([X, np.ones(X.shape[0])]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ill_conditioned_problem_reaches_least_squares_to_7_digits_with_defaults(seed):
    X, y = ill_conditioned(seed=seed)
    assert 1e9 < condition(X) < 2e9
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning either
        model = fastlr.LinearRegression().fit(X, y)
    assert model.solver_ == "gram"
    assert 0.99 < model.momentum_ < 1  # tuned to the condition number
    coef, intercept = lstsq(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-7)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-7)


def test_the_loss_plateau_alone_stops_far_from_the_ill_conditioned_optimum():
    # Why the sufficient-statistics path certifies the coefficients instead: the data path's
    # loss rule, same step and momentum, stops while the collinear direction is still off.
    X, y = ill_conditioned(delta=0.05)
    gram = fastlr.LinearRegression().fit(X, y)
    fused = fastlr.LinearRegression(
        solver="fused", learning_rate=gram.learning_rate_, momentum=gram.momentum_, nesterov=True
    ).fit(X, y)
    coef, _ = lstsq(X, y)
    assert fused.n_iter_ < gram.n_iter_
    assert np.max(np.abs(fused.coef_ - coef) / np.abs(coef)) > 1e-4
    np.testing.assert_allclose(gram.coef_, coef, rtol=1e-8)


def test_the_reference_certifies_the_same_way():
    X, y = ill_conditioned(delta=0.05)
    ours = fastlr.LinearRegression().fit(X, y)
    twin = reference.LinearRegression().fit(X, y)
    assert twin.momentum_ == pytest.approx(ours.momentum_, rel=1e-12)
    assert twin.n_iter_ == pytest.approx(ours.n_iter_, abs=2)
    np.testing.assert_allclose(twin.coef_, ours.coef_, rtol=1e-9)


def test_certified_gap_bounds_the_distance_to_the_optimum():
    from fastlr.training import rules as _rules

    rng = np.random.default_rng(0)
    for trial in range(200):
        d = int(rng.integers(1, 6))
        A = rng.standard_normal((d + 1, d + 1)) * np.exp(rng.uniform(-3, 3, d + 1))
        H = A @ A.T + 1e-3 * np.eye(d + 1)
        optimum = rng.standard_normal(d + 1)
        w = optimum + rng.standard_normal(d + 1) * 10.0 ** rng.uniform(-8, 0)
        l2 = float(rng.choice([0.0, 0.5]))
        # The gradient of 1/2 (w - w*)' H (w - w*) - l2/2 |coef|^2: with the L2 term that
        # update_parameters adds, the objective's Hessian is H and its optimum w*.
        grad = (H @ (w - optimum))[None, :]
        grad[0, :d] -= l2 * w[:d]
        values = np.linalg.eigvalsh(H)
        state = _rules.new_state()
        assert _rules.certify(state, values[-1], values[0], tuned=False)
        gap = _rules.certified_gap(w[None, :d], w[d:], grad, l2, 0.0, True, state)
        assert np.linalg.norm(w - optimum) <= gap * np.linalg.norm(w) * (1 + 1e-9), trial


def test_gram_and_fused_paths_follow_the_same_iterates():
    X, y, _ = fastlr.make_regression(3000, 6, noise=1.0, random_state=3)
    weights = np.random.default_rng(0).random(3000)
    for params in (
        {},
        {"momentum": 0.9, "nesterov": True},
        {"momentum": 0.5},
        {"penalty": "elasticnet", "alpha": 0.5, "l1_ratio": 0.5},
        {"schedule": "invscaling", "power_t": 0.5, "learning_rate": 0.8},
        {"schedule": "adaptive", "learning_rate": 1.5, "momentum": 0.5},
        {"standardize": False, "fit_intercept": False},
    ):
        gram = fastlr.LinearRegression(solver="gram", max_iter=60, tol=None, **params)
        gram.fit(X, y, sample_weight=weights)
        step = {"learning_rate": gram.learning_rate_}  # power iteration's estimate differs a bit
        if "momentum" not in params:  # "auto" is tuned from the Gram spectrum
            step.update(momentum=gram.momentum_, nesterov=gram.momentum_ > 0)
        fused = fastlr.LinearRegression(solver="fused", max_iter=60, tol=None, **{**params, **step})
        fits = [gram, fused.fit(X, y, sample_weight=weights)]
        assert [f.solver_ for f in fits] == ["gram", "fused"]
        np.testing.assert_allclose(fits[0].coef_, fits[1].coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fits[0].loss_history_, fits[1].loss_history_, rtol=1e-8)


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "batch", "solver": "fused"},
        {"mode": "batch", "solver": "gram", "momentum": 0.8},
        {"mode": "batch", "penalty": "l1", "alpha": 0.3, "solver": "fused"},
        {"mode": "minibatch", "batch_size": 32, "momentum": 0.9, "nesterov": True},
        {"mode": "minibatch", "batch_size": 50, "penalty": "elasticnet", "alpha": 0.1},
        {"mode": "sgd"},
        {"mode": "sgd", "penalty": "l1", "alpha": 0.05, "average": False},
        {"mode": "sgd", "schedule": "invscaling", "standardize": False, "learning_rate": 0.01},
        {"mode": "minibatch", "early_stopping": True, "batch_size": 16},
    ],
)
def test_fused_estimator_matches_the_reference_on_each_option(params):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((301, 4)) * [1, 10, 0.1, 3] + [0, 5, 0, -2]
    Y = X @ rng.standard_normal((4, 2)) + rng.standard_normal((301, 2))
    weights = rng.random(301) + 0.5
    common = {"max_iter": 6, "tol": None, "random_state": 7, **params}
    fast = fastlr.LinearRegression(**common).fit(X, Y, sample_weight=weights)
    twin = reference.LinearRegression(**common).fit(X, Y, sample_weight=weights)
    np.testing.assert_allclose(fast.coef_, twin.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fast.intercept_, twin.intercept_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fast.loss_history_, twin.loss_history_, rtol=1e-8)
    assert fast.learning_rate_ == pytest.approx(twin.learning_rate_, rel=1e-8)


def test_stochastic_defaults_reach_least_squares_test_error_in_5_epochs():
    X, y, _ = fastlr.make_regression(200_000, 20, noise=5.0, random_state=0)
    X_test, y_test, _ = fastlr.make_regression(20_000, 20, noise=5.0, random_state=0)
    X_test, y_test = X_test[:], y_test  # same coefficients: same random_state, fresh rows below
    coef, intercept = lstsq(X, y)
    rng = np.random.default_rng(5)
    X_test = rng.standard_normal((20_000, 20))
    truth = fastlr.make_regression(10, 20, random_state=0)[2]
    y_test = X_test @ truth + 5.0 * rng.standard_normal(20_000)
    best = np.mean((X_test @ coef + intercept - y_test) ** 2)
    for mode in ("minibatch", "sgd"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastlr.ConvergenceWarning)
            model = fastlr.LinearRegression(mode, max_iter=5, random_state=0).fit(X, y)
        assert np.mean((model.predict(X_test) - y_test) ** 2) < 1.01 * best


def test_ridge_matches_its_closed_form():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((500, 5))
    y = X @ rng.standard_normal(5) + rng.standard_normal(500)
    alpha = 0.7
    model = fastlr.LinearRegression(
        penalty="l2", alpha=alpha, standardize=False, fit_intercept=False, tol=None, max_iter=2000
    ).fit(X, y)
    closed = np.linalg.solve(X.T @ X / 500 + alpha * np.eye(5), X.T @ y / 500)
    np.testing.assert_allclose(model.coef_, closed, rtol=1e-9)


@pytest.mark.parametrize("mode", ["batch", "minibatch", "sgd"])
def test_l1_and_elasticnet_match_scikit_learn(mode):
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2000, 6))
    y = X @ [3.0, 0.0, -2.0, 0.0, 0.0, 1.0] + 0.5 * rng.standard_normal(2000) + 1.0
    for penalty, sk in (
        ("l1", linear_model.Lasso(alpha=0.1, tol=1e-12, max_iter=100_000)),
        (
            "elasticnet",
            linear_model.ElasticNet(alpha=0.1, l1_ratio=0.5, tol=1e-12, max_iter=100_000),
        ),
    ):
        sk.fit(X, y)
        params = {"penalty": penalty, "alpha": 0.1, "l1_ratio": 0.5, "standardize": False}
        params.update(tol=None, max_iter=3000) if mode == "batch" else params.update(random_state=0)
        model = fastlr.LinearRegression(mode, **params).fit(X, y)
        atol = 1e-8 if mode == "batch" else 0.01
        np.testing.assert_allclose(model.coef_, sk.coef_, atol=atol)
        if mode == "batch":  # the proximal step gives exact zeros
            assert (model.coef_[sk.coef_ == 0] == 0).all()


@pytest.mark.parametrize("mode", ["batch", "minibatch", "sgd"])
def test_integer_sample_weights_equal_repeated_rows(mode):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((400, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.standard_normal(400)
    weights = rng.integers(0, 4, 400).astype(float)
    model = fastlr.LinearRegression(mode, random_state=0, max_iter=200).fit(X, y, weights)
    coef, _intercept = lstsq(
        np.repeat(X, weights.astype(int), axis=0), np.repeat(y, weights.astype(int))
    )
    tolerance = {"batch": 1e-6, "minibatch": 0.05, "sgd": 0.1}[mode]  # weights up to 3: noisier
    np.testing.assert_allclose(model.coef_, coef, atol=tolerance)


@pytest.mark.parametrize("mode", ["batch", "minibatch", "sgd"])
def test_multi_output_equals_one_fit_per_output(mode):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((500, 4))
    Y = X @ rng.standard_normal((4, 3)) + rng.standard_normal((500, 3))
    params = {"max_iter": 8, "tol": None, "random_state": 0, "shuffle": False}
    together = fastlr.LinearRegression(mode, **params).fit(X, Y)
    assert together.coef_.shape == (3, 4)
    assert together.intercept_.shape == (3,)
    assert together.predict(X).shape == (500, 3)
    for o in range(3):
        alone = fastlr.LinearRegression(mode, **params).fit(X, Y[:, o])
        np.testing.assert_allclose(together.coef_[o], alone.coef_, rtol=1e-9, atol=1e-12)
        assert together.intercept_[o] == pytest.approx(alone.intercept_, rel=1e-9)


def test_standardization_makes_the_fit_independent_of_column_units():
    X, y, _ = fastlr.make_regression(2000, 3, noise=0.5, random_state=8)
    units = np.array([1e-3, 1.0, 1e5])
    plain = fastlr.LinearRegression().fit(X, y)
    scaled = fastlr.LinearRegression().fit(X * units, y)
    np.testing.assert_allclose(scaled.coef_ * units, plain.coef_, rtol=1e-8)
    np.testing.assert_allclose(scaled.predict(X * units), plain.predict(X), rtol=1e-8)


@pytest.mark.parametrize("mode", ["batch", "minibatch", "sgd"])
def test_partial_fit_carries_the_model_and_schedule_across_chunks(mode):
    X, y, coef = fastlr.make_regression(6000, 4, noise=0.1, random_state=9)
    model = fastlr.LinearRegression(mode, schedule="invscaling", random_state=0)
    for _epoch in range(3):
        for chunk in range(0, 6000, 1500):
            model.partial_fit(X[chunk : chunk + 1500], y[chunk : chunk + 1500])
    assert model.t_ == 12
    assert len(model.loss_history_) == 12
    np.testing.assert_allclose(model.coef_, coef, rtol=0.02, atol=0.5)
    with pytest.raises(
        ValueError, match="X has 3 features, but LinearRegression is expecting 4 features as input"
    ):
        model.partial_fit(X[:10, :3], y[:10])


def test_warm_start_and_coef_init_start_from_a_model():
    X, y, _ = fastlr.make_regression(2000, 5, noise=1.0, random_state=10)
    fitted = fastlr.LinearRegression().fit(X, y)
    warm = fastlr.LinearRegression(warm_start=True, max_iter=1, tol=None)
    warm.coef_, warm.intercept_ = fitted.coef_, fitted.intercept_
    warm.fit(X, y)
    cold = fastlr.LinearRegression(max_iter=1, tol=None).fit(X, y)
    assert warm.loss_history_[0] < 1e-3 * cold.loss_history_[0]
    init = fastlr.LinearRegression(max_iter=1, tol=None).fit(
        X, y, coef_init=fitted.coef_, intercept_init=fitted.intercept_
    )
    assert init.loss_history_[0] == pytest.approx(warm.loss_history_[0], rel=1e-9)


def test_callback_sees_every_epoch_and_can_stop_training():
    X, y, _coef = fastlr.make_regression(1000, 3, random_state=11)
    seen = []

    def callback(info):
        seen.append(info)
        return info.epoch < 4

    model = fastlr.LinearRegression(mode="minibatch", callback=callback, tol=None).fit(X, y)
    assert [info.epoch for info in seen] == [1, 2, 3, 4]
    assert model.n_iter_ == 4
    np.testing.assert_array_equal(seen[-1].coef, model.coef_)
    assert all(info.loss == loss for info, loss in zip(seen, model.loss_history_, strict=False))


def test_early_stopping_restores_the_best_validation_epoch():
    X, y, _ = fastlr.make_regression(3000, 5, noise=3.0, random_state=12)
    model = fastlr.LinearRegression(
        mode="sgd",
        early_stopping=True,
        learning_rate=0.05,
        average=False,
        random_state=0,
        max_iter=40,
        n_iter_no_change=3,
    ).fit(X, y)
    history = model.validation_loss_history_
    assert len(history) == model.n_iter_ < 40
    # The model kept is the best epoch's: its held-out loss is the history's minimum.
    best = int(np.argmin(history))
    assert best < model.n_iter_ - 1 or history[-1] == history.min()


def test_adaptive_schedule_divides_the_step_and_stops():
    X, y, _ = fastlr.make_regression(2000, 3, noise=1.0, random_state=13)
    model = fastlr.LinearRegression(
        mode="sgd",
        schedule="adaptive",
        learning_rate=0.1,
        average=False,
        random_state=0,
        max_iter=1000,
        n_iter_no_change=2,
    ).fit(X, y)
    assert model.n_iter_ < 1000


def test_divergence_names_the_step_and_leaves_no_nan():
    X, y, _ = fastlr.make_regression(500, 3, random_state=14)
    model = fastlr.LinearRegression().fit(X, y)
    coef = model.coef_.copy()
    for solver in ("gram", "fused"):
        with pytest.raises(fastlr.DivergenceError, match=r"learning_rate=30.*learning_rate=3\b"):
            model.set_params(learning_rate=30.0, solver=solver).fit(X, y)
        np.testing.assert_array_equal(model.coef_, coef)


@pytest.mark.parametrize("estimator", [fastlr.LinearRegression, reference.LinearRegression])
@pytest.mark.parametrize(("seed", "random_state", "epochs"), [(0, 2, 8), (3, 0, 8), (3, 5, 10)])
def test_stochastic_noise_floor_is_not_mistaken_for_divergence(
    estimator, seed, random_state, epochs
):
    # 30 rows of pure noise (like scikit-learn's check_fit_score_takes_y): the first sgd epoch
    # already reaches the noise floor, so a later epoch's running loss lands above it by chance
    # (these seeds and epoch counts do). The final model is better than the first epoch: not
    # divergence. (Fixed epochs: with a tol, the plateau far above least squares would be left
    # with a smaller step, which lowers the last epoch's loss.)
    X = np.random.default_rng(seed).uniform(size=(30, 3))
    y = np.arange(30) % 3
    model = estimator(mode="sgd", random_state=random_state, tol=None, max_iter=epochs)
    model.fit(X, y)
    assert model.loss_history_[-1] > model.loss_history_[0]  # the case the rule must tolerate
    final = reference.loss_and_gradient(X, y, model.coef_, model.intercept_)[0]
    assert final < model.loss_history_[0]


def test_hogwild_sgd_reaches_the_least_squares_neighbourhood():
    X, y, coef = fastlr.make_regression(300_000, 8, noise=0.5, random_state=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastlr.ConvergenceWarning)
        model = fastlr.LinearRegression(
            mode="sgd", hogwild=True, n_jobs=2, max_iter=3, random_state=0
        ).fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=0.01, atol=0.05)


def test_ctrl_c_stops_a_long_fit_and_keeps_the_last_epoch():
    X, y, _ = fastlr.make_regression(200_000, 20, noise=1.0, random_state=16)
    # Kernels loaded first: in a fresh process the Ctrl-C must land in the epochs, not the set-up.
    fastlr.LinearRegression(mode="sgd", max_iter=1, tol=None, random_state=0).fit(X[:500], y[:500])
    timer = threading.Timer(1.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.warns(FitInterruptedWarning, match="kept the model of the last completed"):
            model = fastlr.LinearRegression(
                mode="sgd", max_iter=10_000, tol=None, random_state=0
            ).fit(X, y)
    finally:
        timer.cancel()
    assert 0 < model.n_iter_ < 10_000
    assert len(model.loss_history_) == model.n_iter_
    assert np.isfinite(model.coef_).all()


def test_a_ctrl_c_that_other_code_swallows_still_stops_the_fit_after_its_epoch():
    # A KeyboardInterrupt raised inside a garbage-collector callback or a __del__ (another
    # library's) is only printed: a Ctrl-C then seemed lost and the fit ran all its epochs.
    X, y, _ = fastlr.make_regression(2_000, 5, random_state=0)

    def swallow(info):
        if info.epoch == 3:  # the SIGINT handler runs where its exception is lost
            with contextlib.suppress(KeyboardInterrupt):
                signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    params = {"mode": "sgd", "max_iter": 50, "tol": None, "random_state": 0, "callback": swallow}
    with pytest.warns(FitInterruptedWarning, match=r"epoch 3: kept .* last completed epoch \(3\)"):
        model = fastlr.LinearRegression(**params).fit(X, y)
    assert model.n_iter_ == 3
    assert len(model.loss_history_) == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_a_swallowed_ctrl_c_stops_the_compiled_gram_loop_after_its_call(monkeypatch):
    # The Gram loop runs many epochs per compiled call; a Ctrl-C whose KeyboardInterrupt was
    # lost between two calls stops it after the call that completed, as the epoch loop does.
    from fastlr.engines.memory import FusedBackend
    from fastlr.training import run

    X, y, _ = fastlr.make_regression(2_000, 5, random_state=0)
    monkeypatch.setattr(run, "GRAM_CALL_FLOPS", 10 * 5 * 5)  # 10 epochs per call
    calls = []
    compiled = FusedBackend.gram_epochs

    def gram_epochs(self, *args):
        calls.append(1)
        out = compiled(self, *args)
        if len(calls) == 2:  # the SIGINT handler runs where its exception is lost
            with contextlib.suppress(KeyboardInterrupt):
                signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        return out

    monkeypatch.setattr(FusedBackend, "gram_epochs", gram_epochs)
    params = {"solver": "gram", "max_iter": 100, "tol": None}
    with pytest.warns(FitInterruptedWarning, match="after 20 epochs: kept the model"):
        model = fastlr.LinearRegression(**params).fit(X, y)
    assert len(calls) == 2
    assert model.n_iter_ == 20
    assert len(model.loss_history_) == 20
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
