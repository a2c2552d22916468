"""The two tutorials fastlr grew from (../shared/seeds), reproduced correctly."""

import numpy as np
import pytest
from sklearn.datasets import make_regression as sklearn_make_regression

import fastlr


def seed_one_data():
    """The first seed's data: y = 4000 + 50 x + 300 N(0, 1) on x = 0, 0.1, ..., 99.9 (float32)."""
    rng = np.random.default_rng(2017)
    X_data = np.arange(100, step=0.1, dtype=np.float32)
    y_data = (4000 + 50 * X_data) + rng.normal(0, 3, size=len(X_data)) * 100
    return X_data, y_data


def seed_one_loop(X_data, y_data, step_size, max_iteration):
    """The first seed's training loop as published (it is correct), started from W = b = 0."""
    W, b = 0.0, 0.0
    losses = []
    for _ in range(max_iteration):
        y_pred = X_data * W + b
        losses.append(0.5 * np.mean((y_pred - y_data) ** 2))
        dW = np.mean((y_pred - y_data) * X_data)
        db = np.mean(y_pred - y_data)
        W -= step_size * dW
        b -= step_size * db
    return W, b, np.array(losses)


def test_first_seed_reaches_its_reported_neighbourhood_like_its_own_loop(capsys):
    X_data, y_data = seed_one_data()
    model = fastlr.LinearRegression(
        learning_rate=0.0005,
        max_iter=50_000,
        tol=None,
        standardize=False,
        solver="fused",
        verbose=1,
    ).fit(X_data.reshape(-1, 1), y_data)
    # The seed reports W = 50.19, b = 3996 after 50,000 epochs: near the truth, not yet there.
    assert model.coef_[0] == pytest.approx(50, abs=0.5)
    assert model.intercept_ == pytest.approx(4000, abs=40)
    assert np.all(np.diff(model.loss_history_) < 0)
    assert model.loss_history_[-1] == pytest.approx(0.5 * 300**2, rel=0.15)  # noise floor
    # A progress line every 5,000 epochs, as the seed prints.
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("/")[0] for line in lines] == [
        f"epoch {k:>5}" for k in [1, *range(5000, 50_001, 5000)]
    ]
    W, b, losses = seed_one_loop(X_data, y_data, 0.0005, 50_000)
    assert model.coef_[0] == pytest.approx(W, rel=1e-9)
    assert model.intercept_ == pytest.approx(b, rel=1e-9)
    np.testing.assert_allclose(model.loss_history_, losses, rtol=1e-9)


def test_first_seed_is_still_short_of_least_squares_after_50000_epochs():
    X_data, y_data = seed_one_data()
    model = fastlr.LinearRegression(
        learning_rate=0.0005, max_iter=50_000, tol=None, standardize=False
    )
    model.fit(X_data.reshape(-1, 1), y_data)
    slope, intercept = np.polyfit(X_data.astype(np.float64), y_data, 1)
    # Unscaled x makes the problem ill-conditioned: the intercept still lags the optimum.
    assert abs(model.intercept_ - intercept) > 1
    assert model.coef_[0] == pytest.approx(slope, rel=0.01)


def seed_two_problem():
    X, y = sklearn_make_regression(n_samples=100, n_features=2, noise=10, random_state=0)
    return X, y.reshape(len(y), 1)


def seed_two_loop(X, y, lr, num_iter):
    """The second seed's loop with its bugs fixed: forward(X, w, b), b -= lr * db, np.dot used."""
    w = np.zeros((X.shape[1], 1))
    b = 0.0
    loss_history = []
    for _ in range(num_iter):
        y_pred = np.dot(X, w) + b
        loss_history.append(np.mean(np.square(y - y_pred)))
        dw = (-2 / X.shape[0]) * np.dot(X.T, (y - y_pred))
        db = (-2 / X.shape[0]) * np.sum(y - y_pred)
        w = w - lr * dw
        b = b - lr * db
    return w, b, np.array(loss_history)


def test_second_seed_loop_is_reproduced_exactly():
    # The seed minimizes MSE = 2 L, so its step 0.01 is fastlr's learning_rate 0.02.
    X, y = seed_two_problem()
    model = fastlr.LinearRegression(
        learning_rate=0.02, max_iter=200, tol=None, standardize=False, solver="fused"
    ).fit(X, y)
    w, b, mse_history = seed_two_loop(X, y, lr=0.01, num_iter=200)
    np.testing.assert_allclose(model.coef_, w.T, rtol=1e-10)
    np.testing.assert_allclose(model.intercept_, [b], rtol=1e-10)
    np.testing.assert_allclose(2 * model.loss_history_, mse_history, rtol=1e-10)


def test_second_seed_with_learning_rate_001_and_200_epochs_fits_well():
    X, y = seed_two_problem()
    model = fastlr.LinearRegression(learning_rate=0.01, max_iter=200, tol=None, standardize=False)
    model.fit(X, y)
    assert model.coef_.shape == (1, 2)
    assert model.predict(X).shape == (100, 1)
    assert np.all(np.diff(model.loss_history_) < 0)
    assert model.loss_history_[-1] < 0.05 * model.loss_history_[0]
    design = np.column_stack([X, np.ones(100)])
    best = np.linalg.lstsq(design, y[:, 0], rcond=None)[0]
    best_r2 = 1 - np.sum((y[:, 0] - design @ best) ** 2) / np.sum((y - y.mean()) ** 2)
    assert model.score(X, y) > best_r2 - 0.02
    assert model.score(X, y) > 0.9


def test_first_seed_on_sufficient_statistics_follows_the_same_iterates():
    # 50,000 epochs on XᵀX, Xᵀy: the seed's own iterates (the benchmark times it in milliseconds).
    X_data, y_data = seed_one_data()
    model = fastlr.LinearRegression(
        learning_rate=0.0005, max_iter=50_000, tol=None, standardize=False, solver="gram"
    ).fit(X_data.reshape(-1, 1), y_data)
    assert model.solver_ == "gram"
    W, b, losses = seed_one_loop(X_data, y_data, 0.0005, 50_000)
    assert model.coef_[0] == pytest.approx(W, rel=1e-9)
    assert model.intercept_ == pytest.approx(b, rel=1e-9)
    np.testing.assert_allclose(model.loss_history_, losses, rtol=1e-9)


def test_first_seed_with_defaults_reaches_least_squares_within_100_epochs():
    X_data, y_data = seed_one_data()
    model = fastlr.LinearRegression().fit(X_data.reshape(-1, 1), y_data)
    slope, intercept = np.polyfit(X_data.astype(np.float64), y_data, 1)
    assert model.n_iter_ <= 100
    assert model.coef_[0] == pytest.approx(slope, rel=1e-3)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-3)
    for mode in ("minibatch", "sgd"):
        stochastic = fastlr.LinearRegression(mode, random_state=0).fit(
            X_data.reshape(-1, 1), y_data
        )
        assert stochastic.coef_[0] == pytest.approx(slope, rel=0.02)
        assert stochastic.intercept_ == pytest.approx(intercept, rel=0.02)
